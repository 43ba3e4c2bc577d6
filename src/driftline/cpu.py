"""A CPU on which numpy's fastest-looking sort is its slowest: AMD Zen 4.

numpy sorts floats with x86-simd-sort's AVX-512 kernels when the CPU has AVX-512. Those kernels
store with the memory-destination form of VCOMPRESS, which Zen 4 runs in microcode (AMD's
optimisation guide for family 19h says to avoid it; numpy/x86-simd-sort#6). Here, on an AMD EPYC
of family 25 with AVX-512, `np.sort` of 1M floats took 55 ms, and 11.5 ms with numpy's AVX2
kernels. The drift monitor sorts every numeric column of every batch, so its whole path at
1M x 1M rows went from about 1.5 s to 0.8 s of CPU (benchmarks/results/drift.json).

OpenJDK made the same call for its AVX-512 sort (JDK-8317976: not on AMD family 19h). numpy has
no switch but NPY_DISABLE_CPU_FEATURES, read once when numpy is imported, so `driftline run
monitor` sets it before anything imports numpy, only on that CPU, and never over a value the user
set. Only there: numpy's AVX-512 and AVX2 kernels of log and exp differ in the last bit, so
setting it for every stage would make the features the command writes differ, bit for bit, from
the same code run in a Python session (a crash test caught it). The monitor's figures are
statistics, compared with thresholds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

NUMPY_DISABLE_ENV = "NPY_DISABLE_CPU_FEATURES"
# numpy 2's names of the AVX-512 feature groups; numpy ignores a name the CPU does not have.
AVX512_GROUPS = ("X86_V4", "AVX512_ICL", "AVX512_SPR")
AMD_FAMILY_19H = 25  # Zen 3 (no AVX-512) and Zen 4


def slow_avx512_sort(cpuinfo: str) -> bool:
    """True on an AMD family-19h CPU with AVX-512 (Zen 4), from the text of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    try:
        family = int(fields.get("cpu family", ""))
    except ValueError:
        return False
    return fields.get("vendor_id") == "AuthenticAMD" and family == AMD_FAMILY_19H and "avx512f" in fields.get("flags", "").split()


def prefer_fast_sort(environ: MutableMapping[str, str] | None = None, cpuinfo: Path = Path("/proc/cpuinfo"),
                     numpy_loaded: bool | None = None) -> bool:
    """On Zen 4, have numpy use its AVX2 kernels (set NPY_DISABLE_CPU_FEATURES) unless the user set it.

    Only before numpy is imported (`numpy_loaded` defaults to whether it is): in a process that
    already loaded numpy (a Python session calling the CLI in-process) the variable would change
    nothing there and only leak into its child processes, so it is left alone. Child processes
    of the process that sets it inherit it. Returns whether it set the variable."""
    environ = os.environ if environ is None else environ
    if numpy_loaded is None:
        numpy_loaded = "numpy" in sys.modules
    if numpy_loaded or NUMPY_DISABLE_ENV in environ:
        return False
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if not slow_avx512_sort(text):
        return False
    environ[NUMPY_DISABLE_ENV] = " ".join(AVX512_GROUPS)
    return True
