"""One pipeline's typed config as the stages, the endpoint and the sweep read it: from params.yaml.

Everything that runs reads params.yaml (never conf/), after checking it is current, so that
`dvc exp run -S` and DVC's params tracking stay true.
"""

from __future__ import annotations

from pathlib import Path

from driftline.config.pipeline import PipelineConfig
from driftline.project import ProjectError, check_compiled, find_root, read_params


class ParamsError(ProjectError):
    """params.yaml does not hold a valid config for the pipeline."""

    exit_code = 2


def load_pipeline(pipeline: str, root: Path | None = None, *, check: bool = True) -> PipelineConfig:
    """params.yaml's config of `pipeline`, typed; refused when conf/ changed after the last compile."""
    from pydantic import ValidationError

    from driftline.config.locate import validation_messages

    root = root or find_root()
    params = read_params(root)
    if check:
        check_compiled(root, params)
    if pipeline not in params:
        known = ", ".join(sorted(k for k in params if not k.startswith("_"))) or "none"
        raise ParamsError(f"params.yaml has no pipeline '{pipeline}' (pipelines: {known})",
                          hint="check the name, or add pipelines/<name>.yaml and run `driftline compile`")
    try:
        return PipelineConfig.model_validate(params[pipeline])
    except ValidationError as exc:
        lines = [f"params.yaml: {line}" for line in validation_messages(PipelineConfig, pipeline, exc)]
        raise ParamsError("\n".join(lines), hint="fix the YAML under conf/ or pipelines/, then run `driftline compile`") from None


def resolve_env(value: str, key: str) -> str:
    """`value` with its `${oc.env:VAR}` references resolved from the environment, when a stage reads `key`.

    compile keeps these references unresolved in params.yaml (`compose.ENV_RESOLVED_AT_RUN`), so a password
    lives only in the environment; this is the one place that resolves them. The error names the key and the
    variable, never the value.
    """
    if "${" not in value:
        return value
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        resolved = OmegaConf.create({"value": value})["value"]
    except OmegaConfBaseException as exc:
        message = " ".join(str(exc).split("\n")[0].split())
        raise ParamsError(f"{key}: cannot resolve {value!r}: {message}",
                          hint="set the environment variable it names in the environment that runs the stage") from None
    return str(resolved)
