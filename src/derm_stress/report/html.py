"""The self-contained report: one HTML file (inline CSS, SVG, PNG and a small inline
script for sorting, filtering and toggles; nothing fetched), a Markdown summary and CSV
tables, written beside each other in the run folder."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from derm_stress.metrics import (
    BASELINE_ID,
    FULL_ID,
    ConditionMetrics,
    compute_metrics,
    corruption_errors,
    selective_accuracy,
    subgroup_metrics,
    with_intervals,
)
from derm_stress.metrics.answers import DEGRADED
from derm_stress.metrics.definitions import PER_CONDITION
from derm_stress.report import interactive
from derm_stress.report.answers import (
    Answers,
    authority_figure,
    compute_answers,
    context_figure,
    context_section,
    decay_section,
    headline,
    wrong_context_section,
)
from derm_stress.report.format import CSS, delta, esc, flatten, pct, pvalue, write_csv
from derm_stress.report.gallery import Flip, worst_flips
from derm_stress.report.gaps import benchmark_section, markdown_lines, skin_tone_section
from derm_stress.report.plots import Figures, draw_figures, image_operators, in_background
from derm_stress.report.scoring import scoring_lines, scoring_section
from derm_stress.report.status import (
    Completeness,
    completeness,
    error_text,
    short_counts,
    status_text,
)
from derm_stress.run.results import OK, RunData, load_run

REPORT_NAME = "report.html"
SUMMARY_NAME = "report.md"
METRICS_CSV = "metrics.csv"
SUBGROUPS_CSV = "subgroups.csv"


def _row(models: Sequence[str], model: str, base: bool = False) -> str:
    """An opening ``<tr>`` carrying the model's index, for the report's model toggles."""
    index = list(models).index(model) if model in models else None
    return (
        "<tr"
        + (f" data-m={index}" if index is not None else "")
        + (" class=base" if base else "")
        + ">"
    )


def _table(metrics: Sequence[ConditionMetrics], k: int, models: Sequence[str] = ()) -> str:
    head = (
        "<tr><th class=l>model</th><th class=l>condition</th><th>n</th>"
        "<th>top-1 [95% CI]</th><th>Δ top-1 (pp) [95% CI]</th>"
        f"<th>top-{k} [95% CI]</th><th>Δ top-{k} (pp) [95% CI]</th><th>McNemar p</th>"
        "<th>flip rate</th><th>unparseable</th><th>errors</th>"
        + "".join(_extension_heads())
        + "</tr>"
    )
    body = []
    for m in metrics:
        base = m.condition == BASELINE_ID
        errors = m.errors + m.input_errors + m.missing
        body.append(
            f"{_row(models, m.model, base)}<td class=l>{esc(m.model)}</td>"
            f"<td class=l>{esc(m.condition)}</td><td>{m.n}</td><td>{pct(m.top1, m.top1_ci)}</td>"
            f"<td>{'' if base else delta(m.delta_top1, m.delta_top1_ci)}</td>"
            f"<td>{pct(m.topk, m.topk_ci)}</td>"
            f"<td>{'' if base else delta(m.delta_topk, m.delta_topk_ci)}</td>"
            f"<td>{pvalue(m.mcnemar_p)}</td><td>{pct(m.flip_rate)}</td>"
            f"<td>{m.unparseable}</td><td>{errors}</td>" + "".join(_extension_cells(m)) + "</tr>"
        )
    return f"<table class=dt id=all-conditions>{head}{''.join(body)}</table>"


def _extension_heads() -> list[str]:
    """Header cells of the ``PER_CONDITION`` metrics (the metric extension point)."""
    return [
        f"<th title='{esc(d.description)}'>{esc(d.name.replace('_', ' '))}</th>"
        for d in PER_CONDITION
    ]


def _extension_cells(m: ConditionMetrics) -> list[str]:
    cells = []
    for d in PER_CONDITION:
        value = m.extra.get(d.name)
        interval = m.extra.get(f"{d.name}_ci")
        number = value if isinstance(value, float) else None
        ci = interval if isinstance(interval, tuple) else None
        if d.percent:
            cells.append(f"<td>{pct(number, ci)}</td>")
        else:
            cells.append(f"<td>{'–' if number is None else f'{number:.3g}'}</td>")
    return cells


def _find(
    metrics: Sequence[ConditionMetrics], model: str, condition: str
) -> ConditionMetrics | None:
    return next((m for m in metrics if m.model == model and m.condition == condition), None)


def headline_table(run: RunData, metrics: Sequence[ConditionMetrics]) -> str:
    k = run.top_k
    rows = []
    for model in run.models:
        base, full = _find(metrics, model, BASELINE_ID), _find(metrics, model, FULL_ID)
        mine = [m for m in metrics if m.model == model and m.condition != BASELINE_ID]
        worst = min(
            (m for m in mine if m.delta_top1 is not None),
            key=lambda m: (m.delta_top1 or 0.0, m.delta_topk or 0.0),
            default=None,
        )
        adoption = max(
            (m.referral_adoption for m in mine if m.referral_adoption is not None), default=None
        )
        rows.append(
            f"<tr><td class=l>{esc(model)}</td>"
            f"<td>{pct(base.top1 if base else None, base.top1_ci if base else None)}</td>"
            f"<td>{pct(base.topk if base else None, base.topk_ci if base else None)}</td>"
            f"<td>{delta(full.delta_top1, full.delta_top1_ci) if full else '–'}</td>"
            f"<td class=l>{esc(worst.condition) if worst else '–'}</td>"
            f"<td>{delta(worst.delta_top1, worst.delta_top1_ci) if worst else '–'}</td>"
            f"<td>{pct(base.triage_sensitivity if base else None)}</td>"
            f"<td>{pct(adoption)}</td></tr>"
        )
    return (
        "<table><tr><th class=l>model</th><th>baseline top-1</th>"
        f"<th>baseline top-{k}</th><th>context benefit: Δ top-1 with the full note (pp)</th>"
        "<th class=l>worst condition (top-1)</th><th>its Δ top-1 (pp)</th>"
        "<th>baseline triage sensitivity</th><th>highest referral adoption</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _context_table(metrics: Sequence[ConditionMetrics], models: Sequence[str] = ()) -> str:
    rows = [m for m in metrics if m.spec.clean_image]
    body = "".join(
        f"{_row(models, m.model, m.condition == BASELINE_ID)}<td class=l>{esc(m.model)}"
        f"</td><td class=l>{esc(m.spec.context_label)}</td>"
        f"<td>{pct(m.top1, m.top1_ci)}</td>"
        f"<td>{'' if m.condition == BASELINE_ID else delta(m.delta_top1, m.delta_top1_ci)}</td>"
        f"<td>{pct(m.context_harm)}</td>"
        f"<td>{pct(m.referral_adoption, m.referral_adoption_ci)}</td>"
        f"<td>{pct(m.flip_rate)}</td><td>{pvalue(m.mcnemar_p)}</td></tr>"
        for m in rows
    )
    return (
        "<table class=dt><tr><th class=l>model</th><th class=l>context (clean photo)</th>"
        "<th>top-1 [95% CI]</th><th>Δ top-1 vs image only (pp)</th>"
        "<th>harm: right with image only, wrong here</th><th>adopted the wrong referral</th>"
        f"<th>flip rate</th><th>McNemar p</th></tr>{body}</table>"
        "<p class=note>Harm is reported for corrupted notes only. Adoption: the referral's "
        "planted diagnosis entered or rose in the differential compared with the same case "
        "and photo under the note without the misleading referral (a model that names it "
        "whatever the note adopts nothing).</p>"
    )


def _triage_table(metrics: Sequence[ConditionMetrics], models: Sequence[str] = ()) -> str:
    body = "".join(
        f"{_row(models, m.model)}<td class=l>{esc(m.model)}</td><td class=l>{esc(m.condition)}</td>"
        f"<td>{pct(m.triage_sensitivity)}</td><td>{pct(m.triage_specificity)}</td>"
        f"<td>{pct(m.under_triage)}</td><td>{pct(m.mean_confidence)}</td>"
        f"<td>{pct(m.top1)}</td><td>{'–' if m.ece is None else f'{m.ece:.3f}'}</td>"
        f"<td>{'–' if m.mean_latency_s is None else f'{m.mean_latency_s:.3f}'}</td>"
        f"<td>{'–' if m.tokens is None else m.tokens}</td>"
        f"<td>{'–' if m.cost_usd is None else f'{m.cost_usd:.4f}'}</td></tr>"
        for m in metrics
    )
    return (
        "<table class=dt><tr><th class=l>model</th><th class=l>condition</th>"
        "<th>urgent sensitivity</th><th>urgent specificity</th><th>under-triage</th>"
        "<th>mean stated confidence</th><th>top-1 accuracy</th><th>ECE</th>"
        f"<th>mean latency (s)</th><th>tokens</th><th>cost (USD)</th></tr>{body}</table>"
    )


def _selective_table(run: RunData) -> str:
    """Selective accuracy: top-1 among answers stated with at least a given confidence, on
    clean photos without a note (baseline) and pooled over every other condition."""
    thresholds = (0.0, 0.3, 0.5, 0.7, 0.9)
    others = [c for c in run.table.conditions if c != BASELINE_ID]
    rows = []
    for model in run.models:
        for label, conditions in (("baseline", [BASELINE_ID]), ("all perturbed", others)):
            if not conditions or any(c not in run.table.conditions for c in conditions):
                continue
            points = selective_accuracy(run, model, conditions, thresholds)
            cells = "".join(
                f"<td>{pct(acc)} <span class=note>({100 * cov:.0f}% kept)</span></td>"
                for _, cov, acc in points
            )
            rows.append(
                f"{_row(run.models, model)}<td class=l>{esc(model)}</td>"
                f"<td class=l>{label}</td>{cells}</tr>"
            )
    if not rows:
        return ""
    head = "".join(f"<th>confidence ≥ {t:.1f}</th>" for t in thresholds)
    return (
        "<h3>Selective accuracy</h3><p class=note>Top-1 accuracy among answers whose stated "
        "top-1 confidence reaches the threshold, and the share of answers kept. A model that "
        "knows when the photo or the note is bad keeps its accuracy as coverage falls.</p>"
        f"<table class=dt><tr><th class=l>model</th><th class=l>conditions</th>{head}</tr>"
        f"{''.join(rows)}</table>"
    )


def _family_table(metrics: Sequence[ConditionMetrics], models: Sequence[str] = ()) -> str:
    # families as the run recorded them (no registry: a report needs no plugin installed)
    families = {op.name: op.family for m in metrics for op in m.spec.image if op.family}
    ce = corruption_errors(metrics, families.get)
    if not ce:
        return "<p>No single-operator image conditions in this grid.</p>"
    body = "".join(
        f"{_row(models, model)}<td class=l>{esc(model)}</td><td class=l>{esc(family)}</td>"
        f"<td>{pct(v['ce'])}</td><td>{delta(v['relative_ce'], None)}</td>"
        f"<td>{int(v['conditions'])}</td></tr>"
        for (model, family), v in sorted(ce.items())
    )
    return (
        "<table class=dt><tr><th class=l>model</th><th class=l>family</th>"
        "<th>corruption error (mean top-1 error)</th><th>relative to baseline error (pp)</th>"
        f"<th>conditions</th></tr>{body}</table>"
    )


SUBGROUP_ATTRIBUTES = (
    "dataset", "diagnosis", "fitzpatrick", "monk_skin_tone", "body_site", "age_band", "sex"
)  # fmt: skip
Subgroups = dict[str, dict[str, list[ConditionMetrics]]]


# the conditions whose intervals the subgroup tables show, besides each model's worst
# image perturbation (``_worst``); only they get bootstrap intervals per subgroup (every
# subgroup x model x condition had four: half the time of a 1,000,000-result report)
SUBGROUP_CONDITIONS = (BASELINE_ID, FULL_ID)


def all_subgroups(run: RunData) -> Subgroups:
    """Subgroup metrics for every attribute: attribute -> group -> metrics, with intervals
    where the subgroup tables show them (``SUBGROUP_CONDITIONS`` and each model's worst
    image perturbation); the others' intervals are None."""
    out: Subgroups = {}
    for attribute in SUBGROUP_ATTRIBUTES:
        groups = subgroup_metrics(run, attribute, intervals=SUBGROUP_CONDITIONS)
        for group, metrics in groups.items():
            worst = {
                (w.model, w.condition)
                for model in dict.fromkeys(m.model for m in metrics)
                if (w := _worst(metrics, model)) is not None
            }
            groups[group] = with_intervals(run, attribute, group, metrics, worst)
        out[attribute] = groups
    return out


def _worst(metrics: Sequence[ConditionMetrics], model: str) -> ConditionMetrics | None:
    """A model's image perturbation with the lowest Δ top-1 (the subgroup tables' last
    column)."""
    grid = [m for m in _perturbed(metrics, model) if m.top1 is not None]
    deltas = [m for m in grid if m.delta_top1 is not None]
    return min(deltas, key=lambda m: m.delta_top1 or 0.0, default=None)


def _perturbed(metrics: Sequence[ConditionMetrics], model: str) -> list[ConditionMetrics]:
    """A model's image-only conditions with one image operator (the image grid)."""
    out = []
    for m in metrics:
        if m.model == model and m.spec.image_only and m.spec.single_image_op:
            out.append(m)
    return out


def _subgroups(subgroups: Subgroups, models: Sequence[str] = ()) -> str:
    parts = []
    for attribute, groups in subgroups.items():
        rows = []
        for group, metrics in groups.items():
            for model in dict.fromkeys(m.model for m in metrics):
                by = {m.condition: m for m in metrics if m.model == model}
                base, full = by.get(BASELINE_ID), by.get(FULL_ID)
                grid = [m for m in _perturbed(metrics, model) if m.top1 is not None]
                deltas = [m for m in grid if m.delta_top1 is not None]
                worst = _worst(metrics, model)
                mean_top1 = sum(m.top1 or 0.0 for m in grid) / len(grid) if grid else None
                mean_delta = (
                    sum(m.delta_top1 or 0.0 for m in deltas) / len(deltas) if deltas else None
                )
                rows.append(
                    f"{_row(models, model)}<td class=l>{esc(group)}</td>"
                    f"<td class=l>{esc(model)}</td><td>{base.n if base else '–'}</td>"
                    f"<td>{pct(base.top1, base.top1_ci) if base else '–'}</td>"
                    f"<td>{pct(full.top1, full.top1_ci) if full else '–'}</td>"
                    f"<td>{pct(mean_top1)}</td><td>{delta(mean_delta, None)}</td>"
                    f"<td>{delta(worst.delta_top1, worst.delta_top1_ci) if worst else '–'}"
                    f"{f' <span class=note>{esc(worst.condition)}</span>' if worst else ''}"
                    "</td></tr>"
                )
        if rows:
            parts.append(
                f"<h3>By {attribute.replace('_', ' ')}</h3><table class=dt><tr>"
                f"<th class=l>{attribute}</th><th class=l>model</th><th>n</th>"
                "<th>baseline top-1 [95% CI]</th><th>full note top-1</th>"
                "<th>mean top-1 under image perturbations</th><th>mean Δ top-1 (pp)</th>"
                f"<th>worst condition: Δ top-1 (pp)</th></tr>{''.join(rows)}</table>"
            )
    return "".join(parts) or "<p>No subgroup attributes recorded.</p>"


def _gallery(flips: Sequence[Flip], redact_notes: bool, models: Sequence[str] = ()) -> str:
    if not flips:
        return "<p>No case went from right (baseline) to wrong under any condition.</p>"
    cards = []
    for f in flips:
        image = f'<img alt="photo as sent" src="{f.thumbnail}">' if f.thumbnail else ""
        if redact_notes and f.note_changes:
            changes = "<p class=note>note changes redacted</p>"
        elif f.note_changes:
            changes = "<b>note change:</b>" + "".join(
                f"<div><code>{esc(field)}: {esc(old)} → {esc(new)}</code></div>"
                for field, old, new in f.note_changes
            )
        else:
            changes = ""
        index = list(models).index(f.model) if f.model in models else ""
        cards.append(
            f"<div class=flip data-m='{index}' data-c='{esc(f.condition)}'>{image}"
            f"<b>{esc(f.case_id)}</b> ({esc(f.diagnosis)})<br>"
            f"<span class=note>{esc(f.model)}</span><br><code>{esc(f.condition)}</code><br>"
            f"before: {esc(', '.join(f.before))}<br>after: <b>{esc(', '.join(f.after))}</b>"
            f"<div style='clear:both'>{changes}</div></div>"
        )
    options = "".join(
        f"<option value='{esc(c)}'>{esc(c)}</option>" for c in sorted({f.condition for f in flips})
    )
    return (
        "<label class=note>condition: <select id=flip-filter><option value=''>all</option>"
        f"{options}</select></label><div class=gallery>{''.join(cards)}</div>"
    )


def _banner(c: Completeness) -> str:
    if not c.incomplete:
        return ""
    items = short_counts(c)
    short = (
        f"<br>{len(c.short)} condition(s) have fewer cases than the baseline: "
        + "; ".join(esc(i) for i in items)
        if items
        else ""
    )
    return (
        f"<div class=banner id=incomplete><b>Incomplete run:</b> status <code>{esc(c.status)}"
        f"</code> ({esc(status_text(c.status))}) · {c.stored:,} of {c.expected:,} results "
        f"stored ({100 * c.share:.1f}% of the grid).{short}<br>Figures below cover what was "
        "stored; differences are paired over the cases present under both conditions. Run "
        "the same command again to finish it.</div>"
    )


def _problems(run: RunData, redact: bool = False) -> str:
    issues = run.manifest.dataset.issues
    parts = []
    if issues:
        items = "".join(
            f"<tr><td class=l>{esc(i['source'])}</td><td class=l>{esc(i['reason'])}</td></tr>"
            for i in issues
        )
        parts.append(
            f"<h3>Rows not loaded ({len(issues)})</h3><table class=dt><tr><th class=l>row"
            f"</th><th class=l>reason</th></tr>{items}</table>"
        )
    grouped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in run.iter_rows(run.table.status != OK):
        grouped[(row.status, row.case_id, error_text(row.error, redact))].append(
            f"{row.model} · {row.condition}"
        )
    if grouped:
        counts = Counter(status for status, _, _ in grouped)
        items = "".join(
            f"<tr><td class=l>{esc(status)}</td><td class=l>{esc(case)}</td>"
            f"<td class=l>{esc(error)}</td><td>{len(where)}</td></tr>"
            for (status, case, error), where in sorted(grouped.items())[:500]
        )
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        parts.append(
            f"<h3>Cases with errors or unparseable answers ({summary})</h3>"
            "<p class=note>Input errors and failed calls are left out of accuracy; unparseable "
            "answers count as wrong.</p><table class=dt><tr><th class=l>status</th>"
            "<th class=l>case</th>"
            f"<th class=l>reason</th><th>results affected</th></tr>{items}</table>"
        )
    if not parts:
        return "<p>No case was skipped and every answer was parsed.</p>"
    return "".join(parts)


def report_figures(
    metrics: Sequence[ConditionMetrics], k: int, models: Sequence[str], answers: Answers
) -> Figures:
    """Every figure of the report (``render_report``'s ``figures``)."""
    return dataclasses.replace(
        draw_figures(metrics, k, models),
        context_benefit=context_figure(models, answers),
        authority=authority_figure(models, answers),
    )


def render_report(
    run: RunData,
    redact_notes: bool = False,
    metrics: Sequence[ConditionMetrics] | None = None,
    subgroups: Subgroups | None = None,
    answers: Answers | None = None,
    figures: Figures | None = None,
) -> str:
    """The report of a loaded run as one HTML string (``metrics``, ``subgroups``,
    ``answers`` and ``figures`` may pass values already computed)."""
    metrics = list(metrics) if metrics is not None else compute_metrics(run)
    subgroups = subgroups if subgroups is not None else all_subgroups(run)
    answers = answers if answers is not None else compute_answers(run, metrics)
    manifest = run.manifest
    models = run.models
    k = run.top_k
    drawn = figures if figures is not None else draw_figures(metrics, k, models)
    summary = manifest.summary or {}
    state = completeness(run)
    cards = [
        ("cases", manifest.dataset.cases),
        ("conditions", len(run.conditions)),
        ("models", len(models)),
        ("results", run.table.size),
        ("skipped rows", len(manifest.dataset.issues)),
        ("seed", manifest.seed),
    ]
    curves = []
    for metric, title in (("top1", "Top-1"), ("topk", f"Top-{k}")):
        svg = drawn.curves[metric]
        if svg:
            curves.append(
                f"<figure><figcaption><b>{title} accuracy against severity</b>: one panel per "
                "image operator (columns) and context (rows); bands: 95% CI; dashed: each "
                f"model's clean image-only baseline</figcaption>{svg}</figure>"
            )
    heatmaps = "".join(f"<figure class=half>{svg}</figure>" for svg in drawn.heatmaps)
    context_svg = drawn.context
    config_text = yaml.safe_dump(dict(manifest.config), sort_keys=False)
    provenance = {
        "dataset": {k: v for k, v in manifest.dataset.to_dict().items() if k != "issues"},
        "models": [m.to_dict() for m in manifest.models],
        "versions": dict(manifest.versions) or "not recorded in this run's manifest",
        "git_revision": manifest.git_revision,
        "started": manifest.started,
        "finished": manifest.finished,
        "status": manifest.status,
        "last run": {"model calls": summary.get("calls"), "reused": summary.get("reused")},
    }
    bench = benchmark_section(run) or ""
    sections = (
        *((("bedside", "Benchmark vs bedside"),) if bench else ()),
        ("answers", "The three answers"),
        ("decay", "Decay"),
        ("context", "Context"),
        ("wrong-context", "Wrong context"),
        ("triage", "Triage and cost"),
        ("flips", "Worst flips"),
        ("subgroups", "Subgroups"),
        ("all", "All conditions"),
        ("errors", "Errors"),
        ("provenance", "Provenance"),
    )
    nav = " · ".join(f"<a href='#{i}'>{t}</a>" for i, t in sections)
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1">
<title>derm-stress report · {esc(manifest.name)}</title>
<style>{CSS}{interactive.CSS}</style></head>
<body><main>
<h1>derm-stress robustness report</h1>
<p class=sub>run <b>{esc(manifest.name)}</b> · dataset {esc(manifest.dataset.name)}
· every difference is paired per case against the clean image-only baseline
(<code>{BASELINE_ID}</code>) of the same model; 95% intervals from a seeded case bootstrap;
McNemar p-values are exact.</p>
{_banner(state)}
<div class=cards>{"".join(f"<div class=card><b>{esc(v)}</b>{esc(n)}</div>" for n, v in cards)}</div>
<p class=toc>{nav}</p>
{interactive.toolbar(models, image_operators(metrics))}
{bench}
<h2 id=answers>The three answers</h2>{headline(run, metrics, answers)}
<h3 id=scoring>Scoring</h3>{scoring_section(run, metrics)}
<h2 id=decay>1 · Accuracy decay under image perturbations</h2>
{"".join(curves) or "<p>No single-operator image conditions in this grid.</p>"}
<div class=pair>{heatmaps}</div>
{decay_section(run, answers)}
<h3>Corruption error per operator family</h3>{_family_table(metrics, models)}
<h2 id=context>2 · Context: help and harm</h2>
{f"<figure>{context_svg}</figure>" if context_svg else ""}
{context_section(run, answers, drawn.context_benefit)}
<h3>Every context condition, clean photos</h3>{_context_table(metrics, models)}
<h2 id=wrong-context>3 · Wrong context: misleading referrals by authority</h2>
{wrong_context_section(run, answers, drawn.authority)}
<h2 id=triage>Triage, calibration and cost</h2>{_triage_table(metrics, models)}
{_selective_table(run)}
<h2 id=flips>Worst flips</h2>
<p class=note>Right at the baseline, wrong under the condition that hurts most, taken in turn
from corrupted notes and from degraded photos: the photo as the model saw it, what changed in
the note, and the answers before and after.</p>
{_gallery(worst_flips(run, list(metrics)), redact_notes, models)}
<h2 id=subgroups>Subgroups, at baseline and under perturbation</h2>
{_subgroups(subgroups, models)}
{skin_tone_section(run) or ""}
<h2 id=all>All conditions</h2>{_table(metrics, k, models)}
<h2 id=errors>Skipped cases and errors</h2>{_problems(run, redact_notes)}
<h2 id=provenance>Provenance</h2>
<h3>Configuration</h3><pre>{esc(config_text)}</pre>
<h3>Run</h3><pre>{esc(json.dumps(provenance, indent=1, default=str))}</pre>
</main><script>{interactive.SCRIPT}</script></body></html>
"""


def _markdown(
    run: RunData, metrics: Sequence[ConditionMetrics], answers: Answers | None = None
) -> str:
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    def pp(v: float | None, ci: tuple[float, float] | None) -> str:
        if v is None:
            return "–"
        return f"{100 * v:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")

    state = completeness(run)
    lines = [
        f"# derm-stress report: {run.manifest.name}",
        "",
        *(
            [
                f"> **Incomplete run:** status `{state.status}` ({status_text(state.status)}); "
                f"{state.stored:,} of {state.expected:,} results stored "
                f"({100 * state.share:.1f}% of the grid)."
                + (
                    f" {len(state.short)} condition(s) have fewer cases than the baseline: "
                    + "; ".join(short_counts(state))
                    + "."
                    if state.short
                    else ""
                ),
                "",
            ]
            if state.incomplete
            else []
        ),
        f"Dataset {run.manifest.dataset.name} ({run.manifest.dataset.cases} "
        f"cases), seed {run.manifest.seed}. Differences are paired against "
        f"`{BASELINE_ID}`, in percentage points with 95% bootstrap intervals.",
        "",
        *(f"{line}  " for line in scoring_lines(run)),
        "",
        *_markdown_answers(run, metrics, answers or compute_answers(run, metrics), pct, pp),
        "## Every condition",
        "",
        f"| model | condition | n | top-1 | Δ top-1 | top-{run.top_k} | "
        f"Δ top-{run.top_k} | McNemar p |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in metrics:
        lines.append(
            f"| {m.model} | `{m.condition}` | {m.n} | {pct(m.top1)} | "
            f"{pp(m.delta_top1, m.delta_top1_ci)} | {pct(m.topk)} | "
            f"{pp(m.delta_topk, m.delta_topk_ci)} | {pvalue(m.mcnemar_p)} |"
        )
    lines += markdown_lines(run)
    return "\n".join(lines) + "\n"


def _markdown_answers(
    run: RunData,
    metrics: Sequence[ConditionMetrics],
    answers: Answers,
    pct: Callable[[float | None], str],
    pp: Callable[[float | None, tuple[float, float] | None], str],
) -> list[str]:
    """The three answers, one line per model and question."""
    lines = ["## The three answers", ""]
    for model in run.models:
        base = next((m for m in metrics if m.model == model and m.condition == BASELINE_ID), None)
        d = next((x for x in answers.decay if x.model == model), None)
        clean = next((c for c in answers.context if c.model == model and c.image == "none"), None)
        degraded = [c for c in answers.context if c.model == model and c.image == DEGRADED]
        points = [a for a in answers.authority if a.model == model]
        contrast = next((c for c in answers.contrasts if c.model == model), None)
        lines.append(f"**{model}**: baseline top-1 {pct(base.top1 if base else None)}.")
        if d:
            ci = d.relative_top1_ci
            top = d.operators[0] if d.operators else None
            worst = f"{top.op} ({pp(top.mean_delta_top1, None)} pp)" if top else "–"
            lines.append(
                f"- Decay: relative top-1 over the image grid {pct(d.relative_top1)}"
                + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
                + f"; lowest severity significantly below baseline: "
                f"{d.lowest_significant or 'none'}; most harmful operator: {worst}."
            )
        if clean:
            lines.append(
                f"- Context: the note adds {pp(clean.benefit, clean.benefit_ci)} pp top-1 on "
                "clean photos"
                + (
                    f" and {pp(degraded[0].benefit, degraded[0].benefit_ci)} on degraded ones."
                    if degraded
                    else "."
                )
            )
        if points:
            strongest = points[-1]
            lines.append(
                f"- Wrong context: a misleading referral at severity {strongest.severity} "
                f"changes top-1 by {pp(strongest.delta_vs_note, strongest.delta_vs_note_ci)} pp "
                f"against the note alone (adopted {pct(strongest.adoption)})"
                + (
                    f"; against the hedged one: {pp(contrast.delta_top1, contrast.delta_top1_ci)}"
                    " pp."
                    if contrast
                    else "."
                )
            )
        corrupted = [
            m.under_triage
            for m in metrics
            if m.model == model
            and m.spec.clean_image
            and m.spec.note_perturbed
            and m.under_triage is not None
        ]
        if base and corrupted:
            lines.append(
                f"- Under-triage: {pct(base.under_triage)} at baseline, up to "
                f"{pct(max(corrupted))} under a corrupted note."
            )
        lines.append("")
    return lines


def write_report(
    run_dir: str | Path | RunData, out: str | Path | None = None, redact_notes: bool = False
) -> Path:
    """Write ``report.html`` (or ``out``), ``report.md``, ``metrics.csv`` and
    ``subgroups.csv`` for a run directory (or a run already loaded); returns the HTML path."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    metrics = compute_metrics(run)
    answers = compute_answers(run, metrics)
    # the figures draw in another process meanwhile (where it can fork)
    figures = in_background(report_figures, metrics, run.top_k, run.models, answers)
    subgroups = all_subgroups(run)  # bootstraps per group: computed once for HTML and CSV
    path = Path(out) if out else run.path / REPORT_NAME
    html = render_report(run, redact_notes, metrics, subgroups, answers, figures())
    path.write_text(html, encoding="utf-8")
    folder = path.parent
    (folder / SUMMARY_NAME).write_text(_markdown(run, metrics, answers), encoding="utf-8")
    write_csv(folder / METRICS_CSV, [flatten(m.as_dict()) for m in metrics])
    write_csv(
        folder / SUBGROUPS_CSV,
        [
            flatten(m.as_dict(), attribute=attribute, group=group)
            for attribute, groups in subgroups.items()
            for group, ms in groups.items()
            for m in ms
        ],
    )
    return path
