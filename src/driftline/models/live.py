"""Training in the open: DVCLive's LightGBM logger, and one quiet progress line for long runs.

DVCLive writes `<dir>/metrics.json` (the latest value of each metric, read by `dvc exp show`,
`dvc metrics` and Studio) and `<dir>/plots/metrics/<split>/<metric>.tsv` (one row per boosting
round, read by `dvc plots`). The compiler declares both in the train stage (`metrics:` and
`plots:`, cache: false), so DVCLive is told never to edit dvc.yaml (`dvcyaml=None`) and never to
create an experiment itself (`save_dvc_exp=False`: under `dvc exp run`, DVC records the experiment).

This module imports dvclive (and with it dvc): import it only where a model is trained.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dvclive import Live
from dvclive.lgbm import DVCLiveCallback

#: How often DVCLive rewrites metrics.json and posts to Studio while training (each round appends to the curves).
SYNC_SECONDS = 2.0
#: How often a long training prints its progress line.
PROGRESS_SECONDS = 10.0


class ThrottledLive(Live):
    """A `Live` whose `next_step` syncs (metrics.json, Studio) at most every `sync_every` seconds.

    DVCLive re-reads every curve file on each sync, so syncing after every round costs time
    quadratic in the rounds: 21 s for 1,000 rounds of 4 metrics here, against 0.3 s throttled.
    Every round's values still land in the curve files as they come; `end()` syncs the last state.
    """

    def __init__(self, *args: Any, sync_every: float = SYNC_SECONDS, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        self._sync_every = sync_every
        self._clock = clock
        self._last_sync = clock()
        super().__init__(*args, **kwargs)

    def _init_dvc(self) -> None:
        from scmrepo.exceptions import SCMError

        try:
            super()._init_dvc()
        except SCMError:
            # A git repository without a commit yet (`git init`, `dvc init`, `dvc repro`): DVCLive 3.49 asks
            # git for HEAD before it checks for that case, and fails. Log without the experiment metadata.
            self._dvc_file = self._init_dvc_file()
            self._save_dvc_exp = False

    def next_step(self) -> None:
        self.summary["step"] = self.step  # what `sync` would record, and what `end()` resumes from
        now = self._clock()
        if now - self._last_sync >= self._sync_every:
            self.sync()
            self._last_sync = now
        self.step += 1


def training_logger(directory: str, sync_every: float = SYNC_SECONDS) -> ThrottledLive:
    """DVCLive for a compiled train stage writing into `directory` (relative to the project root, the cwd)."""
    return ThrottledLive(dir=directory, dvcyaml=None, save_dvc_exp=False, report=None, sync_every=sync_every)


def lightgbm_callback(live: Live) -> DVCLiveCallback:
    """DVCLive's own LightGBM callback: logs `<split>/<metric>` after every round, then steps."""
    return DVCLiveCallback(live=live)


class Progress:
    """A LightGBM callback that reports one line every `every` seconds, never one per round.

    The line names the round, the first valid metric (the one early stopping watches) and its
    best value so far, e.g. `round 340/1000: valid auc 0.71234 (best 0.71301 at round 310), 20 s`.
    A training shorter than `every` seconds prints nothing.
    """

    def __init__(self, report: Callable[[str], None], every: float = PROGRESS_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.report = report
        self.every = every
        self.clock = clock
        self.started = self.last = clock()
        self.best: tuple[float, int] | None = None

    def __call__(self, env: Any) -> None:
        round_ = env.iteration + 1
        watched = next((r for r in env.evaluation_result_list if r[0] == "valid"), None)
        if watched is not None:
            _, name, value, higher_better = watched[:4]
            if self.best is None or (value > self.best[0] if higher_better else value < self.best[0]):
                self.best = (value, round_)
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        line = f"round {round_}/{env.end_iteration}"
        if watched is not None and self.best is not None:
            line += f": valid {name} {value:.5f} (best {self.best[0]:.5f} at round {self.best[1]})"
        self.report(f"{line}, {now - self.started:.0f} s")
