"""Gaps between groups of *different* cases: benchmark versus bedside, light versus dark skin.

Paired statistics need the same cases under two conditions; a gap between datasets or skin
tones compares different cases, so it is unpaired: each group's cases are resampled on their
own for the interval, and a pooled two-proportion z-test gives the p-value. Every figure is
per model and condition, with seeded resampling, so the same run gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from derm_stress.metrics.core import BASELINE_ID, CI, FULL_ID
from derm_stress.metrics.stats import bootstrap_ci, two_proportion_p, unpaired_difference
from derm_stress.perturb.base import derive_seed
from derm_stress.run.results import RunData

UNPAIRED_METHOD = (
    "unpaired: each group's cases resampled on their own (2,000 seeded bootstrap resamples, "
    "95% percentile interval); p from a pooled two-proportion z-test"
)


@dataclass(frozen=True)
class GroupSummary:
    """One model's accuracy on one group of cases (a dataset, a skin tone)."""

    model: str
    group: str
    n: int  # cases scored at the baseline
    top1: float | None
    top1_ci: CI | None
    topk: float | None
    topk_ci: CI | None
    context_benefit: float | None  # top-1 with the full note minus image only, paired
    context_benefit_ci: CI | None
    perturbed_top1: float | None  # mean top-1 over the grid's perturbed image-only conditions


@dataclass(frozen=True)
class Gap:
    """Group ``other`` minus group ``reference`` for one model, metric and condition set."""

    model: str
    condition: str  # a condition id, or "family:<name>" for an operator family's conditions
    metric: str  # "top1" or "topk"
    reference: str
    other: str
    n_reference: int
    n_other: int
    reference_value: float
    other_value: float
    difference: float
    ci: CI
    p: float | None  # two-proportion test (None for a family's per-case means)


def _scored(run: RunData, mi: int, ci: int) -> np.ndarray:
    mask: np.ndarray = run.table.scored[mi, ci]
    return mask


def _correct(run: RunData, mi: int, ci: int, k: int) -> np.ndarray:
    rank = run.table.rank[mi, ci]
    hit: np.ndarray = (rank >= 1) & (rank <= k)
    return hit


def group_labels(run: RunData, by: str) -> np.ndarray:
    """Each case's value of the case attribute ``by`` as text ('' when unknown)."""
    return np.array(
        ["" if c.get(by) in (None, "") else str(c.get(by)) for c in run.cases], dtype=object
    )


def ordered_groups(labels: np.ndarray) -> list[str]:
    """Known groups: in order of first appearance, or numerically when all are numbers."""
    groups = list(dict.fromkeys(v for v in labels if v))
    try:
        return sorted(groups, key=float)
    except ValueError:
        return groups


def group_summaries(run: RunData, by: str) -> list[GroupSummary]:
    """Per model and group: baseline top-1 and top-k, context benefit, perturbed top-1."""
    t = run.table
    labels = group_labels(run, by)
    base = t.conditions.index(BASELINE_ID) if BASELINE_ID in t.conditions else None
    full = t.conditions.index(FULL_ID) if FULL_ID in t.conditions else None
    perturbed = [i for i, c in enumerate(run.conditions) if c.image_only and c.id != BASELINE_ID]
    out = []
    for mi, model in enumerate(t.models):
        for group in ordered_groups(labels):
            member = labels == group
            seed = derive_seed("gaps", run.seed, model, by, group)
            top1 = top1_ci = topk = topk_ci = benefit = benefit_ci = None
            n = 0
            if base is not None:
                scored = member & _scored(run, mi, base)
                n = int(scored.sum())
                if n:
                    hit1 = (t.rank[mi, base] == 1)[scored]
                    hitk = _correct(run, mi, base, run.top_k)[scored]
                    top1, top1_ci = float(hit1.mean()), bootstrap_ci(hit1, seed)
                    topk, topk_ci = float(hitk.mean()), bootstrap_ci(hitk, seed + 1)
                if full is not None:
                    both = scored & _scored(run, mi, full)
                    if both.any():
                        d = (t.rank[mi, full] == 1)[both].astype(np.int8) - (t.rank[mi, base] == 1)[
                            both
                        ].astype(np.int8)
                        benefit, benefit_ci = float(d.mean()), bootstrap_ci(d, seed + 2)
            masks = member & t.scored[mi, perturbed]  # (perturbed conditions, cases)
            hits = (t.rank[mi, perturbed] == 1) & masks
            rates = [float(h[m].mean()) for h, m in zip(hits, masks, strict=True) if m.any()]
            out.append(
                GroupSummary(
                    model,
                    group,
                    n,
                    top1,
                    top1_ci,
                    topk,
                    topk_ci,
                    benefit,
                    benefit_ci,
                    float(np.mean(rates)) if rates else None,
                )
            )
    return out


def _gap(
    run: RunData,
    model: str,
    condition: str,
    metric: str,
    groups: tuple[str, str],
    values: tuple[np.ndarray, np.ndarray],
    binary: bool,
) -> Gap:
    a, b = values
    seed = derive_seed("gap", run.seed, model, condition, metric, *groups)
    diff, ci = unpaired_difference(a, b, seed)
    p = two_proportion_p(int(a.sum()), a.size, int(b.sum()), b.size) if binary else None
    return Gap(
        model,
        condition,
        metric,
        groups[0],
        groups[1],
        int(a.size),
        int(b.size),
        float(a.mean()),
        float(b.mean()),
        diff,
        ci,
        p,
    )


def group_gaps(
    run: RunData,
    by: str,
    pairs: Sequence[tuple[str, str]] | None = None,
    conditions: Sequence[str] = (BASELINE_ID,),
) -> list[Gap]:
    """Top-1 and top-k gaps between groups of cases (``other`` minus ``reference``) for
    each model and condition. ``pairs`` defaults to the first group against each other one
    (datasets: the first one listed is the benchmark); groups without scored cases under a
    condition are skipped."""
    t = run.table
    labels = group_labels(run, by)
    groups = ordered_groups(labels)
    if pairs is None:
        pairs = [(groups[0], g) for g in groups[1:]] if groups else []
    out = []
    for mi, model in enumerate(t.models):
        for condition in conditions:
            if condition not in t.conditions:
                continue
            ci = t.conditions.index(condition)
            scored = _scored(run, mi, ci)
            for metric, k in (("top1", 1), ("topk", run.top_k)):
                hit = _correct(run, mi, ci, k)
                for ref, other in pairs:
                    a = hit[scored & (labels == ref)]
                    b = hit[scored & (labels == other)]
                    if a.size and b.size:
                        out.append(_gap(run, model, condition, metric, (ref, other), (a, b), True))
    return out


def extreme_groups(run: RunData, by: str) -> tuple[str, str] | None:
    """The lightest and darkest groups of a numeric skin-tone attribute (Fitzpatrick I-VI,
    Monk 1-10) present in the run, or None when fewer than two are present."""
    groups = ordered_groups(group_labels(run, by))
    try:
        numbers = sorted(groups, key=float)
    except ValueError:
        return None
    return (numbers[0], numbers[-1]) if len(numbers) >= 2 else None


def family_gaps(run: RunData, by: str, family_of: dict[str, str]) -> list[Gap]:
    """The lightest-versus-darkest gap in top-1 per image-operator family: each case's mean
    top-1 over the family's image-only conditions, compared between the two groups."""
    pair = extreme_groups(run, by)
    if pair is None:
        return []
    t = run.table
    labels = group_labels(run, by)
    families: dict[str, list[int]] = {}
    for ci, spec in enumerate(run.conditions):
        if not spec.image_only or spec.single_image_op is None:
            continue
        family = family_of.get(spec.image[0].name)
        if family is not None:
            families.setdefault(family, []).append(ci)
    out = []
    for mi, model in enumerate(t.models):
        for family, cis in families.items():
            scored = t.scored[mi, cis]  # (the family's conditions, cases)
            counted = scored.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_case = ((t.rank[mi, cis] == 1) & scored).sum(axis=0) / counted
            a = per_case[(labels == pair[0]) & (counted > 0)]
            b = per_case[(labels == pair[1]) & (counted > 0)]
            if a.size and b.size:
                out.append(_gap(run, model, f"family:{family}", "top1", pair, (a, b), False))
    return out
