"""The self-contained HTML report: inline CSS and SVG, no scripts, no network."""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import yaml

from derm_stress.metrics import BASELINE_ID, ConditionMetrics, compute_metrics
from derm_stress.report.plots import context_chart, severity_curves
from derm_stress.run.results import RunData, load_run

REPORT_NAME = "report.html"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2327;
background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #dde;
padding-bottom:4px}
.sub{color:#5a6570;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;background:#fff;font-size:12.5px;width:100%}
th,td{border:1px solid #e1e4e8;padding:4px 8px;text-align:right}
th{background:#eef1f4;position:sticky;top:0}
td.l,th.l{text-align:left;font-family:ui-monospace,Menlo,monospace;font-size:12px}
tr.base td{background:#fff8e1}
.neg{color:#b3261e}.pos{color:#1b7f3b}
figure{background:#fff;border:1px solid #e1e4e8;border-radius:8px;margin:12px 0;padding:12px;
overflow-x:auto}
figure svg{max-width:100%;height:auto}
pre{background:#fff;border:1px solid #e1e4e8;padding:10px;overflow-x:auto;font-size:12px}
.note{color:#5a6570;font-size:12.5px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _delta(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None:
        return "–"
    cls = "neg" if value < 0 else "pos" if value > 0 else ""
    text = f"{100 * value:+.1f}"
    if ci is not None:
        text += f" <span class=note>[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]</span>"
    return f"<span class={cls}>{text}</span>" if cls else text


def _table(metrics: Sequence[ConditionMetrics], k: int) -> str:
    head = (
        "<tr><th class=l>model</th><th class=l>condition</th><th>n</th><th>top-1</th>"
        f"<th>Δ top-1 vs baseline (pp) [95% CI]</th><th>top-{k}</th>"
        f"<th>Δ top-{k} (pp) [95% CI]</th><th>unparseable</th><th>errors</th></tr>"
    )
    body = []
    for m in metrics:
        cls = " class=base" if m.condition == BASELINE_ID else ""
        errors = m.errors + m.input_errors + m.missing
        body.append(
            f"<tr{cls}><td class=l>{_e(m.model)}</td><td class=l>{_e(m.condition)}</td>"
            f"<td>{m.n}</td><td>{_pct(m.top1)}</td>"
            f"<td>{_delta(m.delta_top1, m.delta_top1_ci) if m.condition != BASELINE_ID else ''}"
            f"</td><td>{_pct(m.topk)}</td>"
            f"<td>{_delta(m.delta_topk, m.delta_topk_ci) if m.condition != BASELINE_ID else ''}"
            f"</td><td>{m.unparseable}</td><td>{errors}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _headline(run: RunData, metrics: Sequence[ConditionMetrics]) -> str:
    k = run.top_k
    rows = []
    for model in run.models:
        mine = [m for m in metrics if m.model == model]
        base = next((m for m in mine if m.condition == BASELINE_ID), None)
        full = next((m for m in mine if m.condition == "img=none|ctx=full"), None)
        worst = min(
            (m for m in mine if m.delta_topk is not None and m.condition != BASELINE_ID),
            key=lambda m: (m.delta_topk or 0.0, m.delta_top1 or 0.0),
            default=None,
        )
        rows.append(
            f"<tr><td class=l>{_e(model)}</td><td>{_pct(base.top1 if base else None)}</td>"
            f"<td>{_pct(base.topk if base else None)}</td>"
            f"<td>{_pct(full.top1 if full else None)}</td>"
            f"<td>{_pct(full.topk if full else None)}</td>"
            f"<td class=l>{_e(worst.condition) if worst else '–'}</td>"
            f"<td>{_delta(worst.delta_topk, worst.delta_topk_ci) if worst else '–'}</td></tr>"
        )
    return (
        "<table><tr><th class=l>model</th><th>baseline top-1</th>"
        f"<th>baseline top-{k}</th><th>full context top-1</th><th>full context top-{k}</th>"
        f"<th class=l>worst condition (top-{k})</th><th>Δ top-{k} (pp) [95% CI]</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _problems(run: RunData) -> str:
    issues = run.manifest["dataset"].get("issues", [])
    parts = []
    if issues:
        items = "".join(
            f"<tr><td class=l>{_e(i['source'])}</td><td class=l>{_e(i['reason'])}</td></tr>"
            for i in issues
        )
        parts.append(
            f"<h3>Rows not loaded ({len(issues)})</h3><table><tr><th class=l>row"
            f"</th><th class=l>reason</th></tr>{items}</table>"
        )
    grouped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in run.rows:
        if row.status in ("error", "input_error", "missing", "unparseable"):
            grouped[(row.status, row.case_id, row.error or "")].append(
                f"{row.model} · {row.condition}"
            )
    if grouped:
        counts = Counter(status for status, _, _ in grouped)
        items = "".join(
            f"<tr><td class=l>{_e(status)}</td><td class=l>{_e(case)}</td>"
            f"<td class=l>{_e(error)}</td><td>{len(where)}</td></tr>"
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


def render_report(run: RunData) -> str:
    """The report of a loaded run as one HTML string."""
    metrics = compute_metrics(run)
    manifest = run.manifest
    k = run.top_k
    summary = manifest.get("summary", {})
    cards = [
        ("cases", manifest["dataset"]["cases"]),
        ("conditions", len(run.conditions)),
        ("models", len(run.models)),
        ("results", len(run.rows)),
        ("skipped rows", len(manifest["dataset"].get("issues", []))),
        ("seed", manifest["seed"]),
    ]
    figures = []
    for metric, title in (("top1", "Top-1"), ("topk", f"Top-{k}")):
        svg = severity_curves(metrics, metric, k)
        if svg:
            figures.append(
                f"<figure><figcaption><b>{title} accuracy against severity, per image "
                f"operator</b></figcaption>{svg}</figure>"
            )
    context_svg = context_chart(metrics, k)
    config_text = yaml.safe_dump(manifest.get("config", {}), sort_keys=False)
    provenance = {
        "dataset": {k2: v for k2, v in manifest["dataset"].items() if k2 != "issues"},
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
<title>derm-stress report · {_e(manifest["name"])}</title><style>{CSS}</style></head>
<body><main>
<h1>derm-stress robustness report</h1>
<p class=sub>run <b>{_e(manifest["name"])}</b> · dataset {_e(manifest["dataset"]["name"])}
· every difference is paired per case against the clean image-only baseline
(<code>{BASELINE_ID}</code>) of the same model; 95% intervals from a seeded case bootstrap.</p>
<div class=cards>{"".join(f"<div class=card><b>{_e(v)}</b>{_e(n)}</div>" for n, v in cards)}</div>
<h2>Headline</h2>{_headline(run, metrics)}
<h2>Accuracy decay under image perturbations</h2>
{"".join(figures) or "<p>No single-operator image conditions in this grid.</p>"}
<h2>Context: help and harm</h2>
{f"<figure>{context_svg}</figure>" if context_svg else "<p>Only one context condition.</p>"}
<h2>All conditions</h2>{_table(metrics, k)}
<h2>Skipped cases and errors</h2>{_problems(run)}
<h2>Provenance</h2>
<h3>Configuration</h3><pre>{_e(config_text)}</pre>
<h3>Run</h3><pre>{_e(json.dumps(provenance, indent=1, default=str))}</pre>
</main></body></html>
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render the report of a run directory to ``out`` (default ``RUN_DIR/report.html``)."""
    run = load_run(run_dir)
    path = Path(out) if out else Path(run_dir) / REPORT_NAME
    path.write_text(render_report(run), encoding="utf-8")
    return path
