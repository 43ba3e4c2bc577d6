"""Record a sweep's jobs as DVC experiments (`driftline sweep --dvc-exp`).

Each finished job becomes one experiment on the current commit, in DVC's own layout: a git commit
whose parent is HEAD, under `refs/exps/<baseline sha[:2]>/<baseline sha[2:]>/<name>`, so
`dvc exp show`, `dvc exp diff`, `dvc exp apply`, `dvc exp push` and Studio see it. The commit
holds HEAD's files with three changed:

- `params.yaml`: the pipeline's key replaced by the job's resolved config (so the swept keys show
  in the same columns as `dvc exp run -S` experiments);
- `reports/<p>/metrics.json`: the job's test-split metrics (what the evaluate stage writes);
- `reports/<p>/live/metrics.json`: the job's training summary (what the train stage writes), whose
  `valid` metrics are the objective the sweep ranked by.

dvc.lock stays HEAD's, so after `dvc exp apply <name>`, `dvc repro` sees the changed params and
trains that model for real.

Why not `dvc exp save` (what DVCLive's `save_dvc_exp=True` calls): it snapshots the workspace and
re-commits every stage, so each save would need params.yaml rewritten in the workspace, and
dvc.lock would then claim the workspace's model was trained with the job's params (`dvc repro`
after `exp apply` would not train the winner). Parallel jobs saving at once would also race on the
workspace and git's index. Here the parent records the jobs one by one after the multirun, each
commit built in a private index file, and a ref is only ever created, never moved (`git update-ref`
with a zero old value), so two sweeps cannot overwrite each other's experiments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from driftline.paths import PipelinePaths
from driftline.snapshot import GitError, git, head, snapshot
from driftline.sweep.job import CONFIG_FILE, METRICS_FILE, TRAINING_FILE, SweepError

PARAMS_FILE = "params.yaml"
NO_REF = "0" * 40


def baseline(root: Path) -> str:
    """The commit the experiments hang off (HEAD); SweepError before anything runs when there is none."""
    try:
        return head(root)
    except GitError:
        raise SweepError(f"--dvc-exp: {root} has no git commit to record experiments on",
                         hint="run `git init`, commit the project (`git add -A && git commit`), then sweep again") from None


def experiment_name(pipeline: str, stamp: str, job: int) -> str:
    """`<pipeline>-sweep-<stamp>-<job>`, e.g. credit-sweep-20261201-214005-3."""
    return f"{pipeline}-sweep-{stamp}-{job}"


def experiment_files(params_text: str, pipeline: str, job_dir: Path) -> dict[str, str]:
    """The files one job's experiment changes: project-relative path -> new text."""
    from driftline.compile.render import PARAMS_HEADER, dump_yaml

    params = yaml.safe_load(params_text) or {}
    config = yaml.safe_load((job_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    metrics = json.loads((job_dir / METRICS_FILE).read_text(encoding="utf-8"))
    training = json.loads((job_dir / TRAINING_FILE).read_text(encoding="utf-8"))
    params[pipeline] = config[pipeline]
    p = PipelinePaths(pipeline)
    return {
        PARAMS_FILE: PARAMS_HEADER + dump_yaml(params),
        p.metrics: json.dumps(metrics["test"], indent=2, sort_keys=True) + "\n",  # as atomic.write_json writes them
        p.train_summary: json.dumps(training, indent=2, sort_keys=True) + "\n",
    }


def record(root: Path, pipeline: str, rows: Sequence[dict[str, Any]], sweep_dir: Path, stamp: str) -> list[str]:
    """One DVC experiment per finished job (`rows` from the leaderboard), in job order; their names."""
    from dvc.repo.experiments.refs import ExpRefInfo

    base = baseline(root)
    try:
        params_text = git(root, "show", f"{base}:{PARAMS_FILE}")
        names = []
        for row in sorted(rows, key=lambda r: r["job"]):
            name = experiment_name(pipeline, stamp, int(row["job"]))
            message = (f"driftline sweep {pipeline} job {row['job']}: {' '.join(row['overrides']) or '(defaults)'}\n\n"
                       f"valid {row['metric']} {row['objective']:.6f} (objective, {row['direction']})\n")
            commit = snapshot(root, message, base=base,
                              texts=experiment_files(params_text, pipeline, sweep_dir / str(row["dir"])))
            git(root, "update-ref", str(ExpRefInfo(baseline_sha=base, name=name)), commit, NO_REF)
            names.append(name)
    except GitError as exc:
        raise SweepError(f"--dvc-exp: {exc}", hint="--dvc-exp records experiments on the current commit of a git repository") from None
    return names
