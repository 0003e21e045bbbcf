"""Grids: YAML axes that expand to conditions.

An image axis entry is ``none``, ``{op: NAME, severity: S or [S, ...], **options}``
(an operator whose table is configured, such as ``albumentations``, takes the table
itself as ``severity: {1: ..., 5: ...}`` and runs every level in it),
``{seq: [entry, ...]}`` (operators applied in order; lists of severities multiply out) or
``{one_of: [entry, ...], severity: S or [S, ...]}`` (one operator per case, chosen by the
seeded RNG; the severity applies to every choice that names none).
A context axis entry is ``image_only``, ``full``, or the same operator forms over note
operators (applied to the full note). The grid is the product of the two axes; the
baseline (clean image, image only) is always included, first.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from derm_stress.errors import InvalidArgument, shorten
from derm_stress.perturb.base import Operator, get_operator, make_operator
from derm_stress.perturb.compose import OneOf
from derm_stress.perturb.condition import BASELINE, Condition, ContextMode
from derm_stress.safe_yaml import load_yaml_file

GRID_KEYS = ("image", "context")


def _severities(entry: Mapping[str, Any], where: str) -> list[int | None]:
    value = entry.get("severity")
    if value is None:
        return [None]
    values = value if isinstance(value, list) else [value]
    if not values:
        raise InvalidArgument(f"{where}: severity list is empty")
    return list(values)


def _one_of_variants(
    entry: Mapping[str, Any], kind: str, where: str
) -> list[tuple[Operator[Any], ...]]:
    choices = entry["one_of"]
    if not isinstance(choices, list) or len(choices) < 2:
        raise InvalidArgument(
            f"{where}: 'one_of' must list at least two operators, got {shorten(choices)}"
        )
    out: list[tuple[Operator[Any], ...]] = []
    for severity in _severities(entry, where):
        picked = []
        for i, choice in enumerate(choices):
            if severity is not None and isinstance(choice, Mapping) and "severity" not in choice:
                choice = {**choice, "severity": severity}
            variants = _op_variants(choice, kind, f"{where}.one_of[{i}]")
            if len(variants) != 1 or len(variants[0]) != 1:
                raise InvalidArgument(
                    f"{where}.one_of[{i}]: each choice must be one operator at one severity"
                )
            picked.append(variants[0][0])
        out.append((OneOf(picked),))
    return out


def _op_variants(entry: Any, kind: str, where: str) -> list[tuple[Operator[Any], ...]]:
    """All operator sequences one axis entry stands for."""
    if isinstance(entry, Mapping) and "one_of" in entry:
        return _one_of_variants(entry, kind, where)
    if isinstance(entry, Mapping) and "seq" in entry:
        steps = entry["seq"]
        if not isinstance(steps, list) or not steps:
            raise InvalidArgument(f"{where}: 'seq' must be a non-empty list, got {shorten(steps)}")
        parts = [_op_variants(step, kind, f"{where}.seq[{i}]") for i, step in enumerate(steps)]
        return [tuple(op for part in combo for op in part) for combo in itertools.product(*parts)]
    if not isinstance(entry, Mapping) or "op" not in entry:
        raise InvalidArgument(
            f"{where}: expected an operator like {{op: NAME, severity: S}}, got {shorten(entry)}"
        )
    name = entry["op"]
    cls = get_operator(str(name))
    if cls.kind != kind:
        raise InvalidArgument(
            f"{where}: {name!r} is a {cls.kind} operator, not allowed on the "
            f"{'image' if kind == 'image' else 'context'} axis"
        )
    options = {k: v for k, v in entry.items() if k not in ("op", "severity")}
    table = entry.get("severity")
    if isinstance(table, Mapping):
        # a severity table given in the grid (the albumentations bridge): every level runs
        if "table" not in cls.options:
            raise InvalidArgument(
                f"{where}: {name!r} has a fixed severity table; give severity as S or [S, ...]"
            )
        if not table:
            raise InvalidArgument(f"{where}: the severity table is empty")
        options["table"] = table
        levels = sorted(make_operator(name, 0, **options).severities)
        return [(make_operator(name, s, **options),) for s in levels]
    return [(make_operator(name, s, **options),) for s in _severities(entry, where)]


def _image_axis(values: Sequence[Any]) -> list[tuple[Operator[Any], ...]]:
    out: list[tuple[Operator[Any], ...]] = []
    for i, entry in enumerate(values):
        if entry in ("none", None):
            out.append(())
        else:
            out.extend(_op_variants(entry, "image", f"image[{i}]"))
    return out


def _context_axis(values: Sequence[Any]) -> list[tuple[ContextMode, tuple[Operator[Any], ...]]]:
    out: list[tuple[ContextMode, tuple[Operator[Any], ...]]] = []
    for i, entry in enumerate(values):
        if entry == "image_only" or entry == "full":
            out.append((entry, ()))
        elif isinstance(entry, str):
            raise InvalidArgument(
                f"context[{i}]: expected image_only, full or an operator, got {shorten(entry)}"
            )
        else:
            out.extend(("full", ops) for ops in _op_variants(entry, "note", f"context[{i}]"))
    return out


def _axis(spec: Mapping[str, Any], key: str, default: list[Any]) -> list[Any]:
    value = spec.get(key, default)
    if not isinstance(value, list) or not value:
        raise InvalidArgument(f"grid: {key!r} must be a non-empty list, got {shorten(value)}")
    return value


def expand_grid(spec: Mapping[str, Any]) -> list[Condition]:
    """Expand a grid mapping (``image`` and ``context`` axes) to its conditions."""
    images = _image_axis(_axis(spec, "image", ["none"]))
    contexts = _context_axis(_axis(spec, "context", ["image_only"]))
    conditions = [BASELINE]
    seen = {BASELINE.id}
    for image_ops, (mode, note_ops) in itertools.product(images, contexts):
        condition = Condition(image_ops=image_ops, context=mode, note_ops=note_ops)
        if condition.id not in seen:
            seen.add(condition.id)
            conditions.append(condition)
    return conditions


def load_grid(path: str | Path) -> list[Condition]:
    """Read a YAML grid (or run config) file and expand it."""
    spec = load_yaml_file(path) or {}
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"{path}: expected a mapping at the top level")
    return expand_grid(spec)
