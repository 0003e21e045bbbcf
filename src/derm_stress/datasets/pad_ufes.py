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

import copy
import csv
import os
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from derm_stress import cases as _cases
from derm_stress.cases import Case, Note
from derm_stress.datasets.base import CaseIssue, Dataset, parse_bool, parse_float, parse_text
from derm_stress.errors import DatasetError, DermStressError
from derm_stress.labels import normalise_label, vocabulary

REQUIRED_COLUMNS = ("patient_id", "lesion_id", "img_id", "diagnostic")
CACHED_FOLDERS = 4  # parsed folders kept per process (the sample, the full subset, ...)


class _Listing:
    """The names in a folder, listed once per load (a ``stat`` per candidate file and row
    was most of loading the bundled sample). Only a name listed as a plain entry counts
    without a look: a symbolic link (possibly dangling) and a name that differs only in
    case (a case-insensitive file system) are asked ``Path.exists`` as before."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: set[str] = set()
        self.ask: set[str] = set()  # casefolded names that need a look
        self.links = False  # whether the folder holds symbolic links
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    (self.ask if entry.is_symlink() else self.names).add(entry.name)
        except OSError:  # no such folder: every candidate is missing
            return
        self.links = bool(self.ask)
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


@dataclass(frozen=True)
class _Parsed:
    """A folder as parsed, with the state of what the parse read (``_state``)."""

    state: tuple[object, ...]
    cases: tuple[Case, ...]
    issues: tuple[CaseIssue, ...]


# Parsed folders by path: loading the bundled sample again, as every run and resume in one
# process (a notebook, a benchmark, a test session) does, was a third of a 90-case resume.
_PARSED: OrderedDict[str, _Parsed] = OrderedDict()
_PARSED_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every parsed folder (the next load reads its files again)."""
    with _PARSED_LOCK:
        _PARSED.clear()


def _state(meta: os.stat_result, images: Path, now: float) -> tuple[object, ...] | None:
    """What a parse of the folder depends on: ``metadata.csv``'s identity, size and times
    (nanoseconds), the ``images/`` folder's (its times change when a name is added,
    removed or renamed) and the active vocabulary (labels are normalised through it).
    ``None`` when a parse cannot be reused: a file or the folder changed less than
    ``RACY_SECONDS`` before ``now`` (a later write within the file system's clock tick
    could leave every figure as it was, as ``Case.file_signature`` guards too)."""
    newest = max(meta.st_mtime, meta.st_ctime)
    parts: list[object] = [
        vocabulary().fingerprint,
        meta.st_dev, meta.st_ino, meta.st_size, meta.st_mtime_ns, meta.st_ctime_ns,
    ]  # fmt: skip
    try:
        folder = os.stat(images)
    except OSError:
        parts.append(None)
    else:
        newest = max(newest, folder.st_mtime, folder.st_ctime)
        parts += [folder.st_dev, folder.st_ino, folder.st_mtime_ns, folder.st_ctime_ns]
    return tuple(parts) if now - newest >= _cases.RACY_SECONDS else None


def _fresh(case: Case) -> Case:
    """A copy of a parsed case with its own ``meta`` dict (the rest is immutable), so a
    caller changing one loaded case's metadata changes no other load's."""
    copied = copy.copy(case)
    object.__setattr__(copied, "meta", dict(case.meta))
    return copied


def load_pad_ufes_20(folder: str | Path, name: str = "pad-ufes-20") -> Dataset:
    """Load a PAD-UFES-20 folder (``metadata.csv`` plus ``images/``).

    Rows with an unknown diagnosis or unparseable values become ``CaseIssue`` entries.

    A folder is parsed once per process while ``metadata.csv``, the ``images/`` folder's
    list of names and the vocabulary stay as they were (same identity, size and
    nanosecond times; files changed in the last ``RACY_SECONDS`` are always read again);
    every load returns its own cases and lists. A folder with symbolic links in
    ``images/`` is always read again (a link's target can change unseen).
    """
    folder = Path(folder)
    meta_path = folder / "metadata.csv"
    try:
        meta = os.stat(meta_path)
    except OSError:
        meta = None
    if meta is None or not stat.S_ISREG(meta.st_mode):
        raise DatasetError(f"PAD-UFES-20 folder {folder} has no metadata.csv")
    where = os.path.join(os.getcwd(), folder)  # a relative folder: relative paths in cases
    state = _state(meta, folder / "images", time.time())
    with _PARSED_LOCK:
        parsed = _PARSED.get(where)
        if parsed is not None and parsed.state == state:
            _PARSED.move_to_end(where)
        else:
            parsed = None
    if parsed is None:
        cases, issues, links = _parse(folder, meta_path)
        with _PARSED_LOCK:
            _PARSED.pop(where, None)
            if state is not None and not links:  # kept apart from what is returned
                _PARSED[where] = _Parsed(state, tuple(map(_fresh, cases)), tuple(issues))
                while len(_PARSED) > CACHED_FOLDERS:
                    _PARSED.popitem(last=False)
        return Dataset(name, cases, issues, folder)
    return Dataset(name, [_fresh(c) for c in parsed.cases], list(parsed.issues), folder)


def _parse(folder: Path, meta_path: Path) -> tuple[list[Case], list[CaseIssue], bool]:
    """The folder's cases and rejected rows, and whether ``images/`` has symbolic links."""
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
    return cases, issues, bool(listing.links)
