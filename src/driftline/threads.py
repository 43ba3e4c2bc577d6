"""How many threads LightGBM trains with when the user did not set `model.params.num_threads`.

LightGBM's OpenMP threads spin while they wait for each other. With more threads than free
CPUs, training slows down many times over (benchmarks/results/threads.json: 120 trees took
3.9 s with 1 thread and 33.7 s with 2 on a 2-CPU machine kept busy). So the default never asks
for more threads than this process may use, and parallel sweep jobs share them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

# Set by `driftline sweep` for its jobs: how many jobs train at the same time on this machine.
PARALLEL_JOBS_ENV = "DRIFTLINE_PARALLEL_JOBS"
# OpenMP's own variables: a thread cap, and whether waiting threads spin or sleep.
OMP_THREADS_ENV = "OMP_NUM_THREADS"
OMP_WAIT_ENV = "OMP_WAIT_POLICY"


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


def default_threads(cpus: int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """LightGBM's training threads: usable CPUs, capped by OMP_NUM_THREADS, shared among parallel jobs.

    `cpus` defaults to `usable_cpus()` and `environ` to `os.environ`. Parallel jobs come from
    DRIFTLINE_PARALLEL_JOBS (set by `driftline sweep`); unset or invalid values count as absent.
    Never less than 1.
    """
    environ = os.environ if environ is None else environ
    threads = cpus if cpus is not None else usable_cpus()
    cap = _positive_int(environ.get(OMP_THREADS_ENV))
    if cap is not None:
        threads = min(threads, cap)
    jobs = _positive_int(environ.get(PARALLEL_JOBS_ENV)) or 1
    return max(1, threads // jobs)


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
