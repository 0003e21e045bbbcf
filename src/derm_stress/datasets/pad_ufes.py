"""Loader for PAD-UFES-20 (Pacheco et al., 2020; CC BY 4.0).

Handles the dataset's known oddities:

- ``img_id`` ends in ``.png`` even where the file on disk is a ``.jpg`` (re-encoded copies),
  so the loader looks for ``images/<stem>.png`` and then ``images/<stem>.jpg``;
- ``UNK`` and empty cells are missing values (``None``), never sentinel strings;
- ``lesion_id`` is unique only within a patient, so the lesion key is
  ``(patient_id, lesion_id)``, stored in ``Case.meta['lesion_key']``;
- ``fitspatrick`` (sic) is the Fitzpatrick skin type, ``cancer_history`` is the family's
  history of cancer and ``skin_cancer_history`` the patient's own.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import CaseIssue, Dataset, parse_bool, parse_float, parse_text
from derm_stress.errors import DatasetError, DermStressError
from derm_stress.labels import normalise_label

REQUIRED_COLUMNS = ("patient_id", "lesion_id", "img_id", "diagnostic")


class _Listing:
    """The names in a folder, listed once per load (a ``stat`` per candidate file and row
    was most of loading the bundled sample). Only a name listed as a plain entry counts
    without a look: a symbolic link (possibly dangling) and a name that differs only in
    case (a case-insensitive file system) are asked ``Path.exists`` as before."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: set[str] = set()
        self.ask: set[str] = set()  # casefolded names that need a look
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    (self.ask if entry.is_symlink() else self.names).add(entry.name)
        except OSError:  # no such folder: every candidate is missing
            return
        self.ask = {n.casefold() for n in self.ask} | {n.casefold() for n in self.names}

    def exists(self, name: str) -> bool:
        if name in self.names:
            return True
        return name.casefold() in self.ask and (self.folder / name).exists()


def _image_path(folder: Path, img_id: str, listing: _Listing | None = None) -> Path:
    images = folder / "images"
    listing = listing or _Listing(images)
    stem = Path(img_id).stem
    for suffix in (Path(img_id).suffix or ".png", ".png", ".jpg", ".jpeg"):
        if listing.exists(f"{stem}{suffix}"):
            return images / f"{stem}{suffix}"
    return images / f"{stem}.jpg"  # missing: reported when the run reads it


def _other_history(row: dict[str, str]) -> str | None:
    parts = []
    for column, text in (
        ("smoke", "smoker"),
        ("drink", "drinks alcohol"),
        ("pesticide", "pesticide exposure"),
    ):
        value = parse_bool(row.get(column), column)
        if value is not None:
            parts.append(f"{text}: {'yes' if value else 'no'}")
    ancestry = [
        f"{who} {place.title()}"
        for who, place in (
            ("father", row.get("background_father")),
            ("mother", row.get("background_mother")),
        )
        if place and place.strip().upper() not in ("", "UNK")
    ]
    if ancestry:
        parts.append("ancestry: " + ", ".join(ancestry))
    return "; ".join(parts) or None


def note_from_row(row: dict[str, str]) -> Note:
    """Build a ``Note`` from one PAD-UFES-20 metadata row."""
    gender = (row.get("gender") or "").strip().upper()
    fitz = parse_float(row.get("fitspatrick"), "fitspatrick")
    diameters = [parse_float(row.get(c), c) for c in ("diameter_1", "diameter_2")]
    sizes = tuple(d for d in diameters if d is not None)
    region = parse_text(row.get("region"))
    return Note(
        age=parse_float(row.get("age"), "age"),
        sex="female" if gender == "FEMALE" else "male" if gender == "MALE" else None,
        fitzpatrick=int(fitz) if fitz is not None else None,
        body_site=region.lower() if region else None,
        size_mm=sizes or None,
        itch=parse_bool(row.get("itch"), "itch"),
        pain=parse_bool(row.get("hurt"), "hurt"),
        bleeding=parse_bool(row.get("bleed"), "bleed"),
        growth=parse_bool(row.get("grew"), "grew"),
        change=parse_bool(row.get("changed"), "changed"),
        elevation=parse_bool(row.get("elevation"), "elevation"),
        skin_cancer_history=parse_bool(row.get("skin_cancer_history"), "skin_cancer_history"),
        family_history=parse_bool(row.get("cancer_history"), "cancer_history"),
        other_history=_other_history(row),
    )


def load_pad_ufes_20(folder: str | Path, name: str = "pad-ufes-20") -> Dataset:
    """Load a PAD-UFES-20 folder (``metadata.csv`` plus ``images/``).

    Rows with an unknown diagnosis or unparseable values become ``CaseIssue`` entries.
    """
    folder = Path(folder)
    meta_path = folder / "metadata.csv"
    if not meta_path.is_file():
        raise DatasetError(f"PAD-UFES-20 folder {folder} has no metadata.csv")
    with meta_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{meta_path}: missing columns {', '.join(missing)}")
        rows = list(reader)
    cases: list[Case] = []
    issues: list[CaseIssue] = []
    seen: set[str] = set()
    listing = _Listing(folder / "images")
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        img_id = (row.get("img_id") or "").strip()
        case_id = Path(img_id).stem or f"row {number}"
        if case_id in seen:
            issues.append(CaseIssue(case_id, f"line {number}: duplicate img_id {img_id!r}"))
            continue
        seen.add(case_id)
        try:
            diagnosis = normalise_label(row.get("diagnostic") or "")
            note = note_from_row(row)
            patient, lesion = row["patient_id"].strip(), row["lesion_id"].strip()
            cases.append(
                Case(
                    case_id=case_id,
                    images=(_image_path(folder, img_id, listing),),
                    note=note,
                    diagnosis=diagnosis,
                    meta={
                        "patient_id": patient,
                        "lesion_key": f"{patient}/{lesion}",
                        "biopsed": (row.get("biopsed") or "").strip(),
                    },
                )
            )
        except (DermStressError, ValueError) as exc:
            issues.append(CaseIssue(case_id, f"line {number}: {exc}"))
    return Dataset(name, cases, issues, folder)
