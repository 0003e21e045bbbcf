"""Report sections on gaps between different cases: benchmark versus bedside (several
datasets in one run) and lightest versus darkest skin tone. Both comparisons are unpaired
and the sections say so."""

from __future__ import annotations

from collections.abc import Sequence

from derm_stress.metrics.gaps import (
    UNPAIRED_METHOD,
    Gap,
    GroupSummary,
    extreme_groups,
    family_gaps,
    group_gaps,
    group_labels,
    group_summaries,
    ordered_groups,
)
from derm_stress.report.format import delta, esc, pct, pvalue
from derm_stress.report.plots import _svg, _tag, model_color, styled, subplots
from derm_stress.run.results import RunData

SKIN_TONES = (("fitzpatrick", "Fitzpatrick type"), ("monk_skin_tone", "Monk skin tone"))


def datasets_of(run: RunData) -> list[str]:
    """The run's datasets in the order the config lists them (one name for a plain run)."""
    return ordered_groups(group_labels(run, "dataset"))


def _summary_table(summaries: Sequence[GroupSummary], k: int, what: str) -> str:
    body = "".join(
        f"<tr><td class=l>{esc(s.model)}</td><td class=l>{esc(s.group)}</td><td>{s.n}</td>"
        f"<td>{pct(s.top1, s.top1_ci)}</td><td>{pct(s.topk, s.topk_ci)}</td>"
        f"<td>{delta(s.context_benefit, s.context_benefit_ci)}</td>"
        f"<td>{pct(s.perturbed_top1)}</td></tr>"
        for s in summaries
    )
    return (
        f"<table><tr><th class=l>model</th><th class=l>{what}</th><th>cases</th>"
        f"<th>baseline top-1 [95% CI]</th><th>baseline top-{k} [95% CI]</th>"
        "<th>context benefit: Δ top-1 with the full note (pp, paired)</th>"
        "<th>mean top-1 over perturbed photos</th></tr>"
        f"{body}</table>"
    )


def _gap_table(gaps: Sequence[Gap], k: int) -> str:
    body = "".join(
        f"<tr><td class=l>{esc(g.model)}</td><td class=l>{esc(g.condition)}</td>"
        f"<td>{'top-1' if g.metric == 'top1' else f'top-{k}'}</td>"
        f"<td class=l>{esc(g.other)} − {esc(g.reference)}</td>"
        f"<td>{pct(g.reference_value)} (n={g.n_reference})</td>"
        f"<td>{pct(g.other_value)} (n={g.n_other})</td>"
        f"<td>{delta(g.difference, g.ci)}</td><td>{pvalue(g.p)}</td></tr>"
        for g in gaps
    )
    return (
        "<table><tr><th class=l>model</th><th class=l>condition</th><th>metric</th>"
        "<th class=l>gap</th><th>reference</th><th>other</th>"
        "<th>gap (pp) [95% CI]</th><th>two-proportion p</th></tr>"
        f"{body}</table>"
    )


@styled
def _gap_chart(summaries: Sequence[GroupSummary], k: int) -> str:
    """Baseline top-k per dataset (x) and model (one colour each), with 95% intervals."""
    models = list(dict.fromkeys(s.model for s in summaries))
    groups = list(dict.fromkeys(s.group for s in summaries))
    fig, ax = subplots(figsize=(1.6 + 1.3 * len(groups), 2.8))
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        for j, group in enumerate(groups):
            s = next((x for x in summaries if x.model == model and x.group == group), None)
            if s is None or s.topk is None:
                continue
            x = j + (i - (len(models) - 1) / 2) * width
            lo, hi = s.topk_ci or (s.topk, s.topk)
            bars = ax.bar(x, 100 * s.topk, width * 0.9, color=model_color(models, model),
                          label=model if j == 0 else None)  # fmt: skip
            err = ax.errorbar(x, 100 * s.topk,
                              yerr=[[100 * (s.topk - lo)], [100 * (hi - s.topk)]],
                              color="#222", capsize=3, lw=1)  # fmt: skip
            for artist in (*bars, *err.lines[1], *err.lines[2]):
                _tag(artist, i)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(f"baseline top-{k} (%)")
    ax.set_ylim(0, 100)
    if len(models) > 1:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def benchmark_section(run: RunData) -> str | None:
    """HTML for runs of several datasets: accuracy per dataset and the gap to the first."""
    if len(datasets_of(run)) < 2:
        return None
    k = run.top_k
    summaries = group_summaries(run, "dataset")
    gaps = group_gaps(run, "dataset")
    first = datasets_of(run)[0]
    return (
        "<h2 id=bedside>Benchmark vs bedside</h2>"
        f"<p class=sub>The same models and perturbations on each dataset of this run; gaps are "
        f"each dataset minus <b>{esc(first)}</b> (listed first in the config) on the clean "
        f"image-only baseline. Different datasets hold different cases, so these gaps are "
        f"<b>unpaired</b> ({esc(UNPAIRED_METHOD)}).</p>"
        f"<figure><figcaption><b>Baseline top-{k} accuracy per dataset</b> "
        f"(95% CI)</figcaption>{_gap_chart(summaries, k)}</figure>"
        f"{_summary_table(summaries, k, 'dataset')}<h3>Gaps</h3>{_gap_table(gaps, k)}"
    )


def skin_tone_section(run: RunData) -> str | None:
    """HTML comparing the lightest and darkest skin-tone groups present (Fitzpatrick type,
    Monk skin tone), at baseline and per image-operator family."""
    # families as the run recorded them (no registry: a report needs no plugin installed)
    family_of = {op.name: op.family for spec in run.conditions for op in spec.image if op.family}
    parts = []
    for attribute, title in SKIN_TONES:
        pair = extreme_groups(run, attribute)
        if pair is None:
            continue
        gaps = group_gaps(run, attribute, pairs=[pair]) + family_gaps(run, attribute, family_of)
        summaries = group_summaries(run, attribute)
        parts.append(
            f"<h3>{title}: {esc(pair[1])} (darkest present) − {esc(pair[0])} (lightest)</h3>"
            f"{_gap_table(gaps, run.top_k)}"
            f"<details><summary>accuracy per {title.lower()}</summary>"
            f"{_summary_table(summaries, run.top_k, title.lower())}</details>"
        )
    if not parts:
        return None
    return (
        "<h2>Skin tone</h2><p class=sub>Unpaired comparisons of different patients "
        f"({esc(UNPAIRED_METHOD)}); per operator family, each case's mean top-1 over the "
        "family's image-only conditions is compared (no p-value).</p>" + "".join(parts)
    )


def markdown_lines(run: RunData) -> list[str]:
    """The benchmark-vs-bedside gaps for ``report.md`` (nothing for a one-dataset run)."""
    if len(datasets_of(run)) < 2:
        return []
    lines = ["", "## Benchmark vs bedside (unpaired)", ""]
    for g in group_gaps(run, "dataset"):
        metric = "top-1" if g.metric == "top1" else f"top-{run.top_k}"
        lines.append(
            f"- {g.model}, {metric}: {g.other} {100 * g.other_value:.1f}% vs {g.reference} "
            f"{100 * g.reference_value:.1f}%, gap {100 * g.difference:+.1f} pp "
            f"[{100 * g.ci[0]:+.1f}, {100 * g.ci[1]:+.1f}], p={pvalue(g.p)}"
        )
    return lines
