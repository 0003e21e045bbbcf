"""What every dataset loader returns, and the value parsers they share."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from derm_stress.cases import Case

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
# The one missing-value rule of every loader and every note field: these cell values (any
# case, surrounding space ignored) mean "not recorded" and become ``None``.
MISSING_VALUES = frozenset(
    {"", "unk", "unknown", "na", "n/a", "nan", "none", "null", "missing", "not known",
     "not recorded", "-", "?"}
)  # fmt: skip
_MISSING = MISSING_VALUES


def is_missing(value: object) -> bool:
    """Whether a raw cell value means "not recorded" (``None``, NaN or a word in
    ``MISSING_VALUES``)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in MISSING_VALUES


@dataclass(frozen=True)
class CaseIssue:
    """A row of a dataset that could not become a ``Case``, and why."""

    source: str  # the row's case id, or "row N" when the id itself is unusable
    reason: str


Source = Callable[[], Iterator["Case | CaseIssue"]]


_DEFERRED: ContextVar[bool] = ContextVar("derm_stress_deferred_scan", default=False)


@contextmanager
def deferred_scan() -> Iterator[None]:
    """Within this block a streamed dataset is not checked when it is made, but when its
    length or issues are first asked for, or never, when ``Dataset.assume_scan`` gives
    them (a resume that knows them from the previous pass over the same source)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


class Dataset:
    """Cases plus the rows that were rejected (reported, never silently dropped).

    A dataset either holds its cases (``Dataset(name, cases, issues, root)``) or reads them
    from a ``source`` each time it is streamed (``Dataset.streamed``): loading it then
    checks every row once and keeps only the count and the issues, ``stream()`` yields the
    cases one at a time, and ``cases`` materialises the list only when asked for. The
    harness streams, so a run's memory does not grow with the number of cases.
    ``scanned`` passes the (count, issues) of a source already checked, so a subset of a
    streamed dataset does not read it again.
    """

    def __init__(
        self,
        name: str,
        cases: list[Case] | None = None,
        issues: list[CaseIssue] | None = None,
        root: Path | None = None,
        *,
        source: Source | None = None,
        limit: int | None = None,
        scanned: tuple[int, list[CaseIssue]] | None = None,
    ) -> None:
        self.name = name
        self.root = root
        self._cases = cases
        self._source = source
        self._limit = limit
        if cases is None and source is None:
            raise ValueError("a Dataset needs cases or a source")
        self._given = list(issues or [])  # issues found before the source (a subset's ids)
        self._count = len(cases) if cases is not None else 0
        self._issues = list(self._given)
        self._scanned = cases is not None
        self._provisional = False
        if cases is None:
            if scanned is not None:
                self._set_scan(*scanned)
            elif not _DEFERRED.get():
                self._ensure_scanned()

    def _set_scan(self, count: int, found: Sequence[CaseIssue]) -> None:
        self._count, self._issues = count, self._given + list(found)
        self._scanned, self._provisional = True, False

    def _ensure_scanned(self) -> None:
        """Check every row: one pass over the source, which records the count and the
        rejected rows as it ends (``_items``)."""
        if not self._scanned:
            for _ in self._items():
                pass

    @property
    def issues(self) -> list[CaseIssue]:
        """The rejected rows (a streamed dataset made under ``deferred_scan`` is checked
        when this or its length is first asked for)."""
        self._ensure_scanned()
        return self._issues

    def assume_scan(self, count: int, issues: Sequence[CaseIssue]) -> bool:
        """Take ``(count, issues)`` as this streamed dataset's check without reading its
        source (``False``, nothing changed, when it was already checked): what a run's
        earlier pass over the same source found, so a resume reads its manifest once. The
        values are provisional: the next full pass of ``stream`` replaces them with what it
        finds (``provisional`` then turns False)."""
        if self._scanned:
            return False
        self._set_scan(count, issues)
        self._provisional = True
        return True

    @property
    def provisional(self) -> bool:
        """Whether the count and issues are ``assume_scan``'s, not yet confirmed by a pass."""
        return self._provisional

    @classmethod
    def streamed(cls, name: str, source: Source, root: Path | None = None) -> Dataset:
        """A dataset read from ``source`` (a function returning a fresh iterator of cases
        and issues) whenever it is streamed."""
        return cls(name, root=root, source=source)

    def _items(self) -> Iterator[Case | CaseIssue]:
        assert self._source is not None
        taken, found = 0, list[CaseIssue]()
        for item in self._source():
            if isinstance(item, CaseIssue):
                found.append(item)
                yield item
                continue
            if self._limit is not None and taken >= self._limit:
                continue  # keep reading: issues further down are still reported
            taken += 1
            yield item
        if not self._scanned or self._provisional:  # a whole pass: what the source holds
            self._set_scan(taken, found)

    @property
    def cases(self) -> list[Case]:
        """Every case, in memory (for small datasets; a run uses ``stream``)."""
        if self._cases is None:
            self._cases = list(self.stream())
        return self._cases

    def stream(self) -> Iterator[Case]:
        """The cases one at a time, in order."""
        if self._cases is not None:
            yield from self._cases
            return
        for item in self._items():
            if not isinstance(item, CaseIssue):
                yield item

    def __len__(self) -> int:
        self._ensure_scanned()
        return self._count

    def __iter__(self) -> Iterator[Case]:
        return self.stream()

    def fingerprint(self, case_fingerprints: Mapping[str, str] | None = None) -> str:
        """Hash of the case ids, their content and diagnoses, in order.

        ``case_fingerprints`` may pass already computed ``Case.fingerprint()`` values.
        """
        known = case_fingerprints or {}
        digest = DatasetDigest(self.name)
        for case in self.stream():
            digest.add(case, known.get(case.case_id) or case.fingerprint())
        return digest.hexdigest()

    def select(self, ids: Sequence[str] | None = None, limit: int | None = None) -> Dataset:
        """A subset: the given case ids (in that order) and/or the first ``limit`` cases."""
        if ids is None and self._cases is None:  # stays streamed
            assert self._source is not None
            limit = limit if self._limit is None or limit is None else min(limit, self._limit)
            # the issues cover the whole source whatever the limit: no need to read it again
            # (unless it is not checked yet: then the subset is checked when it must be)
            scanned = None
            if self._scanned and not self._provisional:
                count = self._count if limit is None else min(limit, self._count)
                scanned = (count, self._issues[len(self._given) :])
            return Dataset(
                self.name,
                None,
                self._given,
                root=self.root,
                source=self._source,
                limit=limit,
                scanned=scanned,
            )
        issues = list(self.issues)
        cases = self.cases
        if ids is not None:
            by_id = {c.case_id: c for c in cases}
            cases = [by_id[i] for i in ids if i in by_id]
            issues += [CaseIssue(i, "case id not in the dataset") for i in ids if i not in by_id]
        if limit is not None:
            cases = cases[:limit]
        return Dataset(self.name, list(cases), issues, self.root)


class DatasetDigest:
    """The dataset fingerprint, built case by case (in order) as a run reaches them."""

    def __init__(self, name: str) -> None:
        self._digest = hashlib.sha256(name.encode())

    def add(self, case: Case, fingerprint: str) -> None:
        # several diagnoses and a case-level triage count only where present, so the
        # fingerprint of a dataset without them is what it always was
        diagnosis = "|".join(case.diagnoses)
        if case.triage_override is not None:
            diagnosis += f"\0triage={case.triage_override}"
        self._digest.update(f"{case.case_id}\0{diagnosis}\0{fingerprint}\n".encode())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()[:16]


def parse_bool(value: object, name: str) -> bool | None:
    """Parse true/false/yes/no/1/0 (any case); empty or UNK is missing."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _MISSING:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}: expected true/false/yes/no/1/0 or empty, got {value!r}")


def parse_float(value: object, name: str) -> float | None:
    """Parse a number; empty or UNK is missing; negative or non-finite values are errors."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in _MISSING:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return number


def parse_text(value: object) -> str | None:
    """Strip text; empty is missing (identifiers: no other word counts as missing)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_note_text(value: object) -> str | None:
    """A free-text note field: stripped, ``None`` when ``is_missing``."""
    return None if is_missing(value) else parse_text(value)
