"""promote: gate the challenger against the champion on the same held-out rows; register and swap.

The registry lives outside DVC's outputs (registry/<pipeline>/), so reruns never delete history.
This stage's own output is a small report, reports/<pipeline>/promotion.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from driftline.atomic import sweep_leftovers, temp_prefix, write_json, write_parquet, write_text
from driftline.experiment import Experiment, current_experiment
from driftline.registry.store import Registry, VersionInfo
from driftline.stages.context import StageContext, StageError, project_registry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from driftline.drift.estimate import Estimator
    from driftline.registry.gate import GateResult

REFERENCE_SAMPLE_ROWS = 5_000
# numeric reference columns keep at most this many order statistics (the profile records the
# resulting bound on KS and Wasserstein), so a version stays small enough to commit
PROFILE_MAX_VALUES = 10_000
VERSION_FILES = ("model.txt", "features.json", "model.json", "metrics.json")


def write_profile(ctx: StageContext, train: pd.DataFrame, folder: Path, scores: np.ndarray | None = None,
                  train_file: Path | None = None) -> list[str]:
    """The reference profile the monitor compares new data with, computed once per version.

    The score profile (prediction drift) is of this version's scores on the test split, or of
    `scores` when given (a baseline: the champion's scores on the refused challenger's test split).
    When the dataset source is partitioned (a folder or glob of Parquet files) and `train_file` holds
    `train`, the columns are profiled on the Dask cluster, one task per row group of that file, and
    merged exactly: the same profile, bit for bit.
    """
    import pandas as pd

    from driftline.data.sources import is_partitioned
    from driftline.drift.profile import monitored_kinds, profile_frame, save_profile

    kinds = monitored_kinds(ctx.cfg)
    frame = train[list(kinds)].copy()
    monitor = ctx.cfg.monitor
    sketch_k = monitor.sketch_k if monitor is not None and monitor.sketch == "kll" else None  # numeric columns as KLL sketches
    if train_file is not None and is_partitioned(ctx.cfg.dataset.source.model_dump(), ctx.root):
        from driftline.drift.partitioned import profile_partitions, row_group_partitions

        cluster = monitor.cluster if monitor is not None else None
        profiles = profile_partitions(row_group_partitions(train_file), kinds, cluster=cluster, max_values=PROFILE_MAX_VALUES,
                                      sketch_k=sketch_k)
    elif sketch_k is not None:
        from driftline.drift.sketch import sketch_frame

        profiles = sketch_frame(frame, kinds, sketch_k)
    else:
        profiles = profile_frame(frame, kinds, max_values=PROFILE_MAX_VALUES)
    if scores is None:
        predictions = pd.read_parquet(ctx.path(ctx.paths.predictions))
        scores = predictions["score"].to_numpy() if "score" in predictions.columns else None
    if scores is not None:
        profiles.update(profile_frame(pd.DataFrame({"__score__": scores}), {"__score__": "numeric"}))
    save_profile(profiles, folder / "profile.json", folder / "profile.npz")
    sample = frame.sample(n=min(len(frame), REFERENCE_SAMPLE_ROWS), random_state=0).reset_index(drop=True)
    write_parquet(folder / "reference_sample.parquet", sample)
    return ["profile.json", "profile.npz", "reference_sample.parquet"]


def write_estimator(ctx: StageContext, test: pd.DataFrame, scores: np.ndarray, labels: np.ndarray, folder: Path) -> list[str]:
    """What the monitor needs to estimate this version's performance before labels arrive (CBPE/DLE).

    Fitted on the held-out rows the gate scored. Multiclass versions get none (not supported), and
    nor does a test split too small to fit one: the monitor then reports no estimate.
    """
    from driftline.drift.estimate import EstimatorError, fit_estimator

    matrix, fitted = None, None
    if ctx.cfg.task == "regression":
        from driftline.features.pipeline import FittedFeatures, model_matrix

        fitted = FittedFeatures.from_json(json.loads(ctx.path(ctx.paths.fitted_features).read_text(encoding="utf-8")))
        matrix = model_matrix(test, fitted)  # the same matrix the champion scored
    try:
        estimator = fit_estimator(ctx.cfg.task, scores, labels, matrix=matrix,
                                  feature_columns=fitted.feature_columns if fitted else (),
                                  categorical=list(fitted.categorical) if fitted else ())
    except EstimatorError as exc:
        print(f"{ctx.pipeline}: no performance estimator stored: {exc}", file=sys.stderr)
        return []
    if estimator is None:
        return []
    documents = estimator.documents()
    for name, text in documents.items():
        write_text(folder / name, text)
    return sorted(documents)


def load_estimator(folder: Path) -> Estimator | None:
    """A registered version's performance estimator; None for a version registered without one."""
    from driftline.drift.estimate import ESTIMATOR_FILE, NANNY_FILES, Estimator, EstimatorError

    path = folder / ESTIMATOR_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EstimatorError(f"{path}: unreadable ({exc})", hint="re-register the version to write a fresh estimator") from None
    nanny = {loss: (folder / name).read_text(encoding="utf-8") for loss, name in NANNY_FILES.items() if (folder / name).is_file()}
    return Estimator.from_documents(meta, nanny, where=str(path))


def training_summary(ctx: StageContext, train: pd.DataFrame) -> dict:
    import pandas as pd

    from driftline.data.batches import read_trigger

    ts = ctx.cfg.dataset.timestamp
    window = None
    if ts and ts in train.columns and len(train):
        window = {"from": pd.Timestamp(train[ts].min()).isoformat(), "to": pd.Timestamp(train[ts].max()).isoformat()}
    trigger = read_trigger(ctx.root, ctx.paths.trigger)
    return {"train_rows": len(train), "time_window": window,
            "absorbed_batches": [b.to_json() for b in trigger.absorbed], "retrains": trigger.retrains}


def card_writer(ctx: StageContext, meta: dict, metrics: dict, gate: dict, test: pd.DataFrame,
                scores: np.ndarray, labels: np.ndarray, training: dict):
    """The model card (Markdown + JSON), rendered once the version's name is known."""
    from driftline.audit.log import read
    from driftline.registry.card import build_card, card_documents, slice_metrics

    spec = ctx.cfg.card
    slices = slice_metrics(test, scores, labels, spec.slices, ctx.cfg.task, ctx.cfg.model.threshold, spec.min_slice_rows)
    history = [{"time": r["time"], "reasons": r["payload"]["reasons"]} for r in read(ctx.root)
               if r["kind"] == "retrain" and r["payload"].get("pipeline") == ctx.pipeline]

    def documents(version: str, parent: str | None) -> dict[str, str]:
        return card_documents(build_card(
            pipeline=ctx.pipeline, version=version, parent=parent, description=ctx.cfg.description,
            intended_use=spec.intended_use, limitations=spec.limitations, task=ctx.cfg.task, target=ctx.cfg.target,
            features=meta["feature_columns"], training=training, metrics=metrics, slices=slices, gate=gate,
            drift_history=history))

    return documents


def absorbed_since(ctx: StageContext, registry: Registry, champion: VersionInfo) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the batches absorbed into training since the champion was trained, and their files."""
    import pandas as pd

    from driftline.data.batches import read_batch_frame, read_trigger

    training = json.loads(registry.file(champion.version, "training.json").read_text(encoding="utf-8"))
    before = {(b["file"], b["sha256"]) for b in training.get("absorbed_batches", [])}
    batches = [b for b in read_trigger(ctx.root, ctx.paths.trigger).absorbed if (b.file, b.sha256) not in before]
    frames = [read_batch_frame(ctx.path(b.file)) for b in batches if ctx.path(b.file).exists()]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), [b.file for b in batches]


def store_challenger_baseline(ctx: StageContext, registry: Registry, champion: VersionInfo | None, reason: str,
                              champion_scores: np.ndarray | None, labels: np.ndarray) -> None:
    """After a refusal: keep what the refused challenger newly saw as the monitor's baseline.

    With `monitor.on_refusal: rebaseline` the monitor then compares later batches with that data,
    so the drift that caused this retrain does not fire again on every batch. The data is the
    batches the retrain absorbed since the champion was trained (the new normal the champion was
    kept for); without enough of them, the challenger's training split. The score profile and
    `champion_metrics` are the champion's own on that data (on the test split for the fallback),
    so prediction drift and the performance signals compare the champion with itself.
    The baseline belongs to the current champion; a promotion or rollback makes it stale.
    """
    import numpy as np
    import pandas as pd

    from driftline.data.batches import read_trigger
    from driftline.hashing import fingerprint_files
    from driftline.models.evaluate import compute_metrics
    from driftline.registry.score import score_version

    if champion is None:
        return
    p, cfg = ctx.paths, ctx.cfg
    assert cfg.monitor is not None
    frame, files = absorbed_since(ctx, registry, champion)
    if len(frame) >= cfg.monitor.min_batch_rows:
        if cfg.target not in frame.columns:
            frame = frame.assign(**{cfg.target: np.nan})
        champion_scores, labels = score_version(registry.file(champion.version, "model.txt"),
                                                registry.file(champion.version, "features.json"),
                                                champion.model_meta(), frame, task=cfg.task, target=cfg.target)
        source = f"{len(frame):,} rows of the {len(files)} batch(es) the refused retrain absorbed"
    else:
        frame = pd.read_parquet(ctx.path(p.split("train")))
        source = f"the refused challenger's training split ({len(frame):,} rows)"
    labelled = ~np.isnan(labels.astype(np.float64)) if labels.dtype.kind == "f" else np.ones(len(labels), dtype=bool)
    metrics = (compute_metrics(labels[labelled], champion_scores[labelled], cfg.task, threshold=cfg.model.threshold)
               if champion_scores is not None and labelled.sum() else {})
    with tempfile.TemporaryDirectory(prefix=temp_prefix("baseline", "-"), dir=ctx.path(p.models)) as tmp:
        folder = Path(tmp)
        files_written = {name: folder / name for name in write_profile(ctx, frame, folder, scores=champion_scores)}
        registry.set_baseline(files_written, {
            "champion": champion.version,
            "source": source,
            "batches": files,
            "champion_metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float))},
            "trigger_retrains": read_trigger(ctx.root, p.trigger).retrains,
            "reason": reason,
            "data_fingerprint": fingerprint_files([ctx.path(p.split(s)) for s in ("train", "valid")]),
        })


def write_trained_rows(ctx: StageContext, train: pd.DataFrame, folder: Path) -> dict:
    """Record which rows this version trained on (its train and valid splits), for a fair gate later.

    Keys are of the dataset's id column when it has one, else of every column of the rows
    (`driftline.data.split.row_keys`): a later gate leaves those rows out of its test split, whatever
    the split then assigns. Returns the summary kept in training.json.
    """
    import numpy as np
    import pandas as pd

    from driftline.data.split import TRAINED_ROWS_FILE, key_columns, row_keys

    valid = pd.read_parquet(ctx.path(ctx.paths.split("valid")))
    by = key_columns(list(train.columns), ctx.cfg.dataset.id)
    keys = np.unique(np.concatenate([row_keys(train, by), row_keys(valid, by)]))
    write_parquet(folder / TRAINED_ROWS_FILE, pd.DataFrame({"row_key": keys}))
    return {"by": by, "rows": int(len(keys)), "file": TRAINED_ROWS_FILE}


def fair_test_rows(ctx: StageContext, registry: Registry, champion: VersionInfo,
                   test: pd.DataFrame) -> tuple[np.ndarray | None, GateResult | None]:
    """(mask of the test rows the champion did not train on, or None when its version does not record
    them; a refusal GateResult when a fair comparison is impossible, else None)."""
    import numpy as np
    import pandas as pd

    from driftline.data.split import unseen_rows
    from driftline.registry.gate import MIN_FAIR_ROWS, cannot_tell_fair_rows, too_few_fair_rows

    if "training.json" not in champion.files:
        return None, None
    recorded = json.loads(registry.file(champion.version, "training.json").read_text(encoding="utf-8")).get("trained_rows")
    if not isinstance(recorded, dict):
        return None, None  # registered before versions recorded their rows: scored on the whole test split
    name, split = f"champion {champion.version}", ctx.paths.split("test")
    by = [str(c) for c in recorded.get("by") or []]
    missing = [c for c in by if c not in test.columns]
    if missing or not by:
        return None, cannot_tell_fair_rows(ctx.cfg.gate, ctx.cfg.task, missing or ["(none recorded)"], name, split)
    trained = pd.read_parquet(registry.file(champion.version, str(recorded.get("file")))).get("row_key")
    mask = unseen_rows(test, by, np.asarray(trained, dtype=np.uint64))
    if int(mask.sum()) < MIN_FAIR_ROWS:
        return mask, too_few_fair_rows(ctx.cfg.gate, ctx.cfg.task, int(mask.sum()), len(test), name, split)
    return mask, None


def previous_report(ctx: StageContext) -> dict:
    """The last promotion.json (a kept output: DVC does not delete it before this run), or {}."""
    path = ctx.path(ctx.paths.promotion)
    try:
        previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}  # a damaged report from an earlier run: this run rewrites it
    return previous if isinstance(previous, dict) else {}


def judged_with(ctx: StageContext) -> str:
    """What a gate decision depends on besides the model: the stage's params (gate, card, task, target)."""
    from driftline.registry.store import fingerprint_config

    params = ctx.cfg.to_params()
    return fingerprint_config({key: params.get(key) for key in ("gate", "card", "task", "target")})


def already_refused(registry: Registry, previous: dict, model_sha: str, judged: str) -> bool:
    """Whether the gate refused this very model, with these params, and the registry still says so.

    The report alone is not enough: a clone may carry a committed promotion.json without the
    registry events behind it.
    """
    if previous.get("decision") != "refused" or previous.get("model_sha256") != model_sha or previous.get("judged_with") != judged:
        return False
    return any(event.get("event") == "refused" and (event.get("details") or {}).get("gate") == previous.get("gate")
               for event in registry.history())


def applied_experiment(ctx: StageContext, previous: dict, model_sha: str) -> dict | None:
    """Adopt the audit records of the experiment `dvc exp apply` brought into this workspace.

    The experiment's promote stage left its journal in promotion.json. Its records join the chain
    only if the model here is the one the experiment trained; returns {name, baseline_rev, adopted}.
    """
    from driftline.audit.log import adopt

    experiment = previous.get("experiment")
    if not isinstance(experiment, dict) or previous.get("model_sha256") != model_sha:
        return None
    added = adopt(ctx.root, list(experiment.get("records") or []))
    return {"name": experiment.get("name"), "baseline_rev": experiment.get("baseline_rev"), "adopted_records": added}


def write_report(ctx: StageContext, report: dict, experiment: Experiment | None) -> None:
    """promotion.json; in an experiment it also carries the experiment's audit journal for this pipeline."""
    from driftline.audit.log import forget_journal, journal

    if experiment is not None:
        report["experiment"] = {**experiment.to_json(), "records": journal(ctx.root, experiment, ctx.pipeline)}
    write_json(ctx.path(ctx.paths.promotion), report)
    if experiment is not None:
        forget_journal(ctx.root, experiment)


def run(ctx: StageContext) -> str:
    from driftline.hashing import fingerprint_files, sha256_file
    from driftline.registry.gate import GateError, gate_metric, judge
    from driftline.registry.store import fingerprint_config

    p, cfg = ctx.paths, ctx.cfg
    experiment = current_experiment()
    registry = project_registry(ctx.root, ctx.pipeline)
    if experiment is None:  # complete what a promote killed halfway left, before reading the champion
        for repaired in registry.recover():
            print(f"{ctx.pipeline}: registry recovered: {repaired}", file=sys.stderr)
        sweep_leftovers(ctx.path(p.models), (".promote-", ".baseline-"))
    champion = registry.champion()
    model_sha = sha256_file(ctx.path(p.model))
    metric = gate_metric(cfg.gate, cfg.task)
    previous, judged = previous_report(ctx), judged_with(ctx)
    if already_refused(registry, previous, model_sha, judged):
        # Promote runs on every repro; a refused model is judged once per gate config. Judging it again
        # would record the refusal again on every repro, and after a rollback would promote the model
        # the rolled-back champion had beaten, behind the user's back. (A registered model is
        # recognised by its hash below.)
        return f"already judged: refused ({previous.get('reason', '')}); nothing new to register"
    report: dict = {"champion_before": champion.version if champion else None, "metric": metric,
                    "model_sha256": model_sha, "judged_with": judged}
    if experiment is None and (applied := applied_experiment(ctx, previous, model_sha)) is not None:
        report["applied_experiment"] = applied

    pending: VersionInfo | None = None
    if champion is None:  # the first promotion, stopped by a crash after registering: finish it, never register twice
        pending = next((v for v in registry.versions() if v.files.get("model.txt") == model_sha and registry.undecided(v.version)), None)
    if champion is not None:
        if champion.files.get("model.txt") == model_sha:
            report.update(decision="unchanged", champion_after=champion.version,
                          reason=f"the trained model is identical to champion {champion.version}")
            write_report(ctx, report, experiment)
            return f"model unchanged: {champion.version} stays champion"
        # Identical to an earlier version the champion was rolled back from (say, a forced rerun after
        # `registry rollback`): never register a duplicate, and never silently undo the rollback.
        twin = next((v for v in registry.versions() if v.files.get("model.txt") == model_sha), None)
        if twin is not None and registry.undecided(twin.version):
            pending = twin  # registered by a promote a crash stopped before the swap: judge it again below
        elif twin is not None:
            report.update(decision="unchanged", champion_after=champion.version, identical_to=twin.version,
                          reason=f"the trained model is identical to {twin.version}, already registered; "
                                 f"{champion.version} stays champion (`driftline registry promote "
                                 f"{ctx.pipeline} {twin.version}` reinstates it)")
            write_report(ctx, report, experiment)
            return f"model identical to {twin.version}: not registered again; {champion.version} stays champion"

    # A model to judge: only from here on are the data read (an unchanged model, the common repro, never loads pandas)
    import pandas as pd

    from driftline.registry.score import score_version

    meta = json.loads(ctx.path(p.model_meta).read_text(encoding="utf-8"))
    test = pd.read_parquet(ctx.path(p.split("test")))
    scores, y = score_version(ctx.path(p.model), ctx.path(p.fitted_features), meta, test, task=cfg.task, target=cfg.target)
    champion_scores, fair, refusal = None, None, None
    if champion is not None:
        champion_scores, _ = score_version(registry.file(champion.version, "model.txt"),
                                           registry.file(champion.version, "features.json"),
                                           json.loads(registry.file(champion.version, "model.json").read_text(encoding="utf-8")), test,
                                           task=cfg.task, target=cfg.target)
        # the test split never held the challenger's training rows; leave out the champion's too
        fair, refusal = fair_test_rows(ctx, registry, champion, test)
    rows = slice(None) if fair is None else fair
    gate_y, gate_champion = y[rows], None if champion_scores is None else champion_scores[rows]
    try:  # both models on the same rows: the paired test compares them row by row
        result = refusal or judge(cfg.gate, cfg.task, gate_y, scores[rows], gate_champion, threshold=cfg.model.threshold,
                                  excluded=None if fair is None else int((~fair).sum()),
                                  champion_name=f"champion {champion.version}" if champion else "the champion")
    except GateError as exc:
        raise StageError(f"{ctx.pipeline}.gate: {exc}", hint=exc.hint) from None
    report["gate"] = result.to_json()
    if experiment is not None:  # a draft: the main workspace registers it once the experiment is applied
        would = "promote" if result.passed else "refuse"
        report.update(decision="candidate", would=would, champion_after=report["champion_before"], reason=result.reason)
        write_report(ctx, report, experiment)
        return (f"experiment {experiment.name}: the gate would {would} this model ({result.reason}); nothing registered "
                f"inside an experiment: `dvc exp apply {experiment.name}`, then `dvc repro`")
    if not result.passed:
        registry.record_refusal(pending.version if pending else None, result.reason, {"gate": result.to_json()})
        if cfg.monitor is not None:
            # the champion's scores on the rows it was judged on (on the whole split when it could not be judged)
            baseline = (champion_scores, y) if refusal is not None else (gate_champion, gate_y)
            store_challenger_baseline(ctx, registry, champion, result.reason, *baseline)
        report.update(decision="refused", champion_after=report["champion_before"], reason=result.reason)
        write_report(ctx, report, experiment)
        return f"gate refused: {result.reason}"

    if pending is not None:
        registry.promote(pending.version, result.reason)
        report.update(decision="promoted", champion_after=pending.version, reason=result.reason,
                      completed=f"{pending.version} was registered by a promote that stopped before the swap")
        write_report(ctx, report, experiment)
        return f"promoted {pending.version} (registered by an interrupted run): {result.reason}"

    train = pd.read_parquet(ctx.path(p.split("train")))
    with tempfile.TemporaryDirectory(prefix=temp_prefix("promote", "-"), dir=ctx.path(p.models)) as tmp:
        folder = Path(tmp)
        files = {name: ctx.path(f"{p.models}/{name}") for name in VERSION_FILES if name != "metrics.json"}
        files["metrics.json"] = ctx.path(p.metrics)
        for name in write_profile(ctx, train, folder, train_file=ctx.path(p.split("train"))):
            files[name] = folder / name
        for name in write_estimator(ctx, test, scores, y, folder):
            files[name] = folder / name
        trained_rows = write_trained_rows(ctx, train, folder)
        files[trained_rows["file"]] = folder / trained_rows["file"]
        write_json(folder / "training.json", {**training_summary(ctx, train), "trained_rows": trained_rows})
        files["training.json"] = folder / "training.json"
        metrics = json.loads(ctx.path(p.metrics).read_text(encoding="utf-8"))
        documents = card_writer(ctx, meta, metrics, result.to_json(), test, scores, y, training_summary(ctx, train))
        version = registry.register(
            files, metrics=metrics,
            data_fingerprint=fingerprint_files([ctx.path(p.split(s)) for s in ("train", "valid")]),
            config_fingerprint=fingerprint_config(cfg.to_params()),
            gate=result.to_json(),
            documents=documents,
        )
    registry.promote(version.version, result.reason)
    report.update(decision="promoted", champion_after=version.version, reason=result.reason)
    write_report(ctx, report, experiment)
    return f"promoted {version.version}: {result.reason}"
