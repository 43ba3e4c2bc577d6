"""Pure compiler core: typed pipeline configs -> DVC stage and plot definitions (plain dicts).

No I/O here. `render.py` turns these dicts into file text; `writer.py` touches the disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftline.config.errors import ConfigProblem
from driftline.config.metrics import plots
from driftline.config.pipeline import PipelineConfig
from driftline.paths import PipelinePaths

STEPS = ("monitor", "ingest", "validate", "label", "split", "featurize", "train", "evaluate", "promote")

NO_CACHE = {"cache": False}
KEPT = {"cache": False, "persist": True}  # committed to git and never deleted by DVC before a rerun
# what training reads of the model group; the decision threshold is applied after training, and
# model.cluster says where a Dask training runs, not what it learns
TRAINING_KEYS = ("kind", "engine", "rounds", "dask_sample_rows", "params", "num_boost_round", "early_stopping_rounds")
#: The drift history's plots: name -> (the history's signals drawn, title). Each is drawn by its own
#: copy of one Vega-Lite template (compile/templates/drift_history.json), which `driftline compile`
#: writes to .dvc/plots/ with the signals filled in (DVC's templates cannot filter or facet by a column).
DRIFT_PLOTS: dict[str, tuple[tuple[str, ...], str]] = {
    "drift_columns": (("column",), "column drift over batches (statistic vs threshold, red = drifted)"),
    "drift_model": (("prediction", "estimated", "realised"), "prediction drift and performance over batches"),
    "drift_quality": (("quality", "decision"), "data quality and decisions over batches"),
}


def stage_name(pipeline: str, step: str) -> str:
    return f"{pipeline}-{step}"


def _stage(pipeline: str, step: str, *, deps: list[str], params: list[str], outs: list[Any],
           metrics: list[Any] = (), plots: list[Any] = (), always_changed: bool = False) -> dict[str, Any]:
    """One dvc.yaml stage in DVC's own key order, empty fields dropped."""
    stage: dict[str, Any] = {"cmd": f"driftline run {step} {pipeline}"}
    if deps:
        stage["deps"] = sorted(set(deps))
    if params:
        stage["params"] = sorted(set(params))
    if outs:
        stage["outs"] = outs
    if metrics:
        stage["metrics"] = list(metrics)
    if plots:
        stage["plots"] = list(plots)
    if always_changed:
        stage["always_changed"] = True
    return stage


def pipeline_stages(name: str, cfg: PipelineConfig) -> dict[str, dict[str, Any]]:
    """The stages of one pipeline, keyed by stage name, in run order."""
    from driftline.data.sources import source_files

    p = PipelinePaths(name)

    def key(suffix: str) -> str:
        return f"{name}.{suffix}"

    ds = cfg.dataset
    source = ds.source.model_dump()
    columns_keys = [key("dataset.id")] if ds.id else []
    time_keys = [key("dataset.timestamp")] if ds.timestamp else []
    label_files = [cfg.label.path] if cfg.label.kind == "join" else []
    reads_server = ds.source.kind == "sql" and getattr(ds.source, "url", None) is not None

    monitored = cfg.monitor is not None
    stages = {
        "monitor": _stage(name, "monitor", deps=[], params=[key("monitor"), key("target"), key("task")],
                          outs=[{p.trigger: KEPT}, {p.monitor_state: KEPT}, {p.drift_json: KEPT}, {p.drift_html: KEPT},
                                {p.drift_history: KEPT}],
                          always_changed=True),
        "ingest": _stage(name, "ingest", deps=[*source_files(source), *([p.trigger] if monitored else [])],
                         params=[key("dataset.source")], outs=[p.raw], always_changed=reads_server),
        "validate": _stage(name, "validate", deps=[p.raw], params=[key("schema")],
                           outs=[p.validated, p.quarantine], metrics=[{p.validation_report: NO_CACHE}]),
        "label": _stage(name, "label", deps=[p.validated, *label_files],
                        params=[key("label"), key("target"), key("task")],
                        outs=[p.labelled, p.unlabelled]),
        "split": _stage(name, "split", deps=[p.labelled], params=[key("split"), key("target"), key("task"), *(time_keys if cfg.split.kind == "time" else [])],
                        outs=[p.split_dir]),
        "featurize": _stage(name, "featurize", deps=[p.split_dir],
                            params=[key("features"), key("target"), key("task"), *columns_keys, *time_keys],
                            outs=[p.features_dir, p.fitted_features]),
        "train": _stage(name, "train", deps=[p.features_dir, p.fitted_features],
                        params=[*(key(f"model.{f}") for f in TRAINING_KEYS), key("target"), key("task")],
                        outs=[p.model, p.model_meta], metrics=[{p.train_summary: NO_CACHE}], plots=training_plots(name)),
        "evaluate": _stage(name, "evaluate", deps=[p.features_dir, p.fitted_features, p.model, p.model_meta],
                           params=[key("model.threshold"), key("target"), key("task")],
                           outs=[p.predictions], metrics=[{p.metrics: NO_CACHE}], plots=evaluation_plots(name, cfg.task)),
        "promote": _stage(name, "promote", deps=[p.model, p.model_meta, p.fitted_features, p.metrics, p.split_dir, p.predictions],
                          params=[key("gate"), key("card"), key("task"), key("target")], outs=[],
                          # kept: an applied experiment's report carries its audit journal to the next run;
                          # always run: it writes the registry, a side effect no cache may replay (and it
                          # registers the model `dvc exp apply` brought in, which DVC sees as up to date)
                          metrics=[{p.promotion: KEPT}], always_changed=True),
    }
    return {stage_name(name, step): stages[step] for step in pipeline_steps(cfg)}


def pipeline_steps(cfg: PipelineConfig) -> tuple[str, ...]:
    """The steps of one pipeline, in run order; `monitor` only where the config asks for it."""
    return tuple(step for step in STEPS if step != "monitor" or cfg.monitor is not None)


def training_plots(name: str) -> list[dict[str, Any]]:
    """The train stage's plots: DVCLive's per-round curves (one plot per split and metric) and feature importance."""
    p = PipelinePaths(name)
    return [
        {p.training_curves: {**NO_CACHE, "x": "step", "x_label": "boosting round"}},
        {p.feature_importance: {**NO_CACHE, "template": "bar_horizontal_sorted", "x": "gain", "y": "feature",
                                "title": f"{name}: feature importance (gain)"}},
    ]


def evaluation_plots(name: str, task: str) -> list[dict[str, Any]]:
    """The evaluate stage's plots (config.metrics.PLOTS), each drawn as its stage declares it."""
    p = PipelinePaths(name)
    entries = []
    for plot in plots(task):
        props = {"template": plot.template, "x": plot.x, "y": plot.y, "title": f"{name}: {plot.title} (test split)",
                 "x_label": plot.x_label, "y_label": plot.y_label}
        entries.append({p.plot(plot.name): {**NO_CACHE, **{k: v for k, v in props.items() if v is not None}}})
    return entries


def pipeline_plots(name: str, cfg: PipelineConfig) -> list[dict[str, Any]]:
    """Top-level dvc.yaml plot definitions: the drift history's pictures.

    Every other plot is a stage's `plots:` output that carries its own template and axes: DVC draws
    a stage's plot outputs anyway, so a top-level definition over the same file would draw it twice.
    """
    p = PipelinePaths(name)
    specs: dict[str, dict[str, Any]] = {}
    if cfg.monitor is not None:
        for plot, (_, title) in DRIFT_PLOTS.items():
            specs[plot] = {"template": drift_plot_template(plot), "x": "batch", "y": {p.drift_history: "statistic"},
                           "title": f"{name}: {title}", "x_label": "batch", "y_label": "statistic"}
    return [{f"{name}-{plot}": spec} for plot, spec in specs.items()]


def drift_plot_template(plot: str) -> str:
    """The name DVC finds a drift history template by: `.dvc/plots/<name>.json`."""
    return f"driftline_{plot}"


def _out_paths(stage: Mapping[str, Any]) -> list[str]:
    paths = []
    for field in ("outs", "metrics", "plots"):
        for out in stage.get(field, []):
            paths.extend(out.keys() if isinstance(out, Mapping) else [out])
    return paths


def check_graph(stages: Mapping[str, Mapping[str, Any]]) -> list[ConfigProblem]:
    """Graph rules: no two stages write one path (or one inside the other's folder)."""
    problems = []
    owners: dict[str, str] = {}
    for name, stage in stages.items():
        for path in _out_paths(stage):
            for other_path, other in owners.items():
                overlap = path == other_path or path.startswith(other_path + "/") or other_path.startswith(path + "/")
                if overlap:
                    problems.append(ConfigProblem(name.split("-")[0], "", f"stages '{other}' and '{name}' both write '{path}'"))
            owners[path] = name
    return problems


def compile_project(configs: Mapping[str, PipelineConfig]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(dvc.yaml data, params.yaml data without the fingerprint) for every pipeline, in name order."""
    stages: dict[str, Any] = {}
    top_plots: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    for name in sorted(configs):
        stages.update(pipeline_stages(name, configs[name]))
        top_plots.extend(pipeline_plots(name, configs[name]))
        params[name] = configs[name].to_params()
        artifacts.update(pipeline_artifact(name, configs[name]))
    return {"stages": stages, **({"plots": top_plots} if top_plots else {}), "artifacts": artifacts}, params


def pipeline_artifact(name: str, cfg: PipelineConfig) -> dict[str, Any]:
    """The pipeline's model as a DVC artifact: what GTO, Studio and `dvc artifacts get` see.

    The path is the train stage's model; at a version's GTO tag (registry/tags.py) dvc.lock pins it.
    """
    p = PipelinePaths(name)
    entry: dict[str, Any] = {"path": p.model, "type": "model"}
    if cfg.description:
        entry["desc"] = " ".join(str(cfg.description).split())
    entry["labels"] = ["driftline", cfg.task, f"pipeline:{name}"]
    return {p.artifact: entry}
