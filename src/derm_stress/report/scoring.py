"""The report's scoring section: the headline's score level with both levels side by side,
where the reference triage came from, and the diagnoses a model never answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from derm_stress.labels import TRIAGE_LEVELS
from derm_stress.metrics import (
    BASELINE_ID,
    ConditionMetrics,
    NeverAnswered,
    default_triage,
    never_answered,
    triage_sources,
)
from derm_stress.report.format import esc, pct
from derm_stress.run.results import RunData

LEVEL_TEXT = {
    "exact": "the exact level: an answer counts when it names the reference condition, a "
    "member of a group label (HAM10000's <code>BKL</code> accepts seborrhoeic keratosis) or a "
    "more specific condition under it (plaque psoriasis for psoriasis)",
    "group": "the group level: an answer counts when it falls in the same group of the "
    "hierarchy as the reference (any eczema for nummular eczema)",
}
SHOWN = 12  # never-answered diagnoses listed per report; the rest are counted


def scoring_lines(run: RunData) -> list[str]:
    """Plain-text statements for the Markdown summary and the CLI: the score level, the
    triage sources and the never-answered warnings."""
    sources = triage_sources(run)
    lines = [
        f"Headline accuracy is scored at the {run.score_level} level "
        f"(config `score_level: {run.score_level}`).",
        f"Reference triage: {sources['manifest']} cases from the manifest's `triage` column, "
        f"{sources['diagnosis']} from their diagnosis's default level.",
    ]
    warnings = never_answered(run)
    lines += [f"Warning: {w} (it can never be right on them)." for w in warnings[:SHOWN]]
    if len(warnings) > SHOWN:
        lines.append(f"... and {len(warnings) - SHOWN} more never-answered diagnoses.")
    return lines


def _warnings(warnings: Sequence[NeverAnswered]) -> str:
    if not warnings:
        return (
            "<p class=note>Every model named each case's diagnosis at least once: no case "
            "is out of a model's reach.</p>"
        )
    items = "".join(
        f"<li><b>{esc(w.model)}</b> never answered <code>{esc(w.diagnosis)}</code>: "
        f"{w.cases} case{'' if w.cases == 1 else 's'}</li>"
        for w in warnings[:SHOWN]
    )
    more = f"<li>and {len(warnings) - SHOWN} more</li>" if len(warnings) > SHOWN else ""
    total = sum(w.cases for w in warnings)
    return (
        f"<p><b>Warning:</b> on {total} model x case pairs the model can never be right, "
        "because none of its answers (any rank, any condition) matches the case's "
        "diagnosis; their accuracy measures the model's label set, not its robustness "
        f"(the bundled reference model names only six PAD-UFES-20 classes).</p><ul>{items}{more}"
        "</ul>"
    )


def _mapping(run: RunData, shown: int = 40) -> str:
    parts = []
    for level, codes in default_triage(run).items():
        listed = ", ".join(codes[:shown])
        more = f" and {len(codes) - shown} more" if len(codes) > shown else ""
        parts.append(f"<b>{level}</b>: {esc(listed)}{more}")
    return "; ".join(parts) or "none"


def scoring_section(run: RunData, metrics: Sequence[ConditionMetrics]) -> str:
    """HTML: the score level, both levels at the baseline, triage sources, warnings."""
    k = run.top_k
    base = [m for m in metrics if m.condition == BASELINE_ID]
    rows = "".join(
        f"<tr><td class=l>{esc(m.model)}</td><td>{pct(m.top1_exact)}</td>"
        f"<td>{pct(m.topk_exact, m.topk_exact_ci)}</td><td>{pct(m.top1_group)}</td>"
        f"<td>{pct(m.topk_group, m.topk_group_ci)}</td></tr>"
        for m in base
    )
    levels = Counter(str(c.triage) for c in run.cases)
    by_source = Counter((str(c.triage), str(c.triage_source)) for c in run.cases)
    triage_rows = "".join(
        f"<tr><td class=l>{level}</td><td>{levels[level]}</td>"
        f"<td>{by_source[(level, 'manifest')]}</td><td>{by_source[(level, 'diagnosis')]}</td></tr>"
        for level in reversed(TRIAGE_LEVELS)
    )
    sources = triage_sources(run)
    return (
        f"<p>Headline accuracy is scored at {LEVEL_TEXT[run.score_level]} (config "
        f"<code>score_level: {esc(run.score_level)}</code>; the other level is "
        "<code>exact</code> or <code>group</code>). A case may accept several diagnoses; "
        "matching any of them counts.</p>"
        "<table><tr><th class=l>model</th><th>baseline top-1, exact</th>"
        f"<th>top-{k}, exact</th><th>top-1, group</th><th>top-{k}, group</th></tr>"
        f"{rows}</table>"
        f"<p>Reference triage of the {len(run.cases)} cases: <b>{sources['manifest']}</b> "
        "from the manifest's <code>triage</code> column, "
        f"<b>{sources['diagnosis']}</b> from their diagnosis's default level (the "
        "vocabulary's, documented in docs/labels.md; a case with several diagnoses takes the "
        "most urgent). Triage sensitivity counts urgent and emergency cases triaged urgent or "
        "emergency; under-triage is a stated level below the reference.</p>"
        "<table><tr><th class=l>reference level</th><th>cases</th><th>from the manifest</th>"
        f"<th>from the diagnosis</th></tr>{triage_rows}</table>"
        f"<p class=note>Default levels of this run's diagnoses: {_mapping(run)}.</p>"
        f"{_warnings(never_answered(run))}"
    )
