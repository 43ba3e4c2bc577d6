"""`driftline init`: scaffold a pipeline from your own CSV or Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    data: Annotated[Path, typer.Option(help="The CSV or Parquet file, inside the project (e.g. data/applications.csv).")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    name: Annotated[str, typer.Option(help="The pipeline name: `pipelines/<name>.yaml` and `conf/*/<name>.yaml`.")],
    task: Annotated[str | None, typer.Option(help="binary, regression or multiclass (default: inferred from the target).")] = None,
    timestamp: Annotated[str | None, typer.Option(help="A date/time column: parsed, and its weekday, hour and month become features.")] = None,
    id: Annotated[str | None, typer.Option("--id", help="A row id column: checked unique, never a feature.")] = None,
    project: Annotated[Path, typer.Option(help="Project root (holds conf/ and pipelines/).")] = Path("."),
) -> None:
    """Infer a schema (types, nullability, ranges, categories) and write a ready pipeline.

    Writes conf/dataset, conf/schema, conf/label, conf/features and `pipelines/<name>.yaml`
    (plus conf/split/random.yaml, conf/model/lgbm.yaml, conf/gate/default.yaml when missing);
    never overwrites a file. Then: `driftline compile` and `dvc repro`.

    Exit codes: 0 written; 2 bad input (nothing written).
    """
    from driftline.scaffold.project import scaffold

    written = scaffold(project, data, target, name, task=task, timestamp=timestamp, id_column=id)
    for rel in written:
        typer.echo(f"wrote {rel}")
    typer.echo(f"next: review conf/schema/{name}.yaml, then `driftline compile` and `dvc repro`")
