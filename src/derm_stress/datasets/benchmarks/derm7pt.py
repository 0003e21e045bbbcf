"""Derm7pt, the seven-point checklist dataset (Kawahara et al., IEEE JBHI 23(2), 2019).

Published layout (release_v0, github.com/jeremykawahara/derm7pt): ``meta/meta.csv`` with
columns ``case_num, diagnosis, seven_point_score, pigment_network, ..., elevation, location,
sex, clinic, derm, management, notes``, and the photos under ``images/`` at the relative paths
in ``clinic`` (the clinical photo) and ``derm`` (the dermoscopic photo), e.g. ``NEL/Nel026.jpg``.

Each case keeps both photos, clinical first. ``elevation`` (``flat``, ``palpable``,
``nodular``) becomes the note's raised-lesion field; ``location`` the body site. The
``management`` and ``notes`` columns are not put in the note: they can name the diagnosis.
"""

from __future__ import annotations

from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import Dataset, is_missing
from derm_stress.datasets.benchmarks._layout import (
    dataset_from_rows,
    find_file,
    read_rows,
    require_columns,
)
from derm_stress.datasets.benchmarks.fields import body_site, sex
from derm_stress.labels import normalise_label

CSV = ("meta/meta.csv", "release_v0/meta/meta.csv", "meta.csv")
ELEVATION = {"flat": False, "palpable": True, "nodular": True}


def _elevation(value: str | None) -> bool | None:
    if is_missing(value):
        return None
    text = str(value).strip().lower()
    if text not in ELEVATION:
        raise ValueError(f"elevation: expected flat, palpable or nodular, got {value!r}")
    return ELEVATION[text]


def load_derm7pt(folder: str | Path, name: str = "derm7pt") -> Dataset:
    """Load a Derm7pt release folder (``meta/meta.csv`` plus ``images/``)."""
    root = Path(folder)
    table = find_file(root, CSV, "Derm7pt")
    header, rows = read_rows(table)
    require_columns(table, header, ("case_num", "diagnosis", "clinic", "derm"))
    image_root = table.parent.parent / "images"
    if not image_root.is_dir():
        image_root = root / "images"

    def photo(relative: str) -> Path:
        path = (image_root / relative.strip()).resolve()
        if not path.is_relative_to(image_root.resolve()):
            raise ValueError(f"image path {relative!r} leaves the images folder")
        return path

    def build(case_id: str, row: dict[str, str]) -> Case:
        paths = [row.get(c) or "" for c in ("clinic", "derm")]
        if not all(p.strip() for p in paths):
            raise ValueError("a case needs both its clinic and derm photos")
        return Case(
            case_id=case_id,
            images=tuple(photo(p) for p in paths),
            note=Note(
                sex=sex(row.get("sex")),
                body_site=body_site(row.get("location")),
                elevation=_elevation(row.get("elevation")),
            ),
            diagnosis=normalise_label(row.get("diagnosis") or ""),
            meta={"photos": "clinic;derm"},
        )

    return dataset_from_rows(
        name,
        root,
        rows,
        lambda row, line: f"derm7pt-{(row.get('case_num') or '').strip() or line}",
        build,
    )
