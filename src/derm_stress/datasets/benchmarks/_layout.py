"""What the public-benchmark loaders share: finding a layout's files, images and rows.

Every loader reads a dataset exactly as its publishers lay it out in a local folder (nothing is
ever downloaded). A folder that does not match says which files were expected.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from derm_stress.cases import Case
from derm_stress.datasets.base import CaseIssue, Dataset
from derm_stress.errors import DatasetError, DermStressError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def find_file(folder: Path, names: Sequence[str], dataset: str) -> Path:
    """The first of ``names`` (relative paths) that exists in ``folder``, else a clear error."""
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    expected = " or ".join(repr(n) for n in names)
    raise DatasetError(f"{folder} is not a {dataset} folder: expected {expected} in it")


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV's header and rows (UTF-8, with or without a byte-order mark)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: not UTF-8 (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r});"
            " re-save it as UTF-8"
        ) from None


def require_columns(path: Path, header: Sequence[str], columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")


class ImageIndex:
    """Image files under some folders of a dataset, found by file name or stem.

    Listing each folder once (``os.scandir``) is much faster than one ``exists`` call per row
    on datasets of tens of thousands of photos.
    """

    def __init__(self, root: Path, folders: Sequence[str]) -> None:
        self.root = root
        self.folders = [root / f for f in folders]
        self._by_name: dict[str, Path] = {}
        self._by_stem: dict[str, Path] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            with os.scandir(folder) as entries:
                for entry in entries:
                    suffix = os.path.splitext(entry.name)[1].lower()
                    if suffix in IMAGE_SUFFIXES and entry.is_file():
                        path = Path(entry.path)
                        self._by_name.setdefault(entry.name, path)
                        self._by_stem.setdefault(path.stem, path)

    def find(self, name: str) -> Path:
        """The image called ``name`` (a file name, a stem, or a path whose last part is one).

        A missing image is returned as the path it was expected at: the run reports it for
        that case when it reads it, and the other cases go on.
        """
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        found = self._by_name.get(base) or self._by_stem.get(Path(base).stem)
        if found is not None:
            return found
        direct = self.root / name
        if direct.is_file() and direct.resolve().is_relative_to(self.root.resolve()):
            return direct
        first = self.folders[0] if self.folders else self.root
        return first / (base if Path(base).suffix else f"{base}.jpg")


def column_id(column: str) -> Callable[[dict[str, str], int], str]:
    """Case ids from a column (``row N`` where the cell is empty)."""

    def case_id(row: dict[str, str], line: int) -> str:
        return (row.get(column) or "").strip() or f"row {line}"

    return case_id


def dataset_from_rows(
    name: str,
    root: Path,
    rows: Sequence[dict[str, str]],
    case_id: Callable[[dict[str, str], int], str],
    build: Callable[[str, dict[str, str]], Case],
) -> Dataset:
    """A dataset of ``build(case_id(row, line), row)`` for every CSV row (line 1 is the
    header); a row that cannot become a case is a ``CaseIssue`` naming its line."""

    def items() -> Iterator[Case | CaseIssue]:
        for line, row in enumerate(rows, start=2):
            cid = case_id(row, line)
            try:
                yield build(cid, row)
            except ROW_ERRORS as exc:
                yield CaseIssue(cid, f"line {line}: {exc}")

    return _collect(name, root, items())


def _collect(name: str, root: Path, rows: Iterator[Case | CaseIssue]) -> Dataset:
    """A dataset of the cases in ``rows``, duplicate ids reported."""
    cases: list[Case] = []
    issues: list[CaseIssue] = []
    seen: set[str] = set()
    for item in rows:
        if isinstance(item, CaseIssue):
            issues.append(item)
        elif item.case_id in seen:
            issues.append(CaseIssue(item.case_id, "duplicate case id"))
        else:
            seen.add(item.case_id)
            cases.append(item)
    return Dataset(name, cases, issues, root)


ROW_ERRORS = (DermStressError, ValueError)  # what makes one row unusable (not the whole file)
