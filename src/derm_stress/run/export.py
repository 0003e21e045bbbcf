"""Export a run's rows to CSV or Parquet (documented columns; see the README)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from derm_stress.errors import InvalidArgument
from derm_stress.run.results import RunData

COLUMNS = (
    "model",
    "case_id",
    "condition",
    "diagnosis",
    "answer",
    "top1_correct",
    "topk_correct",
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


def export_rows(run: RunData) -> list[dict[str, Any]]:
    """One dict per model x case x condition with the export columns."""
    out = []
    k = run.top_k
    for row in run.rows:
        answer = row.result.answer if row.result else None
        applied = row.result.applied if row.result else ()
        out.append(
            {
                "model": row.model,
                "case_id": row.case_id,
                "condition": row.condition,
                "diagnosis": row.diagnosis,
                "answer": ";".join(row.differential),
                "top1_correct": row.correct_at(1) if row.scored else None,
                "topk_correct": row.correct_at(k) if row.scored else None,
                "triage": row.triage,
                "status": row.status,
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
    return out


def export_run(run: RunData, fmt: str, out: str | Path) -> Path:
    """Write the run's rows to ``out`` as ``csv`` or ``parquet``."""
    rows = export_rows(run)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidArgument(
                "Parquet export needs pyarrow: pip install 'derm-stress[parquet]'"
            ) from None
        table = pa.Table.from_pylist(
            rows,
            schema=pa.schema(
                [
                    (
                        c,
                        pa.bool_()
                        if c.endswith("_correct")
                        else pa.int64()
                        if c.endswith("_tokens")
                        else pa.float64()
                        if c == "latency_s"
                        else pa.string(),
                    )
                    for c in COLUMNS
                ]
            ),
        )
        pq.write_table(table, path)
    else:
        raise InvalidArgument(f"format must be csv or parquet, got {fmt!r}")
    return path
