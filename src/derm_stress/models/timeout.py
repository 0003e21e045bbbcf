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
import time
from collections.abc import Callable, Sequence
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


class _Batch:
    """Items answered one after another on the worker, each result reported as it comes,
    so the caller can bound every item's time with one hand-off for the whole batch."""

    def __init__(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> None:
        self.fn = fn
        self.items = items
        self.cond = threading.Condition()
        self.results: list[tuple[bool, Any]] = []
        self.started = time.monotonic()  # when the current item started
        self.abandoned = threading.Event()

    def run(self) -> None:
        for item in self.items:
            with self.cond:
                if self.abandoned.is_set():
                    return
                self.started = time.monotonic()
            try:
                value: tuple[bool, Any] = (True, self.fn(item))
            except BaseException as exc:  # handed to the caller, whatever it is
                value = (False, exc)
            with self.cond:
                if self.abandoned.is_set():
                    return
                self.results.append(value)
                if len(self.results) == len(self.items):
                    # the waiter only wakes for the end (or its deadline, when it checks
                    # how long the current item has run): no context switch per item
                    self.cond.notify_all()


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
        self._batch: _Batch | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self.abandoned = 0  # calls left running after their timeout

    def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None) -> Any:
        """``fn(*args)``, or ``CallTimeout`` after ``timeout_s`` seconds (``None``: wait as
        long as it takes, still on the worker so that ``cancel`` can end the wait)."""
        with self._lock:
            if self._cancelled.is_set():
                raise CallCancelled("the run is stopping")
            job = self._current = _Job(fn, args)
            self._start(job)
        job.done.wait(timeout_s)
        with self._lock:
            self._current = None
            if job.finished:
                if job.error is not None:
                    raise job.error
                return job.result
            self._abandon()
        if self._cancelled.is_set():
            raise CallCancelled("the run is stopping")
        raise CallTimeout(f"no answer within timeout_s={timeout_s:g} s (call abandoned)")

    def _start(self, job: _Job) -> None:
        """Queue ``job`` on the worker (started if there is none); hold ``_lock``."""
        if self._jobs is None:
            self._jobs = queue.SimpleQueue()
            threading.Thread(
                target=_work, args=(self, self._jobs), name=f"call-{self.name}", daemon=True
            ).start()
        self._jobs.put(job)

    def _abandon(self) -> None:
        """The worker is stuck in a call: leave it; the next call gets a new one. Hold
        ``_lock``."""
        if self._jobs is not None:
            self._jobs.put(None)  # lets the old worker exit if the call ever returns
        self._jobs = None
        self.abandoned += 1

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], timeout_s: float | None
    ) -> list[tuple[bool, Any]]:
        """``fn(item)`` for each item, in order, each call bounded by ``timeout_s``: per item
        ``(True, result)`` or ``(False, exception)`` (``CallTimeout`` for an item past its
        time, after which the rest go on a fresh worker; ``CallCancelled`` for every item
        left when ``cancel`` is called). One hand-off to the worker per batch, not per item."""
        out: list[tuple[bool, Any]] = []
        while len(out) < len(items):
            batch = _Batch(fn, items[len(out) :])
            with self._lock:
                if self._cancelled.is_set():
                    stop = CallCancelled("the run is stopping")
                    return out + [(False, stop)] * (len(items) - len(out))
                self._batch = batch
                self._start(_Job(batch.run, ()))
            with batch.cond:
                while len(batch.results) < len(batch.items) and not self._cancelled.is_set():
                    if timeout_s is None:
                        batch.cond.wait()
                        continue
                    left = timeout_s - (time.monotonic() - batch.started)
                    if left <= 0:
                        break
                    batch.cond.wait(left)
                done = len(batch.results) == len(batch.items)
                if not done:
                    batch.abandoned.set()
                out.extend(batch.results)
            with self._lock:
                self._batch = None
                if not done:
                    self._abandon()
            if not done and self._cancelled.is_set():
                stop = CallCancelled("the run is stopping")
                return out + [(False, stop)] * (len(items) - len(out))
            if not done:
                late = CallTimeout(f"no answer within timeout_s={timeout_s:g} s (call abandoned)")
                out.append((False, late))
        return out

    def cancel(self) -> None:
        """Stop waiting: the call in flight and all later ones raise ``CallCancelled``."""
        with self._lock:
            self._cancelled.set()
            if self._current is not None:
                self._current.done.set()
            batch = self._batch
        if batch is not None:
            with batch.cond:
                batch.cond.notify_all()
