"""The report's three answers, as HTML: the headline (one row per model for each question)
and the sections behind it (operators ranked by harm, context on degraded photos, the
authority curve)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import EllipsisType

from derm_stress.metrics import BASELINE_ID, FULL_ID, ConditionMetrics
from derm_stress.metrics.answers import (
    DEGRADED,
    AuthorityContrast,
    AuthorityPoint,
    ContextBenefit,
    Decay,
    authority,
    context_benefit,
    decay,
)
from derm_stress.report.format import delta, esc, pct, pvalue
from derm_stress.report.plots import authority_chart, interval_chart
from derm_stress.run.results import RunData


@dataclass(frozen=True)
class Answers:
    decay: list[Decay]
    context: list[ContextBenefit]
    authority: list[AuthorityPoint]
    contrasts: list[AuthorityContrast]


def compute_answers(run: RunData, metrics: Sequence[ConditionMetrics]) -> Answers:
    points, contrasts = authority(run, metrics)
    return Answers(decay(run, metrics), context_benefit(run), points, contrasts)


def _tr(models: Sequence[str], model: str) -> str:
    return f"<tr data-m={list(models).index(model)}>" if model in models else "<tr>"


def _find(metrics: Sequence[ConditionMetrics], model: str, cond: str) -> ConditionMetrics | None:
    return next((m for m in metrics if m.model == model and m.condition == cond), None)


def _corrupted_note(m: ConditionMetrics) -> bool:
    """A corrupted note on a clean photo."""
    return m.spec.clean_image and m.spec.note_perturbed


def headline(run: RunData, metrics: Sequence[ConditionMetrics], answers: Answers) -> str:
    """Three small tables, one row per model: decay, context, wrong context."""
    models, k = run.models, run.top_k
    decay_rows, context_rows, wrong_rows = [], [], []
    for model in models:
        base, full = _find(metrics, model, BASELINE_ID), _find(metrics, model, FULL_ID)
        d = next((x for x in answers.decay if x.model == model), None)
        worst_op = d.operators[0] if d and d.operators else None
        decay_rows.append(
            f"{_tr(models, model)}<td class=l>{esc(model)}</td>"
            f"<td>{pct(base.top1 if base else None, base.top1_ci if base else None)}</td>"
            f"<td>{pct(base.topk if base else None, base.topk_ci if base else None)}</td>"
            f"<td>{pct(d.relative_top1, d.relative_top1_ci) if d else '–'}</td>"
            f"<td>{delta(d.mean_delta_top1, d.mean_delta_top1_ci) if d else '–'}</td>"
            f"<td>{(d.lowest_significant or 'none') if d else '–'}</td>"
            f"<td class=l>{esc(worst_op.op) if worst_op else '–'}"
            f"{f' ({100 * worst_op.mean_delta_top1:+.1f} pp)' if worst_op else ''}</td></tr>"
        )
        degraded = next(
            (c for c in answers.context if c.model == model and c.image == DEGRADED), None
        )
        rescue = max(
            (
                c
                for c in answers.context
                if c.model == model and c.image not in ("none", DEGRADED) and (c.benefit or 0) > 0
            ),
            key=lambda c: c.benefit or 0.0,
            default=None,
        )
        context_rows.append(
            f"{_tr(models, model)}<td class=l>{esc(model)}</td>"
            f"<td>{delta(full.delta_top1, full.delta_top1_ci) if full else '–'}</td>"
            f"<td>{delta(degraded.benefit, degraded.benefit_ci) if degraded else '–'}</td>"
            f"<td class=l>{esc(rescue.image) if rescue else 'none (no benefit)'}</td>"
            f"<td>{delta(rescue.benefit, rescue.benefit_ci) if rescue else '–'}</td></tr>"
        )
        mine = [a for a in answers.authority if a.model == model]
        hedged, confirmed = (mine[0], mine[-1]) if mine else (None, None)
        contrast = next((c for c in answers.contrasts if c.model == model), None)
        corrupted = [m for m in metrics if m.model == model and _corrupted_note(m)]
        worst_triage = max(
            (m for m in corrupted if m.under_triage is not None),
            key=lambda m: m.under_triage or 0.0,
            default=None,
        )
        triage_where = (
            f" <span class=note>({esc(worst_triage.spec.context_label)})</span>"
            if worst_triage
            else ""
        )
        soft = hedged if hedged and len(mine) > 1 else None
        hard = confirmed
        wrong_rows.append(
            f"{_tr(models, model)}<td class=l>{esc(model)}</td>"
            f"<td>{delta(soft.delta_vs_note, soft.delta_vs_note_ci) if soft else '–'}</td>"
            f"<td>{delta(hard.delta_vs_note, hard.delta_vs_note_ci) if hard else '–'}</td>"
            f"<td>{delta(contrast.delta_top1, contrast.delta_top1_ci) if contrast else '–'}</td>"
            f"<td>{pct(confirmed.adoption, confirmed.adoption_ci) if confirmed else '–'}</td>"
            f"<td>{pct(base.under_triage) if base else '–'} → "
            f"{pct(worst_triage.under_triage) if worst_triage else '–'}{triage_where}</td></tr>"
        )
    sev = [a.severity for a in answers.authority]
    low, high = (min(sev), max(sev)) if sev else (1, 5)
    return (
        "<div class=answers><section><h3>1 · How fast does accuracy decay as photos get worse?"
        "</h3><table class=dt><tr><th class=l>model</th><th>baseline top-1</th>"
        f"<th>baseline top-{k}</th><th>relative top-1 over the image grid</th>"
        "<th>mean Δ top-1 over the grid (pp)</th><th>lowest severity significantly below "
        "baseline</th><th class=l>most harmful operator (mean Δ)</th></tr>"
        f"{''.join(decay_rows)}</table></section>"
        "<section><h3>2 · How much does context help?</h3><table class=dt><tr>"
        "<th class=l>model</th><th>full note vs no note, clean photo (pp)</th>"
        "<th>full note vs no note, degraded photos (pp, mean over the image grid)</th>"
        "<th class=l>photo the note rescues most</th><th>its note benefit (pp)</th></tr>"
        f"{''.join(context_rows)}</table></section>"
        "<section><h3>3 · How badly does wrong context hurt?</h3><table class=dt><tr>"
        f"<th class=l>model</th><th>hedged wrong referral (severity {low}) vs the note alone "
        f"(pp)</th><th>authoritative wrong referral (severity {high}) vs the note alone (pp)"
        f"</th><th>authoritative − hedged (pp)</th><th>adopted the authoritative referral</th>"
        "<th>under-triage: baseline → worst corrupted note (clean photo)</th></tr>"
        f"{''.join(wrong_rows)}</table></section></div>"
        "<p class=note>Intervals: 95%, seeded case bootstrap, paired per case. Relative top-1 "
        "is the grid's mean top-1 over the image-only operator conditions divided by the "
        "baseline's. Adoption: the planted diagnosis entered or rose in the differential "
        "compared with the same case and photo under the note alone.</p>"
    )


def decay_section(run: RunData, answers: Answers) -> str:
    """Operators ranked by harm, per model."""
    models = run.models
    rows = []
    for d in answers.decay:
        for rank, h in enumerate(d.operators, 1):
            rows.append(
                f"{_tr(models, d.model)}<td class=l>{esc(d.model)}</td><td>{rank}</td>"
                f"<td class=l>{esc(h.op)}</td><td>{delta(h.mean_delta_top1, None)}</td>"
                f"<td>{h.lowest_significant or 'none'}</td>"
                f"<td>{h.worst_severity}: {delta(h.worst_delta_top1, None)}</td></tr>"
            )
    if not rows:
        return ""
    return (
        "<h3>Image operators ranked by harm</h3><table class=dt><tr><th class=l>model</th>"
        "<th>rank</th><th class=l>operator</th><th>mean Δ top-1 over its severities (pp)</th>"
        "<th>lowest severity significantly below baseline</th><th>worst severity: Δ top-1 "
        f"(pp)</th></tr>{''.join(rows)}</table>"
    )


def context_figure(models: Sequence[str], answers: Answers) -> str | None:
    """The note's benefit per photo and model (``context_section``'s figure)."""
    if not answers.context:
        return None
    return interval_chart(
        [(c.image, c.model, c.benefit, c.benefit_ci) for c in answers.context],
        models,
        "top-1 with the full note − without it (pp), same photos",
        "Does the note help, and does it rescue a degraded photo?",
    )


def context_section(run: RunData, answers: Answers, chart: str | EllipsisType | None = ...) -> str:
    """The note's benefit on clean and degraded photos, and the interaction (``chart``:
    ``context_figure``, if already drawn)."""
    models = run.models
    items = answers.context
    if not items:
        return ""
    if chart is ...:
        chart = context_figure(models, answers)
    rows = "".join(
        f"{_tr(models, c.model)}<td class=l>{esc(c.model)}</td><td class=l>{esc(c.image)}</td>"
        f"<td>{c.n}</td><td>{delta(c.benefit, c.benefit_ci)}</td>"
        f"<td>{delta(c.interaction, c.interaction_ci)}</td></tr>"
        for c in items
    )
    return (
        f"{f'<figure>{chart}</figure>' if chart else ''}"
        "<h3>Context × image</h3><table class=dt><tr><th class=l>model</th>"
        "<th class=l>photo</th><th>paired cases</th><th>note benefit: top-1 with − without "
        "the note (pp)</th><th>interaction: benefit here − on the clean photo (pp)</th></tr>"
        f"{rows}</table><p class=note>A positive interaction means the note helps more when "
        "the photo is degraded (it rescues the photo).</p>"
    )


def authority_figure(models: Sequence[str], answers: Answers) -> str | None:
    """Top-1 and adoption against the referral's authority (``wrong_context_section``'s
    figure)."""
    if not answers.authority:
        return None
    series = [
        (a.model, a.severity, v, ci, kind)
        for a in answers.authority
        for v, ci, kind in ((a.top1, a.top1_ci, "top1"), (a.adoption, a.adoption_ci, "adoption"))
    ]
    return authority_chart(series, models)


def wrong_context_section(
    run: RunData, answers: Answers, chart: str | EllipsisType | None = ...
) -> str:
    """The authority curve and the hedged-versus-authoritative contrast (``chart``:
    ``authority_figure``, if already drawn)."""
    models = run.models
    if not answers.authority:
        return "<p>No misleading referral on clean photos in this grid.</p>"
    if chart is ...:
        chart = authority_figure(models, answers)
    rows = "".join(
        f"{_tr(models, a.model)}<td class=l>{esc(a.model)}</td><td>{a.severity}</td>"
        f"<td class=l>{esc(run.spec(a.condition).context_label)}</td><td>{a.n}</td>"
        f"<td>{pct(a.top1, a.top1_ci)}</td><td>{delta(a.delta_vs_note, a.delta_vs_note_ci)}</td>"
        f"<td>{pct(a.adoption, a.adoption_ci)}</td></tr>"
        for a in answers.authority
    )
    contrasts = "".join(
        f"{_tr(models, c.model)}<td class=l>{esc(c.model)}</td>"
        f"<td class=l>{esc(run.spec(c.hedged).context_label)}</td>"
        f"<td class=l>{esc(run.spec(c.authoritative).context_label)}</td><td>{c.n}</td>"
        f"<td>{delta(c.delta_top1, c.delta_top1_ci)}</td><td>{pvalue(c.mcnemar_p)}</td></tr>"
        for c in answers.contrasts
    )
    return (
        f"{f'<figure>{chart}</figure>' if chart else ''}"
        "<h3>Misleading referral by authority (clean photos)</h3><table class=dt><tr>"
        "<th class=l>model</th><th>severity</th><th class=l>context</th><th>paired cases</th>"
        "<th>top-1 [95% CI]</th><th>Δ top-1 vs the note alone (pp)</th>"
        f"<th>adopted the planted diagnosis</th></tr>{rows}</table>"
        + (
            "<h3>Authoritative against hedged, paired per case</h3><table class=dt><tr>"
            "<th class=l>model</th><th class=l>hedged</th><th class=l>authoritative</th>"
            "<th>paired cases</th><th>Δ top-1 authoritative − hedged (pp)</th>"
            f"<th>McNemar p</th></tr>{contrasts}</table>"
            if contrasts
            else ""
        )
    )
