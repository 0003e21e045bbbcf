"""Two runs side by side (for example two versions of a model on the same cases and grid).

Every model of run A is paired with the model of the same name in run B (when no name is
shared, every model of A with every model of B). For each condition both runs have, the
difference B - A in top-1 and top-k accuracy is paired per case over the cases both runs
scored, with a seeded bootstrap interval and an exact McNemar test, so "the new version is
more robust to blur" comes with its uncertainty. Two runs that share no case (a public
benchmark against a clinic's own cases) are compared unpaired instead: each run's scored
cases resampled on their own for the interval, and a two-proportion z-test; the page and
``comparison.csv`` say which method was used. The curves and the context chart draw both
runs' models, labelled ``A:model`` and ``B:model``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from derm_stress.metrics import BASELINE_ID, ConditionMetrics, compute_metrics
from derm_stress.metrics.core import mcnemar_of, paired_difference
from derm_stress.metrics.stats import two_proportion_p, unpaired_difference
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
    mcnemar_p: float | None  # exact, on top-1 correctness, A against B (paired only)
    method: str = "paired"  # "unpaired" when the runs share no case
    n_a: int = 0  # cases scored in run A (unpaired)
    n_b: int = 0
    two_proportion_p: float | None = None  # on top-1 (unpaired only)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def model_pairs(a: RunData, b: RunData) -> list[tuple[str, str]]:
    shared = [m for m in a.models if m in b.models]
    if shared:
        return [(m, m) for m in shared]
    return [(ma, mb) for ma in a.models for mb in b.models]


def _shared_cells(
    a: RunData, b: RunData
) -> Iterator[tuple[str, str, str, tuple[int, int], tuple[int, int]]]:
    """Every (model of A, model of B, condition both ran) with their (model, condition)
    indexes in A's and B's tables."""
    for model_a, model_b in model_pairs(a, b):
        ma, mb = a.index[0][model_a], b.index[0][model_b]
        for condition in a.table.conditions:
            if condition in b.index[1]:
                yield (
                    model_a,
                    model_b,
                    condition,
                    (ma, a.index[1][condition]),
                    (
                        mb,
                        b.index[1][condition],
                    ),
                )


def compare_runs(a: RunData, b: RunData) -> list[PairedComparison]:
    """B - A differences for every model pair and every shared condition: paired per case
    when the runs share cases, unpaired when they share none."""
    k = min(a.top_k, b.top_k)
    in_b = set(b.table.cases)
    shared_cases = [c for c in a.table.cases if c in in_b]
    if not shared_cases:
        return _unpaired(a, b, k)
    ia = np.array([a.index[2][c] for c in shared_cases], dtype=np.intp)
    ib = np.array([b.index[2][c] for c in shared_cases], dtype=np.intp)
    seed = a.seed
    scored_a, scored_b = a.table.scored, b.table.scored
    out = []
    for model_a, model_b, condition, (ma, ca), (mb, cb) in _shared_cells(a, b):
        both = scored_a[ma, ca, ia] & scored_b[mb, cb, ib]
        rank_a, rank_b = a.table.rank[ma, ca, ia][both], b.table.rank[mb, cb, ib][both]
        hit1_a, hit1_b = rank_a == 1, rank_b == 1
        s = derive_seed("compare", seed, model_a, model_b, condition)
        delta1, ci1, d1 = paired_difference(hit1_b, hit1_a, s)
        deltak, cik, _ = paired_difference(
            (rank_b >= 1) & (rank_b <= k), (rank_a >= 1) & (rank_a <= k), s + 1
        )
        n = int(both.sum())
        out.append(
            PairedComparison(
                model_a,
                model_b,
                condition,
                n,
                float(hit1_a.mean()) if n else None,
                float(hit1_b.mean()) if n else None,
                delta1,
                ci1,
                deltak,
                cik,
                mcnemar_of(d1) if n else None,
            )
        )
    return out


def _unpaired(a: RunData, b: RunData, k: int) -> list[PairedComparison]:
    seed = a.seed
    out = []
    for model_a, model_b, condition, (ma, ca), (mb, cb) in _shared_cells(a, b):
        rank_a = a.table.rank[ma, ca][a.table.scored[ma, ca]]
        rank_b = b.table.rank[mb, cb][b.table.scored[mb, cb]]
        hit1_a, hit1_b = rank_a == 1, rank_b == 1
        hitk_a, hitk_b = (rank_a >= 1) & (rank_a <= k), (rank_b >= 1) & (rank_b <= k)
        s = derive_seed("compare-unpaired", seed, model_a, model_b, condition)
        both = bool(rank_a.size and rank_b.size)
        d1, ci1 = unpaired_difference(hit1_a, hit1_b, s)
        dk, cik = unpaired_difference(hitk_a, hitk_b, s + 2)
        out.append(
            PairedComparison(
                model_a,
                model_b,
                condition,
                0,
                float(hit1_a.mean()) if rank_a.size else None,
                float(hit1_b.mean()) if rank_b.size else None,
                d1 if both else None,
                ci1 if both else None,
                dk if both else None,
                cik if both else None,
                None,
                method="unpaired",
                n_a=int(rank_a.size),
                n_b=int(rank_b.size),
                two_proportion_p=two_proportion_p(
                    int(hit1_a.sum()), hit1_a.size, int(hit1_b.sum()), hit1_b.size
                )
                if both
                else None,
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
        f"<td>{p.n if p.method == 'paired' else f'{p.n_a} / {p.n_b}'}</td>"
        f"<td>{pct(p.top1_a)}</td><td>{pct(p.top1_b)}</td>"
        f"<td>{delta(p.delta_top1, p.delta_top1_ci)}</td>"
        f"<td>{delta(p.delta_topk, p.delta_topk_ci)}</td>"
        f"<td>{pvalue(p.mcnemar_p if p.method == 'paired' else p.two_proportion_p)}</td></tr>"
        for p in pairs
    )

    def about(run: RunData, label: str) -> str:
        m = run.manifest
        facts = {
            "path": str(run.path),
            "models": run.models,
            "dataset": m.dataset.name or None,
            "cases": m.dataset.cases or len(run.table.cases),
            "conditions": len(m.conditions),
            "seed": m.seed,
            "git_revision": m.git_revision,
            "finished": m.finished,
        }
        return f"<h3>Run {label}: {esc(m.name)}</h3><pre>{esc(json.dumps(facts, indent=1))}</pre>"

    shared = len(set(a.table.cases) & set(b.table.cases))
    if shared:
        method = (
            f"{shared} cases in both runs · method: <b>paired</b> · differences are B − A in "
            "percentage points, paired per case over the cases both runs scored, with 95% "
            "seeded bootstrap intervals and exact McNemar p-values."
        )
        cases_head, p_head = "paired cases", "McNemar p"
    else:
        method = (
            "no case in both runs · method: <b>unpaired</b> · differences are B − A in "
            "percentage points between different cases: each run's cases resampled on their "
            "own for the 95% seeded bootstrap interval; p from a two-proportion z-test."
        )
        cases_head, p_head = "cases A / B", "two-proportion p"
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1">
<title>derm-stress comparison · {esc(a.manifest.name)} vs {esc(b.manifest.name)}</title>
<style>{CSS}{interactive.CSS}</style></head><body><main>
<h1>derm-stress run comparison</h1>
<p class=sub>A = <b>{esc(a.manifest.name)}</b>, B = <b>{esc(b.manifest.name)}</b> ·
{method}</p>
{interactive.toolbar(models, image_operators(merged))}
<h2>Headline</h2><h3>A</h3>{headline_table(a, metrics_a)}<h3>B</h3>{headline_table(b, metrics_b)}
<h2>Accuracy decay, both runs</h2>{figures or "<p>No single-operator image conditions.</p>"}
<h2>Context, both runs</h2>{f"<figure>{context_svg}</figure>" if context_svg else ""}
<h2>B − A per condition</h2>
<table class=dt><tr><th class=l>model A → model B</th><th class=l>condition</th>
<th>{cases_head}</th><th>top-1 A</th><th>top-1 B</th><th>Δ top-1 B − A (pp) [95% CI]</th>
<th>Δ top-{k} B − A (pp) [95% CI]</th><th>{p_head}</th></tr>{body}</table>
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
