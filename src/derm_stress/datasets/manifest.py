"""Loader for the generic case manifest (CSV or JSONL), documented in the README.

Required columns: ``case_id``, ``image`` (a path relative to the manifest's folder; several
separated by ``;``), ``diagnosis`` (label text or an ICD-10-CM code, normalised through the
vocabulary; several accepted diagnoses separated by ``|``, any of them counting as correct).
Optional note columns carry exactly the names of ``Note``'s fields, and ``triage``
(``emergency``, ``urgent``, ``soon`` or ``routine``) sets the case's reference triage instead
of its diagnosis's default. A row with an unknown label, a bad
value or an image path that escapes the manifest's folder becomes a ``CaseIssue``.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from derm_stress.cases import SYMPTOM_FIELDS, Case, Note
from derm_stress.datasets.base import (
    CaseIssue,
    Dataset,
    is_missing,
    parse_bool,
    parse_float,
    parse_note_text,
    parse_text,
)
from derm_stress.errors import DatasetError, DermStressError, InvalidArgument
from derm_stress.labels import TRIAGE_LEVELS, Triage, normalise_label

REQUIRED = ("case_id", "image", "diagnosis")
BOOL_FIELDS = (*SYMPTOM_FIELDS, "skin_cancer_history", "family_history")
TEXT_FIELDS = ("body_site", "other_history", "referral", "free_text")


def _parse_sex(value: object, name: str) -> str | None:
    text = parse_note_text(value)
    if text is None:
        return None
    sex = {
        "f": "female",
        "female": "female",
        "woman": "female",
        "m": "male",
        "male": "male",
        "man": "male",
    }.get(text.lower())
    if sex is None:
        raise ValueError(f"{name}: expected female/male (or f/m), got {value!r}")
    return sex


def _parse_fitzpatrick(value: object, name: str) -> int | None:
    text = parse_text(value)
    if text is None:
        return None
    roman = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
    number = roman.get(text.lower())
    if number is None:
        as_float = parse_float(text, name)
        number = int(as_float) if as_float is not None and as_float.is_integer() else None
    if number is None or not 1 <= number <= 6:
        raise ValueError(f"{name}: expected a Fitzpatrick type 1-6 (or I-VI), got {value!r}")
    return number


def _parse_size(value: object, name: str) -> tuple[float, ...] | None:
    if isinstance(value, (int, float)):
        number = parse_float(value, name)
        return (number,) if number is not None else None
    if isinstance(value, list):
        parts: list[object] = list(value)
    else:
        text = parse_text(value)
        if text is None:
            return None
        parts = [p for p in text.lower().replace("mm", "").replace("×", "x").split("x")]
    sizes = tuple(parse_float(p.strip() if isinstance(p, str) else p, name) for p in parts)
    if not sizes or any(s is None for s in sizes) or len(sizes) > 2:
        raise ValueError(f"{name}: expected one or two diameters such as 6 or 6x5, got {value!r}")
    return tuple(s for s in sizes if s is not None)


_PARSERS: dict[str, Callable[[object, str], Any]] = {
    "age": parse_float,
    "sex": _parse_sex,
    "fitzpatrick": _parse_fitzpatrick,
    "size_mm": _parse_size,
    "duration_days": parse_float,
    **{f: parse_bool for f in BOOL_FIELDS},
    **{f: (lambda v, _n: parse_note_text(v)) for f in TEXT_FIELDS},
}
assert set(_PARSERS) == set(Note.field_names()), "every Note field needs a manifest parser"


CASE_FIELDS = ("triage",)  # optional columns that describe the case, not the note
_KNOWN = frozenset((*REQUIRED, *_PARSERS, *CASE_FIELDS))


def _parse_diagnoses(value: object) -> tuple[str, ...]:
    """``"bcc | Bowen's disease"`` (or, in JSONL, a list of such texts) -> ``("BCC",
    "BOD")``: every accepted diagnosis, in order, each label text or ICD-10-CM code
    normalised through the vocabulary."""
    if isinstance(value, list):
        parts = [str(v) if v is not None else "" for v in value]
        text = " | ".join(parts)
        if not parts:
            raise ValueError("diagnosis is an empty list")
    else:
        found = parse_text(value)
        if found is None:
            raise ValueError("diagnosis is empty")
        text, parts = found, found.split("|")
    codes: list[str] = []
    for part in parts:
        item = part.strip()
        if not item:
            raise ValueError(f"diagnosis {text!r} has an empty part between '|'")
        code = normalise_label(item)
        if code not in codes:  # "MEL | melanoma" names one diagnosis twice
            codes.append(code)
    return tuple(codes)


def _parse_triage(value: object) -> Triage | None:
    text = parse_text(value)
    if text is None or is_missing(value):  # the note fields' missing-value rule
        return None
    level = text.lower()
    for allowed in TRIAGE_LEVELS:
        if level == allowed:
            return allowed
    raise ValueError(f"triage: expected one of {', '.join(TRIAGE_LEVELS)} or empty, got {value!r}")


def _check_typos(columns: dict[str, str]) -> None:
    """Extra columns are kept as metadata, but one that looks like a note field is an error."""
    for column in columns:
        close = difflib.get_close_matches(column.lower(), sorted(_KNOWN), n=1, cutoff=0.8)
        if close:
            raise ValueError(f"unknown column {column!r}; did you mean {close[0]!r}?")


def check_encoding(encoding: str | None) -> str:
    """The codec name for ``encoding`` (default UTF-8, with or without a byte-order mark)."""
    if encoding is None:
        return "utf-8-sig"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidArgument(
            f"dataset.encoding: unknown encoding {encoding[:40]!r} (e.g. utf-8, latin-1, cp1252)"
        ) from None


def _lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines, decoded; a byte that is not valid ``encoding`` is one
    ``DatasetError`` naming the line and byte (never a traceback)."""
    if encoding.startswith(("utf-16", "utf-32")):  # not ASCII-compatible: no line split
        try:
            with path.open(encoding=encoding, newline="") as text:
                yield from text
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}: not valid {encoding} text ({exc.reason})") from None
        return
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                yield raw.decode(encoding if number == 1 else encoding.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                shown = "UTF-8 (with or without BOM)" if encoding == "utf-8-sig" else encoding
                raise DatasetError(
                    f"{path}: line {number}, byte {exc.start + 1} "
                    f"({raw[exc.start : exc.start + 1]!r}) is not valid {shown}; save the "
                    "file as UTF-8 or set dataset.encoding (e.g. latin-1)"
                ) from None


def _rows(path: Path, encoding: str = "utf-8-sig") -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row dict) or (line number, error text) for a CSV or JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(_lines(path, encoding), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"line {number}: invalid JSON ({exc.msg})"
                continue
            if not isinstance(row, dict):
                yield number, f"line {number}: expected a JSON object"
                continue
            yield number, row
        return
    reader = csv.DictReader(_lines(path, encoding))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise DatasetError(f"{path}: missing required columns {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, row


def _resolve(path: Path, folders: dict[Path, tuple[Path, frozenset[str]]]) -> Path:
    """``path.resolve()``, with each folder resolved and listed once per read (``folders``
    caches it with the names of its symbolic links): a manifest's photos share a few
    folders, and resolving every path afresh cost an ``lstat`` per path component."""
    if path.name in ("", ".", ".."):
        return path.resolve()
    known = folders.get(path.parent)
    if known is None:
        parent = path.parent.resolve()
        try:
            with os.scandir(parent) as entries:
                links = frozenset(e.name for e in entries if e.is_symlink())
        except OSError:  # not a folder (or unreadable): resolve() decides below
            links = frozenset()
        known = folders[path.parent] = (parent, links)
    parent, links = known
    candidate = parent / path.name
    return candidate.resolve() if path.name in links else candidate


# per folder as a manifest's rows write it ("img" in "img/a.jpg"): the folder resolved, the
# names of its symbolic links, and whether it is inside the manifest's folder
TextFolders = dict[str, tuple[Path, frozenset[str], bool]]


def _image_paths(
    root: Path,
    value: object,
    folders: dict[Path, tuple[Path, frozenset[str]]] | None = None,
    by_text: TextFolders | None = None,
) -> tuple[Path, ...]:
    items = value if isinstance(value, list) else str(value or "").split(";")
    folders = {} if folders is None else folders
    paths = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        head, _, name = text.rpartition("/")
        # a relative POSIX path to a plain file name: once its folder is known (``by_text``)
        # the path is that folder / name, without pathlib's parsing per row (the same
        # path: only a symbolic link's target differs, and links take the general way)
        plain = (
            by_text is not None
            and os.name == "posix"
            and not text.startswith("/")
            and name not in ("", ".", "..")
        )
        known = by_text.get(head) if by_text is not None and plain else None
        if known is not None and name not in known[1]:
            resolved, inside = known[0] / name, known[2]
        else:
            path = root / text
            resolved = _resolve(path, folders)
            inside = resolved.is_relative_to(root)
            if by_text is not None and plain and path.parent in folders:
                parent, links = folders[path.parent]
                by_text[head] = (parent, links, parent.is_relative_to(root))
        if not inside:
            raise ValueError(f"image path {text!r} is outside the manifest's folder {root}")
        paths.append(resolved)
    if not paths:
        raise ValueError("no image given")
    return tuple(paths)


def load_manifest(
    path: str | Path, name: str | None = None, encoding: str | None = None
) -> Dataset:
    """Load a manifest (``.csv``, or ``.jsonl``/``.ndjson``) into a ``Dataset``.

    Text is UTF-8, with or without a byte-order mark, unless ``encoding`` names another
    codec; an undecodable byte is a ``DatasetError`` naming its line and position.

    Every row is checked now (issues and the case count are known at once), but the cases
    are read again from the file whenever the dataset is streamed, so a manifest of any size
    costs memory only for its rejected rows."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"manifest not found: {path}")
    root = path.parent.resolve()
    codec = check_encoding(encoding)
    return Dataset.streamed(name or path.stem, lambda: _read(path, root, codec), root)


_UNSET: Any = object()
MEMO_CELLS = 512  # distinct texts remembered per column in one read (bounds its memory)
_MEMO_FIELDS = frozenset(_PARSERS) - frozenset(TEXT_FIELDS)  # few distinct values, dear parsers


class _Cells:
    """The parsed values of one read's cells: a column's texts repeat from row to row
    (ages, types, yes/no, diagnoses), so each distinct text is parsed once (up to
    ``MEMO_CELLS`` per column), and a row's note takes only the fields among its columns.
    The same values and the same errors as parsing every cell."""

    def __init__(self) -> None:
        self.memo: dict[str, dict[str, Any]] = {f: {} for f in (*_MEMO_FIELDS, "diagnosis")}
        self.fields: dict[tuple[object, ...], list[str]] = {}

    def note(self, row: dict[Any, Any]) -> Note:
        columns = tuple(row)
        fields = self.fields.get(columns)
        if fields is None:  # the note fields among this row's columns, in ``_PARSERS`` order
            fields = self.fields[columns] = [f for f in _PARSERS if f in row]
        values: dict[str, Any] = {}
        for f in fields:
            raw = row[f]
            memo = self.memo.get(f) if isinstance(raw, str) else None
            value = _UNSET if memo is None else memo.get(raw, _UNSET)
            if value is _UNSET:
                # one missing-value rule for every note field (``is_missing``), before parsing
                value = None if is_missing(raw) else _PARSERS[f](raw, f)
                if memo is not None and len(memo) < MEMO_CELLS:
                    memo[raw] = value
            if value is not None:
                values[f] = value
        return Note(**values)

    def diagnoses(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, str):
            return _parse_diagnoses(value)
        memo = self.memo["diagnosis"]
        found: tuple[str, ...] | None = memo.get(value)
        if found is None:
            found = _parse_diagnoses(value)
            if len(memo) < MEMO_CELLS:
                memo[value] = found
        return found


def _read(path: Path, root: Path, encoding: str = "utf-8-sig") -> Iterator[Case | CaseIssue]:
    seen: set[str] = set()
    folders: dict[Path, tuple[Path, frozenset[str]]] = {}
    by_text: TextFolders = {}
    checked: set[str] = set()  # extra columns found not to be typos of known ones
    cells = _Cells()
    for number, row in _rows(path, encoding):
        if isinstance(row, str):
            yield CaseIssue(f"line {number}", row)
            continue
        case_id = parse_text(row.get("case_id"))
        if case_id is None:
            yield CaseIssue(f"line {number}", f"line {number}: case_id is empty")
            continue
        if case_id in seen:
            yield CaseIssue(case_id, f"line {number}: duplicate case_id")
            continue
        seen.add(case_id)
        try:
            extra = {k: str(v) for k, v in row.items() if k not in _KNOWN and v is not None}
            if not checked.issuperset(extra):
                _check_typos({k: v for k, v in extra.items() if k not in checked})
                checked.update(extra)
            diagnoses = cells.diagnoses(row.get("diagnosis"))
            case = Case(
                case_id=case_id,
                images=_image_paths(root, row.get("image"), folders, by_text),
                note=cells.note(row),
                diagnosis=diagnoses[0],
                meta={**extra, "line": str(number)},
                diagnoses=diagnoses,
                triage_override=_parse_triage(row.get("triage")),
            )
        except (DermStressError, ValueError) as exc:
            yield CaseIssue(case_id, f"line {number}: {exc}")
            continue
        yield case
