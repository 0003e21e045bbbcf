"""The metric extension point: per-condition metrics defined as data.

A metric is a ``MetricDefinition``: a name (its column in ``metrics.csv`` and
``subgroups.csv``, and its key in ``ConditionMetrics.extra``), a one-line description
(shown in the report's "all conditions" table header), and a function of one ``Cell`` (a
model under a condition, on the kept cases). ``compute_metrics`` evaluates every definition
in ``PER_CONDITION`` for every (model, condition), the CSV exports write them after the
built-in columns, and the report's "all conditions" table shows them as columns. Adding a
metric is adding one definition to ``PER_CONDITION`` (and a test); see
``CONTRIBUTING.md`` ("Adding a metric").

A function returns a number (or None where undefined). With ``per_case=True`` it returns one
value per paired case instead, and the metric is their mean with a seeded bootstrap interval
(column ``NAME`` and ``NAME_ci``), like the built-in paired metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from derm_stress.metrics.stats import bootstrap_ci
from derm_stress.perturb.base import derive_seed
from derm_stress.run.results import ResultTable
from derm_stress.schema import ConditionSpec


@dataclass(frozen=True)
class Cell:
    """One model under one condition, as a metric sees it. Arrays are over the run's cases.

    ``keep``: the cases of the subgroup measured (all cases for the headline metrics);
    ``scored``: kept cases the model answered under this condition (``SCORED`` statuses);
    ``paired``: those also answered under the baseline (``baseline`` is None when the run
    has none); ``k``: the run's top k; ``seed``: this cell's seed (for any randomness).
    """

    table: ResultTable
    model: int
    condition: int
    baseline: int | None
    spec: ConditionSpec
    keep: np.ndarray
    scored: np.ndarray
    paired: np.ndarray
    k: int
    seed: int
    intervals: bool = True

    def correct(self, k: int = 1, condition: int | None = None) -> np.ndarray:
        """Per case: whether a top-``k`` answer matched at the headline level (under
        ``condition``, default this cell's)."""
        ci = self.condition if condition is None else condition
        rank = self.table.rank[self.model, ci]
        correct: np.ndarray = (rank >= 1) & (rank <= k)
        return correct


Value = float | None


@dataclass(frozen=True)
class MetricDefinition:
    """A per-condition metric (see the module docstring)."""

    name: str
    description: str
    compute: Callable[[Cell], Value | np.ndarray]
    per_case: bool = False
    percent: bool = True  # shown as a percentage in the report (else as a number)

    def evaluate(self, cell: Cell) -> dict[str, object]:
        """The metric's columns for ``cell``."""
        value = self.compute(cell)
        if not self.per_case:
            if isinstance(value, np.ndarray):
                raise TypeError(f"metric {self.name}: returned an array without per_case=True")
            return {self.name: None if value is None else float(value)}
        values = np.asarray(value, dtype=float)
        if not values.size:
            return {self.name: None, f"{self.name}_ci": None}
        interval = None
        if cell.intervals:
            interval = bootstrap_ci(values, derive_seed("metric", self.name, cell.seed))
        return {self.name: float(values.mean()), f"{self.name}_ci": interval}


# The metrics every run reports beyond the built-in columns of ``ConditionMetrics``, in
# column order. (Empty in this release: the built-in metrics keep their fixed columns.)
PER_CONDITION: list[MetricDefinition] = []


def per_condition_extras(cell: Cell) -> dict[str, object]:
    """Every ``PER_CONDITION`` metric of one cell, by column."""
    out: dict[str, object] = {}
    for definition in PER_CONDITION:
        out.update(definition.evaluate(cell))
    return out
