"""What a reader needs to trust the scoring: which level the headline uses, where each
case's reference triage came from, and which cases a model can never get right because it
never names their diagnosis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from derm_stress.labels import TRIAGE_LEVELS
from derm_stress.run.results import RunData, match_level

TRIAGE_SOURCES = ("manifest", "diagnosis")


@dataclass(frozen=True)
class NeverAnswered:
    """``cases`` cases of ``diagnosis`` (references joined with ``|``) that ``model``
    can never get right: no answer it gave anywhere in the run matches them."""

    model: str
    diagnosis: str
    cases: int

    def __str__(self) -> str:
        plural = "" if self.cases == 1 else "s"
        return f"{self.model} never answered {self.diagnosis}: {self.cases} case{plural}"


def never_answered(run: RunData) -> list[NeverAnswered]:
    """Per model, the reference diagnoses none of its answers (any rank, any condition)
    matches at the headline score level, with the number of scored cases they cover; most
    cases first. A model that only knows some classes (the reference model names six) is
    wrong on these cases whatever the perturbation."""
    t = run.table
    accepted = ("exact",) if t.score_level == "exact" else ("exact", "group")
    references = run.references
    out: list[NeverAnswered] = []
    for mi, model in enumerate(t.models):
        named = t.named[mi]
        answered_cases = t.scored[mi].any(axis=0)
        reachable: dict[tuple[str, ...], bool] = {}
        missed: Counter[str] = Counter()
        for n in np.flatnonzero(answered_cases):
            refs = references[int(n)]
            ok = reachable.get(refs)
            if ok is None:
                ok = reachable[refs] = any(
                    match_level(code, refs, run.vocabulary) in accepted for code in named
                )
            if not ok:
                missed["|".join(refs)] += 1
        out.extend(NeverAnswered(model, dx, count) for dx, count in missed.items())
    return sorted(out, key=lambda w: (-w.cases, w.model, w.diagnosis))


def triage_sources(run: RunData) -> dict[str, int]:
    """How many cases took their reference triage from the manifest's ``triage`` column
    and how many from their diagnosis's default level (runs recorded before the column
    existed: all from the diagnosis)."""
    counts = Counter(str(c.triage_source) for c in run.cases)
    return {source: counts.get(source, 0) for source in TRIAGE_SOURCES}


def default_triage(run: RunData) -> dict[str, list[str]]:
    """The mapping the run's reference triage used where the manifest gave none: each
    triage level (most urgent first) with the run's diagnoses whose default it is."""
    vocab = run.vocabulary
    codes = sorted({code for refs in run.references for code in refs})
    out: dict[str, list[str]] = {level: [] for level in reversed(TRIAGE_LEVELS)}
    for code in codes:
        level = vocab.triage(code) if code in vocab else None
        if level is not None:
            out[level].append(code)
    return {level: found for level, found in out.items() if found}
