"""The report's three answers, per model, each with a seeded case-bootstrap interval:

- decay: how fast accuracy falls as photos get worse (mean relative accuracy over the image
  grid, the lowest severity at which an operator's accuracy is significantly below the
  baseline, operators ranked by harm);
- context: how much the note helps on clean photos and on degraded ones (context x image
  interaction: does the note rescue a blurred photo?);
- wrong context: a misleading referral by its authority (hedged to confirmed), the paired
  difference between the most and the least authoritative, and adoption by authority.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from derm_stress.metrics.core import (
    BASELINE_ID,
    CI,
    ConditionMetrics,
    referral_adoption,
    referral_counterparts,
)
from derm_stress.metrics.stats import bootstrap_ci, mcnemar_exact
from derm_stress.perturb.base import derive_seed
from derm_stress.run.results import RunData
from derm_stress.schema import Capability

RESAMPLES = 1000
DEGRADED = "every degraded photo"  # the image label of pooled context benefits


def _ratio_ci(num: np.ndarray, den: np.ndarray, seed: int) -> CI | None:
    """Percentile interval of sum(num) / sum(den) over a case bootstrap (chunks of 100
    resamples, so memory stays at 100 x cases)."""
    n = num.size
    if n == 0 or den.sum() == 0:
        return None
    rng = np.random.Generator(np.random.PCG64(seed))
    ratios = []
    for _ in range(RESAMPLES // 100):
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=100).astype(float)
        d = counts @ den
        ratios.append(np.divide(counts @ num, d, out=np.full(100, np.nan), where=d > 0))
    values = np.concatenate(ratios)
    values = values[~np.isnan(values)]
    return (float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975)))


@dataclass(frozen=True)
class OperatorHarm:
    op: str
    mean_delta_top1: float  # mean over its severities, image only
    lowest_significant: int | None  # lowest severity whose Δ top-1 interval is below 0
    worst_severity: int
    worst_delta_top1: float


@dataclass(frozen=True)
class Decay:
    """Robustness of one model to the image grid (image-only conditions)."""

    model: str
    conditions: int
    relative_top1: float | None  # mean top-1 over the grid / baseline top-1, paired cases
    relative_top1_ci: CI | None
    mean_delta_top1: float | None
    mean_delta_top1_ci: CI | None
    lowest_significant: int | None  # over every operator
    operators: tuple[OperatorHarm, ...]  # most harmful first


def decay(run: RunData, metrics: Sequence[ConditionMetrics]) -> list[Decay]:
    t = run.table
    out: list[Decay] = []
    if BASELINE_ID not in t.conditions:
        return out
    bi = t.conditions.index(BASELINE_ID)
    for mi, model in enumerate(t.models):
        grid = []
        per_op: dict[str, list[ConditionMetrics]] = defaultdict(list)
        for m in metrics:
            parsed = m.spec.single_image_op
            if m.model == model and m.spec.image_only and parsed is not None:
                grid.append(t.conditions.index(m.condition))
                per_op[parsed[0]].append(m)
        if not grid:
            continue
        scored = t.scored[mi]
        paired = scored[bi] & scored[grid].all(axis=0)
        hit = t.rank[mi] == 1
        grid_hits = hit[grid][:, paired].mean(axis=0)  # per case, share of the grid right
        base_hits = hit[bi][paired].astype(float)
        seed = derive_seed("decay", run.seed, model)
        relative = relative_ci = None
        if base_hits.sum() > 0:
            relative = float(grid_hits.sum() / base_hits.sum())
            relative_ci = _ratio_ci(grid_hits, base_hits, seed)
        diffs = grid_hits - base_hits
        mean_delta = float(diffs.mean()) if diffs.size else None
        mean_delta_ci = bootstrap_ci(diffs, seed + 1) if diffs.size else None
        harms = []
        for op, ms in per_op.items():
            deltas = [(m.spec.single_image_op, m) for m in ms]
            rows = sorted(
                (p[1], m) for p, m in deltas if p is not None and m.delta_top1 is not None
            )
            if not rows:
                continue
            significant = [s for s, m in rows if m.delta_top1_ci and m.delta_top1_ci[1] < 0]
            worst_s, worst = min(rows, key=lambda r: r[1].delta_top1 or 0.0)
            harms.append(
                OperatorHarm(
                    op,
                    float(np.mean([m.delta_top1 or 0.0 for _, m in rows])),
                    min(significant) if significant else None,
                    worst_s,
                    worst.delta_top1 or 0.0,
                )
            )
        harms.sort(key=lambda h: (h.mean_delta_top1, h.op))
        lows = [h.lowest_significant for h in harms if h.lowest_significant is not None]
        out.append(
            Decay(
                model,
                len(grid),
                relative,
                relative_ci,
                mean_delta,
                mean_delta_ci,
                min(lows) if lows else None,
                tuple(harms),
            )
        )
    return out


@dataclass(frozen=True)
class ContextBenefit:
    """What the full note adds on one photo condition (paired on the same photo)."""

    model: str
    image: str  # image label: none, or an operator at a severity
    n: int
    benefit: float | None  # top-1 with the note - top-1 image only, same photos
    benefit_ci: CI | None
    interaction: float | None  # benefit here - benefit on the clean photo, same cases
    interaction_ci: CI | None


def context_benefit(run: RunData) -> list[ContextBenefit]:
    t = run.table
    # per photo (image label): its image-only condition and its note-as-given condition
    image_only: dict[str, int] = {}
    with_note: dict[str, int] = {}
    for i, spec in enumerate(run.conditions):
        if spec.image_only:
            image_only.setdefault(spec.image_label, i)
        elif not spec.note:
            with_note.setdefault(spec.image_label, i)
    images = list(dict.fromkeys(spec.image_label for spec in run.conditions))
    out = []
    for mi, model in enumerate(t.models):
        scored, hit = t.scored[mi], (t.rank[mi] == 1).astype(np.int8)
        clean = (image_only.get("none"), with_note.get("none"))
        pooled: list[np.ndarray] = []  # per degraded photo condition: gain, NaN if unpaired
        for image in images:
            io, full = image_only.get(image), with_note.get(image)
            if io is None or full is None:
                continue
            paired = scored[io] & scored[full]
            gain = hit[full] - hit[io]
            seed = derive_seed("context", run.seed, model, image)
            values = gain[paired]
            if image != "none":
                pooled.append(np.where(paired, gain, np.nan))
            inter = inter_ci = None
            if image != "none" and clean[0] is not None and clean[1] is not None:
                both = paired & scored[clean[0]] & scored[clean[1]]
                extra = (gain - (hit[clean[1]] - hit[clean[0]]))[both]
                if extra.size:
                    inter, inter_ci = float(extra.mean()), bootstrap_ci(extra, seed + 1)
            out.append(
                ContextBenefit(
                    model,
                    image,
                    int(paired.sum()),
                    float(values.mean()) if values.size else None,
                    bootstrap_ci(values, seed) if values.size else None,
                    inter,
                    inter_ci,
                )
            )
        if pooled:  # every degraded photo together: per case, its mean gain
            stack = np.vstack(pooled)
            known = ~np.isnan(stack).all(axis=0)
            per_case = np.nanmean(stack[:, known], axis=0) if known.any() else np.zeros(0)
            seed = derive_seed("context", run.seed, model, "degraded")
            out.append(
                ContextBenefit(
                    model,
                    DEGRADED,
                    int(known.sum()),
                    float(per_case.mean()) if per_case.size else None,
                    bootstrap_ci(per_case, seed) if per_case.size else None,
                    None,
                    None,
                )
            )
    return out


@dataclass(frozen=True)
class AuthorityPoint:
    """A misleading referral at one authority (severity), clean photo, one model."""

    model: str
    condition: str
    severity: int
    n: int
    top1: float | None
    top1_ci: CI | None
    delta_vs_note: float | None  # top-1 here - top-1 with the note alone, same cases
    delta_vs_note_ci: CI | None
    adoption: float | None
    adoption_ci: CI | None


@dataclass(frozen=True)
class AuthorityContrast:
    """Most against least authoritative misleading referral, paired per case."""

    model: str
    hedged: str
    authoritative: str
    n: int
    delta_top1: float | None  # authoritative - hedged
    delta_top1_ci: CI | None
    mcnemar_p: float | None


def authority(
    run: RunData, metrics: Sequence[ConditionMetrics]
) -> tuple[list[AuthorityPoint], list[AuthorityContrast]]:
    """The authority curve on clean photos: each misleading referral severity, and the
    paired difference between the most and the least authoritative."""
    t = run.table
    counterparts = referral_counterparts(run.conditions)
    levels: list[tuple[int, int, int]] = []  # (severity, condition, counterpart)
    for ci, cond in enumerate(run.conditions):
        if ci not in counterparts or not cond.clean_image:
            continue
        planting = [n for n in cond.note if Capability.PLANTS_DIAGNOSIS in n.capabilities]
        if len(cond.note) == 1 and planting:  # the referral alone on the full note
            levels.append((planting[0].severity, ci, counterparts[ci]))
    levels.sort()
    points, contrasts = [], []
    keep = np.ones(len(t.cases), bool)
    seed0 = run.seed
    by_cell = {(m.model, m.condition): m for m in metrics}
    for mi, model in enumerate(t.models):
        scored, hit = t.scored[mi], (t.rank[mi] == 1).astype(np.int8)
        for severity, ci, ref in levels:
            m = by_cell.get((model, t.conditions[ci]))
            paired = scored[ci] & scored[ref]
            d = (hit[ci] - hit[ref])[paired]
            seed = derive_seed("authority", seed0, model, t.conditions[ci])
            adopted = referral_adoption(t, mi, ci, ref, keep).astype(np.int8)
            points.append(
                AuthorityPoint(
                    model,
                    t.conditions[ci],
                    severity,
                    int(paired.sum()),
                    m.top1 if m else None,
                    m.top1_ci if m else None,
                    float(d.mean()) if d.size else None,
                    bootstrap_ci(d, seed) if d.size else None,
                    float(adopted.mean()) if adopted.size else None,
                    bootstrap_ci(adopted, seed + 1) if adopted.size else None,
                )
            )
        if len(levels) >= 2 and levels[0][0] != levels[-1][0]:
            low, high = levels[0][1], levels[-1][1]
            paired = scored[low] & scored[high]
            d = (hit[high] - hit[low])[paired]
            seed = derive_seed("authority-contrast", seed0, model)
            contrasts.append(
                AuthorityContrast(
                    model,
                    t.conditions[low],
                    t.conditions[high],
                    int(paired.sum()),
                    float(d.mean()) if d.size else None,
                    bootstrap_ci(d, seed) if d.size else None,
                    mcnemar_exact(int((d == -1).sum()), int((d == 1).sum())) if d.size else None,
                )
            )
    return points, contrasts
