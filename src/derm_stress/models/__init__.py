"""Model adapters and the registry that builds them from config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from derm_stress.errors import InvalidArgument, did_you_mean
from derm_stress.models.base import Answer, Model
from derm_stress.models.callable import CallableModel
from derm_stress.models.hf import HFModel
from derm_stress.models.openai_chat import OpenAIChatModel
from derm_stress.models.reference.model import ReferenceModel

ADAPTERS: dict[str, Callable[..., Model]] = {
    "reference": ReferenceModel,
    "callable": lambda name, target, **kw: CallableModel(name, target, **kw),
    "openai": OpenAIChatModel,
    "hf": HFModel,
}


def make_model(spec: Mapping[str, Any]) -> Model:
    """Build a model from a config entry ``{name, adapter, **settings}``."""
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"a model entry must be a mapping, got {spec!r}")
    settings = dict(spec)
    adapter = str(settings.pop("adapter", "reference"))
    name = str(settings.pop("name", adapter))
    if adapter not in ADAPTERS:
        raise did_you_mean(adapter, ADAPTERS, "model adapter")
    try:
        return ADAPTERS[adapter](name=name, **settings)
    except TypeError as exc:
        raise InvalidArgument(f"model {name!r} ({adapter}): {exc}") from None


__all__ = [
    "ADAPTERS",
    "Answer",
    "CallableModel",
    "HFModel",
    "Model",
    "OpenAIChatModel",
    "ReferenceModel",
    "make_model",
]
