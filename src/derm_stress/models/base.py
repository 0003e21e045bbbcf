"""The model contract: one required method that answers a batch of probes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from derm_stress.models.timeout import DEFAULT_TIMEOUT_S, CallGuard
from derm_stress.parsing import parse_answer
from derm_stress.perturb.condition import Probe

AnswerStatus = Literal["ok", "unparseable", "error"]


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
    status: AnswerStatus = "ok"
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
            status="ok" if parsed.status == "ok" else "unparseable",
            error=parsed.reason,
            other_terms=parsed.other_terms,
            **fields,
        )

    @classmethod
    def failed(cls, error: str, raw: str = "", latency_s: float | None = None) -> Answer:
        return cls(raw=raw, status="error", error=error, latency_s=latency_s)

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
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("differential", "confidences", "other_terms"):
            data[key] = list(data[key])
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        values = dict(data)
        for key in ("differential", "confidences", "other_terms"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


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

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources (connections, GPU memory)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
