"""A dataset layout: a folder with ``simple_cases.csv`` (``image,diagnosis,age``)."""

from __future__ import annotations

import csv
from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets import CaseIssue, Dataset
from derm_stress.datasets.benchmarks import Layout
from derm_stress.errors import DatasetError
from derm_stress.labels import normalise_label

MARKER = "simple_cases.csv"


def load_simple_csv(folder: str | Path) -> Dataset:
    """Read ``folder/simple_cases.csv``; rows that cannot be used become ``CaseIssue``s."""
    root = Path(folder)
    table = root / MARKER
    if not table.is_file():
        raise DatasetError(f"{root} is not a simple_csv folder: expected {MARKER} in it")
    cases: list[Case] = []
    issues: list[CaseIssue] = []
    with table.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            case_id = Path(row.get("image") or "").stem or f"row {line}"
            try:
                image = root / (row.get("image") or "")
                if not image.is_file():
                    raise ValueError(f"image not found: {image}")
                age = row.get("age") or None
                cases.append(
                    Case(
                        case_id=case_id,
                        images=(image,),
                        note=Note(age=float(age) if age is not None else None),
                        diagnosis=normalise_label(row.get("diagnosis") or ""),
                    )
                )
            except Exception as exc:  # one bad row is reported, never fatal
                issues.append(CaseIssue(case_id, f"{type(exc).__name__}: {exc}"))
    return Dataset("simple_csv", cases, issues, root)


LAYOUT = Layout("simple_csv", load_simple_csv, (MARKER,), "derm-stress plugin example")
