"""Data quality at monitor time: each new batch checked against the schema with the one engine.

Pure: a frame and the schema's rules in, a typed `BatchQuality` out. A batch with more than
`max_bad_share` of its rows failing the schema (or one whose columns do not fit it at all) is
rejected: the monitor neither compares it nor absorbs it, so bad data never reaches a retrain.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from driftline.drift.report import BatchQuality
from driftline.schema.cast import cast_column
from driftline.schema.rules import SchemaRules
from driftline.schema.validate import SchemaViolation, validate_frame

#: Failure reasons kept per batch in the report (the most frequent first).
TOP_REASONS = 8


def unreadable_batch(file: str, why: str, max_bad_share: float) -> BatchQuality:
    """A batch whose file cannot be read at all: rejected, saying why."""
    return BatchQuality(file=file, rows=0, bad_rows=0, bad_share=0.0, max_bad_share=max_bad_share, reasons={},
                        rejected=True, reason=f"{batch_name(file)} rejected: {why}")


def batch_name(file: str) -> str:
    """A batch as decisions name it: its file name."""
    return file.rsplit("/", 1)[-1]


def batch_quality(file: str, frame: pd.DataFrame, rules: SchemaRules, max_bad_share: float,
                  *, optional: frozenset[str] = frozenset()) -> BatchQuality:
    """How many rows of one batch fail the schema, why, and whether the batch is rejected.

    `optional` columns (the target: an unlabelled batch has no ground truth yet) may be absent.
    """
    return judge_batch(file, frame, rules, max_bad_share, optional=optional)[0]


def judge_batch(file: str, frame: pd.DataFrame, rules: SchemaRules, max_bad_share: float,
                *, optional: frozenset[str] = frozenset()) -> tuple[BatchQuality, pd.DataFrame]:
    """`batch_quality`, and the rows of the batch that pass the schema (as read): an accepted batch
    is compared without the rows it was counted bad for, so every row is either compared or
    counted as bad, never both."""
    name = batch_name(file)
    rows = len(frame)
    if rows == 0:
        return BatchQuality(file=file, rows=0, bad_rows=0, bad_share=0.0, max_bad_share=max_bad_share, reasons={},
                            rejected=True, reason=f"{name} rejected: it has no rows"), frame
    original = frame
    if optional & rules.columns.keys():
        # ground truth may be missing (unlabelled rows, or no target column at all); what is there must fit
        rules = replace(rules, columns={name: replace(col, nullable=True) if name in optional else col
                                        for name, col in rules.columns.items()})
        absent = [c for c in optional if c in rules.columns and c not in frame.columns]
        frame = frame.assign(**{c: None for c in absent}) if absent else frame
    times = [c for c, col in rules.columns.items() if col.kind == "datetime" and c in frame.columns]
    if times:  # times with a zone (text with an offset, or a zoned dtype) are read in UTC, as ingest reads them
        frame = frame.assign(**{c: cast_column(frame[c], rules.columns[c], strict=False) for c in times})
    try:
        outcome = validate_frame(frame, rules)
    except SchemaViolation as exc:
        reasons = {f"{column}: {message}": rows for column, message in exc.problems}
        return BatchQuality(file=file, rows=rows, bad_rows=rows, bad_share=1.0, max_bad_share=max_bad_share,
                            reasons=reasons, rejected=True,
                            reason=f"{name} rejected: its columns do not fit the schema ({exc})"), original.iloc[:0]
    bad = len(outcome.quarantine)
    share = round(bad / rows, 6)
    top = dict(sorted(outcome.failures.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS])
    rejected = share > max_bad_share
    reason = None
    if rejected:
        worst, count = next(iter(top.items()))
        column, _, message = worst.partition(": ")
        reason = (f"{name} rejected: {share:.0%} of its {rows:,} rows fail the schema (> max_bad_share "
                  f"{max_bad_share:.0%}); the most common: {count:,} rows fail `{column} {message}`")
    quality = BatchQuality(file=file, rows=rows, bad_rows=bad, bad_share=share, max_bad_share=max_bad_share,
                           reasons=top, rejected=rejected, reason=reason)
    good = original if not bad or outcome.bad_rows is None else original[~outcome.bad_rows].reset_index(drop=True)
    return quality, good
