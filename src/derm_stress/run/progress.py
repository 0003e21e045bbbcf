"""Progress of a run: a rich progress bar on a terminal, a line per tenth in logs, or quiet."""

from __future__ import annotations

import sys
import time
from typing import Any

from derm_stress.models.base import Activity


class RunProgress:
    """Receives the harness's counts; this base class shows nothing (quiet mode)."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.errors: dict[str, int] = {}
        self.cost = 0.0
        self.activities: dict[str, Activity] = {}

    def start(self, total: int, models: list[str]) -> None:
        self.total = total
        self.errors = dict.fromkeys(models, 0)

    def advance(self, n: int, model: str | None = None, errors: int = 0, cost: float = 0.0) -> None:
        """``n`` more results are settled (answered now, reused, or stored as errors)."""
        self.done += n
        if model is not None:
            self.errors[model] = self.errors.get(model, 0) + errors
        self.cost += cost
        self.show()

    def activity(self, model: str, activity: Activity | None) -> None:
        """Follow ``model``'s live counters (retries, concurrency) from now on."""
        if activity is not None:
            self.activities[model] = activity

    def show(self) -> None:
        """Redraw (called after every change)."""

    def stop(self) -> None:
        """The run is over (finished, stopped or interrupted)."""

    def status(self) -> str:
        errors = ", ".join(f"{m} {n}" for m, n in self.errors.items())
        text = f"errors: {errors}" if errors else ""
        if self.cost:
            text += f" · est. cost ${self.cost:,.2f}"
        for model, act in self.activities.items():
            if act.retries:
                text += f" · {model}: {act.retries:,} retries (last: {act.last_retry})"
                if act.concurrency is not None:
                    text += f", concurrency {act.concurrency}"
        return text


class LogProgress(RunProgress):
    """One line to stderr per tenth of the run, for CI logs and pipes."""

    def __init__(self) -> None:
        super().__init__()
        self._last = -1
        self._started = time.perf_counter()

    def show(self) -> None:
        if not self.total:
            return
        tenth = 10 * self.done // self.total
        if tenth != self._last:
            self._last = tenth
            rate = self.done / max(time.perf_counter() - self._started, 1e-9)
            print(
                f"  {self.done:,}/{self.total:,} results ({rate:,.0f}/s) {self.status()}",
                file=sys.stderr,
                flush=True,
            )


class RichProgress(RunProgress):
    """A live progress bar: done/total, rate, ETA, errors per model and estimated cost."""

    def __init__(self) -> None:
        super().__init__()
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]results"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            transient=False,
        )
        self._task: Any = None
        self._started = time.perf_counter()
        self._drawn = 0.0

    def start(self, total: int, models: list[str]) -> None:
        super().start(total, models)
        self._bar.start()
        self._task = self._bar.add_task("run", total=total, rate="", status="")

    def show(self) -> None:
        now = time.perf_counter()
        if self._task is None or (now - self._drawn < 0.1 and self.done < self.total):
            return
        self._drawn = now
        rate = self.done / max(now - self._started, 1e-9)
        self._bar.update(
            self._task, completed=self.done, rate=f"{rate:,.0f}/s", status=self.status()
        )

    def stop(self) -> None:
        if self._task is not None:
            self._drawn = 0.0
            self.show()
        self._bar.stop()


def make_progress(quiet: bool) -> RunProgress:
    """Quiet: nothing. On a terminal: a rich bar. Otherwise: a line per tenth."""
    if quiet:
        return RunProgress()
    return RichProgress() if sys.stderr.isatty() else LogProgress()
