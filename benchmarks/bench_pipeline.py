"""The credit pipeline under `dvc repro` against the same work in one hand-written script, per size.

    python benchmarks/bench_pipeline.py [--rows 50000 200000 1000000]

Per size, in a fresh throw-away copy of the demo (`_project.demo_project`):
- the script (`benchmarks/pipeline_script.py`: one process, pandas + pandera + LightGBM), wall s;
- `dvc repro credit-evaluate` cold, wall s, and the seconds each stage reports inside its process;
  beside each wall figure, the CPU seconds of the process and everything it waited for (the
  fairer comparison when other work shares the machine);
- a no-op `dvc repro credit-evaluate` (median of 3);
- each stage's process on its own: `driftline run <step> credit` again, in pipeline order, after
  the no-op (the rerun writes the same outputs), wall s beside the seconds it reports inside, so
  the difference is that process's start-up (interpreter, CLI, config) and exit.
The script's test AUC and best iteration are compared with the pipeline's (same rows, split,
transforms and params, so the same model is expected). Baselines in the same run: `python -c pass`,
`python -c "import pandas"`, `driftline --help`. Results: benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import sys
from pathlib import Path

from _project import REPO, demo_project, machine, run, write_results

STEPS = ("monitor", "ingest", "validate", "label", "split", "featurize", "train", "evaluate")
SCRIPT = REPO / "benchmarks" / "pipeline_script.py"
INSIDE = re.compile(r"^credit-(\w+): .*\((\d+\.\d+)s\)$", re.M)


def median_wall(cmd: list[str], cwd: Path, repeat: int) -> float:
    return statistics.median(run(cmd, cwd)[0] for _ in range(repeat))


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the command and every process it waited for, stdout): CPU is the fairer
    figure on a machine other work is loading."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, out = run(cmd, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def one_size(rows: int) -> dict:
    root = demo_project(rows, "pipeline")
    try:
        script_s, script_cpu, out = timed([sys.executable, str(SCRIPT), "--project", str(root), "--out", str(root / "script-out")], root)
        script = json.loads(out.strip().splitlines()[-1])
        cold_s, cold_cpu, out = timed(["dvc", "repro", "credit-evaluate"], root)
        inside = {step: float(s) for step, s in INSIDE.findall(out)}
        noop_s = median_wall(["dvc", "repro", "credit-evaluate"], root, 3)
        metrics = json.loads((root / "reports/credit/metrics.json").read_text())
        model = json.loads((root / "models/credit/model.json").read_text())
        stage_wall, stage_cpu, stage_inside = {}, {}, {}
        for step in STEPS:
            wall, cpu, out = timed(["driftline", "run", step, "credit"], root)
            stage_wall[step], stage_cpu[step] = round(wall, 2), round(cpu, 2)
            stage_inside[step] = float(INSIDE.search(out).group(2))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "script_s": round(script_s, 2),
        "script_cpu_s": round(script_cpu, 2),
        "script_phases_s": script["seconds"],
        "repro_cold_s": round(cold_s, 2),
        "repro_cold_cpu_s": round(cold_cpu, 2),
        "ratio_cold_to_script": round(cold_s / script_s, 2),
        "ratio_cold_to_script_cpu": round(cold_cpu / script_cpu, 2),
        "noop_repro_s": round(noop_s, 2),
        "stage_seconds_inside_cold_repro": inside,
        "stage_wall_s_rerun": stage_wall,
        "stage_cpu_s_rerun": stage_cpu,
        "stage_seconds_inside_rerun": stage_inside,
        "stage_startup_s_rerun": {step: round(stage_wall[step] - stage_inside[step], 2) for step in STEPS},
        "test_roc_auc": {"script": script["roc_auc"], "pipeline": metrics["roc_auc"]},
        "best_iteration": {"script": script["best_iteration"], "pipeline": model["best_iteration"]},
        "num_threads_script": script["num_threads"],
    }


def table(sizes: dict[str, dict]) -> str:
    head = ["rows", *STEPS, "script s", "repro s", "ratio", "CPU ratio", "no-op s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rows, r in sizes.items():
        cells = [f"{int(rows):,}", *(f"{r['stage_wall_s_rerun'][s]:.1f}" for s in STEPS),
                 f"{r['script_s']:.1f}", f"{r['repro_cold_s']:.1f}", f"{r['ratio_cold_to_script']:.2f}",
                 f"{r['ratio_cold_to_script_cpu']:.2f}", f"{r['noop_repro_s']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000, 1_000_000])
    args = parser.parse_args()
    load_before = os.getloadavg()
    here = Path.cwd()
    results: dict = {
        "baseline_python_start_s": round(median_wall([sys.executable, "-c", "pass"], here, 5), 3),
        "baseline_import_pandas_s": round(median_wall([sys.executable, "-c", "import pandas"], here, 5), 3),
        "driftline_help_s": round(median_wall(["driftline", "--help"], here, 5), 3),
        "sizes": {},
    }
    for rows in args.rows:
        r = results["sizes"][str(rows)] = one_size(rows)
        print(f"{rows:>9,} rows: script {r['script_s']:.1f}s, dvc repro {r['repro_cold_s']:.1f}s "
              f"(x{r['ratio_cold_to_script']:.2f}; CPU x{r['ratio_cold_to_script_cpu']:.2f}), no-op {r['noop_repro_s']:.2f}s; test AUC script "
              f"{r['test_roc_auc']['script']} pipeline {r['test_roc_auc']['pipeline']}; best iteration script "
              f"{r['best_iteration']['script']} pipeline {r['best_iteration']['pipeline']}", flush=True)
    results["machine"] = machine(load_before)
    results["table"] = table(results["sizes"]).splitlines()
    write_results("pipeline", results)
    print("\nper-stage wall s (each `driftline run <step> credit` process), script and repro wall s:")
    print(table(results["sizes"]))


if __name__ == "__main__":
    main()
