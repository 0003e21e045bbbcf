"""Metrics against small hand-computed fixtures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from derm_stress.metrics import (
    BASELINE_ID,
    bootstrap_ci,
    compute_metrics,
    corruption_errors,
    expected_calibration_error,
    mcnemar_exact,
    selective_accuracy,
)
from derm_stress.models.base import Answer
from derm_stress.perturb.base import Applied
from derm_stress.run.results import Row, RunData
from derm_stress.run.store import Result

BLUR = "img=motion_blur@3|ctx=image_only"
MISLED = "img=none|ctx=misleading_referral@5"


def _row(
    case: str,
    condition: str,
    diagnosis: str,
    answer: tuple[str, ...],
    confidence: float | None = None,
    triage: str | None = None,
    applied: tuple[Applied, ...] = (),
    status: str = "ok",
) -> Row:
    result = Result(
        "k",
        "m",
        case,
        condition,
        status,
        Answer(raw="", differential=answer, latency_s=0.5, prompt_tokens=10, completion_tokens=5),
        applied,
    )
    return Row(
        "m",
        case,
        condition,
        diagnosis,
        status,
        answer,
        (confidence,) if confidence is not None else (),
        triage,
        None,
        result,
    )


def _referral(wrong: str) -> tuple[Applied, ...]:
    return (Applied("misleading_referral", 5, "note", {}, {"diagnosis": wrong}),)


@pytest.fixture
def run() -> RunData:
    """Six cases. Baseline: c1-c4 right at top-1 (c5 right at top-2, c6 wrong).
    Blur: c1, c2 right; c3, c4 now wrong; c6 now right.
    Misled: the referral's wrong diagnosis becomes top-1 for c1 and c2."""
    truth = {"c1": "MEL", "c2": "BCC", "c3": "NEV", "c4": "SEK", "c5": "SCC", "c6": "ACK"}
    base = {
        "c1": ("MEL", "NEV"),
        "c2": ("BCC", "SCC"),
        "c3": ("NEV", "MEL"),
        "c4": ("SEK", "NEV"),
        "c5": ("ACK", "SCC"),
        "c6": ("SEK", "NEV"),
    }
    blur = {
        "c1": ("MEL", "NEV"),
        "c2": ("BCC", "SCC"),
        "c3": ("MEL", "NEV"),
        "c4": ("NEV", "SEK"),
        "c5": ("ACK", "SCC"),
        "c6": ("ACK", "SEK"),
    }
    misled = {
        "c1": ("NEV", "MEL"),
        "c2": ("SCC", "BCC"),
        "c3": ("NEV", "MEL"),
        "c4": ("SEK", "NEV"),
        "c5": ("ACK", "SCC"),
        "c6": ("SEK", "NEV"),
    }
    wrong = {"c1": "NEV", "c2": "SCC", "c3": "MEL", "c4": "MEL", "c5": "BCC", "c6": "BCC"}
    conf = {"c1": 0.9, "c2": 0.8, "c3": 0.7, "c4": 0.6, "c5": 0.5, "c6": 0.4}
    rows = []
    for case, dx in truth.items():
        rows.append(_row(case, BASELINE_ID, dx, base[case], conf[case]))
        rows.append(_row(case, BLUR, dx, blur[case]))
        rows.append(_row(case, MISLED, dx, misled[case], applied=_referral(wrong[case])))
    manifest = {
        "seed": 0,
        "top_k": 2,
        "models": [{"name": "m"}],
        "conditions": [{"id": BASELINE_ID}, {"id": BLUR}, {"id": MISLED}],
        "cases": [
            {
                "id": c,
                "diagnosis": d,
                "triage": {"MEL": "urgent", "BCC": "urgent", "SCC": "urgent", "ACK": "soon"}.get(
                    d, "routine"
                ),
            }
            for c, d in truth.items()
        ],
    }
    return RunData.from_rows(Path("."), manifest, rows)


def test_accuracy_deltas_flips_and_mcnemar_by_hand(run: RunData) -> None:
    base, blur, misled = compute_metrics(run)
    assert base.top1 == pytest.approx(4 / 6) and base.topk == pytest.approx(5 / 6)
    assert blur.top1 == pytest.approx(3 / 6) and blur.topk == pytest.approx(6 / 6)
    assert blur.delta_top1 == pytest.approx(-1 / 6) and blur.delta_topk == pytest.approx(1 / 6)
    assert blur.flip_rate == pytest.approx(3 / 6)  # c3, c4, c6 changed top-1
    assert blur.relative_top1 == pytest.approx((3 / 6) / (4 / 6))
    # discordant pairs: right only at baseline c3, c4 (b = 2); only under blur c6 (c = 1)
    assert blur.mcnemar_p == pytest.approx(1.0)  # 2 * P(X <= 1 | n=3) = 2 * 4/8, capped
    assert base.mcnemar_p is None and base.flip_rate is None
    lo, hi = blur.delta_top1_ci  # type: ignore[misc]
    assert lo <= blur.delta_top1 <= hi
    assert misled.referral_adoption == pytest.approx(2 / 6)
    assert misled.context_harm == pytest.approx(2 / 4)  # c1, c2 of the 4 right at baseline


def test_triage_calibration_and_costs_by_hand(run: RunData) -> None:
    base = compute_metrics(run)[0]
    # urgent cases c1 MEL, c2 BCC, c5 SCC: answered MEL, BCC (urgent) and ACK (soon)
    assert base.triage_sensitivity == pytest.approx(2 / 3)
    # non-urgent c3 NEV, c4 SEK, c6 ACK: answered NEV, SEK, SEK: none urgent
    assert base.triage_specificity == pytest.approx(1.0)
    # under-triage: c5 (urgent -> soon) and c6 (soon -> routine)
    assert base.under_triage == pytest.approx(2 / 6)
    assert base.mean_confidence == pytest.approx(np.mean([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]))
    # bins: c1 .9 right, c2 .8 right, c3 .7 right, c4 .6 right, c5 .5 wrong, c6 .4 wrong
    expected = (0.1 + 0.2 + 0.3 + 0.4 + 0.5 + 0.4) / 6
    assert base.ece == pytest.approx(expected)
    assert base.mean_latency_s == 0.5 and base.tokens == 6 * 15


def test_selective_accuracy_and_corruption_error(run: RunData) -> None:
    points = selective_accuracy(run, "m", [BASELINE_ID], [0.0, 0.65])
    curve = {t: (cov, acc) for t, cov, acc in points}
    assert curve[0.0] == (1.0, pytest.approx(4 / 6))
    assert curve[0.65] == (pytest.approx(3 / 6), 1.0)
    ce = corruption_errors(compute_metrics(run), lambda op: "focus")
    assert ce[("m", "focus")]["ce"] == pytest.approx(3 / 6)
    assert ce[("m", "focus")]["relative_ce"] == pytest.approx(3 / 6 - 2 / 6)


def test_mcnemar_exact_matches_the_binomial() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(12, 3) == pytest.approx(
        2 * sum(math.comb(15, i) for i in range(4)) / 2**15
    )


def test_mcnemar_for_large_samples_matches_exact_integers() -> None:
    for b, c in ((180, 240), (300, 500), (10, 700), (1000, 1100)):
        n, k = b + c, min(b, c)
        exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
        assert mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-9)


def test_bootstrap_is_seeded_and_sensible() -> None:
    values = np.array([1.0] * 30 + [0.0] * 70)
    a, b = bootstrap_ci(values, seed=3), bootstrap_ci(values, seed=3)
    assert a == b and a[0] < 0.3 < a[1] and a[0] > 0.18 and a[1] < 0.42
    # the seed drives the draws (intervals of 100 0/1 values move in steps of 0.01)
    assert len({bootstrap_ci(values, seed=s) for s in range(10)}) > 1
    assert bootstrap_ci(np.ones(10), seed=1) == (1.0, 1.0)


def test_bootstrap_draws_match_resampling_indices() -> None:
    """The multinomial shortcut has the distribution of resampling case indices: both
    intervals of a 0/1 and a -1/0/1 sample agree to within Monte Carlo error."""
    rng = np.random.default_rng(0)
    for values in (
        rng.integers(0, 2, 400).astype(float),
        rng.choice([-1.0, 0.0, 1.0], 300, p=[0.2, 0.6, 0.2]),
    ):
        idx = rng.integers(0, values.size, size=(20_000, values.size))
        lo, hi = np.quantile(values[idx].mean(axis=1), [0.025, 0.975])
        a, b = bootstrap_ci(values, seed=1, resamples=20_000)
        assert abs(a - lo) < 0.006 and abs(b - hi) < 0.006


def test_ece_of_a_perfectly_calibrated_set_is_zero() -> None:
    conf = np.array([0.25] * 4 + [0.75] * 4)
    hit = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    assert expected_calibration_error(conf, hit) == pytest.approx(0.0)


def test_intervals_can_be_limited_to_some_conditions_without_changing_them(run: RunData) -> None:
    full = compute_metrics(run)
    limited = compute_metrics(run, intervals={BLUR})
    interval_fields = ("top1_ci", "topk_ci", "delta_top1_ci", "delta_topk_ci")
    for a, b in zip(full, limited, strict=True):
        if a.condition == BLUR:
            assert a == b and a.top1_ci is not None
        else:
            assert all(getattr(b, f) is None for f in interval_fields)
            assert {k: v for k, v in a.as_dict().items() if k not in interval_fields} == {
                k: v for k, v in b.as_dict().items() if k not in interval_fields
            }
