"""Inbound bridge: an albumentations transform, or a serialised albumentations pipeline, as a
derm-stress image operator.

In a grid::

    image:
      - op: albumentations
        transform: RandomFog
        severity:                      # the severity table: the transform's arguments per level
          1: {fog_coef_range: [0.1, 0.15]}
          ...
          5: {fog_coef_range: [0.5, 0.6]}
      - op: albumentations             # a pipeline saved with A.to_dict, run as one operator
        pipeline: {__version__: 2.0.8, transform: {__class_fullname__: Compose, ...}}

Names and arguments are checked when the grid loads (unknown ones fail with did-you-mean,
never albumentations' warn-and-ignore). Each application seeds albumentations from the
derm-stress RNG of its (case, condition, operator position, image), records the parameters
albumentations reports as applied, and replays byte-identically from the recorded seed. The
condition label carries a digest of every row's ``A.to_dict`` (which includes the
albumentations version), so editing the table or upgrading albumentations never reuses
stored results.

albumentations is an optional dependency (``pip install 'derm-stress[albumentations]'``),
imported only when such an operator is built.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import os
import threading
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from derm_stress.cases import Case
from derm_stress.errors import InvalidArgument, did_you_mean, require
from derm_stress.perturb.base import MAX_SEVERITY, Applied, register
from derm_stress.perturb.image_ops import ImageOperator, check_image

# arrays and lists in applied params longer than this are recorded by their size only (a
# noise map is as large as the photo): the record is for reading, replay uses the seed
_MAX_RECORDED_ARRAY = 64


def import_albumentations(what: str = "the albumentations operator") -> ModuleType:
    """Import albumentations, or fail with the install command.

    Its import-time PyPI version check is switched off (unless the user set the variable):
    a perturbation run must not call the network or wait on it.
    """
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    return require("albumentations", "albumentations", what)


def transform_classes(A: ModuleType) -> dict[str, type[Any]]:
    """Name -> class of every albumentations transform that is not a composition."""
    basic, compose, volume = A.BasicTransform, A.BaseCompose, A.Transform3D
    return {
        name: obj
        for name, obj in vars(A).items()
        if isinstance(obj, type)
        and issubclass(obj, basic)
        and not issubclass(obj, (compose, volume))  # 3-D transforms take volumes
        and (obj.__module__ != basic.__module__ or name == "NoOp")  # not the base classes
    }


def _argument_names(cls: type[Any]) -> set[str] | None:
    """Keyword arguments ``cls`` takes (None when it takes any)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        params = inspect.signature(init).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params) and klass is cls:
            return None
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        }
        break  # the class's own signature is its public one
    schema = getattr(cls, "InitSchema", None)
    if schema is not None:
        names |= set(getattr(schema, "model_fields", {}))
    return names


def _check_arguments(
    cls: type[Any], args: Mapping[str, Any], where: str, hide: frozenset[str] = frozenset()
) -> None:
    allowed = _argument_names(cls)
    if allowed is None:
        return
    for key in args:
        if key not in allowed:
            error = did_you_mean(
                str(key), sorted(allowed - {"strict"} - hide), f"argument of {cls.__name__}"
            )
            raise InvalidArgument(f"{where}: {error}")


def _construct(cls: type[Any], args: dict[str, Any]) -> Any:
    """``cls(**args)`` in albumentations' strict mode, where a bad value raises instead of
    warning and falling back to the defaults. (``strict`` is a keyword of its validating
    wrapper, which a few transforms such as MedianBlur lack; their argument names are
    checked before this all the same.)"""
    try:
        return cls(**args, strict=True)
    except TypeError as exc:
        if "'strict'" not in str(exc):
            raise
    return cls(**args)


def _one_line(exc: BaseException) -> str:
    """A pydantic validation error as ``field: message``; anything else as its first line."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    errors = getattr(cause, "errors", None)
    if callable(errors):
        try:
            parts = [
                f"{'.'.join(str(x) for x in e.get('loc', ())) or 'value'}: {e.get('msg', '')}"
                for e in errors()
            ]
        except Exception:  # not a pydantic error after all
            parts = []
        if parts:
            return "; ".join(parts)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _canonical(value: Any) -> Any:
    """Tuples to lists and numpy scalars to Python, so equal configurations hash equally."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def recordable(value: Any) -> Any:
    """Applied params as plain JSON: small arrays as lists, large ones by shape and dtype."""
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:  # the common case first
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_RECORDED_ARRAY:  # e.g. RandomFog's hundreds of particles
            return {"items": len(value), "first": [recordable(v) for v in value[:4]]}
        return [recordable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.size <= _MAX_RECORDED_ARRAY:
            return recordable(value.tolist())
        return {"array": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        return {str(k): recordable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return recordable(value.item())
    for base in (bool, int, float, str):  # subclasses, e.g. an IntEnum
        if isinstance(value, base):
            return recordable(base(value))
    return repr(value)


def _severity_key(key: Any, where: str) -> int:
    if isinstance(key, bool) or not (
        isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit())
    ):
        raise InvalidArgument(f"{where}: severity table keys must be 1-{MAX_SEVERITY}, got {key!r}")
    level = int(key)
    if not 1 <= level <= MAX_SEVERITY:
        raise InvalidArgument(f"{where}: severity table keys must be 1-{MAX_SEVERITY}, got {key!r}")
    return level


class _Built:
    """The albumentations objects of one operator, built once per thread (transforms keep
    their random state and last params on themselves, so threads must not share them)."""

    def __init__(self, A: ModuleType, rows: Mapping[int, dict[str, Any]]) -> None:
        self.A = A
        self.transforms: dict[int, Any] = {}
        self.composed: dict[int, bool] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # validated when the operator was built
            for level, row in rows.items():
                t = A.from_dict(dict(row))
                self.composed[level] = isinstance(t, A.BaseCompose)
                if self.composed[level]:
                    t.save_applied_params = True
                self.transforms[level] = t


@register
class AlbumentationsOperator(ImageOperator):
    """Any albumentations transform (``transform`` and a severity table of its arguments),
    or a serialised albumentations pipeline (``pipeline``: the dict ``A.to_dict`` returns;
    or a severity table whose rows are such dicts), run as a seeded, recorded, replayable
    image operator. See docs/albumentations.md."""

    name = "albumentations"
    family = "albumentations"
    graded = False  # per instance: graded when it has a severity table
    configured = True
    options: ClassVar[Mapping[str, Any]] = {"transform": None, "table": None, "pipeline": None}

    def validate(self) -> None:
        A = import_albumentations()
        self.version = str(A.__version__)
        transform, table, pipeline = (self.config[k] for k in ("transform", "table", "pipeline"))
        where = "albumentations"
        if transform is not None and pipeline is not None:
            raise InvalidArgument(f"{where}: give 'transform' or 'pipeline', not both")
        if table is not None:
            if not isinstance(table, Mapping):
                raise InvalidArgument(
                    f"{where}: the severity table must map levels 1-{MAX_SEVERITY} to rows, "
                    f"got {table!r:.80}"
                )
            # int levels, whatever the source (a JSON round trip turns keys into strings)
            levels = {_severity_key(k, where): v for k, v in table.items()}
            if len(levels) != len(table):
                raise InvalidArgument(f"{where}: a severity level appears twice in the table")
            table = dict(sorted(levels.items()))
            self.config["table"] = table
        rows: dict[int, dict[str, Any]] = {}
        if transform is not None:
            if not isinstance(transform, str):
                raise InvalidArgument(f"{where}: 'transform' must be a name, got {transform!r}")
            if not isinstance(table, Mapping) or not table:
                raise InvalidArgument(
                    f"{where}: transform {transform!r} needs a severity table, e.g. "
                    "severity: {1: {ARG: VALUE}, ..., 5: {ARG: VALUE}}"
                )
            classes = transform_classes(A)
            if transform not in classes:
                raise InvalidArgument(
                    f"{where}: {did_you_mean(transform, classes, 'albumentations transform')}"
                )
            for level, args in table.items():
                rows[level] = self._transform_row(A, classes[transform], args, f"{where}[{level}]")
            self.title = transform
        elif pipeline is not None:
            if table is not None:
                raise InvalidArgument(
                    f"{where}: give one 'pipeline', or a severity table of pipelines, not both"
                )
            rows[1] = self._pipeline_row(A, pipeline, where)
        elif isinstance(table, Mapping) and table:
            for level, spec in table.items():
                rows[level] = self._pipeline_row(A, spec, f"{where}[{level}]")
        else:
            raise InvalidArgument(
                f"{where}: give 'transform' with a severity table, or 'pipeline' "
                "(the dict of albumentations.to_dict); see docs/albumentations.md"
            )
        if transform is None:
            names = {str(r["transform"].get("__class_fullname__", "?")) for r in rows.values()}
            self.title = names.pop() if len(names) == 1 else "pipeline"
        self.rows = dict(sorted(rows.items()))
        self.graded = pipeline is None  # type: ignore[misc]
        if self.graded and self.severity and self.severity not in self.rows:
            raise InvalidArgument(
                f"{where}: severity {self.severity} is not in the severity table "
                f"(levels: {', '.join(map(str, self.rows))})"
            )
        if not self.graded and self.severity:
            self.severity = 1
        self.severities = {  # type: ignore[misc]
            s: _canonical(r["transform"]) for s, r in self.rows.items()
        }
        blob = json.dumps({str(s): r for s, r in self.rows.items()}, sort_keys=True)
        self.digest = hashlib.blake2b(blob.encode(), digest_size=5).hexdigest()
        self._local = threading.local()

    @staticmethod
    def _transform_row(A: ModuleType, cls: type[Any], args: Any, where: str) -> dict[str, Any]:
        args = {} if args is None else args
        if not isinstance(args, Mapping):
            raise InvalidArgument(
                f"{where}: a severity row must map {cls.__name__}'s arguments to values, "
                f"got {args!r}"
            )
        if "p" in args:
            raise InvalidArgument(
                f"{where}: 'p' is not allowed: the operator applies at every severity from 1 "
                "(severity 0 is the clean photo)"
            )
        _check_arguments(cls, args, where, hide=frozenset({"p"}))
        try:
            built = _construct(cls, {**args, "p": 1.0})
            row: dict[str, Any] = _canonical(A.to_dict(built))
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise InvalidArgument(f"{where}: {cls.__name__}: {_one_line(exc)}") from None
        return row

    @staticmethod
    def _pipeline_row(A: ModuleType, spec: Any, where: str) -> dict[str, Any]:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("transform"), Mapping):
            raise InvalidArgument(
                f"{where}: a pipeline is the dict albumentations.to_dict returns "
                f"({{__version__: ..., transform: {{__class_fullname__: ...}}}}), got {spec!r:.80}"
            )
        _check_node(A, spec["transform"], f"{where}.transform")
        try:
            built = A.from_dict(dict(spec))  # every node was checked strictly above
            row: dict[str, Any] = _canonical(A.to_dict(built))
        except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
            raise InvalidArgument(f"{where}: {_one_line(exc)}") from None
        return row

    def make_label(self, with_severity: bool) -> str:
        text = f"{self.name}[{self.title}#{self.digest}]"
        if with_severity and (self.graded or self.severity == 0):
            text += f"@{self.severity}"
        return text

    def _built(self) -> _Built:
        built: _Built | None = getattr(self._local, "built", None)
        if built is None:
            built = self._local.built = _Built(import_albumentations(), self.rows)
        return built

    def run(self, target: np.ndarray, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Apply this severity's transform seeded with ``seed``; return the image and what
        albumentations reports as applied (one entry per transform that ran)."""
        built = self._built()
        transform = built.transforms[self.severity]
        if built.composed[self.severity]:
            _seed_tree(built.A, transform, seed)
        else:
            transform.set_random_seed(seed)
        result = transform(image=target)
        if built.composed[self.severity]:
            applied = [
                {"transform": name, "params": recordable(params)}
                for name, params in result.get("applied_transforms", [])
            ]
        else:
            params = transform.get_applied_params()
            applied = (
                [{"transform": type(transform).__name__, "params": recordable(params)}]
                if params
                else []
            )
        out = result["image"]
        if not (
            isinstance(out, np.ndarray)
            and out.dtype == np.uint8
            and out.ndim == 3
            and out.shape[2] == 3
        ):
            raise InvalidArgument(
                f"{self.label}: albumentations returned {type(out).__name__} "
                f"{getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}; image operators must "
                "return H x W x 3 uint8 RGB (leave Normalize/ToTensor to the model)"
            )
        return out, applied

    def __call__(
        self, target: np.ndarray, rng: np.random.Generator, case: Case, where: str
    ) -> tuple[np.ndarray, Applied]:
        check_image(target, self.name)
        if self.severity == 0:
            return target, Applied(self.name, 0, where, dict(self.config), {})
        params = self.sample(rng, target, case)
        out, applied = self.run(target, params["seed"])
        params["applied"] = applied
        return out, Applied(self.name, self.severity, where, dict(self.config), params)

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        # one seed for albumentations from this application's own derm-stress RNG
        return {"seed": int(rng.integers(0, 2**63)), "albumentations": self.version}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        recorded = params.get("albumentations", self.version)
        if recorded != self.version:
            raise InvalidArgument(
                f"{self.label}: recorded with albumentations {recorded}, installed "
                f"{self.version}; replay would not be byte-identical "
                f"(pip install albumentations=={recorded})"
            )
        out, _ = self.run(target, int(params["seed"]))
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_local", None)  # per-thread transforms are rebuilt where it lands
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()


def _check_node(A: ModuleType, node: Any, where: str) -> None:
    """Check every class name and argument of a serialised pipeline before albumentations
    reads it (``from_dict`` would warn about an unknown argument and drop it)."""
    from albumentations.core.serialization import SERIALIZABLE_REGISTRY, shorten_class_name

    if not isinstance(node, Mapping) or "__class_fullname__" not in node:
        raise InvalidArgument(
            f"{where}: expected {{__class_fullname__: NAME, ...}}, got {node!r:.80}"
        )
    name = shorten_class_name(str(node["__class_fullname__"]))
    if name.startswith("derm_stress.augment.") and name not in SERIALIZABLE_REGISTRY:
        importlib.import_module("derm_stress.augment")  # registers its transform classes
    if name not in SERIALIZABLE_REGISTRY:
        raise InvalidArgument(
            f"{where}: {did_you_mean(name, SERIALIZABLE_REGISTRY, 'albumentations transform')}"
        )
    args = {k: v for k, v in node.items() if k not in ("__class_fullname__", "id", "params")}
    cls = SERIALIZABLE_REGISTRY[name]
    _check_arguments(cls, args, where)
    if not issubclass(cls, A.BaseCompose):
        # albumentations.from_dict builds leaves leniently: build each strictly first
        try:
            _construct(cls, args)
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise InvalidArgument(f"{where}: {name}: {_one_line(exc)}") from None
    for i, child in enumerate(node.get("transforms") or ()):
        _check_node(A, child, f"{where}.transforms[{i}]")


def _seed_tree(A: ModuleType, transform: Any, seed: int) -> None:
    """Seed a transform with ``seed`` (as ``transform.set_random_seed(seed)`` would, so a
    single transform's output can be reproduced with albumentations alone), and each child
    of a pipeline with its own seed drawn from ``seed``.

    ``Compose.set_random_seed`` would give every child the same seed (two p=0.5 flips would
    then always agree), so children are re-seeded after their parent.
    """
    transform.set_random_seed(seed)
    if isinstance(transform, A.BaseCompose):
        rng = np.random.default_rng(seed)
        for child in transform.transforms:
            _seed_tree(A, child, int(rng.integers(0, 2**63)))
