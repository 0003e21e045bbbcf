"""The model contract: one required method that answers a batch of probes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol, TypeVar

from derm_stress.models.timeout import DEFAULT_TIMEOUT_S, CallGuard
from derm_stress.parsing import parse_answer
from derm_stress.perturb.condition import Probe
from derm_stress.schema import ResultStatus

# a model answer's status is ``OK``, ``UNPARSEABLE`` or ``ERROR`` of the one result-status enum


@dataclass(frozen=True)
class Answer:
    """A model's answer to one probe: raw text, the parsed differential, or an error.

    ``differential`` holds canonical codes, best first (``OTHER`` for diagnoses outside the
    vocabulary, whose text is kept in ``other_terms``).
    """

    raw: str
    differential: tuple[str, ...] = ()
    confidences: tuple[float | None, ...] = ()
    triage: str | None = None
    status: ResultStatus = ResultStatus.OK
    error: str | None = None
    other_terms: tuple[str, ...] = ()
    prompt: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str, **fields: Any) -> Answer:
        """Parse a model's text answer (``derm_stress.parsing``) into an ``Answer``;
        ``fields`` add the call's details (prompt, tokens, latency...)."""
        parsed = parse_answer(text)
        return cls(
            raw=text,
            differential=parsed.differential,
            confidences=parsed.confidences,
            triage=parsed.triage,
            status=ResultStatus.OK if parsed.status == "ok" else ResultStatus.UNPARSEABLE,
            error=parsed.reason,
            other_terms=parsed.other_terms,
            **fields,
        )

    @classmethod
    def failed(cls, error: str, raw: str = "", latency_s: float | None = None) -> Answer:
        return cls(raw=raw, status=ResultStatus.ERROR, error=error, latency_s=latency_s)

    def truncated(self, max_chars: int | None) -> Answer:
        """This answer with ``raw`` and ``error`` cut to ``max_chars`` characters; a cut is
        recorded in ``extra`` (``raw_chars`` / ``error_chars``: the original lengths)."""
        if max_chars is None or (
            len(self.raw) <= max_chars and (self.error is None or len(self.error) <= max_chars)
        ):
            return self
        extra = dict(self.extra)
        raw, error = self.raw, self.error
        if len(raw) > max_chars:
            extra["raw_chars"] = len(raw)
            raw = raw[:max_chars]
        if error is not None and len(error) > max_chars:
            extra["error_chars"] = len(error)
            error = error[:max_chars]
        return dataclasses.replace(self, raw=raw, error=error, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        # field by field: dataclasses.asdict deep-copies, a cost paid on every stored result
        data = {name: getattr(self, name) for name in _ANSWER_FIELDS}
        for key in ("differential", "confidences", "other_terms"):
            data[key] = list(data[key])
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        values = dict(data)
        for key in ("differential", "confidences", "other_terms"):
            values[key] = tuple(values.get(key) or ())
        values["status"] = ResultStatus(values.get("status", ResultStatus.OK))
        return cls(**values)


_ANSWER_FIELDS = tuple(f.name for f in fields(Answer))


@dataclass
class Activity:
    """What a model is doing right now, for the progress bar: retries made so far (and the
    reason of the last one), and the concurrency it currently allows itself."""

    retries: int = 0
    last_retry: str | None = None
    concurrency: int | None = None


class BatchJournal(Protocol):
    """Which remote batch holds which request (by a request id the adapter chooses), kept
    with the run's results so that an interrupted run polls its pending batches instead of
    submitting (and paying for) them again. Each change is durable when the call returns."""

    def lookup(self, requests: Sequence[str]) -> dict[str, str]: ...

    def record(self, model: str, batch_id: str, requests: Sequence[str]) -> None: ...

    def forget(self, requests: Sequence[str]) -> None: ...


class Model(ABC):
    """Base of every adapter.

    Subclasses implement ``answer`` and list in ``identity()`` every setting that changes
    the output (and nothing else, so connection limits or retries never invalidate the
    store). ``batch_size`` and ``max_concurrency`` are overridable defaults.

    ``timeout_s`` (a setting every adapter takes, see ``COMMON_SETTINGS``) bounds one call:
    an adapter with its own client timeout (openai) uses it there; others run the call
    through ``call_with_timeout``. A timed-out call is an error for its probes, retried on
    the next run. ``None`` waits as long as the call takes.
    """

    adapter: ClassVar[str]
    batch_size: int = 16
    max_concurrency: int = 1
    timeout_s: float | None = DEFAULT_TIMEOUT_S

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_settings(cls, name: str, **settings: Any) -> Model:
        """Build the model from a config entry's settings. The default passes them to the
        constructor; an adapter whose config keys differ from its constructor's parameters
        overrides this (its signature is then what the settings are checked against)."""
        return cls(name, **settings)

    def call_with_timeout(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on a worker thread, abandoned after ``timeout_s`` (raises
        ``CallTimeout``) or when the run is stopping (raises ``CallCancelled``)."""
        return self._guard().call(fn, *args, timeout_s=self.timeout_s)

    def map_with_timeout(self, fn: Any, items: Sequence[Any]) -> list[tuple[bool, Any]]:
        """``fn(item)`` for each item on a worker thread, each call bounded by ``timeout_s``
        (see ``CallGuard.map``): per item ``(True, result)`` or ``(False, exception)``."""
        return self._guard().map(fn, items, self.timeout_s)

    def _guard(self) -> CallGuard:
        guard: CallGuard | None = self.__dict__.get("_call_guard")
        if guard is None:
            guard = self.__dict__["_call_guard"] = CallGuard(self.name)
        return guard

    def cancel(self) -> None:
        """The run is stopping (Ctrl-C): calls waited for end now, later ones fail fast."""
        self._guard().cancel()

    @abstractmethod
    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        """Answer each probe, in order. A failure for one probe is an ``Answer.failed``."""

    def identity(self) -> dict[str, Any]:
        """Adapter name plus every setting that changes the output."""
        return {"adapter": self.adapter}

    @property
    def prompt_version(self) -> str:
        """Version of the prompt template this model is sent (``n/a`` if it takes no prompt)."""
        return "n/a"

    def identity_hash(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def activity(self) -> Activity | None:
        """Live counters for the progress bar (``None``: nothing to show)."""
        return None

    def use_journal(self, journal: BatchJournal) -> None:  # noqa: B027 - optional hook
        """The run's batch journal (a table of its results store), for adapters that must
        remember work handed to a remote service between runs (the OpenAI Batch API's batch
        ids)."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources (connections, GPU memory)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


_T = TypeVar("_T")


class AsyncModel(Model):
    """A model that answers on its own event loop, for network APIs.

    The loop (and whatever client the adapter keeps on it) lives in one background thread
    for the model's whole life. ``submit`` hands it ``submit_size`` probes and returns at
    once with a future, so the harness keeps ``in_flight`` submissions going and stores
    each answer as it returns, with no batch barrier. ``answer`` (the batch contract, used
    by the Ray executor and by scripts) submits every probe and waits for all of them.
    """

    #: probes per submission (1: one request each, answered as soon as it returns)
    submit_size: int = 1

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        """Submissions the harness keeps going: twice the concurrency, so that a request
        that returns is followed at once by one already prepared (the adapter itself keeps
        at most ``max_concurrency`` on the wire)."""
        return 2 * self.max_concurrency

    @abstractmethod
    async def answer_async(self, probes: Sequence[Probe]) -> list[Answer]:
        """Answer ``probes`` on the model's loop; failures are ``Answer.failed``."""

    def run_coroutine(self, coroutine: Coroutine[Any, Any, _T]) -> Future[_T]:
        """Schedule ``coroutine`` on the model's loop (started on first use)."""
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name=f"model-{self.name}", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    def submit(self, probes: Sequence[Probe]) -> Future[list[Answer]]:
        """Start answering ``probes``; the future gives their answers, in order."""
        return self.run_coroutine(self.answer_async(list(probes)))

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        size = max(1, self.submit_size)
        futures = [self.submit(probes[i : i + size]) for i in range(0, len(probes), size)]
        return [a for f in futures for a in f.result()]

    async def aclose(self) -> None:
        """Release what lives on the loop (clients); called on the loop by ``close``."""

    def cancel(self) -> None:
        """The run is stopping: the requests in flight end now (as failed answers)."""
        super().cancel()
        loop = self._loop
        if loop is not None and not loop.is_closed():

            def cancel_all() -> None:
                for task in asyncio.all_tasks(loop):
                    task.cancel()

            loop.call_soon_threadsafe(cancel_all)

    def close(self) -> None:
        with self._loop_lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            if not thread.is_alive():
                loop.close()
