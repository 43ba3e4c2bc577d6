"""Readable experiments: after `dvc exp apply`, `driftline compile --check` names the one changed key.

DVC re-dumps params.yaml in its own YAML style when it sets a param (`-S`) or applies an experiment,
so a text diff of the file ran to hundreds of lines for one value. `--check` compares the files as
data: formatting alone passes, and a changed value shows as one line per key.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

NUM_LEAVES = "credit.model.params.num_leaves"


def test_an_applied_experiment_shows_as_its_one_changed_key(sh, cli, built_project: Path) -> None:
    root = built_project
    before = (root / "params.yaml").read_text()
    assert yaml.safe_load(before)["credit"]["model"]["params"]["num_leaves"] == 31

    ran = sh(["dvc", "exp", "run", "-S", f"{NUM_LEAVES}=15"], root)
    assert "Ran experiment" in ran.stdout + ran.stderr
    (name,) = [exp["name"] for commit in json.loads(sh(["dvc", "exp", "show", "--json"], root).stdout)
               for exp in commit.get("experiments") or []]
    sh(["git", "checkout", "--", "."], root)  # back to the committed workspace, then apply the winner as the README says
    sh(["dvc", "exp", "apply", name], root)
    after = (root / "params.yaml").read_text()
    assert after != before, "DVC rewrote params.yaml"

    check = cli(["compile", "--check"], root, check=False)
    assert check.returncode == 1
    # on disk -> what compile writes: the applied value, against conf/'s (put it in conf/ to keep it)
    assert check.stdout.splitlines() == [f"{NUM_LEAVES}: 15 -> 31 (params.yaml)"]
    assert "params.yaml stale" in check.stderr and "dvc.yaml" not in check.stderr

    # The stages still run: the conf/ fingerprint in params.yaml is data, untouched by the re-dump.
    assert cli(["run", "split", "credit"], root).returncode == 0


def test_a_params_file_only_reformatted_by_dvc_passes_the_check(sh, cli, project: Path) -> None:
    """DVC's own YAML writer (what `exp apply` and `-S` use) re-dumps params.yaml; nothing changed in meaning."""
    from dvc.utils.serialize import dump_yaml, load_yaml

    root = project
    original = (root / "params.yaml").read_text()
    data = load_yaml(root / "params.yaml")
    dump_yaml(root / "params.yaml", dict(reversed(list(data.items()))))  # DVC's style, keys in another order
    assert (root / "params.yaml").read_text() != original

    check = cli(["compile", "--check"], root)
    assert check.stdout.startswith("up to date (params.yaml formatted differently; `driftline compile` rewrites it)")
    assert (root / "params.yaml").read_text() != original, "--check must not write"

    assert cli(["run", "ingest", "credit"], root).returncode == 0  # the stale-compile check reads data, not text
    assert "params.yaml" in cli(["compile"], root).stdout
    assert (root / "params.yaml").read_text() == original


def test_a_plot_template_is_compared_as_json(cli, project: Path) -> None:
    templates = sorted((project / ".dvc" / "plots").glob("*.json"))
    assert templates, "the demo project monitors drift, so compile wrote plot templates"
    path = templates[0]
    spec = json.loads(path.read_text())
    path.write_text(json.dumps(spec))  # one line, same data
    assert "formatted differently" in cli(["compile", "--check"], project).stdout

    title = spec["title"]["text"]
    spec["title"]["text"] = "edited by hand"
    path.write_text(json.dumps(spec))
    check = cli(["compile", "--check"], project, check=False)
    assert check.returncode == 1
    rel = path.relative_to(project).as_posix()
    assert check.stdout.splitlines() == [f'title.text: "edited by hand" -> {json.dumps(title)} ({rel})']
