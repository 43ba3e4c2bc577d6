"""How many threads LightGBM trains with when the user did not set `model.params.num_threads`.

LightGBM's OpenMP threads spin while they wait for each other. With more threads than free
CPUs, training slows down many times over (benchmarks/results/threads.json: 120 trees took
3.9 s with 1 thread and 33.7 s with 2 on a 2-CPU machine kept busy). So the default never asks
for more threads than this process may use, parallel sweep jobs share them, and so do
trainings that run at the same time on this machine (`dvc queue start -j 2`, two terminals):
each training registers itself while it runs (`running_training`) and takes its share of what
is free when it starts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# Set by `driftline sweep` for its jobs: how many jobs train at the same time on this machine.
PARALLEL_JOBS_ENV = "DRIFTLINE_PARALLEL_JOBS"
# OpenMP's own variables: a thread cap, and whether waiting threads spin or sleep.
OMP_THREADS_ENV = "OMP_NUM_THREADS"
OMP_WAIT_ENV = "OMP_WAIT_POLICY"
# Where running trainings register (one empty file per process, named by its pid); a test may move it.
TRAININGS_ENV = "DRIFTLINE_TRAININGS_DIR"


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(str(text).split(",")[0].strip())  # OMP_NUM_THREADS may list nested levels: "4,2"
    except ValueError:
        return None
    return value if value > 0 else None


def default_threads(cpus: int | None = None, environ: Mapping[str, str] | None = None, trainings: int = 1) -> int:
    """LightGBM's training threads: usable CPUs, capped by OMP_NUM_THREADS, shared among parallel jobs.

    `cpus` defaults to `usable_cpus()` and `environ` to `os.environ`. Parallel jobs come from
    DRIFTLINE_PARALLEL_JOBS (set by `driftline sweep`), or are the `trainings` running on this
    machine (`running_training().count()`) when those are more; unset or invalid values count as
    absent. Never less than 1.
    """
    environ = os.environ if environ is None else environ
    threads = cpus if cpus is not None else usable_cpus()
    cap = _positive_int(environ.get(OMP_THREADS_ENV))
    if cap is not None:
        threads = min(threads, cap)
    jobs = max(_positive_int(environ.get(PARALLEL_JOBS_ENV)) or 1, trainings)
    return max(1, threads // jobs)


class RunningTraining:
    """This process, registered as a running training in `directory` until it leaves (see running_training)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory  # None: the folder could not be written; this training counts only itself

    def count(self) -> int:
        """The trainings running on this machine now, this one included; entries of dead processes are removed."""
        if self.directory is None:
            return 1
        alive = 0
        for entry in self.directory.iterdir():
            if not entry.name.isdigit():
                continue
            if _alive(int(entry.name)):
                alive += 1
            else:
                entry.unlink(missing_ok=True)
        return max(alive, 1)


@contextmanager
def running_training(directory: Path | None = None) -> Iterator[RunningTraining]:
    """Register this process as a running training for the block (an empty file named by its pid).

    The folder is per user, under the system's temp folder (or DRIFTLINE_TRAININGS_DIR). An entry
    whose process died is not counted and is removed by the next count. If the folder cannot be
    written, the training counts only itself.
    """
    folder = directory or Path(os.environ.get(TRAININGS_ENV) or Path(tempfile.gettempdir()) / f"driftline-{_user()}" / "trainings")
    entry = folder / str(os.getpid())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        entry.touch()
    except OSError:
        yield RunningTraining(None)
        return
    try:
        yield RunningTraining(folder)
    finally:
        entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _user() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else "user"


@contextmanager
def passive_wait() -> Iterator[None]:
    """Within the block, OMP_WAIT_POLICY=PASSIVE unless the user set it; the environment is restored after.

    OpenMP reads the variable once, when LightGBM's library loads, so import lightgbm inside the
    block: waiting threads then sleep instead of spin for the life of the process. On a busy
    machine that kept 2 threads faster than 1 (2.3 s against 4.4 s) where spinning made them
    8x slower. A process that loaded LightGBM earlier keeps the policy it started with.
    """
    if OMP_WAIT_ENV in os.environ:
        yield
        return
    os.environ[OMP_WAIT_ENV] = "PASSIVE"
    try:
        yield
    finally:
        os.environ.pop(OMP_WAIT_ENV, None)
