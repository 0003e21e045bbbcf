"""Per-call timeouts for adapters whose calls cannot be interrupted (Python callables,
local ``transformers`` generation).

A call runs on a daemon worker thread and the caller waits at most ``timeout_s``. A call
that overruns is abandoned: its thread is left to finish (or hang) on its own and never
blocks the process from exiting, and the next call gets a fresh worker. ``cancel`` ends the
wait at once (Ctrl-C): the call in flight and every later one fail with ``CallCancelled``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 120.0


class CallTimeout(Exception):
    """A model call took longer than its ``timeout_s``."""


class CallCancelled(Exception):
    """The run is stopping: the call was not waited for."""


class _Job:
    __slots__ = ("args", "done", "error", "finished", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.done = threading.Event()
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None


IDLE_S = 30.0  # an idle worker ends (the next call starts another)


def _work(guard: CallGuard, jobs: queue.SimpleQueue[_Job | None]) -> None:
    while True:
        try:
            job = jobs.get(timeout=IDLE_S)
        except queue.Empty:
            with guard._lock:  # calls enqueue under this lock: none can slip in now
                if jobs.empty():
                    if guard._jobs is jobs:
                        guard._jobs = None
                    return
            continue
        if job is None:  # abandoned, and its stuck call has returned
            return
        try:
            job.result = job.fn(*job.args)
        except BaseException as exc:  # handed to the caller, whatever it is
            job.error = exc
        job.finished = True
        job.done.set()


class CallGuard:
    """Runs calls on a reusable daemon worker, waiting at most a given time for each."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        self._current: _Job | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self.abandoned = 0  # calls left running after their timeout

    def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None) -> Any:
        """``fn(*args)``, or ``CallTimeout`` after ``timeout_s`` seconds (``None``: wait as
        long as it takes, still on the worker so that ``cancel`` can end the wait)."""
        with self._lock:
            if self._cancelled.is_set():
                raise CallCancelled("the run is stopping")
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                threading.Thread(
                    target=_work, args=(self, self._jobs), name=f"call-{self.name}", daemon=True
                ).start()
            jobs = self._jobs
            job = self._current = _Job(fn, args)
            jobs.put(job)
        job.done.wait(timeout_s)
        with self._lock:
            self._current = None
            if job.finished:
                if job.error is not None:
                    raise job.error
                return job.result
            # abandoned: the worker is stuck in this call; the next call gets a new one
            self._jobs = None
            jobs.put(None)  # lets the old worker exit if the call ever returns
            self.abandoned += 1
        if self._cancelled.is_set():
            raise CallCancelled("the run is stopping")
        raise CallTimeout(f"no answer within timeout_s={timeout_s:g} s (call abandoned)")

    def cancel(self) -> None:
        """Stop waiting: the call in flight and all later ones raise ``CallCancelled``."""
        with self._lock:
            self._cancelled.set()
            if self._current is not None:
                self._current.done.set()
