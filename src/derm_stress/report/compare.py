"""Two runs side by side (for example two versions of a model on the same cases and grid).

Every model of run A is paired with the model of the same name in run B (when no name is
shared, every model of A with every model of B). For each condition both runs have, the
difference B - A in top-1 and top-k accuracy is paired per case over the cases both runs
scored, with a seeded bootstrap interval and an exact McNemar test, so "the new version is
more robust to blur" comes with its uncertainty. The curves and the context chart draw both
runs' models, labelled ``A:model`` and ``B:model``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from derm_stress.metrics import BASELINE_ID, ConditionMetrics, compute_metrics, mcnemar_exact
from derm_stress.metrics.stats import bootstrap_ci
from derm_stress.perturb.base import derive_seed
from derm_stress.report import interactive
from derm_stress.report.format import CSS, delta, esc, flatten, pct, pvalue, write_csv
from derm_stress.report.html import headline_table
from derm_stress.report.plots import context_chart, image_operators, severity_curves
from derm_stress.run.results import RunData, load_run

COMPARISON_NAME = "comparison.html"
COMPARISON_CSV = "comparison.csv"


@dataclass(frozen=True)
class PairedComparison:
    """Run B minus run A for one model pair under one condition, paired per case."""

    model_a: str
    model_b: str
    condition: str
    n: int  # cases scored in both runs
    top1_a: float | None
    top1_b: float | None
    delta_top1: float | None
    delta_top1_ci: tuple[float, float] | None
    delta_topk: float | None
    delta_topk_ci: tuple[float, float] | None
    mcnemar_p: float | None  # exact, on top-1 correctness, A against B

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def model_pairs(a: RunData, b: RunData) -> list[tuple[str, str]]:
    shared = [m for m in a.models if m in b.models]
    if shared:
        return [(m, m) for m in shared]
    return [(ma, mb) for ma in a.models for mb in b.models]


def compare_runs(a: RunData, b: RunData) -> list[PairedComparison]:
    """Paired B - A differences for every model pair and every shared condition."""
    k = min(a.top_k, b.top_k)
    shared_cases = [c for c in a.table.cases if c in set(b.table.cases)]
    ia = np.array([a.index[2][c] for c in shared_cases], dtype=np.intp)
    ib = np.array([b.index[2][c] for c in shared_cases], dtype=np.intp)
    seed = int(a.manifest["seed"])
    scored_a, scored_b = a.table.scored, b.table.scored
    out = []
    for model_a, model_b in model_pairs(a, b):
        ma, mb = a.index[0][model_a], b.index[0][model_b]
        for condition in a.table.conditions:
            if condition not in b.index[1]:
                continue
            ca, cb = a.index[1][condition], b.index[1][condition]
            both = scored_a[ma, ca, ia] & scored_b[mb, cb, ib]
            rank_a, rank_b = a.table.rank[ma, ca, ia][both], b.table.rank[mb, cb, ib][both]
            hit1_a, hit1_b = rank_a == 1, rank_b == 1
            d1 = hit1_b.astype(np.int8) - hit1_a.astype(np.int8)
            dk = ((rank_b >= 1) & (rank_b <= k)).astype(np.int8) - (
                (rank_a >= 1) & (rank_a <= k)
            ).astype(np.int8)
            s = derive_seed("compare", seed, model_a, model_b, condition)
            n = int(both.sum())
            out.append(
                PairedComparison(
                    model_a,
                    model_b,
                    condition,
                    n,
                    float(hit1_a.mean()) if n else None,
                    float(hit1_b.mean()) if n else None,
                    float(d1.mean()) if n else None,
                    bootstrap_ci(d1, s) if n else None,
                    float(dk.mean()) if n else None,
                    bootstrap_ci(dk, s + 1) if n else None,
                    mcnemar_exact(int((d1 == -1).sum()), int((d1 == 1).sum())) if n else None,
                )
            )
    return out


def _labelled(metrics: Sequence[ConditionMetrics], label: str) -> list[ConditionMetrics]:
    return [replace(m, model=f"{label}:{m.model}") for m in metrics]


def render_comparison(
    a: RunData,
    b: RunData,
    metrics_a: Sequence[ConditionMetrics],
    metrics_b: Sequence[ConditionMetrics],
    pairs: Sequence[PairedComparison],
) -> str:
    k = min(a.top_k, b.top_k)
    merged = _labelled(metrics_a, "A") + _labelled(metrics_b, "B")
    models = [f"A:{m}" for m in a.models] + [f"B:{m}" for m in b.models]
    figures = "".join(
        f"<figure><figcaption><b>{title} accuracy against severity</b> (A and B; bands: 95% "
        f"CI; dashed: each model's baseline)</figcaption>{svg}</figure>"
        for metric, title in (("top1", "Top-1"), ("topk", f"Top-{k}"))
        if (svg := severity_curves(merged, metric, k, models))
    )
    context_svg = context_chart(merged, k, models)
    body = "".join(
        f"<tr{' class=base' if p.condition == BASELINE_ID else ''}>"
        f"<td class=l>{esc(p.model_a)} → {esc(p.model_b)}</td><td class=l>{esc(p.condition)}</td>"
        f"<td>{p.n}</td><td>{pct(p.top1_a)}</td><td>{pct(p.top1_b)}</td>"
        f"<td>{delta(p.delta_top1, p.delta_top1_ci)}</td>"
        f"<td>{delta(p.delta_topk, p.delta_topk_ci)}</td><td>{pvalue(p.mcnemar_p)}</td></tr>"
        for p in pairs
    )

    def about(run: RunData, label: str) -> str:
        m = run.manifest
        facts = {
            "path": str(run.path),
            "models": [x["name"] for x in m["models"]],
            "dataset": m["dataset"]["name"],
            "cases": m["dataset"]["cases"],
            "conditions": len(m["conditions"]),
            "seed": m["seed"],
            "git_revision": m.get("git_revision"),
            "finished": m.get("finished"),
        }
        return (
            f"<h3>Run {label}: {esc(m['name'])}</h3><pre>{esc(json.dumps(facts, indent=1))}</pre>"
        )

    shared = len(set(a.table.cases) & set(b.table.cases))
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1">
<title>derm-stress comparison · {esc(a.manifest["name"])} vs {esc(b.manifest["name"])}</title>
<style>{CSS}{interactive.CSS}</style></head><body><main>
<h1>derm-stress run comparison</h1>
<p class=sub>A = <b>{esc(a.manifest["name"])}</b>, B = <b>{esc(b.manifest["name"])}</b> ·
{shared} cases in both runs · differences are B − A in percentage points, paired per case
over the cases both runs scored, with 95% seeded bootstrap intervals and exact McNemar
p-values.</p>
{interactive.toolbar(models, image_operators(merged))}
<h2>Headline</h2><h3>A</h3>{headline_table(a, metrics_a)}<h3>B</h3>{headline_table(b, metrics_b)}
<h2>Accuracy decay, both runs</h2>{figures or "<p>No single-operator image conditions.</p>"}
<h2>Context, both runs</h2>{f"<figure>{context_svg}</figure>" if context_svg else ""}
<h2>B − A per condition</h2>
<table class=dt><tr><th class=l>model A → model B</th><th class=l>condition</th>
<th>paired cases</th><th>top-1 A</th><th>top-1 B</th><th>Δ top-1 B − A (pp) [95% CI]</th>
<th>Δ top-{k} B − A (pp) [95% CI]</th><th>McNemar p</th></tr>{body}</table>
<h2>Provenance</h2>{about(a, "A")}{about(b, "B")}
</main><script>{interactive.SCRIPT}</script></body></html>
"""


def write_comparison(
    run_dir: str | Path | RunData, other_dir: str | Path | RunData, out: str | Path | None = None
) -> Path:
    """Write ``comparison.html`` (or ``out``) and ``comparison.csv`` comparing run B
    (``other_dir``) against run A (``run_dir``), either a directory or a run already
    loaded; returns the HTML path."""
    a, b = (r if isinstance(r, RunData) else load_run(r) for r in (run_dir, other_dir))
    pairs = compare_runs(a, b)
    path = Path(out) if out else a.path / COMPARISON_NAME
    html = render_comparison(a, b, compute_metrics(a), compute_metrics(b), pairs)
    path.write_text(html, encoding="utf-8")
    write_csv(path.parent / COMPARISON_CSV, [flatten(p.as_dict()) for p in pairs])
    return path
