"""Metrics: top-1 / top-k accuracy per model and condition, and the paired difference from the
clean image-only baseline with a seeded case-level bootstrap interval."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from derm_stress.perturb.base import derive_seed
from derm_stress.run.results import Row, RunData

BOOTSTRAP_RESAMPLES = 2000
BASELINE_ID = "img=none|ctx=image_only"


@dataclass(frozen=True)
class ConditionMetrics:
    """Accuracy of one model under one condition, and its change from the baseline.

    ``n`` counts scored rows (answered, parsed or not); ``delta_*`` are paired over the
    ``paired_n`` cases scored under both this condition and the baseline.
    """

    model: str
    condition: str
    n: int
    top1: float | None
    topk: float | None
    unparseable: int
    errors: int
    input_errors: int
    missing: int
    paired_n: int
    delta_top1: float | None
    delta_top1_ci: tuple[float, float] | None
    delta_topk: float | None
    delta_topk_ci: tuple[float, float] | None


def split_condition(condition_id: str) -> tuple[str, str]:
    """``img=...|ctx=...`` -> (image label, context label)."""
    image, _, context = condition_id.partition("|")
    return image.removeprefix("img="), context.removeprefix("ctx=")


def image_op_and_severity(image_label: str) -> tuple[str, int] | None:
    """``motion_blur@3`` -> ("motion_blur", 3); ``exposure[direction=darker]@2`` keeps its
    options in the name; ``none``, sequences and ``one_of`` choices -> None."""
    match = _SINGLE_OP.fullmatch(image_label)
    return (match.group(1), int(match.group(2))) if match else None


_SINGLE_OP = re.compile(r"([a-z0-9_]+(?:\[[^\]]*\])?)@(\d+)")


def paired_bootstrap_ci(
    diffs: np.ndarray, seed: int, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile interval of the mean of per-case differences, resampling cases."""
    if diffs.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, diffs.size, size=(resamples, diffs.size))
    means = diffs[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def _accuracy(rows: Sequence[Row], k: int) -> float | None:
    scored = [r for r in rows if r.scored]
    return sum(r.correct_at(k) for r in scored) / len(scored) if scored else None


def _delta(
    rows: dict[str, Row], base: dict[str, Row], k: int, seed: int
) -> tuple[int, float | None, tuple[float, float] | None]:
    cases = sorted(c for c in rows if c in base and rows[c].scored and base[c].scored)
    if not cases:
        return 0, None, None
    diffs = np.array([float(rows[c].correct_at(k)) - float(base[c].correct_at(k)) for c in cases])
    return len(cases), float(diffs.mean()), paired_bootstrap_ci(diffs, seed)


def compute_metrics(run: RunData) -> list[ConditionMetrics]:
    """Metrics for every (model, condition) of a run, in manifest order."""
    by: dict[tuple[str, str], dict[str, Row]] = defaultdict(dict)
    for row in run.rows:
        by[(row.model, row.condition)][row.case_id] = row
    k = run.top_k
    out = []
    for model in run.models:
        base = by.get((model, BASELINE_ID), {})
        for condition in (c["id"] for c in run.conditions):
            rows = by.get((model, condition), {})
            values = list(rows.values())
            seed = derive_seed("bootstrap", run.manifest["seed"], model, condition)
            paired_n, d1, ci1 = _delta(rows, base, 1, seed)
            _, dk, cik = _delta(rows, base, k, seed + 1)
            out.append(
                ConditionMetrics(
                    model=model,
                    condition=condition,
                    n=sum(r.scored for r in values),
                    top1=_accuracy(values, 1),
                    topk=_accuracy(values, k),
                    unparseable=sum(r.status == "unparseable" for r in values),
                    errors=sum(r.status == "error" for r in values),
                    input_errors=sum(r.status == "input_error" for r in values),
                    missing=sum(r.status == "missing" for r in values),
                    paired_n=paired_n,
                    delta_top1=d1,
                    delta_top1_ci=ci1,
                    delta_topk=dk,
                    delta_topk_ci=cik,
                )
            )
    return out
