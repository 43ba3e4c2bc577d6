"""driftline.compile.graph on the real project's configs: the DVC graph is closed, minimal and valid."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml
from dvc.schema import COMPILED_MULTI_STAGE_SCHEMA

from driftline.compile.graph import DRIFT_PLOTS, STEPS, check_graph, compile_project, pipeline_stages, pipeline_steps, stage_name
from driftline.compile.render import render_dvc_yaml
from driftline.compile.writer import drift_plot_templates
from driftline.config.load import load_all
from driftline.config.pipeline import PipelineConfig
from driftline.data.sources import source_files
from driftline.drift.history import SIGNALS

REPO = Path(__file__).resolve().parents[2]
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@pytest.fixture(scope="module")
def configs() -> dict[str, PipelineConfig]:
    return load_all(REPO)


@pytest.fixture(scope="module")
def compiled(configs: dict[str, PipelineConfig]) -> tuple[dict[str, Any], dict[str, Any]]:
    return compile_project(configs)


@pytest.fixture(scope="module")
def stages(compiled: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return compiled[0]["stages"]


def variant(cfg: PipelineConfig, **changes: Any) -> PipelineConfig:
    """A copy of `cfg` with top-level keys replaced, re-validated like compile would."""
    data = cfg.to_params()
    data.update(changes)
    return PipelineConfig.model_validate(data)


def out_paths(stage: Mapping[str, Any]) -> list[str]:
    paths: list[str] = []
    for field in ("outs", "metrics", "plots"):
        for out in stage.get(field, []):
            paths.extend(out.keys() if isinstance(out, Mapping) else [out])
    return paths


def produced_by(path: str, outs: Mapping[str, str]) -> str | None:
    """The stage whose output is `path` or a folder holding it."""
    for out, owner in outs.items():
        if path == out or path.startswith(out + "/"):
            return owner
    return None


def rerun_after_changing(stages: Mapping[str, Mapping[str, Any]], pipeline: str, key: str) -> set[str]:
    """Steps DVC reruns after `<pipeline>.<key>` changes: stages that list it, and all downstream."""
    full = f"{pipeline}.{key}"
    hit = {
        name for name, stage in stages.items()
        if any(full == p or full.startswith(p + ".") or p.startswith(full + ".") for p in stage.get("params", []))
    }
    outs = {path: name for name, stage in stages.items() for path in out_paths(stage)}
    changed = True
    while changed:
        changed = False
        for name, stage in stages.items():
            if name not in hit and any(produced_by(dep, outs) in hit for dep in stage.get("deps", [])):
                hit.add(name)
                changed = True
    return {name.removeprefix(f"{pipeline}-") for name in hit if name.startswith(f"{pipeline}-")}


# ---------------------------------------------------------------------------------------------
# Stage names and commands
# ---------------------------------------------------------------------------------------------


def test_every_pipeline_has_every_step_in_run_order(configs: dict, stages: dict) -> None:
    expected = [stage_name(name, step) for name in sorted(configs) for step in pipeline_steps(configs[name])]
    assert list(stages) == expected
    assert "credit-monitor" in stages and "pricing-monitor" not in stages  # only credit declares a monitor


def test_every_stage_runs_its_own_step_of_its_own_pipeline(configs: dict, stages: dict) -> None:
    for name in configs:
        for step in pipeline_steps(configs[name]):
            assert stages[f"{name}-{step}"]["cmd"] == f"driftline run {step} {name}"


def test_stage_names_are_valid_dvc_names(stages: dict) -> None:
    for name in stages:
        assert STAGE_NAME.match(name), name


# ---------------------------------------------------------------------------------------------
# Params: each stage reruns only when what it reads changes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", ["credit", "pricing"])
def test_train_depends_on_exactly_the_training_keys_target_and_task(stages: dict, pipeline: str) -> None:
    # not threshold (applied after training) nor cluster (where a Dask training runs, not what it learns)
    model = [f"{pipeline}.model.{k}" for k in ("dask_sample_rows", "early_stopping_rounds", "engine", "kind", "num_boost_round", "params", "rounds")]
    assert stages[f"{pipeline}-train"]["params"] == [*model, f"{pipeline}.target", f"{pipeline}.task"]


@pytest.mark.parametrize("pipeline", ["credit", "pricing"])
def test_ingest_depends_only_on_the_dataset_source(stages: dict, pipeline: str) -> None:
    assert stages[f"{pipeline}-ingest"]["params"] == [f"{pipeline}.dataset.source"]


@pytest.mark.parametrize("pipeline", ["credit", "pricing"])
def test_featurize_does_not_depend_on_the_model(stages: dict, pipeline: str) -> None:
    params = stages[f"{pipeline}-featurize"]["params"]
    assert f"{pipeline}.features" in params
    assert not [p for p in params if p.startswith(f"{pipeline}.model")]


RERUNS = [
    pytest.param("credit", "model.params.num_leaves", {"train", "evaluate", "promote"}, id="hyperparameter"),
    pytest.param("credit", "model.threshold", {"evaluate", "promote"}, id="threshold-is-applied-after-training"),
    pytest.param("credit", "features", {"featurize", "train", "evaluate", "promote"}, id="features"),
    pytest.param("credit", "split.seed", {"split", "featurize", "train", "evaluate", "promote"}, id="split-seed"),
    pytest.param("credit", "schema.max_bad_share", set(STEPS) - {"ingest", "monitor"}, id="schema"),
    pytest.param("credit", "dataset.source.rows", set(STEPS) - {"monitor"}, id="source"),
    pytest.param("credit", "monitor.drift_share", {"monitor", *STEPS[1:]}, id="monitor-policy-reaches-training-only-through-the-trigger"),
    pytest.param("credit", "gate.min_improvement", {"promote"}, id="gate"),
    pytest.param("pricing", "model.params.learning_rate", {"train", "evaluate", "promote"}, id="pricing-hyperparameter"),
    pytest.param("pricing", "dataset.timestamp", {"split", "featurize", "train", "evaluate", "promote"}, id="pricing-time-column"),
]


@pytest.mark.parametrize(("pipeline", "key", "expected"), RERUNS)
def test_a_config_change_reruns_only_the_stages_it_affects(stages: dict, pipeline: str, key: str, expected: set[str]) -> None:
    assert rerun_after_changing(stages, pipeline, key) == expected


def test_a_change_in_one_pipeline_never_reruns_the_other(stages: dict) -> None:
    assert rerun_after_changing(stages, "pricing", "model.params.num_leaves") == {"train", "evaluate", "promote"}
    touched = {name for name, stage in stages.items() if any(p.startswith("pricing.") for p in stage.get("params", []))}
    assert all(name.startswith("pricing-") for name in touched)


def test_every_params_key_exists_in_params_yaml(compiled: tuple) -> None:
    """DVC fails a stage whose params key is missing from params.yaml."""
    dvc, params = compiled
    for name, stage in dvc["stages"].items():
        for key in stage.get("params", []):
            node: Any = params
            for part in key.split("."):
                assert isinstance(node, Mapping) and part in node, f"{name}: {key} not in params.yaml"
                node = node[part]


# ---------------------------------------------------------------------------------------------
# The graph: closed, acyclic, one writer per path
# ---------------------------------------------------------------------------------------------


def test_every_dep_is_a_source_file_or_an_earlier_output(configs: dict, stages: dict) -> None:
    for pipeline, cfg in configs.items():
        sources = set(source_files(cfg.dataset.source.model_dump()))
        if cfg.label.kind == "join":
            sources.add(cfg.label.path)
        earlier: dict[str, str] = {}
        for step in pipeline_steps(configs[pipeline]):
            name = f"{pipeline}-{step}"
            for dep in stages[name].get("deps", []):
                assert dep in sources or produced_by(dep, earlier), f"{name} reads {dep}, which nothing before it writes"
            earlier.update({path: name for path in out_paths(stages[name])})


def test_file_sources_and_join_labels_become_deps(configs: dict) -> None:
    cfg = variant(
        configs["credit"],
        dataset={**configs["credit"].to_params()["dataset"],
                 "source": {"kind": "csv", "path": "data/applications.csv", "parse_dates": ["applied_at"]}},
        label={"kind": "join", "path": "data/outcomes.csv", "on": "application_id", "column": "defaulted"},
    )
    compiled = pipeline_stages("credit", cfg)
    # the source file, and the trigger through which the monitor hands over absorbed batches
    assert compiled["credit-ingest"]["deps"] == ["data/applications.csv", "data/credit/trigger.json"]
    assert "data/outcomes.csv" in compiled["credit-label"]["deps"]
    assert "always_changed" not in compiled["credit-ingest"]


def test_a_database_server_source_is_always_rerun(configs: dict) -> None:
    """DVC cannot hash a server's table, so ingest must run every time to see new rows."""
    cfg = variant(
        configs["credit"],
        dataset={**configs["credit"].to_params()["dataset"],
                 "source": {"kind": "sql", "url": "postgresql://db/loans", "query": "SELECT * FROM applications"}},
    )
    ingest = pipeline_stages("credit", cfg)["credit-ingest"]
    assert ingest["always_changed"] is True
    assert ingest["deps"] == ["data/credit/trigger.json"]  # no file to hash, only the monitor's trigger


def test_the_real_graph_has_one_writer_per_path(stages: dict) -> None:
    assert check_graph(stages) == []
    paths = [path for stage in stages.values() for path in out_paths(stage)]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize(
    ("victim", "path"),
    [
        pytest.param("credit-train", "data/credit/raw.parquet", id="same-file"),
        pytest.param("credit-evaluate", "data/credit/split/test.parquet", id="file-inside-another-stage-folder"),
        pytest.param("pricing-train", "data/pricing", id="folder-holding-another-stage-file"),
    ],
)
def test_check_graph_reports_two_stages_writing_one_path(stages: dict, victim: str, path: str) -> None:
    broken = copy.deepcopy(stages)
    broken[victim]["outs"].append(path)
    problems = check_graph(broken)
    naming_victim = [p for p in problems if victim in p.message and "both write" in p.message]
    assert naming_victim, f"an overlapping output of {victim} must be reported, got {problems}"
    assert {p.pipeline for p in naming_victim} == {victim.split("-")[0]}


# ---------------------------------------------------------------------------------------------
# Rendering: DVC's own schema, YAML round trip, plots that exist
# ---------------------------------------------------------------------------------------------


def test_rendered_dvc_yaml_fits_dvcs_own_schema(compiled: tuple) -> None:
    data = yaml.safe_load(render_dvc_yaml(compiled[0]))
    COMPILED_MULTI_STAGE_SCHEMA(data)


def test_dvcs_schema_check_does_catch_a_malformed_stage(compiled: tuple) -> None:
    """Guards the test above: the schema object really rejects a misspelt stage key."""
    data = copy.deepcopy(compiled[0])
    data["stages"]["credit-train"]["dep"] = data["stages"]["credit-train"].pop("deps")
    with pytest.raises(vol.Invalid):
        COMPILED_MULTI_STAGE_SCHEMA(data)


def test_rendered_dvc_yaml_round_trips_and_is_deterministic(configs: dict, compiled: tuple) -> None:
    text = render_dvc_yaml(compiled[0])
    assert yaml.safe_load(text) == compiled[0]
    reversed_configs = dict(reversed(list(configs.items())))
    assert render_dvc_yaml(compile_project(reversed_configs)[0]) == text


def test_plots_only_draw_files_that_a_stage_writes(compiled: tuple) -> None:
    dvc = compiled[0]
    written = {path for stage in dvc["stages"].values() for path in out_paths(stage)}
    assert dvc["plots"], "the project should define plots"
    for entry in dvc["plots"]:
        for plot_id, spec in entry.items():
            y = spec["y"]
            files = list(y) if isinstance(y, Mapping) else [plot_id]
            for file in files:
                assert file in written, f"plot {plot_id} draws {file}, which no stage writes"


def test_plot_files_are_not_cached_so_dvc_plots_can_read_them_from_git(compiled: tuple) -> None:
    dvc = compiled[0]
    plotted = {file for entry in dvc["plots"] for spec in entry.values() for file in spec["y"]}
    for stage in dvc["stages"].values():
        for out in stage.get("outs", []):
            if isinstance(out, Mapping):
                for path, flags in out.items():
                    if path in plotted:
                        assert flags["cache"] is False and set(flags) <= {"cache", "persist"}, path
            else:
                assert out not in plotted, f"{out} is plotted but cached by DVC"
        for entry in stage.get("plots", []):
            ((path, props),) = entry.items()
            assert props["cache"] is False, f"{path}: a stage plot lives in git"
            assert path not in plotted, f"{path} is a stage plot and a top-level plot: DVC would draw it twice"


RUN_ALWAYS = ("monitor", "promote")  # always_changed / writes the registry: no cache may replay them


def test_every_other_stage_can_be_restored_from_dvcs_run_cache(stages: dict) -> None:
    """DVC skips its run cache for a stage with a persist out, or an uncached out that is not a metric or plot."""
    checked = 0
    for name, stage in stages.items():
        if name.rsplit("-", 1)[-1] in RUN_ALWAYS:
            continue
        for out in stage.get("outs", []):
            assert not isinstance(out, Mapping), f"{name}: {out} is an uncached plain out: the run cache would be off"
        for entry in stage.get("metrics", []) + stage.get("plots", []):
            assert not next(iter(entry.values())).get("persist"), f"{name}: {entry}"
        checked += 1
    assert checked >= 14


# ---------------------------------------------------------------------------------------------
# The drift history: kept across runs, drawn by `dvc plots show` through driftline's templates
# ---------------------------------------------------------------------------------------------


def test_the_monitor_keeps_its_drift_history_across_runs(stages: dict) -> None:
    outs = [out for out in stages["credit-monitor"]["outs"] if isinstance(out, Mapping)]
    assert {"reports/credit/drift_history.csv": {"cache": False, "persist": True}} in outs, \
        "DVC must neither cache nor delete the history before the monitor appends to it"


def test_drift_history_plots_exist_only_for_monitored_pipelines(compiled: tuple) -> None:
    plots = {plot_id: spec for entry in compiled[0]["plots"] for plot_id, spec in entry.items()}
    drift = {plot_id: spec for plot_id, spec in plots.items() if "drift_history.csv" in str(spec["y"])}
    assert sorted(drift) == ["credit-drift_columns", "credit-drift_model", "credit-drift_quality"]
    for plot_id, spec in drift.items():
        assert spec["y"] == {"reports/credit/drift_history.csv": "statistic"} and spec["x"] == "batch"
        assert spec["template"] == "driftline_" + plot_id.removeprefix("credit-")
    assert not any(plot_id.startswith("pricing-drift") for plot_id in plots), "pricing has no monitor"


def test_drift_plot_templates_filter_their_signals_and_keep_dvcs_anchors() -> None:
    templates = drift_plot_templates()
    assert sorted(templates) == [f".dvc/plots/driftline_{name}.json" for name in sorted(DRIFT_PLOTS)]
    drawn = []
    for path, text in templates.items():
        assert text == drift_plot_templates()[path] and text.endswith("}\n"), "deterministic text"
        spec = json.loads(text)
        assert spec["data"] == {"values": "<DVC_METRIC_DATA>"} and spec["title"]["text"] == "<DVC_METRIC_TITLE>"
        (step,) = [t for t in spec["transform"] if "filter" in t]
        signals = step["filter"]["oneOf"]
        assert signals == list(DRIFT_PLOTS[path.split("driftline_")[1].removesuffix(".json")][0])
        drawn.extend(signals)
        assert spec["facet"]["field"] == "panel" and spec["resolve"]["scale"]["y"] == "independent"
        line = spec["spec"]["layer"][1]["encoding"]["stroke"]
        assert line["scale"]["domain"] == signals, "the legend lists only what this plot draws"
    assert sorted(drawn) == sorted(SIGNALS), "every signal of the history is drawn by exactly one plot"


def test_artifact_names_follow_gto_rules() -> None:
    from driftline.paths import PipelinePaths

    assert PipelinePaths("credit").artifact == "credit"
    assert PipelinePaths("my_pipe-2").artifact == "my_pipe-2"
    assert PipelinePaths("x").artifact == "x-model"
    assert PipelinePaths("_scores_").artifact == "scores-model"
