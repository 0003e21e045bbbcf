"""Composition beyond sequences: one of several operators, chosen per case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from derm_stress.cases import Case
from derm_stress.errors import InvalidArgument
from derm_stress.perturb.base import Applied, Operator
from derm_stress.schema import Capability


class OneOf(Operator[Any]):
    """Apply one of ``choices``, picked uniformly per (case, condition) from the seeded RNG.

    The record it leaves is the chosen operator's own, so replay needs nothing from here.
    Its severity is the largest of its choices'; its label lists them:
    ``one_of(motion_blur@3,defocus@3)``.
    """

    name = "one_of"
    family = "composite"
    graded = False

    def __init__(self, choices: Sequence[Operator[Any]]) -> None:
        if len(choices) < 2:
            raise InvalidArgument(f"one_of needs at least two operators, got {len(choices)}")
        kinds = {c.kind for c in choices}
        if len(kinds) != 1:
            raise InvalidArgument("one_of cannot mix image and note operators")
        self.choices = tuple(choices)
        self.kind = kinds.pop()  # type: ignore[misc]  # per instance: the choices' kind
        self.severity = max(c.severity for c in choices)
        self.config = {"choices": [c.label for c in choices]}

    def make_label(self, with_severity: bool) -> str:
        return "one_of(" + ",".join(c.make_label(with_severity) for c in self.choices) + ")"

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        """What any of its choices may do."""
        return frozenset(c for op in self.choices for c in op.capabilities)

    def __call__(
        self, target: Any, rng: np.random.Generator, case: Case, where: str
    ) -> tuple[Any, Applied]:
        choice = self.choices[int(rng.integers(0, len(self.choices)))]
        return choice(target, rng, case, where)

    def sample(self, rng: np.random.Generator, target: Any, case: Case) -> dict[str, Any]:
        raise NotImplementedError("one_of delegates sampling to the chosen operator")

    def apply(self, target: Any, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError("one_of delegates application to the chosen operator")
