"""Export a run's rows to CSV or Parquet (documented columns; see the README)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from derm_stress.errors import InvalidArgument, require
from derm_stress.run.results import RunData, load_run

COLUMNS = (
    "model",
    "dataset",
    "case_id",
    "condition",
    "diagnosis",
    "answer",
    "top1_correct",
    "topk_correct",
    "match_level",
    "triage",
    "status",
    "error",
    "confidences",
    "raw_answer",
    "image_ops",
    "note_ops",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
)


def export_rows(run: RunData) -> Iterator[dict[str, Any]]:
    """One dict per model x case x condition with the export columns, streamed from the
    store. ``diagnosis`` lists every accepted reference diagnosis (joined with ``|``);
    correctness is at the run's score level; ``match_level`` is the level of the best match
    among the top k answers (``exact``, ``group``, or empty for none)."""
    k = run.top_k
    level = run.score_level
    dataset = case_datasets(run)
    for row in run.iter_rows():
        best = row.match_level(k) if row.scored else None
        answer = row.result.answer if row.result else None
        applied = row.result.applied if row.result else ()
        yield (
            {
                "model": row.model,
                "dataset": dataset.get(row.case_id),
                "case_id": row.case_id,
                "condition": row.condition,
                "diagnosis": "|".join(row.references),
                "answer": ";".join(row.differential),
                "top1_correct": row.correct_at(1, level) if row.scored else None,
                "topk_correct": row.correct_at(k, level) if row.scored else None,
                "match_level": best,
                "triage": row.triage,
                "status": row.status.value,
                "error": row.error,
                "confidences": ";".join("" if c is None else f"{c:g}" for c in row.confidences),
                "raw_answer": answer.raw if answer else None,
                "image_ops": json.dumps([a.to_dict() for a in applied if a.target != "note"]),
                "note_ops": json.dumps([a.to_dict() for a in applied if a.target == "note"]),
                "prompt_tokens": answer.prompt_tokens if answer else None,
                "completion_tokens": answer.completion_tokens if answer else None,
                "latency_s": answer.latency_s if answer else None,
            }
        )


def case_datasets(run: RunData) -> dict[str, str]:
    """Each case's dataset: the one its record names (runs of several datasets), else the
    run's single dataset."""
    default = run.manifest.dataset.name
    return {c.id: c.dataset or default for c in run.cases}


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection,
# OWASP): such text cells get a leading apostrophe in CSV. Parquet keeps values as they are.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula is
    prefixed with ``'`` (shown, not run); everything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _arrow_schema() -> Any:
    import pyarrow as pa

    def kind(column: str) -> Any:
        if column.endswith("_correct"):
            return pa.bool_()
        if column.endswith("_tokens"):
            return pa.int64()
        return pa.float64() if column == "latency_s" else pa.string()

    return pa.schema([(c, kind(c)) for c in COLUMNS])


def _batches(rows: Iterator[dict[str, Any]], size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_run(run: RunData, fmt: str, out: str | Path) -> Path:
    """Write the run's rows to ``out`` as ``csv`` or ``parquet``, streaming (memory does
    not grow with the run). CSV cells that a spreadsheet would run as formulas (starting
    with ``= + - @``, tab or carriage return) get a leading ``'`` (``csv_safe``)."""
    if fmt not in ("csv", "parquet"):
        raise InvalidArgument(f"format must be csv or parquet, got {fmt!r}")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: csv_safe(v) for k, v in row.items()} for row in export_rows(run))
        return path
    pa = require("pyarrow", "parquet", "Parquet export")
    pq = require("pyarrow.parquet", "parquet", "Parquet export", "pyarrow")
    schema = _arrow_schema()
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(export_rows(run)):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return path


def to_dataframe(run: RunData | str | Path) -> Any:
    """The run's rows as a pandas DataFrame with the export columns (needs pandas)."""
    pd = require("pandas", "pandas", "to_dataframe")
    data = run if isinstance(run, RunData) else load_run(run)
    return pd.DataFrame.from_records(export_rows(data), columns=list(COLUMNS))
