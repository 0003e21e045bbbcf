"""How complete a run is, for the banner at the top of its report (a killed, stopped or
still-running run must not read like a finished one), and how error text from models is
shown (bounded, or left out)."""

from __future__ import annotations

from dataclasses import dataclass

from derm_stress.run.results import ENDED_ABNORMALLY, MISSING, RunData
from derm_stress.schema import RunStatus

ERROR_TEXT_LIMIT = 200  # characters of a model's error message shown in the report


@dataclass(frozen=True)
class Completeness:
    """``stored`` of ``expected`` results (models x conditions x the dataset's cases);
    ``short``: (model, condition, cases stored, cases at that model's baseline) for every
    condition with fewer cases than the baseline."""

    status: str
    stored: int
    expected: int
    short: tuple[tuple[str, str, int, int], ...]

    @property
    def share(self) -> float:
        return self.stored / self.expected if self.expected else 1.0

    @property
    def incomplete(self) -> bool:
        return self.status != RunStatus.COMPLETE or self.stored < self.expected or bool(self.short)


def completeness(run: RunData) -> Completeness:
    """The run's status and how much of its grid is in the store."""
    t = run.table
    cases = run.manifest.dataset.cases
    expected = len(t.models) * len(t.conditions) * max(cases, len(t.cases))
    present = t.status != MISSING
    stored = int(present.sum())
    short: list[tuple[str, str, int, int]] = []
    if run.baseline_id in t.conditions:
        bi = t.conditions.index(run.baseline_id)
        per_condition = present.sum(axis=2)  # models x conditions
        for mi, model in enumerate(t.models):
            base = int(per_condition[mi, bi])
            for ci, condition in enumerate(t.conditions):
                if int(per_condition[mi, ci]) < base:
                    short.append((model, condition, int(per_condition[mi, ci]), base))
    return Completeness(run.manifest.status, stored, expected, tuple(short))


_STATUS_TEXT: dict[str, str] = {
    RunStatus.RUNNING: "still running: another process holds the run directory's lock",
    ENDED_ABNORMALLY: "its process ended before the run finished (killed, crashed, full disk)",
    RunStatus.INTERRUPTED: "interrupted (Ctrl-C) before it finished",
    RunStatus.STOPPED: "stopped early by its budget",
}


def status_text(status: str) -> str:
    return _STATUS_TEXT.get(status, status)


def error_text(text: str | None, redact: bool) -> str:
    """A model's error message as the report shows it: cut to ``ERROR_TEXT_LIMIT``
    characters (it can hold request dumps or secrets), or left out when redacting."""
    if not text:
        return ""
    if redact:
        return "(error text redacted)"
    text = " ".join(text.split())
    if len(text) <= ERROR_TEXT_LIMIT:
        return text
    return f"{text[:ERROR_TEXT_LIMIT]}… ({len(text) - ERROR_TEXT_LIMIT} more characters)"


def short_counts(c: Completeness, limit: int = 12) -> list[str]:
    """The conditions with fewer cases than the baseline, as readable items."""
    items = [f"{model} · {cond}: {n} of {base}" for model, cond, n, base in c.short[:limit]]
    if len(c.short) > limit:
        items.append(f"and {len(c.short) - limit} more")
    return items
