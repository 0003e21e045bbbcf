"""Several named datasets in one run (a public benchmark beside a clinic's own cases).

Case ids are prefixed with the dataset's name (``ham10000/ISIC_0027419``) so ids from
different datasets never collide in the store, and each case's dataset is kept in
``Case.meta['dataset']``. A run with one dataset keeps its case ids as they are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence

from derm_stress.cases import Case
from derm_stress.datasets.base import CaseIssue, Dataset
from derm_stress.errors import InvalidArgument

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SEPARATOR = "/"


def check_name(name: object) -> str:
    """A dataset name usable in case ids and reports: letters, digits, ``_ . -``."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidArgument(
            f"dataset name {name!r}: use 1-64 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit)"
        )
    return name


def tag(case: Case, name: str) -> Case:
    """``case`` as a member of the dataset ``name``: prefixed id, ``meta['dataset']``."""
    return dataclasses.replace(
        case, case_id=f"{name}{SEPARATOR}{case.case_id}", meta={**case.meta, "dataset": name}
    )


def check_names(names: Sequence[object]) -> list[str]:
    """Valid, unique dataset names."""
    checked = [check_name(n) for n in names]
    repeated = sorted({n for n in checked if checked.count(n) > 1})
    if repeated:
        raise InvalidArgument(f"dataset: duplicate dataset name(s) {', '.join(repeated)}")
    return checked


def combine(parts: Sequence[tuple[str, Dataset]]) -> Dataset:
    """One streamed dataset of ``parts`` in order (names must be unique)."""
    names = check_names([n for n, _ in parts])

    def source() -> Iterator[Case | CaseIssue]:
        for name, dataset in parts:
            for issue in dataset.issues:
                yield CaseIssue(f"{name}{SEPARATOR}{issue.source}", issue.reason)
            for case in dataset.stream():
                yield tag(case, name)

    return Dataset.streamed("+".join(names), source)
