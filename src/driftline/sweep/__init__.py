"""Hyperparameter sweeps: a real Hydra multirun over one pipeline's config.

`app.py` is the `@hydra.main` entry point run as a subprocess by `driftline sweep`; `job.py`
trains and scores one composed config on the split and features `dvc repro` prepared;
`leaderboard.py` ranks the jobs (pure, plus CSV/SVG rendering); `apply.py` writes the winner
into the pipeline's YAML; `runner.py` builds the Hydra command line and runs it.
"""
