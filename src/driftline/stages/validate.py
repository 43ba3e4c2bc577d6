"""validate: check raw rows against the schema's rules (pandera); quarantine failing rows with their reasons."""

from __future__ import annotations

import pandas as pd

from driftline.atomic import write_json, write_parquet
from driftline.stages.context import StageContext, StageError


def run(ctx: StageContext) -> str:
    from driftline.schema.validate import SchemaViolation, validate_frame

    p, spec = ctx.paths, ctx.cfg.schema_
    try:
        raw = pd.read_parquet(ctx.path(p.raw))
    except (OSError, ValueError) as exc:  # missing, or damaged since ingest wrote it (pyarrow's errors derive from these)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StageError(f"{p.raw} cannot be read: {reason}",
                         hint=f"write it again with `driftline run ingest {ctx.pipeline}` (`dvc repro` does, as it sees the file changed)") from None
    try:
        outcome = validate_frame(raw, spec)
    except SchemaViolation as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise StageError(f"{p.raw} does not fit {ctx.pipeline}.schema: {exc}{hint}") from exc
    report = {
        "rows": len(raw),
        "valid_rows": len(outcome.valid),
        "quarantined_rows": len(outcome.quarantine),
        "bad_share": round(outcome.bad_share, 6),
        "max_bad_share": spec.max_bad_share,
        "failures": outcome.failures,
    }
    write_parquet(ctx.path(p.quarantine), outcome.quarantine)
    write_json(ctx.path(p.validation_report), report)
    if outcome.bad_share > spec.max_bad_share:
        ctx.path(p.validated).unlink(missing_ok=True)  # never leave an earlier run's rows looking current
        top = ", ".join(f"{k} ({v})" for k, v in sorted(outcome.failures.items(), key=lambda kv: -kv[1])[:5])
        raise StageError(
            f"{outcome.bad_share:.2%} of rows failed {ctx.pipeline}.schema (max_bad_share {spec.max_bad_share:.2%}): "
            f"{top}. The rows and their reasons are in {p.quarantine}"
        )
    write_parquet(ctx.path(p.validated), outcome.valid)
    return f"{len(outcome.valid):,} valid, {len(outcome.quarantine):,} quarantined ({outcome.bad_share:.2%}) -> {p.validated}"
