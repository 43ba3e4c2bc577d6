"""`driftline compile --check` start-up: wall time, and which heavy libraries it imports.

    python benchmarks/bench_compile.py [--repeat 7] [--label after]
    PYTHONPATH=<checkout of 154e1e6>/src python benchmarks/bench_compile.py --project <that checkout> --label before

Runs `driftline compile --check` on this project in fresh processes, alternating with the baseline
in the same run: a process that only imports the CLI module (`driftline.cli.main`, what every
command pays). The ratio compile / CLI import says what compiling costs on top of start-up. With
`python -X importtime` it also lists which of pandas, numpy, pyarrow, scipy, scikit-learn and
LightGBM the compile process loads: the target is none (the config layer imports no data library).

Results are merged, under --label, into benchmarks/results/compile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/results/compile.json"
HEAVY = ("pandas", "numpy", "pyarrow", "scipy", "sklearn", "lightgbm")
COMPILE = "from driftline.cli.main import app; app(['compile', '--check'])"
CLI_IMPORT = "import driftline.cli.main"


PROJECT = REPO


def run(code: str, *extra: str) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *extra, "-c", code], cwd=PROJECT, capture_output=True, text=True, env=os.environ)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{code!r} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return seconds, proc.stderr


def heavy_imports() -> dict[str, float]:
    """Cumulative import seconds of each heavy library the compile process loads (none: {})."""
    _, stderr = run(COMPILE, "-X", "importtime")
    found = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        _, self_us, cumulative_us, name = (part.strip() for part in line.replace("import time:", "|", 1).split("|"))
        if name in HEAVY:
            found[name] = round(int(cumulative_us) / 1e6, 3)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--label", default="after")
    parser.add_argument("--project", type=Path, default=REPO, help="the checkout to compile (its own conf/ and code)")
    args = parser.parse_args()
    global PROJECT
    PROJECT = args.project.resolve()

    run(COMPILE)  # warm the file cache once
    compile_s, cli_s = [], []
    for _ in range(args.repeat):
        compile_s.append(run(COMPILE)[0])
        cli_s.append(run(CLI_IMPORT)[0])
    result = {
        "compile_check_median_s": round(statistics.median(compile_s), 3),
        "cli_import_median_s": round(statistics.median(cli_s), 3),
        "ratio_compile_to_cli_import": round(statistics.median(compile_s) / statistics.median(cli_s), 2),
        "heavy_libraries_imported_s": heavy_imports(),
        "repeat": args.repeat,
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
    }
    merged = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    merged[args.label] = result
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(json.dumps({args.label: result}, indent=2))


if __name__ == "__main__":
    main()
