"""Adapter for any Python callable: ``fn(probe) -> str | list[str] | Answer``."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from derm_stress.errors import InvalidArgument
from derm_stress.labels import OTHER, label
from derm_stress.models.base import Answer, Model
from derm_stress.perturb.condition import Probe

ProbeFn = Callable[[Probe], Any]


def _resolve(target: str) -> ProbeFn:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise InvalidArgument(
            f"callable target must look like 'package.module:function', got {target!r}"
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgument(
            f"cannot import {module_name!r} for callable {target!r}: {exc}"
        ) from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InvalidArgument(f"{module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise InvalidArgument(f"{target!r} is not callable")
    return obj  # type: ignore[no-any-return]


def to_answer(output: Any, latency_s: float | None = None) -> Answer:
    """Turn what a callable returned into an ``Answer`` (text is parsed, codes checked)."""
    if isinstance(output, Answer):
        return output
    if isinstance(output, str):
        return Answer.from_text(
            output,
            latency_s=latency_s,
        )
    if isinstance(output, (list, tuple)) and all(isinstance(c, str) for c in output):
        codes = tuple(c if c == OTHER else label(c).code for c in output)
        return Answer(
            raw=";".join(codes),
            differential=codes,
            status="ok" if codes else "unparseable",
            latency_s=latency_s,
        )
    raise TypeError(
        f"a model callable must return str, a list of codes or an Answer, "
        f"got {type(output).__name__}"
    )


class CallableModel(Model):
    """Wrap a function that answers one probe. Its identity is its target and ``version``.

    Bump ``version`` when the function's behaviour changes, or stored results are reused.
    """

    adapter = "callable"

    def __init__(
        self, name: str, fn: ProbeFn | str, version: str = "1", batch_size: int = 16
    ) -> None:
        super().__init__(name)
        self.target = fn if isinstance(fn, str) else f"{fn.__module__}:{fn.__qualname__}"
        self.fn = _resolve(fn) if isinstance(fn, str) else fn
        self.version = str(version)
        self.batch_size = batch_size

    def identity(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "target": self.target, "version": self.version}

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        answers = []
        for probe in probes:
            start = time.perf_counter()
            try:
                output = self.fn(probe)
                answers.append(to_answer(output, time.perf_counter() - start))
            except Exception as exc:  # the callable is user code: report, never crash
                answers.append(
                    Answer.failed(
                        f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - start
                    )
                )
        return answers
