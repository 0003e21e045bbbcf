"""Model adapters and the registry that builds them from config."""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Mapping
from typing import Any

from derm_stress.errors import InvalidArgument, shorten
from derm_stress.models.base import Answer, Model
from derm_stress.models.callable import CallableModel
from derm_stress.models.hf import HFModel
from derm_stress.models.openai_chat import OpenAIChatModel
from derm_stress.models.reference.model import ReferenceModel
from derm_stress.registry import Registry

#: every model adapter, by the name a config's ``adapter:`` gives: the built-in ones and
#: those installed packages publish in the ``derm_stress.adapters`` entry point group
#: (each a ``Model`` subclass; see ``Model.from_settings``)
ADAPTERS: Registry[type[Model]] = Registry("model adapter", Model, group="derm_stress.adapters")
for _adapter in (ReferenceModel, CallableModel, OpenAIChatModel, HFModel):
    ADAPTERS.register(_adapter, name=_adapter.adapter)
del _adapter

#: settings every adapter takes, besides its own (``timeout_s``: see ``Model``)
COMMON_SETTINGS = ("timeout_s",)


def _factory(cls: type[Model]) -> Any:
    """What a config's settings are passed to: ``from_settings`` if the adapter overrides
    it, else the constructor."""
    own = getattr(cls.from_settings, "__func__", None)
    base = getattr(Model.from_settings, "__func__", None)
    return cls.from_settings if own is not base else cls


# a factory's signature, read once per process (every run builds its models: two reads
# per model were a tenth of a resume's CPU); signatures are immutable
_signature = functools.lru_cache(maxsize=256)(inspect.signature)


def adapter_settings(adapter: str) -> tuple[list[str], list[str]]:
    """(allowed, required) settings of an adapter, read from its constructor's signature
    (or ``from_settings``'s where it overrides it; ``name`` and ``adapter`` aside), the
    common settings included in allowed."""
    parameters = _signature(_factory(ADAPTERS.get(adapter))).parameters.values()
    own = [
        p
        for p in parameters
        if p.name not in ("self", "cls", "name") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    allowed = sorted({p.name for p in own} | set(COMMON_SETTINGS))
    required = [p.name for p in own if p.default is p.empty]
    return allowed, required


def check_settings(adapter: str, name: str, settings: Mapping[str, Any]) -> None:
    """Refuse unknown or missing settings before anything is built, with a suggestion
    and the allowed list (rather than a constructor's ``TypeError``)."""
    allowed, required = adapter_settings(adapter)
    where = f"model {name!r} ({adapter})"
    for key in settings:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" did you mean {close[0]!r}?" if close else ""
            raise InvalidArgument(
                f"{where}: unknown setting {shorten(key)};{hint} allowed: {', '.join(allowed)}"
            )
    missing = [r for r in required if r not in settings]
    if missing:
        raise InvalidArgument(f"{where}: missing setting(s) {', '.join(missing)}")
    timeout = settings.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise InvalidArgument(
            f"{where}: timeout_s must be a positive number of seconds (or null for no "
            f"limit), got {shorten(timeout)}"
        )


def make_model(spec: Mapping[str, Any]) -> Model:
    """Build a model from a config entry ``{name, adapter, **settings}``; the settings are
    checked against the adapter's signature first, so an exception from the constructor
    is a real error of the adapter and surfaces as itself."""
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"a model entry must be a mapping, got {shorten(spec)}")
    settings = dict(spec)
    adapter = str(settings.pop("adapter", "reference"))
    name = str(settings.pop("name", adapter))
    cls = ADAPTERS.get(adapter)  # an unknown name: did-you-mean and the list
    check_settings(adapter, name, settings)
    factory = _factory(cls)
    own = _signature(factory).parameters
    common = {k: settings.pop(k) for k in COMMON_SETTINGS if k in settings and k not in own}
    model = factory(name=name, **settings)
    if not isinstance(model, Model):
        raise TypeError(f"adapter {adapter!r} built {type(model).__name__}, not a Model")
    if "timeout_s" in common or "timeout_s" in settings:
        timeout = common.get("timeout_s", settings.get("timeout_s"))
        model.timeout_s = None if timeout is None else float(timeout)
    return model


__all__ = [
    "ADAPTERS",
    "COMMON_SETTINGS",
    "Answer",
    "CallableModel",
    "HFModel",
    "Model",
    "OpenAIChatModel",
    "ReferenceModel",
    "adapter_settings",
    "check_settings",
    "make_model",
]
