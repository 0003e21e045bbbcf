"""The faster statistics give the same floats as the plain formulas they replaced."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from derm_stress.metrics.stats import exact_mean, expected_calibration_error, mcnemar_exact


def _mcnemar_by_comb(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    return float(min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n))


def _ece_by_masks(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / confidence.size)


def test_mcnemar_is_the_exact_binomial_sum_up_to_400_discordant_pairs() -> None:
    for n in range(0, 401, 7):
        for b in range(0, n + 1, 3):
            assert mcnemar_exact(b, n - b) == _mcnemar_by_comb(b, n - b), (b, n - b)
    assert mcnemar_exact(np.int64(3), np.int64(9)) == _mcnemar_by_comb(3, 9)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3000), st.sampled_from(["bool", "int8"]))
def test_exact_mean_is_numpys_mean(seed: int, size: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    values = rng.random(size) < rng.random() if kind == "bool" else rng.integers(-1, 2, size)
    values = values.astype(kind)
    assert exact_mean(values) == float(values.mean())


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3000), st.booleans())
def test_ece_is_the_per_bin_masked_formula(seed: int, size: int, coarse: bool) -> None:
    rng = np.random.default_rng(seed)
    confidence = rng.random(size)
    if coarse:  # stated confidences repeat: many ties on bin edges
        confidence = np.round(confidence, 1).astype(np.float32).astype(float)
    correct = (rng.random(size) < confidence).astype(float)
    assert expected_calibration_error(confidence, correct) == _ece_by_masks(confidence, correct)
