"""Cases and consultation notes, and the one place a note becomes prompt text."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from derm_stress.labels import TRIAGE_LEVELS, Triage, label

Sex = Literal["female", "male"]

SYMPTOM_FIELDS: tuple[str, ...] = ("itch", "pain", "bleeding", "growth", "change", "elevation")
HISTORY_FIELDS: tuple[str, ...] = ("skin_cancer_history", "family_history", "other_history")
DEMOGRAPHIC_FIELDS: tuple[str, ...] = ("age", "sex", "fitzpatrick")
LESION_FIELDS: tuple[str, ...] = ("body_site", "size_mm", "duration_days")


@dataclass(frozen=True)
class Note:
    """A structured consultation note. Every field is optional; missing is ``None``.

    Field names are exactly the optional columns of a manifest (see the README).
    """

    age: float | None = None
    sex: Sex | None = None
    fitzpatrick: int | None = None
    body_site: str | None = None
    size_mm: tuple[float, ...] | None = None  # one or two diameters of the lesion
    duration_days: float | None = None
    itch: bool | None = None
    pain: bool | None = None
    bleeding: bool | None = None
    growth: bool | None = None
    change: bool | None = None
    elevation: bool | None = None
    skin_cancer_history: bool | None = None  # the patient's own
    family_history: bool | None = None  # of cancer in the family
    other_history: str | None = None
    referral: str | None = None  # referring clinician's question or suspected diagnosis
    free_text: str | None = None

    def __post_init__(self) -> None:
        if self.sex is not None and self.sex not in ("female", "male"):
            raise ValueError(f"sex must be 'female', 'male' or None, got {self.sex!r}")
        if self.fitzpatrick is not None and not 1 <= self.fitzpatrick <= 6:
            raise ValueError(f"fitzpatrick must be 1-6 or None, got {self.fitzpatrick!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def present(self) -> tuple[str, ...]:
        """Names of the fields that are not missing."""
        return tuple(n for n in self.field_names() if getattr(self, n) is not None)

    def replace(self, **changes: Any) -> Note:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        # every field is a scalar but size_mm: a shallow copy equals dataclasses.asdict
        values = self.__dict__
        out = {name: values[name] for name in _NOTE_FIELDS}
        if self.size_mm is not None:
            out["size_mm"] = list(self.size_mm)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Note:
        values = dict(data)
        if values.get("size_mm") is not None:
            values["size_mm"] = tuple(float(v) for v in values["size_mm"])
        return cls(**values)


_NOTE_FIELDS = Note.field_names()
_SORTED_NOTE_FIELDS = tuple(sorted(_NOTE_FIELDS))
_SIZE_MM_INDEX = _SORTED_NOTE_FIELDS.index("size_mm")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _number(value: float) -> str:
    return f"{value:g}"


def duration_in_units(days: float) -> tuple[float, str]:
    """A duration in the unit a clinician would use (unrounded): under 2 weeks in days,
    under 2 months in weeks, under 2 years in months, else years."""
    if days < 14:
        return days, "days"
    if days < 60:
        return days / 7, "weeks"
    if days < 730:
        return days / 30.4, "months"
    return days / 365.25, "years"


def duration_text(days: float) -> str:
    """A duration in days as a clinician would say it (``3 weeks``, ``4.5 months``)."""
    amount, unit = duration_in_units(days)
    return f"{_number(amount if unit == 'days' else round(amount, 1))} {unit}"


ROMAN = ("I", "II", "III", "IV", "V", "VI")  # Fitzpatrick skin types 1-6
_SYMPTOM_TEXT = {
    "itch": "Itching",
    "pain": "Pain",
    "bleeding": "Bleeding",
    "growth": "Recent growth",
    "change": "Recent change in appearance",
    "elevation": "Raised lesion",
}


def note_lines(note: Note) -> list[tuple[str, str]]:
    """(field, prompt line) for every present field, in the canonical order."""
    lines: list[tuple[str, str]] = []
    if note.age is not None:
        lines.append(("age", f"Age: {_number(note.age)} years"))
    if note.sex is not None:
        lines.append(("sex", f"Sex: {note.sex}"))
    if note.fitzpatrick is not None:
        lines.append(("fitzpatrick", f"Fitzpatrick skin type: {ROMAN[note.fitzpatrick - 1]}"))
    if note.body_site is not None:
        lines.append(("body_site", f"Body site: {note.body_site}"))
    if note.size_mm is not None:
        size = " x ".join(_number(v) for v in note.size_mm)
        lines.append(("size_mm", f"Lesion size: {size} mm"))
    if note.duration_days is not None:
        lines.append(("duration_days", f"Duration: {duration_text(note.duration_days)}"))
    for name, text in _SYMPTOM_TEXT.items():
        value = getattr(note, name)
        if value is not None:
            lines.append((name, f"{text}: {_yes_no(value)}"))
    if note.skin_cancer_history is not None:
        lines.append(
            (
                "skin_cancer_history",
                f"Personal history of skin cancer: {_yes_no(note.skin_cancer_history)}",
            )
        )
    if note.family_history is not None:
        lines.append(
            ("family_history", f"Family history of cancer: {_yes_no(note.family_history)}")
        )
    if note.other_history is not None:
        lines.append(("other_history", f"Other history: {note.other_history}"))
    if note.referral is not None:
        lines.append(("referral", f"Referral: {note.referral}"))
    if note.free_text is not None:
        lines.append(("free_text", f"Notes: {note.free_text}"))
    return lines


def render_note(note: Note) -> str:
    """Render a note to prompt text: one line per present field, nothing for missing ones.

    Returns an empty string when every field is missing. This is the only place a note
    becomes text.
    """
    return "\n".join(line for _, line in note_lines(note))


def _note_text(note: Note) -> str:
    """``repr(sorted(note.to_dict().items()))``, the note's part of a fingerprint and of a
    file signature, made without the dict and the sort (a resume takes every case's
    signature)."""
    values = note.__dict__
    items = [(name, values[name]) for name in _SORTED_NOTE_FIELDS]
    if note.size_mm is not None:
        items[_SIZE_MM_INDEX] = ("size_mm", list(note.size_mm))
    return repr(items)


ImageSource = Path | np.ndarray
# a file changed this recently may change again without its size or times changing
RACY_SECONDS = 2.0


@dataclass(frozen=True, eq=False)
class Case:
    """One patient encounter: images, a note, the reference diagnosis (canonical code).

    ``diagnoses`` lists every accepted reference diagnosis (a panel may leave a case open
    between several; answering any of them is correct); ``diagnosis`` is the first, which
    subgroups and old code use. ``triage_override`` is a case-level triage level (a
    manifest's ``triage`` column) that replaces the level implied by the diagnoses.
    """

    case_id: str
    images: tuple[ImageSource, ...]
    note: Note
    diagnosis: str
    meta: Mapping[str, str] = field(default_factory=dict)
    diagnoses: tuple[str, ...] = ()
    triage_override: Triage | None = None

    def __post_init__(self) -> None:
        if not self.diagnoses:
            object.__setattr__(self, "diagnoses", (self.diagnosis,))
        elif self.diagnoses[0] != self.diagnosis:
            raise ValueError(
                f"case {self.case_id!r}: diagnosis {self.diagnosis!r} must be the first of "
                f"diagnoses {self.diagnoses!r}"
            )
        if len(set(self.diagnoses)) != len(self.diagnoses):
            raise ValueError(f"case {self.case_id!r}: repeated diagnosis in {self.diagnoses!r}")
        for code in self.diagnoses:
            label(code)  # raises for a code outside the vocabulary
        if self.triage_override is not None and self.triage_override not in TRIAGE_LEVELS:
            raise ValueError(
                f"case {self.case_id!r}: triage must be one of {', '.join(TRIAGE_LEVELS)}, "
                f"got {self.triage_override!r}"
            )
        if not self.images:
            raise ValueError(f"case {self.case_id!r} has no images")

    @property
    def triage(self) -> Triage:
        """The case's reference triage: the override, else the most urgent default level
        of its diagnoses (a case left open between BCC and a naevus is urgent)."""
        if self.triage_override is not None:
            return self.triage_override
        if len(self.diagnoses) == 1:  # most cases: one diagnosis, nothing to compare
            return label(self.diagnoses[0]).triage
        return max((label(c).triage for c in self.diagnoses), key=TRIAGE_LEVELS.index)

    @property
    def triage_source(self) -> Literal["manifest", "diagnosis"]:
        """Where ``triage`` comes from: the case's own level or its diagnoses' default."""
        return "manifest" if self.triage_override is not None else "diagnosis"

    def __repr__(self) -> str:  # short: Hypothesis prints it in every failing example
        dx = "|".join(self.diagnoses)
        return f"Case({self.case_id!r}, diagnosis={dx!r}, images={len(self.images)})"

    def file_signature(self, now: float | None = None) -> str | None:
        """A stand-in for ``fingerprint`` that reads no image: a hash of each photo's
        resolved path, size, inode and modification and change times (nanoseconds), and of
        the note. Two equal signatures mean unchanged inputs, so a fingerprint computed for
        one serves the other (``Store.fingerprint``). ``None`` when that cannot be trusted:
        an image held in memory, a file that cannot be stat'ed, or one changed less than
        ``RACY_SECONDS`` before ``now`` (a later write within the file system's clock tick
        could keep every figure; git guards its index the same way)."""
        now = time.time() if now is None else now
        parts: list[str] = []
        for image in self.images:
            if isinstance(image, np.ndarray):
                return None
            try:
                st = os.stat(image)
            except OSError:
                return None
            if now - max(st.st_mtime, st.st_ctime) < RACY_SECONDS:
                return None
            parts.append(
                repr((os.fspath(image), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
            )
        parts.append(_note_text(self.note))
        # the text of ``repr(list)`` of the photos' tuples and the note's sorted items
        return hashlib.sha256(f"[{', '.join(parts)}]".encode()).hexdigest()

    def fingerprint(self, contents: Sequence[bytes | OSError | None] | None = None) -> str:
        """Hash of everything a model can see: image bytes and note.

        A missing or unreadable file hashes as such, so fixing it changes the fingerprint.
        ``contents`` passes, per image, the bytes of the file already read (or the
        ``OSError`` reading it raised; ``None`` for an in-memory image or one to read here),
        so a photo the caller has just read is not read again: the same fingerprint.
        """
        if contents is not None and len(contents) != len(self.images):
            raise ValueError(f"{len(contents)} contents for {len(self.images)} images")
        digest = hashlib.sha256()
        for i, image in enumerate(self.images):
            if isinstance(image, np.ndarray):
                digest.update(f"array:{image.shape}:{image.dtype}".encode())
                digest.update(np.ascontiguousarray(image).tobytes())
                continue
            data = contents[i] if contents is not None else None
            if data is None:
                try:
                    data = image.read_bytes()
                except OSError as exc:
                    data = exc
            if isinstance(data, OSError):
                digest.update(f"unreadable:{image.name}:{type(data).__name__}".encode())
            else:
                digest.update(data)
        digest.update(_note_text(self.note).encode())
        return digest.hexdigest()[:24]
