"""numpy's AVX-512 sort is avoided on AMD Zen 4 only, and never over the user's own setting."""

from __future__ import annotations

import pytest

from driftline.cpu import NUMPY_DISABLE_ENV, prefer_fast_sort, slow_avx512_sort

AVX512 = "fpu sse2 avx avx2 avx512f avx512dq avx512bw avx512vl"
AVX2 = "fpu sse2 avx avx2"


def cpuinfo(vendor: str, family: int, flags: str) -> str:
    block = f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: 17\nflags\t\t: {flags}\n"
    return f"{block}\n{block.replace('processor	: 0', 'processor	: 1')}"


@pytest.mark.parametrize(
    ("text", "slow"),
    [
        pytest.param(cpuinfo("AuthenticAMD", 25, AVX512), True, id="zen4"),
        pytest.param(cpuinfo("AuthenticAMD", 25, AVX2), False, id="zen3-no-avx512"),
        pytest.param(cpuinfo("AuthenticAMD", 26, AVX512), False, id="zen5"),
        pytest.param(cpuinfo("GenuineIntel", 6, AVX512), False, id="intel-avx512"),
        pytest.param("", False, id="empty"),
        pytest.param("vendor_id : AuthenticAMD\ncpu family : ?\nflags : avx512f\n", False, id="garbled"),
    ],
)
def test_only_zen4_has_the_slow_sort(text: str, slow: bool) -> None:
    assert slow_avx512_sort(text) is slow


def test_numpy_is_told_on_zen4_and_a_users_value_is_kept(tmp_path) -> None:
    zen4, intel = tmp_path / "zen4", tmp_path / "intel"
    zen4.write_text(cpuinfo("AuthenticAMD", 25, AVX512))
    intel.write_text(cpuinfo("GenuineIntel", 6, AVX512))
    environ: dict[str, str] = {}
    assert prefer_fast_sort(environ, zen4, numpy_loaded=False)
    assert environ[NUMPY_DISABLE_ENV].split() == ["X86_V4", "AVX512_ICL", "AVX512_SPR"]
    mine = {NUMPY_DISABLE_ENV: "AVX512_SPR"}
    assert not prefer_fast_sort(mine, zen4, numpy_loaded=False) and mine == {NUMPY_DISABLE_ENV: "AVX512_SPR"}
    untouched: dict[str, str] = {}
    assert not prefer_fast_sort(untouched, intel, numpy_loaded=False) and untouched == {}
    assert not prefer_fast_sort(untouched, tmp_path / "no-such-file", numpy_loaded=False) and untouched == {}
    # a process that already loaded numpy (this one, or a session calling the CLI in-process) is left alone
    assert not prefer_fast_sort(untouched, zen4, numpy_loaded=True) and untouched == {}


def test_numpy_reads_the_names_without_complaint(tmp_path) -> None:
    import subprocess
    import sys

    env = {NUMPY_DISABLE_ENV: "X86_V4 AVX512_ICL AVX512_SPR", "PATH": ""}
    proc = subprocess.run([sys.executable, "-W", "error", "-c", "import numpy; numpy.sort(numpy.arange(9.0))"],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
