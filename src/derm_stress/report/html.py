"""The self-contained report: one HTML file (inline CSS, SVG and PNG; no scripts, no
network), a Markdown summary and CSV tables, written beside each other in the run folder."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import yaml

from derm_stress.metrics import (
    BASELINE_ID,
    FULL_ID,
    ConditionMetrics,
    compute_metrics,
    corruption_errors,
    selective_accuracy,
    split_condition,
    subgroup_metrics,
)
from derm_stress.perturb.base import registry
from derm_stress.report.format import CSS, delta, esc, flatten, pct, pvalue, write_csv
from derm_stress.report.gallery import Flip, worst_flips
from derm_stress.report.plots import context_chart, severity_curves, severity_heatmap
from derm_stress.run.results import OK, RunData, load_run

REPORT_NAME = "report.html"
SUMMARY_NAME = "report.md"
METRICS_CSV = "metrics.csv"
SUBGROUPS_CSV = "subgroups.csv"


def _table(metrics: Sequence[ConditionMetrics], k: int) -> str:
    head = (
        "<tr><th class=l>model</th><th class=l>condition</th><th>n</th>"
        "<th>top-1 [95% CI]</th><th>Δ top-1 (pp) [95% CI]</th>"
        f"<th>top-{k} [95% CI]</th><th>Δ top-{k} (pp) [95% CI]</th><th>McNemar p</th>"
        "<th>flip rate</th><th>unparseable</th><th>errors</th></tr>"
    )
    body = []
    for m in metrics:
        base = m.condition == BASELINE_ID
        errors = m.errors + m.input_errors + m.missing
        body.append(
            f"<tr{' class=base' if base else ''}><td class=l>{esc(m.model)}</td>"
            f"<td class=l>{esc(m.condition)}</td><td>{m.n}</td><td>{pct(m.top1, m.top1_ci)}</td>"
            f"<td>{'' if base else delta(m.delta_top1, m.delta_top1_ci)}</td>"
            f"<td>{pct(m.topk, m.topk_ci)}</td>"
            f"<td>{'' if base else delta(m.delta_topk, m.delta_topk_ci)}</td>"
            f"<td>{pvalue(m.mcnemar_p)}</td><td>{pct(m.flip_rate)}</td>"
            f"<td>{m.unparseable}</td><td>{errors}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


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


def _context_table(metrics: Sequence[ConditionMetrics]) -> str:
    rows = [m for m in metrics if split_condition(m.condition)[0] == "none"]
    body = "".join(
        f"<tr{' class=base' if m.condition == BASELINE_ID else ''}><td class=l>{esc(m.model)}"
        f"</td><td class=l>{esc(split_condition(m.condition)[1])}</td>"
        f"<td>{pct(m.top1, m.top1_ci)}</td>"
        f"<td>{'' if m.condition == BASELINE_ID else delta(m.delta_top1, m.delta_top1_ci)}</td>"
        f"<td>{pct(m.context_harm)}</td><td>{pct(m.referral_adoption)}</td>"
        f"<td>{pct(m.flip_rate)}</td><td>{pvalue(m.mcnemar_p)}</td></tr>"
        for m in rows
    )
    return (
        "<table><tr><th class=l>model</th><th class=l>context (clean photo)</th>"
        "<th>top-1 [95% CI]</th><th>Δ top-1 vs image only (pp)</th>"
        "<th>harm: right with image only, wrong here</th><th>adopted the wrong referral</th>"
        f"<th>flip rate</th><th>McNemar p</th></tr>{body}</table>"
        "<p class=note>Harm is reported for corrupted notes only; adoption counts answers "
        "whose top-1 is the misleading referral's diagnosis.</p>"
    )


def _triage_table(metrics: Sequence[ConditionMetrics]) -> str:
    body = "".join(
        f"<tr><td class=l>{esc(m.model)}</td><td class=l>{esc(m.condition)}</td>"
        f"<td>{pct(m.triage_sensitivity)}</td><td>{pct(m.triage_specificity)}</td>"
        f"<td>{pct(m.under_triage)}</td><td>{pct(m.mean_confidence)}</td>"
        f"<td>{pct(m.top1)}</td><td>{'–' if m.ece is None else f'{m.ece:.3f}'}</td>"
        f"<td>{'–' if m.mean_latency_s is None else f'{m.mean_latency_s:.3f}'}</td>"
        f"<td>{'–' if m.tokens is None else m.tokens}</td>"
        f"<td>{'–' if m.cost_usd is None else f'{m.cost_usd:.4f}'}</td></tr>"
        for m in metrics
    )
    return (
        "<table><tr><th class=l>model</th><th class=l>condition</th>"
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
            rows.append(f"<tr><td class=l>{esc(model)}</td><td class=l>{label}</td>{cells}</tr>")
    if not rows:
        return ""
    head = "".join(f"<th>confidence ≥ {t:.1f}</th>" for t in thresholds)
    return (
        "<h3>Selective accuracy</h3><p class=note>Top-1 accuracy among answers whose stated "
        "top-1 confidence reaches the threshold, and the share of answers kept. A model that "
        "knows when the photo or the note is bad keeps its accuracy as coverage falls.</p>"
        f"<table><tr><th class=l>model</th><th class=l>conditions</th>{head}</tr>"
        f"{''.join(rows)}</table>"
    )


def _family_table(metrics: Sequence[ConditionMetrics]) -> str:
    families = {name: cls.family for name, cls in registry().items()}
    ce = corruption_errors(metrics, families.get)
    if not ce:
        return "<p>No single-operator image conditions in this grid.</p>"
    body = "".join(
        f"<tr><td class=l>{esc(model)}</td><td class=l>{esc(family)}</td>"
        f"<td>{pct(v['ce'])}</td><td>{delta(v['relative_ce'], None)}</td>"
        f"<td>{int(v['conditions'])}</td></tr>"
        for (model, family), v in sorted(ce.items())
    )
    return (
        "<table><tr><th class=l>model</th><th class=l>family</th>"
        "<th>corruption error (mean top-1 error)</th><th>relative to baseline error (pp)</th>"
        f"<th>conditions</th></tr>{body}</table>"
    )


SUBGROUP_ATTRIBUTES = ("diagnosis", "fitzpatrick", "body_site")
Subgroups = dict[str, dict[str, list[ConditionMetrics]]]


# the conditions the subgroup tables show; only they get bootstrap intervals per subgroup
# (every subgroup x model x condition had four: half the time of a 1,000,000-result report)
SUBGROUP_CONDITIONS = (BASELINE_ID, FULL_ID)


def all_subgroups(run: RunData) -> Subgroups:
    """Subgroup metrics for every attribute: attribute -> group -> metrics (intervals for
    ``SUBGROUP_CONDITIONS`` only)."""
    return {
        attribute: subgroup_metrics(run, attribute, intervals=SUBGROUP_CONDITIONS)
        for attribute in SUBGROUP_ATTRIBUTES
    }


def _subgroups(subgroups: Subgroups) -> str:
    parts = []
    for attribute, groups in subgroups.items():
        rows = []
        for group, metrics in groups.items():
            for m in metrics:
                if m.condition in SUBGROUP_CONDITIONS:
                    rows.append(
                        f"<tr><td class=l>{esc(group)}</td><td class=l>{esc(m.model)}</td>"
                        f"<td class=l>{esc(m.condition)}</td><td>{m.n}</td>"
                        f"<td>{pct(m.top1, m.top1_ci)}</td></tr>"
                    )
        if rows:
            parts.append(
                f"<h3>By {attribute.replace('_', ' ')}</h3><table><tr>"
                f"<th class=l>{attribute}</th><th class=l>model</th>"
                "<th class=l>condition</th><th>n</th><th>top-1 [95% CI]</th></tr>"
                f"{''.join(rows)}</table>"
            )
    return "".join(parts) or "<p>No subgroup attributes recorded.</p>"


def _gallery(flips: Sequence[Flip], redact_notes: bool) -> str:
    if not flips:
        return "<p>No case went from right (baseline) to wrong under any condition.</p>"
    cards = []
    for f in flips:
        image = f'<img alt="photo as sent" src="{f.thumbnail}">' if f.thumbnail else ""
        if redact_notes and f.note_changes:
            changes = "<p class=note>note changes redacted</p>"
        else:
            changes = "".join(
                f"<div><code>{esc(field)}: {esc(old)} → {esc(new)}</code></div>"
                for field, old, new in f.note_changes
            )
        cards.append(
            f"<div class=flip>{image}<b>{esc(f.case_id)}</b> ({esc(f.diagnosis)})<br>"
            f"<span class=note>{esc(f.model)}</span><br><code>{esc(f.condition)}</code><br>"
            f"before: {esc(', '.join(f.before))}<br>after: <b>{esc(', '.join(f.after))}</b>"
            f"<div style='clear:both'>{changes}</div></div>"
        )
    return f"<div class=gallery>{''.join(cards)}</div>"


def _problems(run: RunData) -> str:
    issues = run.manifest["dataset"].get("issues", [])
    parts = []
    if issues:
        items = "".join(
            f"<tr><td class=l>{esc(i['source'])}</td><td class=l>{esc(i['reason'])}</td></tr>"
            for i in issues
        )
        parts.append(
            f"<h3>Rows not loaded ({len(issues)})</h3><table><tr><th class=l>row"
            f"</th><th class=l>reason</th></tr>{items}</table>"
        )
    grouped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in run.iter_rows(run.table.status != OK):
        grouped[(row.status, row.case_id, row.error or "")].append(f"{row.model} · {row.condition}")
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
            "answers count as wrong.</p><table><tr><th class=l>status</th><th class=l>case</th>"
            f"<th class=l>reason</th><th>results affected</th></tr>{items}</table>"
        )
    if not parts:
        return "<p>No case was skipped and every answer was parsed.</p>"
    return "".join(parts)


def render_report(
    run: RunData,
    redact_notes: bool = False,
    metrics: Sequence[ConditionMetrics] | None = None,
    subgroups: Subgroups | None = None,
) -> str:
    """The report of a loaded run as one HTML string (``metrics`` and ``subgroups`` may
    pass values already computed)."""
    metrics = list(metrics) if metrics is not None else compute_metrics(run)
    subgroups = subgroups if subgroups is not None else all_subgroups(run)
    manifest = run.manifest
    k = run.top_k
    summary = manifest.get("summary", {})
    cards = [
        ("cases", manifest["dataset"]["cases"]),
        ("conditions", len(run.conditions)),
        ("models", len(run.models)),
        ("results", run.table.size),
        ("skipped rows", len(manifest["dataset"].get("issues", []))),
        ("seed", manifest["seed"]),
    ]
    figures = []
    for metric, title in (("top1", "Top-1"), ("topk", f"Top-{k}")):
        svg = severity_curves(metrics, metric, k)
        if svg:
            figures.append(
                f"<figure><figcaption><b>{title} accuracy against severity, per image "
                "operator</b> (band: 95% CI, image only)</figcaption>"
                f"{svg}</figure>"
            )
    heatmaps = "".join(
        f"<figure>{svg}</figure>"
        for model in run.models
        if (svg := severity_heatmap(metrics, model))
    )
    context_svg = context_chart(metrics, k)
    config_text = yaml.safe_dump(manifest.get("config", {}), sort_keys=False)
    provenance = {
        "dataset": {key: v for key, v in manifest["dataset"].items() if key != "issues"},
        "models": manifest["models"],
        "versions": manifest.get("versions"),
        "git_revision": manifest.get("git_revision"),
        "started": manifest.get("started"),
        "finished": manifest.get("finished"),
        "status": manifest.get("status"),
        "last run": {"model calls": summary.get("calls"), "reused": summary.get("reused")},
    }
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1">
<title>derm-stress report · {esc(manifest["name"])}</title><style>{CSS}</style></head>
<body><main>
<h1>derm-stress robustness report</h1>
<p class=sub>run <b>{esc(manifest["name"])}</b> · dataset {esc(manifest["dataset"]["name"])}
· every difference is paired per case against the clean image-only baseline
(<code>{BASELINE_ID}</code>) of the same model; 95% intervals from a seeded case bootstrap;
McNemar p-values are exact.</p>
<div class=cards>{"".join(f"<div class=card><b>{esc(v)}</b>{esc(n)}</div>" for n, v in cards)}</div>
<h2>Headline</h2>{headline_table(run, metrics)}
<h2>Accuracy decay under image perturbations</h2>
{"".join(figures) or "<p>No single-operator image conditions in this grid.</p>"}
{heatmaps}
<h3>Corruption error per operator family</h3>{_family_table(metrics)}
<h2>Context: help and harm</h2>
{f"<figure>{context_svg}</figure>" if context_svg else ""}
{_context_table(metrics)}
<h2>Triage, calibration and cost</h2>{_triage_table(metrics)}
{_selective_table(run)}
<h2>Worst flips</h2>
<p class=note>Right at the baseline, wrong under the condition that hurts most: the photo as
the model saw it, what changed in the note, and the answers before and after.</p>
{_gallery(worst_flips(run, list(metrics)), redact_notes)}
<h2>Subgroups</h2>{_subgroups(subgroups)}
<h2>All conditions</h2>{_table(metrics, k)}
<h2>Skipped cases and errors</h2>{_problems(run)}
<h2>Provenance</h2>
<h3>Configuration</h3><pre>{esc(config_text)}</pre>
<h3>Run</h3><pre>{esc(json.dumps(provenance, indent=1, default=str))}</pre>
</main></body></html>
"""


def _markdown(run: RunData, metrics: Sequence[ConditionMetrics]) -> str:
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    def pp(v: float | None, ci: tuple[float, float] | None) -> str:
        if v is None:
            return "–"
        return f"{100 * v:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")

    lines = [
        f"# derm-stress report: {run.manifest['name']}",
        "",
        f"Dataset {run.manifest['dataset']['name']} ({run.manifest['dataset']['cases']} "
        f"cases), seed {run.manifest['seed']}. Differences are paired against "
        f"`{BASELINE_ID}`, in percentage points with 95% bootstrap intervals.",
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
    return "\n".join(lines) + "\n"


def write_report(
    run_dir: str | Path | RunData, out: str | Path | None = None, redact_notes: bool = False
) -> Path:
    """Write ``report.html`` (or ``out``), ``report.md``, ``metrics.csv`` and
    ``subgroups.csv`` for a run directory (or a run already loaded); returns the HTML path."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    metrics = compute_metrics(run)
    subgroups = all_subgroups(run)  # bootstraps per group: computed once for HTML and CSV
    path = Path(out) if out else run.path / REPORT_NAME
    path.write_text(render_report(run, redact_notes, metrics, subgroups), encoding="utf-8")
    folder = path.parent
    (folder / SUMMARY_NAME).write_text(_markdown(run, metrics), encoding="utf-8")
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
