"""Per (model, condition) metrics against the clean image-only baseline of the same model.

Accuracy counts rows the model answered (parsed or not; unparseable is wrong), at the run's
headline score level (``exact`` unless the config says ``group``); both levels are also
reported side by side (``top1_exact`` ... ``topk_group``). Differences,
flips, McNemar tests and context harm are paired over the cases scored under both the
condition and the baseline. Every interval is a seeded case-level bootstrap, so the same
run always gives the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from derm_stress.labels import TRIAGE_LEVELS
from derm_stress.metrics.definitions import Cell, per_condition_extras
from derm_stress.metrics.stats import (
    bootstrap_ci,
    exact_mean,
    expected_calibration_error,
    mcnemar_exact,
)
from derm_stress.perturb.base import derive_seed
from derm_stress.perturb.condition import BASELINE
from derm_stress.perturb.condition import BASELINE_ID as BASELINE_ID
from derm_stress.perturb.condition import FULL_ID as FULL_ID
from derm_stress.run.results import (
    ERROR,
    INPUT_ERROR,
    MISSING,
    RANK_DEPTH,
    SCORE_LEVELS,
    UNPARSEABLE,
    ResultTable,
    RunData,
)
from derm_stress.schema import Capability, CaseRecord, ConditionSpec

CI = tuple[float, float]


@dataclass(frozen=True)
class ConditionMetrics:
    """Everything measured for one model under one condition (None where not defined)."""

    model: str
    condition: str
    n: int
    top1: float | None
    top1_ci: CI | None
    topk: float | None
    topk_ci: CI | None
    unparseable: int
    errors: int
    input_errors: int
    missing: int
    paired_n: int
    delta_top1: float | None
    delta_top1_ci: CI | None
    delta_topk: float | None
    delta_topk_ci: CI | None
    mcnemar_p: float | None  # exact, on top-1 correctness against the baseline
    flip_rate: float | None  # share of paired cases whose top-1 answer changed
    relative_top1: float | None  # top-1 / baseline top-1
    context_harm: float | None  # right at the baseline, wrong here (corrupted notes only)
    # the planted diagnosis entered or rose in the differential, against the same case and
    # photo with the note but without the misleading operator (see ``referral_counterparts``)
    referral_adoption: float | None
    referral_adoption_ci: CI | None
    triage_sensitivity: float | None  # urgent/emergency cases triaged urgent or emergency
    triage_specificity: float | None  # other cases not triaged urgent or emergency
    under_triage: float | None  # triaged less urgently than the reference
    mean_confidence: float | None  # stated top-1 confidence
    ece: float | None
    mean_latency_s: float | None
    tokens: int | None
    cost_usd: float | None
    # both score levels, whatever the headline uses (top1/topk above are one of them)
    score_level: str = "exact"
    top1_exact: float | None = None
    topk_exact: float | None = None
    topk_exact_ci: CI | None = None
    top1_group: float | None = None
    topk_group: float | None = None
    topk_group_ci: CI | None = None
    # the metrics of ``derm_stress.metrics.definitions.PER_CONDITION``, by name
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)
    # the condition, structured (not a CSV column)
    spec: ConditionSpec = field(default_factory=lambda: BASELINE.spec, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        """Every column: the fixed metrics, then the extension metrics (``extra``)."""
        out: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_COLUMNS
        }
        out.update(self.extra)
        return out


_NOT_COLUMNS = ("extra", "spec")


def _share(mask: np.ndarray) -> float | None:
    """Mean of a boolean array (None when it is empty)."""
    return exact_mean(mask) if mask.size else None


def _mean_ci(values: np.ndarray, seed: int, interval: bool) -> tuple[float | None, CI | None]:
    """Mean of a boolean or integer array, with its bootstrap interval if ``interval``."""
    if not values.size:
        return None, None
    return exact_mean(values), bootstrap_ci(values, seed) if interval else None


def paired_difference(
    after: np.ndarray, before: np.ndarray, seed: int, interval: bool = True
) -> tuple[float | None, CI | None, np.ndarray]:
    """The paired difference ``after - before`` of two boolean arrays over the same cases:
    its mean, a seeded case-bootstrap interval (None without ``interval`` or cases), and the
    per-case differences (-1, 0, 1). Every paired figure (against the baseline here, between
    two runs in ``report.compare``) comes from this function."""
    d = after.astype(np.int8) - before.astype(np.int8)
    mean, ci = _mean_ci(d, seed, interval)
    return mean, ci, d


def mcnemar_of(differences: np.ndarray) -> float:
    """Exact McNemar test of paired per-case differences (-1, 0, 1) from ``paired_difference``."""
    return mcnemar_exact(int((differences == -1).sum()), int((differences == 1).sum()))


def _rank_of(ranked: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """1-based position of ``codes[n]`` in ``ranked[n]`` (RANK_DEPTH + 1 where absent)."""
    hit = (ranked == codes[:, None]) & (codes[:, None] >= 0)
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, RANK_DEPTH + 1)


def referral_adoption(
    t: ResultTable, mi: int, ci: int, reference: int | None, keep: np.ndarray
) -> np.ndarray:
    """Per case (where defined): whether the planted diagnosis entered or rose in model
    ``mi``'s differential under condition ``ci`` compared with the same case and photo
    under condition ``reference`` (the note without the misleading operator). A model that
    names the planted diagnosis whatever the note adopts nothing."""
    if reference is None:
        return np.zeros(0, bool)
    scored = t.scored
    planted = t.planted[mi, ci]
    cells = keep & scored[mi, ci] & scored[mi, reference] & (planted >= 0)
    codes = planted[cells].astype(np.int32)
    here = _rank_of(t.ranked[mi, ci][cells], codes)
    there = _rank_of(t.ranked[mi, reference][cells], codes)
    adopted: np.ndarray = here < there
    return adopted


def referral_counterparts(conditions: Sequence[ConditionSpec]) -> dict[int, int]:
    """Condition index -> the index of the same condition without its note operators that
    plant a diagnosis (capability ``plants_diagnosis``, such as a misleading referral), for
    conditions that have one in the grid."""
    index: dict[str, int] = {}
    for i, c in enumerate(conditions):
        index.setdefault(c.shape(), i)
    out: dict[int, int] = {}
    for i, c in enumerate(conditions):
        if any(Capability.PLANTS_DIAGNOSIS in op.capabilities for op in c.note):
            j = index.get(c.shape(drop=Capability.PLANTS_DIAGNOSIS))
            if j is not None:
                out[i] = j
    return out


def _condition_metrics(
    t: ResultTable,
    mi: int,
    ci: int,
    bi: int | None,
    keep: np.ndarray,
    k: int,
    reference_triage: np.ndarray,
    run_seed: int,
    spec: ConditionSpec,
    counterpart: int | None = None,
    intervals: bool = True,
) -> ConditionMetrics:
    model, condition = t.models[mi], t.conditions[ci]
    seed = derive_seed("metrics", run_seed, model, condition)
    status = t.status[mi, ci]
    scored = keep & t.scored[mi, ci]
    hit1 = (t.rank[mi, ci] == 1) & scored
    hitk = (t.rank[mi, ci] >= 1) & (t.rank[mi, ci] <= k) & scored
    top1, top1_ci = _mean_ci(hit1[scored], seed, intervals)
    topk, topk_ci = _mean_ci(hitk[scored], seed + 1, intervals)
    if bi is not None:
        paired = scored & keep & t.scored[mi, bi]
        base1, base_rank = t.rank[mi, bi] == 1, t.rank[mi, bi]
        basek = (base_rank >= 1) & (base_rank <= k)
    else:
        paired = np.zeros_like(scored)
        base1 = basek = paired
    delta_top1, delta_top1_ci, d1 = paired_difference(
        hit1[paired], base1[paired], seed + 2, intervals
    )
    delta_topk, delta_topk_ci, _ = paired_difference(
        hitk[paired], basek[paired], seed + 3, intervals
    )
    is_baseline = condition == BASELINE_ID
    mcnemar = None
    if paired.any() and not is_baseline:
        mcnemar = mcnemar_of(d1)
    flip = None
    if bi is not None and not is_baseline:
        flip = _share(t.top1[mi, ci][paired] != t.top1[mi, bi][paired])
    base_top1 = _share(base1[paired])
    this_top1 = _share(hit1[paired])
    relative = this_top1 / base_top1 if base_top1 and this_top1 is not None else None
    harm = None
    if spec.note_perturbed:  # a corrupted note
        harm = _share(~hit1[paired & base1])
    adoption, adoption_ci = _mean_ci(
        referral_adoption(t, mi, ci, counterpart, keep).astype(np.int8), seed + 4, intervals
    )
    levels: dict[str, tuple[float | None, CI | None, float | None]] = {}
    for level in SCORE_LEVELS:
        if level == t.score_level:
            levels[level] = (top1, topk_ci, topk)
            continue
        rank = t.ranks(level)[mi, ci]
        right1 = (rank == 1) & scored
        rightk = (rank >= 1) & (rank <= k) & scored
        # the headline's seed: a level's interval does not depend on which is the headline
        level_k, level_k_ci = _mean_ci(rightk[scored], seed + 1, intervals)
        levels[level] = (_share(right1[scored]), level_k_ci, level_k)
    # "urgent" in the sense of sensitivity: urgent or more (emergency); -1 is unknown
    urgent_level = TRIAGE_LEVELS.index("urgent")
    stated = t.triage[mi, ci]
    urgent = scored & (reference_triage >= urgent_level)
    other = scored & (reference_triage >= 0) & (reference_triage < urgent_level)
    known = scored & (reference_triage >= 0)
    confidence = t.confidence[mi, ci]
    confident = scored & ~np.isnan(confidence)
    mean_conf = ece = None
    if confident.any():
        conf = confidence[confident].astype(float)
        mean_conf = float(conf.mean())
        ece = expected_calibration_error(conf, hit1[confident].astype(float))
    answered = keep & (status != MISSING)
    latency = t.latency[mi, ci][answered]
    latency = latency[~np.isnan(latency)]
    tokens = t.tokens[mi, ci][answered]
    tokens = tokens[tokens >= 0]
    cost = t.cost[mi, ci][answered]
    cost = cost[~np.isnan(cost)]
    extra = per_condition_extras(
        Cell(t, mi, ci, bi, spec, keep, scored, paired, k, seed, intervals)
    )
    return ConditionMetrics(
        model=model,
        condition=condition,
        n=int(scored.sum()),
        top1=top1,
        top1_ci=top1_ci,
        topk=topk,
        topk_ci=topk_ci,
        unparseable=int((keep & (status == UNPARSEABLE)).sum()),
        errors=int((keep & (status == ERROR)).sum()),
        input_errors=int((keep & (status == INPUT_ERROR)).sum()),
        missing=int((keep & (status == MISSING)).sum()),
        paired_n=int(paired.sum()),
        delta_top1=delta_top1,
        delta_top1_ci=delta_top1_ci,
        delta_topk=delta_topk,
        delta_topk_ci=delta_topk_ci,
        mcnemar_p=mcnemar,
        flip_rate=flip,
        relative_top1=relative,
        context_harm=harm,
        referral_adoption=adoption,
        referral_adoption_ci=adoption_ci,
        triage_sensitivity=_share(stated[urgent] >= urgent_level),
        triage_specificity=_share(stated[other] < urgent_level),
        under_triage=_share(stated[known] < reference_triage[known]),
        mean_confidence=mean_conf,
        ece=ece,
        mean_latency_s=float(latency.mean()) if latency.size else None,
        tokens=int(tokens.sum()) if tokens.size else None,
        cost_usd=float(cost.sum()) if cost.size else None,
        score_level=t.score_level,
        top1_exact=levels["exact"][0],
        topk_exact=levels["exact"][2],
        topk_exact_ci=levels["exact"][1],
        top1_group=levels["group"][0],
        topk_group=levels["group"][2],
        topk_group_ci=levels["group"][1],
        extra=extra,
        spec=spec,
    )


def reference_triage(run: RunData) -> np.ndarray:
    """Each case's reference triage as an index into ``TRIAGE_LEVELS`` (-1: unknown)."""
    levels: dict[str | None, int] = {level: i for i, level in enumerate(TRIAGE_LEVELS)}
    return np.array([levels.get(c.triage, -1) for c in run.cases], dtype=np.int8)


def compute_metrics(
    run: RunData, keep: np.ndarray | None = None, intervals: Container[str] | None = None
) -> list[ConditionMetrics]:
    """Metrics for every (model, condition) of a run, in manifest order; ``keep`` (a
    boolean array over the run's cases) restricts them to a subgroup. ``intervals`` limits
    the bootstrap intervals (most of the cost) to those conditions; the others get None
    (default: intervals everywhere). Every interval computed is the same either way."""
    t = run.table
    keep = np.ones(len(t.cases), bool) if keep is None else keep
    triage = reference_triage(run)
    base = t.conditions.index(BASELINE_ID) if BASELINE_ID in t.conditions else None
    seed = run.seed
    specs = run.conditions
    counterparts = referral_counterparts(specs)
    return [
        _condition_metrics(
            t,
            mi,
            ci,
            base,
            keep,
            run.top_k,
            triage,
            seed,
            specs[ci],
            counterparts.get(ci),
            intervals is None or c in intervals,
        )
        for mi in range(len(t.models))
        for ci, c in enumerate(t.conditions)
    ]


AGE_BANDS = ((0, 40, "<40"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 1000, "80+"))


def case_value(case: CaseRecord, by: str) -> str | None:
    """A case record's value for a subgroup attribute: a recorded field (``diagnosis``,
    ``fitzpatrick``, ``body_site``), or from its note ``sex`` and ``age_band``
    (<40, 40-59, 60-79, 80+); None when unknown."""
    note = case.note
    if by in ("sex", "age_band"):
        if by == "sex":
            return None if note.get("sex") is None else str(note["sex"])
        age = note.get("age")
        if not isinstance(age, int | float):
            return None
        return next(name for low, high, name in AGE_BANDS if low <= age < high)
    value = case.get(by)
    return None if value is None else str(value)


def subgroup_metrics(
    run: RunData, by: str, intervals: Container[str] | None = None
) -> dict[str, list[ConditionMetrics]]:
    """Metrics per value of a case attribute (see ``case_value``) for the cases where it
    is known (``intervals``: see ``compute_metrics``)."""
    values = [case_value(c, by) for c in run.cases]
    order = {name: i for i, (_, _, name) in enumerate(AGE_BANDS)}
    groups = sorted({v for v in values if v is not None}, key=lambda g: (order.get(g, -1), g))
    column = np.array(values, dtype=object)
    return {g: compute_metrics(run, keep=column == g, intervals=intervals) for g in groups}


def with_intervals(
    run: RunData,
    by: str,
    group: str,
    metrics: Sequence[ConditionMetrics],
    cells: Container[tuple[str, str]],
) -> list[ConditionMetrics]:
    """``metrics`` of subgroup ``group`` of attribute ``by`` (from ``subgroup_metrics``),
    with the (model, condition) ``cells`` recomputed with their bootstrap intervals (the
    same numbers ``subgroup_metrics`` gives without ``intervals``)."""
    t = run.table
    keep = np.array([case_value(c, by) for c in run.cases], dtype=object) == group
    triage = reference_triage(run)
    base = t.conditions.index(BASELINE_ID) if BASELINE_ID in t.conditions else None
    seed = run.seed
    specs = run.conditions
    counterparts = referral_counterparts(specs)
    out = []
    for m in metrics:
        if (m.model, m.condition) in cells:
            mi, ci = t.models.index(m.model), t.conditions.index(m.condition)
            m = _condition_metrics(
                t, mi, ci, base, keep, run.top_k, triage, seed, specs[ci], counterparts.get(ci)
            )
        out.append(m)
    return out


THRESHOLDS = tuple(i / 10 for i in range(10))


def selective_accuracy(
    run: RunData, model: str, conditions: Sequence[str], thresholds: Sequence[float] = THRESHOLDS
) -> list[tuple[float, float, float | None]]:
    """(threshold, coverage, top-1 accuracy among covered) over a model's answers under
    ``conditions``, keeping only answers whose stated top-1 confidence is at least the
    threshold (answers without one count as 0)."""
    t = run.table
    mi = t.models.index(model)
    cis = [t.conditions.index(c) for c in conditions]
    scored = t.scored[mi, cis]
    confidence = np.nan_to_num(t.confidence[mi, cis][scored], nan=0.0)
    hit = (t.rank[mi, cis] == 1)[scored]
    out = []
    for threshold in thresholds:
        kept = confidence >= threshold
        coverage = float(kept.mean()) if kept.size else 0.0
        out.append((threshold, coverage, _share(hit[kept])))
    return out


def corruption_errors(
    metrics: Sequence[ConditionMetrics], family_of: Callable[[str], str | None]
) -> dict[tuple[str, str], dict[str, float]]:
    """ImageNet-C style, per (model, operator family), image-only conditions: the mean
    top-1 error over the family's operators and severities (``ce``), and the mean increase
    over the baseline error (``relative_ce``)."""
    base = {m.model: m for m in metrics if m.condition == BASELINE_ID}
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m in metrics:
        spec = m.spec
        if not spec.image_only or spec.single_image_op is None or m.top1 is None:
            continue
        family = family_of(spec.image[0].name)
        if family is not None:
            grouped[(m.model, family)].append(1.0 - m.top1)
    out = {}
    for (model, family), errors in grouped.items():
        base_error = 1.0 - (base[model].top1 or 0.0) if model in base else float("nan")
        out[(model, family)] = {
            "ce": float(np.mean(errors)),
            "relative_ce": float(np.mean(errors) - base_error),
            "conditions": float(len(errors)),
        }
    return out
