"""How much of a run's grid failed: the error rate behind ``--max-error-rate``.

The grid a run was asked for is every (model, condition, case) of the dataset *file*: the
cases loaded plus the rows rejected while loading it. A result counts as an error when the
model call failed (``error``, retried on the next run), when the case's input was unusable
(``input_error``), and a rejected row counts as all the results it would have given
(conditions x models). Results a budget stop left unrun (``missing``) are not errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derm_stress.run.results import ERROR, INPUT_ERROR, MISSING, RunData

DEFAULT_MAX_ERROR_RATE = 0.05


@dataclass(frozen=True)
class Outcome:
    """Counts of one run's final state (all runs into its directory together)."""

    results: int  # cases loaded x conditions x models
    failed_calls: int
    input_errors: int
    rejected_rows: int
    per_row: int  # results one dataset row stands for: conditions x models
    missing: int

    @property
    def grid(self) -> int:
        """Results the dataset file asked for, rejected rows included."""
        return self.results + self.rejected_rows * self.per_row

    @property
    def errors(self) -> int:
        return self.failed_calls + self.input_errors + self.rejected_rows * self.per_row

    @property
    def error_rate(self) -> float:
        return self.errors / self.grid if self.grid else 0.0

    def describe(self) -> str:
        return (
            f"error rate {self.error_rate:.1%} of {self.grid:,} results: "
            f"{self.failed_calls:,} failed model calls, {self.input_errors:,} with unusable "
            f"input, {self.rejected_rows:,} dataset rows rejected (x{self.per_row} each)"
        )


def outcome(run: RunData) -> Outcome:
    """The error counts of a loaded run."""
    status = run.table.status
    models, conditions = status.shape[0], status.shape[1]
    return Outcome(
        results=int(status.size),
        failed_calls=int(np.count_nonzero(status == ERROR)),
        input_errors=int(np.count_nonzero(status == INPUT_ERROR)),
        rejected_rows=len(run.manifest.dataset.issues),
        per_row=models * conditions,
        missing=int(np.count_nonzero(status == MISSING)),
    )
