"""Adapter for any Python callable: ``fn(probe) -> str | list[str] | Answer``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from derm_stress.errors import InvalidArgument
from derm_stress.labels import OTHER, label
from derm_stress.models.base import Answer, Model
from derm_stress.perturb.condition import Probe
from derm_stress.schema import ResultStatus

ProbeFn = Callable[[Probe], Any]


def _load_file(file: str, target: str, base_dir: Path | None) -> ModuleType:
    base = base_dir or Path.cwd()
    path = Path(file).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise InvalidArgument(
            f"callable {target!r}: no file {path} (a relative path is read from the "
            f"config's folder, {base})"
        )
    resolved = path.resolve()
    name = "derm_stress_target_" + hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InvalidArgument(f"callable {target!r}: {path} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look it up
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the file is user code
        del sys.modules[name]
        raise InvalidArgument(
            f"callable {target!r}: importing {path} failed: {type(exc).__name__}: {exc}"
        ) from None
    return module


def _import(module_name: str, target: str, base_dir: Path | None) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        looked = [p or "." for p in sys.path[:6]] + (["..."] if len(sys.path) > 6 else [])
        hint = " For a file next to the config, write target: path/to/file.py:function."
        if base_dir is not None:
            local = base_dir / (module_name.replace(".", "/") + ".py")
            if local.is_file():
                hint = (
                    f" {local} exists but is not importable from there; write "
                    f"target: {local.relative_to(base_dir)}:{target.rpartition(':')[2]}"
                )
        raise InvalidArgument(
            f"cannot import {module_name!r} for callable {target!r}: {exc}; looked in "
            f"sys.path ({', '.join(looked)}).{hint}"
        ) from None


def _resolve(target: str, base_dir: Path | None = None) -> ProbeFn:
    """``package.module:function`` (imported), or ``path/to/file.py:function`` (loaded
    from the file; a relative path is read from ``base_dir``, the config's folder)."""
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise InvalidArgument(
            "callable target must look like 'package.module:function' or "
            f"'path/to/file.py:function', got {target!r}"
        )
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        obj: Any = _load_file(module_name, target, base_dir)
    else:
        obj = _import(module_name, target, base_dir)
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
            status=ResultStatus.OK if codes else ResultStatus.UNPARSEABLE,
            latency_s=latency_s,
        )
    raise TypeError(
        f"a model callable must return str, a list of codes or an Answer, "
        f"got {type(output).__name__}"
    )


class CallableModel(Model):
    """Wrap a function that answers one probe. Its identity is its target and ``version``.

    ``fn`` is the function, or a target: ``package.module:function`` or
    ``path/to/file.py:function`` (relative to ``base_dir``; in a config, the config's
    folder). Bump ``version`` when the function's behaviour changes, or stored results are
    reused. Each call is bounded by ``timeout_s`` (see ``Model``).
    """

    adapter = "callable"

    def __init__(
        self,
        name: str,
        fn: ProbeFn | str,
        version: str = "1",
        batch_size: int = 16,
        base_dir: str | Path | None = None,
    ) -> None:
        super().__init__(name)
        self.target = fn if isinstance(fn, str) else f"{fn.__module__}:{fn.__qualname__}"
        base = Path(base_dir) if base_dir is not None else None
        self.fn = _resolve(fn, base) if isinstance(fn, str) else fn
        self.version = str(version)
        self.batch_size = batch_size

    @classmethod
    def from_settings(  # type: ignore[override]
        cls,
        name: str,
        target: str,
        version: str = "1",
        batch_size: int = 16,
        base_dir: str | Path | None = None,
    ) -> CallableModel:
        """A config names the function ``target`` (the constructor's ``fn``)."""
        return cls(name, target, version=version, batch_size=batch_size, base_dir=base_dir)

    def identity(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "target": self.target, "version": self.version}

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        """Call the function on each probe in turn, each call bounded by ``timeout_s``; an
        exception (or a timeout) is that probe's error, never the batch's."""
        answers = []
        for ok, value in self.map_with_timeout(self._timed, probes):
            if not ok:  # a timeout, or the run stopping
                answers.append(Answer.failed(f"{type(value).__name__}: {value}"))
                continue
            output, latency, error = value
            if error is not None:  # the callable is user code: report, never crash
                answers.append(Answer.failed(f"{type(error).__name__}: {error}", latency_s=latency))
                continue
            try:
                answers.append(to_answer(output, latency))
            except Exception as exc:
                answers.append(Answer.failed(f"{type(exc).__name__}: {exc}", latency_s=latency))
        return answers

    def _timed(self, probe: Probe) -> tuple[Any, float, Exception | None]:
        start = time.perf_counter()
        try:
            output = self.fn(probe)
        except Exception as exc:
            return None, time.perf_counter() - start, exc
        return output, time.perf_counter() - start, None
