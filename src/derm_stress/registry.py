"""One registry type for everything that plugs in: operators, model adapters, executors and
dataset loaders.

A ``Registry`` maps names to entries of one kind. An entry is registered as the object itself
(by decorator or call) or lazily as a ``"package.module:attribute"`` string, imported the
first time it is used, so ``import derm_stress`` stays cheap and optional dependencies load
only when their entry is asked for. Third-party packages publish entries through the entry
point group of a registry (``derm_stress.operators``, ``derm_stress.adapters``,
``derm_stress.datasets``); these are read on the first lookup or listing, never at import,
and one that fails to load is reported, naming its distribution and entry point, when it is
used. Every entry is checked against the registry's base class (a subclass of it, or an
instance for registries of objects) and its own check, and a name registered twice is an
error naming both origins.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, overload

from derm_stress.errors import PluginError, did_you_mean

E = TypeVar("E")


@dataclass
class _Entry:
    origin: str  # where it was registered, for duplicate and load errors
    target: str | None  # "module:attr" of a lazy entry
    value: Any = None
    loaded: bool = False


def _origin_of(value: Any) -> str:
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"{module}:{qualname}" if module else str(qualname)


class Registry(Generic[E]):
    """Names -> entries of one kind (``what`` names the kind in messages).

    ``base``: every entry must be a subclass of it (``instances=False``) or an instance of
    it (``instances=True``). ``check(name, entry)``: further validation of a loaded entry
    (raise with a clear message). ``group``: the entry point group read for third-party
    entries. ``name_of``: the name of an entry registered without one
    (``@registry.register``).
    """

    def __init__(
        self,
        what: str,
        base: type[Any],
        *,
        instances: bool = False,
        group: str | None = None,
        check: Callable[[str, E], None] | None = None,
        name_of: Callable[[E], str] | None = None,
    ) -> None:
        self.what = what
        self.base = base
        self.instances = instances
        self.group = group
        self._check = check
        self._name_of = name_of
        self._entries: dict[str, _Entry] = {}
        self._discovered = group is None
        self._lock = threading.RLock()

    # -- registering ------------------------------------------------------------------------

    @overload
    def register(self, obj: E, /) -> E: ...

    @overload
    def register(self, name: str, /) -> Callable[[E], E]: ...

    @overload
    def register(self, obj: E, /, *, name: str) -> E: ...

    def register(self, obj: Any, /, *, name: str | None = None) -> Any:
        """Register ``obj`` (``@registry.register``, its name from ``name_of``), or return a
        decorator registering under a given name (``@registry.register("name")``)."""
        if isinstance(obj, str) and name is None:
            given = obj

            def decorator(value: E) -> E:
                self._add(given, value, None)
                return value

            return decorator
        if name is None:
            if self._name_of is None:
                raise TypeError(f"{self.what} entries need a name: register(obj, name=...)")
            name = self._name_of(obj)
        self._add(name, obj, None)
        return obj

    def register_lazy(self, name: str, target: str, origin: str | None = None) -> None:
        """Register ``"package.module:attribute"`` under ``name``, imported on first use."""
        module, _, attr = target.partition(":")
        if not module or not attr:
            raise ValueError(
                f"a lazy {self.what} must be 'package.module:attribute', got {target!r}"
            )
        self._add(name, None, target, origin or target)

    def _add(self, name: str, value: Any, target: str | None, origin: str | None = None) -> None:
        if not name:
            raise TypeError(f"a {self.what} name must be a non-empty string, got {name!r}")
        entry = _Entry(origin or _origin_of(value), target)
        if target is None:
            self._validate(name, value)
            entry.value, entry.loaded = value, True
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                raise ValueError(
                    f"{self.what} name {name!r} is already registered by {old.origin}; "
                    f"cannot register it again from {entry.origin}"
                )
            self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests, and a plugin replacing its own entry)."""
        with self._lock:
            self._entries.pop(name, None)

    def _validate(self, name: str, value: Any) -> None:
        if self.instances:
            ok = isinstance(value, self.base)
            want = f"an instance of {self.base.__module__}.{self.base.__qualname__}"
        else:
            ok = isinstance(value, type) and issubclass(value, self.base)
            want = f"a subclass of {self.base.__module__}.{self.base.__qualname__}"
        if not ok:
            raise TypeError(f"{self.what} {name!r}: {value!r} is not {want}")
        if self._check is not None:
            self._check(name, value)

    # -- entry points -------------------------------------------------------------------------

    def _discover(self) -> None:
        """Read the entry point group once (on first use). Two entries under one name (two
        packages, or a package and a built-in) are refused on every use, naming both."""
        if not self._discovered:
            with self._lock:
                self._read_entry_points()

    def _read_entry_points(self) -> None:
        if self._discovered or self.group is None:
            return
        points = sorted(entry_points(group=self.group), key=lambda p: (p.name, p.value))
        seen: dict[str, str] = {n: e.origin for n, e in self._entries.items()}
        for point in points:
            origin = _describe_point(point)
            if point.name in seen:
                raise PluginError(
                    f"{self.what} name {point.name!r} is registered twice: by {seen[point.name]} "
                    f"and by {origin}; uninstall one of them"
                )
            seen[point.name] = origin
        for point in points:
            self._entries[point.name] = _Entry(_describe_point(point), point.value)
        self._discovered = True

    # -- looking up -------------------------------------------------------------------------

    def get(self, name: str) -> E:
        """The entry called ``name`` (loaded if lazy); an unknown name suggests close ones."""
        self._discover()
        entry = self._entries.get(name)
        if entry is None:
            raise did_you_mean(str(name), self._entries, self.what)
        if not entry.loaded:
            self._load(name, entry)
        value: E = entry.value
        return value

    def _load(self, name: str, entry: _Entry) -> None:
        with self._lock:
            if entry.loaded:
                return
            assert entry.target is not None
            module_name, _, attr = entry.target.partition(":")
            try:
                value: Any = importlib.import_module(module_name)
                for part in attr.split("."):
                    value = getattr(value, part)
            except Exception as exc:
                raise PluginError(
                    f"{self.what} {name!r} ({entry.origin}) failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            try:
                self._validate(name, value)
            except (TypeError, ValueError) as exc:
                raise PluginError(f"{self.what} {name!r} ({entry.origin}): {exc}") from exc
            entry.value, entry.loaded = value, True

    def origin(self, name: str) -> str:
        """Where ``name`` was registered (a module, or an entry point and its distribution)."""
        self._discover()
        if name not in self._entries:
            raise did_you_mean(str(name), self._entries, self.what)
        return self._entries[name].origin

    def names(self) -> list[str]:
        """Every registered name, sorted (lazy entries are not loaded)."""
        self._discover()
        return sorted(self._entries)

    def items(
        self, *, on_broken: Callable[[PluginError], None] | None = None
    ) -> list[tuple[str, E]]:
        """(name, entry) for every name, sorted; loads every lazy entry.

        An entry that fails to load raises its ``PluginError``, or, with ``on_broken``, is
        handed to it and left out, so one broken plugin does not hide every other entry from
        a listing (asking for that entry by name still raises)."""
        out: list[tuple[str, E]] = []
        for name in self.names():
            try:
                out.append((name, self.get(name)))
            except PluginError as exc:
                if on_broken is None:
                    raise
                on_broken(exc)
        return out

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._discover()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self._entries)} entries)"


def _describe_point(point: EntryPoint) -> str:
    dist = point.dist
    source = (
        f"distribution {dist.name} {dist.version}" if dist is not None else "unknown distribution"
    )
    return f"entry point {point.name} = {point.value} in group {point.group}, {source}"


__all__ = ["Registry"]
