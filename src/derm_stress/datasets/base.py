"""What every dataset loader returns, and the value parsers they share."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from derm_stress.cases import Case

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_MISSING = {"", "unk", "unknown", "na", "n/a", "nan", "none", "null"}


@dataclass(frozen=True)
class CaseIssue:
    """A row of a dataset that could not become a ``Case``, and why."""

    source: str  # the row's case id, or "row N" when the id itself is unusable
    reason: str


@dataclass
class Dataset:
    """Loaded cases plus the rows that were rejected (reported, never silently dropped)."""

    name: str
    cases: list[Case]
    issues: list[CaseIssue] = field(default_factory=list)
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def fingerprint(self, case_fingerprints: Mapping[str, str] | None = None) -> str:
        """Hash of the case ids, their content and diagnoses, in order.

        ``case_fingerprints`` may pass already computed ``Case.fingerprint()`` values.
        """
        known = case_fingerprints or {}
        digest = hashlib.sha256(self.name.encode())
        for case in self.cases:
            fp = known.get(case.case_id) or case.fingerprint()
            digest.update(f"{case.case_id}\0{case.diagnosis}\0{fp}\n".encode())
        return digest.hexdigest()[:16]

    def select(self, ids: Sequence[str] | None = None, limit: int | None = None) -> Dataset:
        """A subset: the given case ids (in that order) and/or the first ``limit`` cases."""
        cases = self.cases
        issues = list(self.issues)
        if ids is not None:
            by_id = {c.case_id: c for c in cases}
            cases = [by_id[i] for i in ids if i in by_id]
            issues += [CaseIssue(i, "case id not in the dataset") for i in ids if i not in by_id]
        if limit is not None:
            cases = cases[:limit]
        return Dataset(self.name, list(cases), issues, self.root)


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
    """Strip text; empty is missing."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None
