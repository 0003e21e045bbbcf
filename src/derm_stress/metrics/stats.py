"""Statistics for case-level comparisons: seeded bootstrap intervals, McNemar for paired
cases, and the unpaired difference and two-proportion test for different case sets."""

from __future__ import annotations

import functools
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
    alpha = (1 - level) / 2
    return _quantiles(bootstrap_means(values, seed, resamples), (alpha, 1 - alpha))


def bootstrap_means(
    values: np.ndarray, seed: int, resamples: int = BOOTSTRAP_RESAMPLES
) -> np.ndarray:
    """The means of ``resamples`` seeded case-level resamples of ``values`` (non-empty).

    Resampling n cases with replacement is drawn as how often each distinct value is picked,
    a multinomial over the distinct values with their observed frequencies: the same
    distribution as drawing n indices, but it costs resamples x distinct values instead of
    resamples x n (accuracies and paired differences take two or three values; a sample of
    continuous values has as many distinct values as cases and gains nothing)."""
    if values.dtype.kind in "bi" and values.size:  # small integer codes: a bincount is cheaper
        low = int(values.min())
        tally = np.bincount(values.astype(np.int64) - low)
        distinct = np.flatnonzero(tally) + low
        counts = tally[tally > 0]
    else:
        distinct, counts = np.unique(values, return_counts=True)
    if distinct.size == 1:
        return np.full(resamples, float(distinct[0]))
    rng = np.random.Generator(np.random.PCG64(seed))
    # the multinomial drawn as conditional binomials, each vectorised over the resamples
    left = np.full(resamples, values.size, dtype=np.int64)
    total = np.zeros(resamples)
    remaining = float(values.size)
    for value, count in zip(distinct[:-1], counts[:-1], strict=True):
        picked = rng.binomial(left, min(1.0, count / remaining))
        total += picked * float(value)
        left -= picked
        remaining -= count
    total += left * float(distinct[-1])
    means: np.ndarray = total / values.size
    return means


def unpaired_difference(
    a: np.ndarray, b: np.ndarray, seed: int, level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """Mean of ``b`` minus mean of ``a`` for two independent samples (different cases), with
    a percentile interval from resampling each sample's cases on its own (seeded)."""
    if a.size == 0 or b.size == 0:
        return float("nan"), (float("nan"), float("nan"))
    diff = bootstrap_means(b, seed + 1) - bootstrap_means(a, seed)
    alpha = (1 - level) / 2
    return float(b.mean() - a.mean()), _quantiles(diff, (alpha, 1 - alpha))


def two_proportion_p(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-sided p of the pooled two-proportion z-test (independent samples)."""
    if n_a == 0 or n_b == 0:
        return float("nan")
    pooled = (hits_a + hits_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        return 1.0
    z = (hits_b / n_b - hits_a / n_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return math.erfc(abs(z) / math.sqrt(2))


def _quantiles(values: np.ndarray, qs: tuple[float, float]) -> tuple[float, float]:
    """``np.quantile(values, qs)`` (linear interpolation), partitioning instead of sorting."""
    positions = [(values.size - 1) * q for q in qs]
    below = [int(np.floor(h)) for h in positions]
    kth = sorted({i for b in below for i in (b, min(b + 1, values.size - 1))})
    part = np.partition(values, kth)
    lo, hi = (
        float(part[b] + (h - b) * (part[min(b + 1, values.size - 1)] - part[b]))
        for b, h in zip(below, positions, strict=True)
    )
    return (lo, hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test: p-value for ``b`` cases right only under A and ``c``
    right only under B (a binomial test of b against n = b + c at p = 1/2). Exact integer
    arithmetic up to n = 400; beyond, the same sum in log space (relative error ~1e-12)."""
    return _mcnemar_exact(int(b), int(c))


@functools.lru_cache(maxsize=4096)
def _mcnemar_exact(b: int, c: int) -> float:
    # cached: a report asks for the same few (b, c) pairs thousands of times
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    if n <= 400:
        # sum of C(n, i), i <= k, each term from the last (exact integers, as math.comb)
        term = total = 1
        for i in range(k):
            term = term * (n - i) // (i + 1)
            total += term
        tail = total / 2**n
    else:
        j = np.arange(1, k + 1, dtype=float)
        log_comb = np.concatenate(([0.0], np.cumsum(np.log(n - j + 1) - np.log(j))))
        top = log_comb.max()
        tail = math.exp(top + math.log(np.exp(log_comb - top).sum()) - n * math.log(2))
    return float(min(1.0, 2 * tail))


def exact_mean(values: np.ndarray) -> float:
    """The mean of a boolean or integer array, from its integer sum: the same float as
    ``values.mean()`` (whose float64 sum of integers is exact below 2**53; both divide
    once, correctly rounded) at a fraction of the cost on the small arrays of one cell."""
    if values.dtype == bool:
        return np.count_nonzero(values) / values.size
    return int(values.sum(dtype=np.int64)) / values.size


@functools.cache
def _inner_edges(bins: int) -> np.ndarray:
    edges: np.ndarray = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges.flags.writeable = False
    return edges


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """ECE: bin-size-weighted mean |accuracy - mean confidence| over equal-width bins.

    The cases are grouped by bin with a stable sort, so each bin's mean is taken over the
    same values in the same order as masking them out would (the same floats), with one
    sort instead of a mask per bin."""
    if confidence.size == 0:
        return float("nan")
    which = np.clip(np.digitize(confidence, _inner_edges(bins), right=True), 0, bins - 1)
    order = np.argsort(which, kind="stable")
    conf, right = confidence[order], correct[order]
    ends = np.cumsum(np.bincount(which, minlength=bins)).tolist()
    total = 0.0
    start = 0
    for end in ends:
        if end > start:
            total += (end - start) * abs(right[start:end].mean() - conf[start:end].mean())
        start = end
    return float(total / confidence.size)
