"""Per (model, condition) metrics against the clean image-only baseline of the same model.

Accuracy counts rows the model answered (parsed or not; unparseable is wrong). Differences,
flips, McNemar tests and context harm are paired over the cases scored under both the
condition and the baseline. Every interval is a seeded case-level bootstrap, so the same
run always gives the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from derm_stress.labels import TRIAGE_LEVELS
from derm_stress.metrics.stats import bootstrap_ci, expected_calibration_error, mcnemar_exact
from derm_stress.perturb.base import derive_seed
from derm_stress.perturb.condition import image_op_and_severity as image_op_and_severity
from derm_stress.run.results import Row, RunData

BASELINE_ID = "img=none|ctx=image_only"
FULL_ID = "img=none|ctx=full"
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
    referral_adoption: float | None  # top-1 = the misleading referral's diagnosis
    triage_sensitivity: float | None  # urgent cases triaged urgent
    triage_specificity: float | None  # non-urgent cases not triaged urgent
    under_triage: float | None  # triaged less urgently than the reference
    mean_confidence: float | None  # stated top-1 confidence
    ece: float | None
    mean_latency_s: float | None
    tokens: int | None
    cost_usd: float | None

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def split_condition(condition_id: str) -> tuple[str, str]:
    """``img=...|ctx=...`` -> (image label, context label)."""
    image, _, context = condition_id.partition("|")
    return image.removeprefix("img="), context.removeprefix("ctx=")


def _share(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _triage_level(row: Row) -> int:
    return TRIAGE_LEVELS.index(row.triage) if row.triage in TRIAGE_LEVELS else -1


def _mean_ci(values: list[float], seed: int) -> tuple[float | None, CI | None]:
    if not values:
        return None, None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), bootstrap_ci(arr, seed)


def _condition_metrics(
    model: str,
    condition: str,
    rows: dict[str, Row],
    base: dict[str, Row],
    k: int,
    diagnoses: dict[str, str],
    triage_of: dict[str, str],
    run_seed: int,
) -> ConditionMetrics:
    seed = derive_seed("metrics", run_seed, model, condition)
    values = list(rows.values())
    scored = [r for r in values if r.scored]
    top1, top1_ci = _mean_ci([float(r.correct_at(1)) for r in scored], seed)
    topk, topk_ci = _mean_ci([float(r.correct_at(k)) for r in scored], seed + 1)
    paired = sorted(c for c in rows if c in base and rows[c].scored and base[c].scored)
    d1 = [float(rows[c].correct_at(1)) - float(base[c].correct_at(1)) for c in paired]
    dk = [float(rows[c].correct_at(k)) - float(base[c].correct_at(k)) for c in paired]
    delta_top1, delta_top1_ci = _mean_ci(d1, seed + 2)
    delta_topk, delta_topk_ci = _mean_ci(dk, seed + 3)
    is_baseline = condition == BASELINE_ID
    mcnemar = None
    if paired and not is_baseline:
        b = sum(base[c].correct_at(1) and not rows[c].correct_at(1) for c in paired)
        c_ = sum(rows[c].correct_at(1) and not base[c].correct_at(1) for c in paired)
        mcnemar = mcnemar_exact(b, c_)
    top = {c: (rows[c].differential[:1] or ("",))[0] for c in paired}
    flip = _share([top[c] != (base[c].differential[:1] or ("",))[0] for c in paired])
    base_top1 = _share([base[c].correct_at(1) for c in paired])
    this_top1 = _share([rows[c].correct_at(1) for c in paired])
    relative = this_top1 / base_top1 if base_top1 and this_top1 is not None else None
    _, context = split_condition(condition)
    harm = None
    if context not in ("image_only", "full"):
        right_at_base = [c for c in paired if base[c].correct_at(1)]
        harm = _share([not rows[c].correct_at(1) for c in right_at_base])
    adoption = None
    if "misleading_referral" in context:
        adopted = []
        for r in scored:
            wrong = next(
                (
                    a.params.get("diagnosis")
                    for a in (r.result.applied if r.result else ())
                    if a.op == "misleading_referral"
                ),
                None,
            )
            if wrong is not None:
                adopted.append(bool(r.differential) and r.differential[0] == wrong)
        adoption = _share(adopted)
    urgent = [r for r in scored if triage_of.get(r.case_id) == "urgent"]
    other = [r for r in scored if triage_of.get(r.case_id) != "urgent"]
    sensitivity = _share([r.triage == "urgent" for r in urgent])
    specificity = _share([r.triage != "urgent" for r in other])
    under = _share(
        [
            _triage_level(r) < TRIAGE_LEVELS.index(triage_of[r.case_id])
            for r in scored
            if r.case_id in triage_of
        ]
    )
    confident = [
        (r.confidences[0], r.correct_at(1))
        for r in scored
        if r.confidences and r.confidences[0] is not None
    ]
    mean_conf = ece = None
    if confident:
        conf = np.array([c for c, _ in confident], dtype=float)
        hit = np.array([h for _, h in confident], dtype=float)
        mean_conf, ece = float(conf.mean()), expected_calibration_error(conf, hit)
    answers = [r.result.answer for r in values if r.result is not None]
    latencies = [a.latency_s for a in answers if a.latency_s is not None]
    token_counts = [
        (a.prompt_tokens or 0) + (a.completion_tokens or 0)
        for a in answers
        if a.prompt_tokens is not None or a.completion_tokens is not None
    ]
    costs = [a.cost_usd for a in answers if a.cost_usd is not None]
    return ConditionMetrics(
        model=model,
        condition=condition,
        n=len(scored),
        top1=top1,
        top1_ci=top1_ci,
        topk=topk,
        topk_ci=topk_ci,
        unparseable=sum(r.status == "unparseable" for r in values),
        errors=sum(r.status == "error" for r in values),
        input_errors=sum(r.status == "input_error" for r in values),
        missing=sum(r.status == "missing" for r in values),
        paired_n=len(paired),
        delta_top1=delta_top1,
        delta_top1_ci=delta_top1_ci,
        delta_topk=delta_topk,
        delta_topk_ci=delta_topk_ci,
        mcnemar_p=mcnemar,
        flip_rate=None if is_baseline else flip,
        relative_top1=relative,
        context_harm=harm,
        referral_adoption=adoption,
        triage_sensitivity=sensitivity,
        triage_specificity=specificity,
        under_triage=under,
        mean_confidence=mean_conf,
        ece=ece,
        mean_latency_s=float(np.mean(latencies)) if latencies else None,
        tokens=sum(token_counts) if token_counts else None,
        cost_usd=float(sum(costs)) if costs else None,
    )


def compute_metrics(
    run: RunData, where: Callable[[Row], bool] | None = None
) -> list[ConditionMetrics]:
    """Metrics for every (model, condition) of a run, in manifest order; ``where`` keeps a
    subset of cases (a subgroup)."""
    by: dict[tuple[str, str], dict[str, Row]] = defaultdict(dict)
    for row in run.rows:
        if where is None or where(row):
            by[(row.model, row.condition)][row.case_id] = row
    cases = run.manifest.get("cases", [])
    diagnoses = {c["id"]: c["diagnosis"] for c in cases}
    triage_of = {c["id"]: c["triage"] for c in cases}
    out = []
    for model in run.models:
        base = by.get((model, BASELINE_ID), {})
        for condition in (c["id"] for c in run.conditions):
            out.append(
                _condition_metrics(
                    model,
                    condition,
                    by.get((model, condition), {}),
                    base,
                    run.top_k,
                    diagnoses,
                    triage_of,
                    int(run.manifest["seed"]),
                )
            )
    return out


def subgroup_metrics(run: RunData, by: str) -> dict[str, list[ConditionMetrics]]:
    """Metrics per value of a case attribute (``diagnosis``, ``fitzpatrick``,
    ``body_site``) for the cases where it is known."""
    cases = {c["id"]: c for c in run.manifest.get("cases", [])}
    groups = sorted({str(c.get(by)) for c in cases.values() if c.get(by) is not None})

    def member(group: str) -> Callable[[Row], bool]:
        return lambda row: str(cases.get(row.case_id, {}).get(by)) == group

    return {g: compute_metrics(run, where=member(g)) for g in groups}


THRESHOLDS = tuple(i / 10 for i in range(10))


def selective_accuracy(
    rows: Sequence[Row], thresholds: Sequence[float] = THRESHOLDS
) -> list[tuple[float, float, float | None]]:
    """(threshold, coverage, top-1 accuracy among covered) keeping only answers whose
    stated top-1 confidence is at least the threshold (answers without one count as 0)."""
    scored = [r for r in rows if r.scored]
    out = []
    for t in thresholds:
        kept = [
            r
            for r in scored
            if (r.confidences[0] if r.confidences and r.confidences[0] is not None else 0.0) >= t
        ]
        out.append(
            (t, len(kept) / len(scored) if scored else 0.0, _share([r.correct_at(1) for r in kept]))
        )
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
        image, context = split_condition(m.condition)
        parsed = image_op_and_severity(image)
        if context != "image_only" or parsed is None or m.top1 is None:
            continue
        family = family_of(parsed[0].split("[")[0])
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
