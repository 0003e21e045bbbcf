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
FULL = "img=none|ctx=full"


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
    Misled: the referral's wrong diagnosis becomes top-1 for c1 and c2 (it was second with
    the full note); c4's full note already put it first, so c4 did not adopt it."""
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
    full = {**base, "c4": ("MEL", "SEK")}
    misled["c4"] = ("MEL", "SEK")
    wrong = {"c1": "NEV", "c2": "SCC", "c3": "MEL", "c4": "MEL", "c5": "BCC", "c6": "BCC"}
    conf = {"c1": 0.9, "c2": 0.8, "c3": 0.7, "c4": 0.6, "c5": 0.5, "c6": 0.4}
    rows = []
    for case, dx in truth.items():
        rows.append(_row(case, BASELINE_ID, dx, base[case], conf[case]))
        rows.append(_row(case, BLUR, dx, blur[case]))
        rows.append(_row(case, MISLED, dx, misled[case], applied=_referral(wrong[case])))
        rows.append(_row(case, FULL, dx, full[case]))
    manifest = {
        "seed": 0,
        "top_k": 2,
        "models": [{"name": "m"}],
        "conditions": [{"id": BASELINE_ID}, {"id": BLUR}, {"id": MISLED}, {"id": FULL}],
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
    base, blur, misled, _ = compute_metrics(run)
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
    # c1, c2: the planted diagnosis rose from second (full note) to first; c4 top-1 is the
    # planted MEL under both, which is not adoption; c3's MEL stays second
    assert misled.referral_adoption == pytest.approx(2 / 6)
    lo, hi = misled.referral_adoption_ci  # type: ignore[misc]
    assert 0.0 <= lo < 2 / 6 < hi <= 1.0
    # c1, c2 and c4 of the 4 right at baseline are wrong under the misleading referral
    assert misled.context_harm == pytest.approx(3 / 4)


def test_referral_adoption_counts_entering_the_differential_not_naming_it() -> None:
    """Planted diagnosis absent with the full note and present (third) under the referral:
    adopted; present at the same place in both: not adopted; case without a full-note
    result: left out."""
    rows = []
    for case, full, misled in (
        ("c1", ("NEV", "SEK"), ("NEV", "SEK", "MEL")),  # MEL entered: adopted
        ("c2", ("NEV", "MEL"), ("NEV", "MEL")),  # unchanged: not adopted
        ("c3", ("MEL", "NEV"), ("NEV", "MEL")),  # MEL fell: not adopted
    ):
        rows.append(_row(case, FULL, "NEV", full))
        rows.append(_row(case, MISLED, "NEV", misled, applied=_referral("MEL")))
    rows.append(_row("c4", MISLED, "NEV", ("MEL",), applied=_referral("MEL")))
    manifest = {
        "seed": 0,
        "top_k": 3,
        "models": [{"name": "m"}],
        "conditions": [{"id": BASELINE_ID}, {"id": FULL}, {"id": MISLED}],
        "cases": [{"id": f"c{i}", "diagnosis": "NEV"} for i in range(1, 5)],
    }
    misled = compute_metrics(RunData.from_rows(Path("."), manifest, rows))[2]
    assert misled.referral_adoption == pytest.approx(1 / 3)


def always_melanoma(probe: object) -> str:
    """A model that ignores the note: melanoma, whatever it is shown."""
    return "1. melanoma 2. nevus"


def test_a_model_that_ignores_notes_adopts_no_referral(tmp_path: Path) -> None:
    """Issue 16, item 7: always answering melanoma names every planted melanoma, but it
    adopts none of them (0, with a zero-width interval), while the flip rate is 0 too."""
    from derm_stress.run import load_config, load_run
    from derm_stress.run import run as run_grid

    config = tmp_path / "c.yaml"
    config.write_text(
        "image: [none, {op: defocus, severity: 3}]\n"
        "context: [image_only, full, {op: misleading_referral, severity: [1, 5]}]\n"
        "dataset: {limit: 60}\n"
        "models:\n  - {name: mel, adapter: callable,"
        " target: 'tests.test_metrics:always_melanoma'}\n"
    )
    run_grid(load_config(config), tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    planted = loaded.table.planted[loaded.table.planted >= 0]
    mel = loaded.table.answers.index("MEL")
    assert (planted == mel).any()  # some referrals plant melanoma, which it names at top-1
    misled = [m for m in compute_metrics(loaded) if "misleading_referral" in m.condition]
    assert len(misled) == 4  # two severities x (clean, defocused photo)
    for m in misled:
        assert m.referral_adoption == 0.0 and m.referral_adoption_ci == (0.0, 0.0)
        assert m.flip_rate == 0.0 and m.n == 60


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


def test_the_three_answers_by_hand(run: RunData) -> None:
    """Decay, context benefit and the authority curve on the six-case fixture."""
    from derm_stress.metrics.answers import authority, context_benefit, decay

    metrics = compute_metrics(run)
    (d,) = decay(run, metrics)
    # baseline right: c1-c4; blur right: c1, c2, c6
    assert d.relative_top1 == pytest.approx(3 / 4)
    assert d.mean_delta_top1 == pytest.approx(-1 / 6)
    lo, hi = d.relative_top1_ci  # type: ignore[misc]
    assert lo <= 3 / 4 <= hi
    (op,) = d.operators
    assert op.op == "motion_blur" and op.worst_severity == 3
    assert op.lowest_significant is None  # one case worse on net: not significant
    (clean,) = context_benefit(run)  # only the clean photo has both image-only and full
    assert clean.image == "none" and clean.benefit == pytest.approx(-1 / 6)  # c4 lost
    points, contrasts = authority(run, metrics)
    (point,) = points
    assert point.severity == 5 and point.adoption == pytest.approx(2 / 6)
    # misled right: c3 only (of c1-c4 right with the note, c5 and c6 wrong in both)
    assert point.delta_vs_note == pytest.approx((1 - 3) / 6)
    assert contrasts == []  # one severity: nothing to contrast


def test_hedged_against_authoritative_is_paired_per_case() -> None:
    from derm_stress.metrics.answers import authority

    hedged, confirmed = "img=none|ctx=misleading_referral@1", MISLED
    rows = []
    for i in range(10):
        case = f"c{i}"
        rows.append(_row(case, FULL, "NEV", ("NEV", "MEL")))
        rows.append(_row(case, hedged, "NEV", ("NEV", "MEL"), applied=_referral("MEL")))
        # the confirmed referral wins over the photo on 6 of 10 cases
        answer = ("MEL", "NEV") if i < 6 else ("NEV", "MEL")
        rows.append(_row(case, confirmed, "NEV", answer, applied=_referral("MEL")))
    manifest = {
        "seed": 0,
        "top_k": 3,
        "models": [{"name": "m"}],
        "conditions": [{"id": c} for c in (BASELINE_ID, FULL, hedged, confirmed)],
        "cases": [{"id": f"c{i}", "diagnosis": "NEV"} for i in range(10)],
    }
    data = RunData.from_rows(Path("."), manifest, rows)
    points, (contrast,) = authority(data, compute_metrics(data))
    assert [p.severity for p in points] == [1, 5]
    assert [p.adoption for p in points] == [0.0, pytest.approx(0.6)]
    assert contrast.delta_top1 == pytest.approx(-0.6) and contrast.n == 10
    assert contrast.mcnemar_p == pytest.approx(2 / 2**6)
    lo, hi = contrast.delta_top1_ci  # type: ignore[misc]
    assert lo <= -0.6 <= hi < 0


def test_subgroups_by_age_band_and_sex() -> None:
    from derm_stress.metrics import subgroup_metrics
    from derm_stress.metrics.core import case_value
    from derm_stress.schema import CaseRecord

    def case(**note: object) -> CaseRecord:
        return CaseRecord("c", "NEV", note=note)

    assert case_value(case(age=39.5), "age_band") == "<40"
    assert case_value(case(age=85), "age_band") == "80+"
    assert case_value(case(age=None), "age_band") is None
    assert case_value(case(sex="female"), "sex") == "female"
    ages = {"c0": 30, "c1": 45, "c2": 70, "c3": 72}
    rows = [_row(c, BASELINE_ID, "NEV", ("NEV",) if c != "c2" else ("MEL",)) for c in ages]
    manifest = {
        "seed": 0,
        "models": [{"name": "m"}],
        "conditions": [{"id": BASELINE_ID}],
        "cases": [{"id": c, "diagnosis": "NEV", "note": {"age": a}} for c, a in ages.items()],
    }
    groups = subgroup_metrics(RunData.from_rows(Path("."), manifest, rows), "age_band")
    assert list(groups) == ["<40", "40-59", "60-79"]
    assert groups["60-79"][0].n == 2 and groups["60-79"][0].top1 == pytest.approx(0.5)


def test_intervals_can_be_limited_to_some_conditions_without_changing_them(run: RunData) -> None:
    full = compute_metrics(run)
    limited = compute_metrics(run, intervals={BLUR})
    interval_fields = (
        "top1_ci",
        "topk_ci",
        "delta_top1_ci",
        "delta_topk_ci",
        "referral_adoption_ci",
        "topk_exact_ci",
        "topk_group_ci",
    )
    for a, b in zip(full, limited, strict=True):
        if a.condition == BLUR:
            assert a == b and a.top1_ci is not None
        else:
            assert all(getattr(b, f) is None for f in interval_fields)
            assert {k: v for k, v in a.as_dict().items() if k not in interval_fields} == {
                k: v for k, v in b.as_dict().items() if k not in interval_fields
            }
