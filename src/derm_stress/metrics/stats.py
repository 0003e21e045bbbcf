"""Statistics for paired, case-level comparisons: seeded bootstrap intervals and McNemar."""

from __future__ import annotations

import math

import numpy as np

BOOTSTRAP_RESAMPLES = 2000


def bootstrap_ci(
    values: np.ndarray, seed: int, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values``, resampling cases with a seeded RNG
    (so the same data and seed always give the same interval)."""
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, values.size, size=(resamples, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test: p-value for ``b`` cases right only under A and ``c``
    right only under B (a binomial test of b against n = b + c at p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """ECE: bin-size-weighted mean |accuracy - mean confidence| over equal-width bins."""
    if confidence.size == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / confidence.size)
