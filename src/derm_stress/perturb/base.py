"""The operator contract, the registry, seeds, and the applied-operator record.

An operator samples its random parameters from an RNG it is given (``sample``) and applies
them deterministically (``apply``). What was applied is an ``Applied`` record: plain data that
``replay`` turns back into the identical output.

Generators (derivation version 2, ``RNG_VERSION``): the key of one application is
``(run seed, case id, condition key, "position:target")``; its parts' ``str`` joined by
U+001F and encoded as UTF-8 are hashed to a 32-byte BLAKE2b digest (``rng_digest``), whose
four little-endian 64-bit words ``w0..w3`` seed ``PCG64`` through its own published seeding:
initial state ``w0 * 2**64 + w1``, stream ``w2 * 2**64 + w3`` (``rng_from_digest``). No
``SeedSequence`` is involved (version 1 passed a 16-byte digest through it: other streams,
4x the cost). ``derive_seed``, the 128-bit integer of the report's bootstraps, is the
16-byte digest of the same joined parts and did not change.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from itertools import chain
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from derm_stress.cases import Case, Note
from derm_stress.errors import InvalidArgument, PluginError, PluginWarning
from derm_stress.registry import Registry
from derm_stress.schema import Capability

T = TypeVar("T")
Kind = Literal["image", "note"]
MAX_SEVERITY = 5


#: The version of the generator derivation (``rng_from_digest``). Version 2 (this one)
#: seeds PCG64 from a 32-byte BLAKE2b digest of the key; version 1 passed a 16-byte digest
#: through NumPy's ``SeedSequence``, which gave other streams and cost 4x more. It enters
#: the store key of every condition where an active operator draws (``Condition.key_id``,
#: ``#rng=v2``), so results perturbed with version-1 streams are recomputed, not reused.
RNG_VERSION = 2
_SEPARATOR = "\x1f"


def _key(parts: tuple[object, ...]) -> bytes:
    return _SEPARATOR.join(map(str, parts)).encode()


def _digest(parts: tuple[object, ...]) -> bytes:
    return hashlib.blake2b(_key(parts), digest_size=16).digest()


def derive_seed(*parts: object) -> int:
    """A 128-bit seed from a stable hash of the parts (never Python's salted ``hash()``):
    the big-endian integer of the 16-byte BLAKE2b digest of the parts' ``str`` joined by
    U+001F. The metrics' bootstraps use it; it does not depend on ``RNG_VERSION``."""
    return int.from_bytes(_digest(parts), "big")


def rng_digest(*parts: object) -> bytes:
    """The 32-byte BLAKE2b digest of the parts (``str`` of each, joined by U+001F, UTF-8)
    that seeds their generator (``rng_from_digest``)."""
    return hashlib.blake2b(_key(parts), digest_size=32).digest()


def derive_rng(seed: int, case_id: str, condition_id: str, position: str) -> np.random.Generator:
    """The generator for one operator application, independent of order, threads and machines:
    ``rng_from_digest(rng_digest(seed, case_id, condition_id, position))``."""
    return rng_from_digest(
        hashlib.blake2b(_key((seed, case_id, condition_id, position)), digest_size=32).digest()
    )


class _DigestWords(ISeedSequence):
    """Hands PCG64 the four 64-bit words of a 32-byte digest as its seed material, in place
    of NumPy's ``SeedSequence`` (whose Python-level set-up cost 10 of the 17 us a generator
    took). BLAKE2b output is already uniformly mixed, so the words need no further hashing.
    PCG64 asks for exactly ``generate_state(4, np.uint64)``; anything else is refused."""

    __slots__ = ("_words",)

    def __init__(self, digest: bytes) -> None:
        if type(digest) is not bytes or len(digest) != 32:
            raise ValueError(f"expected a 32-byte digest, got {digest!r:.80}")
        self._words = digest

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError(
                "a digest seeds exactly 4 uint64 words (what PCG64 asks for), "
                f"asked for {n_words!r} of {np.dtype(dtype)}"
            )
        return np.frombuffer(self._words, dtype="<u8").astype(np.uint64, copy=False)


def rng_from_digest(digest: bytes) -> np.random.Generator:
    """``Generator(PCG64(...))`` seeded by a 32-byte digest (derivation version 2).

    The digest is read as four little-endian unsigned 64-bit words w0..w3, and PCG64 runs
    its published seeding on them (``pcg64_set_seed``, PCG's ``srandom``): the 128-bit
    initial state is ``w0 * 2**64 + w1`` and the stream (increment) ``w2 * 2**64 + w3``
    (the increment made odd as ``2 * stream + 1``). No ``SeedSequence`` is involved."""
    # NumPy's stubs name SeedSequence; at run time any ISeedSequence is accepted (documented)
    return np.random.Generator(np.random.PCG64(_DigestWords(digest)))  # type: ignore[arg-type]


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """``float(rng.uniform(low, high))`` for scalars, the same double from the same stream
    (NumPy computes ``low + (high - low) * rng.random()``), at a third of the cost."""
    return low + (high - low) * rng.random()


def round_to(x: float, digits: int) -> float:
    """``round(x, digits)``: the same double, without the decimal conversion (dtoa) that
    ``round`` runs, which costs about a microsecond next to a 0.8 MB kernel.

    ``round`` gives the double nearest to ``K / 10**digits``, ``K`` the integer nearest to
    the exact ``x * 10**digits`` (ties to even); ``k / 10**digits`` (``k`` an integer
    below 2**53, the division correctly rounded) is that same double when ``k == K``. With
    ``y = x * 10**digits`` (one rounding, error at most half an ulp of ``y``), the integer
    ``k`` nearest to ``y`` equals ``K`` unless the exact product lies within an ulp of a
    half-integer: that case (``y`` within 1e-6 of one, wider than the error, at most
    half an ulp of ``y``: 2**-21 for ``|y| < 2**32``), a zero result (whose sign ``round``
    keeps) and large or non-finite values go to ``round`` itself. ``k`` is
    ``(y + 1.5 * 2**52) - 1.5 * 2**52``: for ``|y| < 2**51`` the sum lies where doubles are
    the integers, so the addition rounds ``y`` to the nearest one and the subtraction is
    exact (no call, no int object)."""
    scale = _POWERS[digits]
    y = x * scale
    if -_LARGE < y < _LARGE:
        k = (y + _MAGIC) - _MAGIC
        if k and -0.499999 < y - k < 0.499999:
            return k / scale
    return round(x, digits)


_POWERS = [10.0**d for d in range(16)]
_LARGE = 2.0**32  # below it, half an ulp of y (at most 2**-21) is under the 1e-6 margin
_MAGIC = 1.5 * 2.0**52


class _NoDraws(np.random.Generator):
    """The generator given to an application that draws nothing (``Operator.draws`` is
    False): deriving a seeded one would cost more than some kernels. Any use
    fails loudly instead of silently sharing state between applications."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(
            f"this operator application was given no random generator (used: {name}); an "
            "operator whose sample() draws must leave Operator.draws True"
        )

    def __repr__(self) -> str:
        return "NO_DRAWS"


NO_DRAWS: np.random.Generator = _NoDraws(np.random.PCG64(0))


def operator_rng(
    op: Operator[Any], seed: int, case_id: str, condition_id: str, position: str
) -> np.random.Generator:
    """The generator for one application of ``op``: ``derive_rng(...)``, or ``NO_DRAWS``
    where ``op.draws`` is False, which skips the derivation and changes no stream (nothing
    would have been drawn from it). Severity 0 still gets a derived generator: a composite
    such as ``one_of`` draws its choice whatever the severity."""
    if op.draws:  # rng_from_digest(rng_digest(...)) written out: this runs per application
        key = _key((seed, case_id, condition_id, position))
        words = _DigestWords(hashlib.blake2b(key, digest_size=32).digest())
        return np.random.Generator(np.random.PCG64(words))  # type: ignore[arg-type]
    return NO_DRAWS


class _Fields(NamedTuple):
    op: str
    severity: int
    target: str  # "image[0]", "image[1]", ..., or "note"
    config: Mapping[str, Any]
    params: Mapping[str, Any]
    changes: tuple[tuple[str, Any, Any], ...]


_tuple_new = tuple.__new__


class Applied(_Fields):
    """What one operator did to one target: enough to replay it exactly.

    ``changes`` lists, for note operators, each touched field with its old and new value.

    An immutable record of six fields (``op``, ``severity``, ``target``, ``config``,
    ``params``, ``changes``), built on a tuple so that making one costs a single
    allocation (it is made once per operator application, next to kernels of 30-50 us):
    records with equal fields are equal, ``repr`` names the fields, and it pickles (Ray).
    ``config`` and ``params`` default to new empty dicts.
    """

    __slots__ = ()

    def __new__(
        cls,
        op: str,
        severity: int,
        target: str,
        config: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        changes: tuple[tuple[str, Any, Any], ...] = (),
    ) -> Applied:
        return _tuple_new(
            cls,
            (
                op,
                severity,
                target,
                {} if config is None else config,
                {} if params is None else params,
                changes,
            ),
        )

    @classmethod
    def make(
        cls,
        op: str,
        severity: int,
        target: str,
        config: Mapping[str, Any],
        params: Mapping[str, Any],
        changes: tuple[tuple[str, Any, Any], ...] = (),
    ) -> Applied:
        """``Applied(op, severity, target, config, params, changes)`` with every field given
        (no defaults to fill in)."""
        return _tuple_new(cls, (op, severity, target, config, params, changes))

    def to_dict(self) -> dict[str, Any]:
        op, severity, target, config, params, changes = self
        return {
            "op": op,
            "severity": severity,
            "target": target,
            "config": dict(config),
            "params": dict(params),
            "changes": [list(c) for c in changes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Applied:
        return cls(
            op=data["op"],
            severity=int(data["severity"]),
            target=data["target"],
            config=dict(data.get("config", {})),
            params=dict(data.get("params", {})),
            changes=tuple((c[0], c[1], c[2]) for c in data.get("changes", ())),
        )


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_SET = frozenset(_SCALARS)
_LIST = {list}


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists), or ``_NOT_PLAIN`` when
    it holds anything but str-keyed dicts, lists, tuples and exact str/int/float/bool/None.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        types = set(map(type, value))
        if types <= _SCALAR_SET:  # flat: copied in one step
            return list(value)
        if types == _LIST and _SCALAR_SET.issuperset(map(type, chain.from_iterable(value))):
            return [list(v) for v in value]  # rows of scalars (points of a polyline)
        out = [_plain(v) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in out) else out
    if kind is dict:
        if not all(type(k) is str for k in value):
            return _NOT_PLAIN
        items = {k: _plain(v) for k, v in value.items()}
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items.values()) else items
    return _NOT_PLAIN


_NOT_PLAIN = object()


def _jsonable(value: Any) -> Any:
    """Check (and normalise) that sampled params survive a JSON round trip exactly.

    Plain Python data (what operators return) is copied without the round trip, which
    gives the same result several times faster; anything else (NumPy scalars, non-string
    keys) goes through ``json`` and fails there as before."""
    if (  # the common case, a flat dict of scalars, is copied in one step
        type(value) is dict
        and _SCALAR_SET.issuperset(map(type, value.values()))
        and all(type(k) is str for k in value)
    ):
        return dict(value)
    plain = _plain(value)
    return json.loads(json.dumps(value)) if plain is _NOT_PLAIN else plain


class Operator(ABC, Generic[T]):
    """One perturbation. Subclasses set the class attributes and implement the two methods.

    - ``severities`` maps severity 1-5 to the parameters that grow with it (the severity
      table, appended to the class docstring automatically). Severity 0 is identity.
    - ``options`` maps each allowed constructor option to its default; anything else fails
      at construction with the allowed names.
    - ``graded`` is False for operators whose effect does not depend on severity (any
      severity from 1 applies them fully); their condition label omits ``@severity``.
    - ``kernel_version`` is bumped when ``apply`` changes the output bytes for the same parameters
      (a different kernel); conditions using it then get new store keys
      (``Condition.key_id``), so results perturbed by the old kernel are not reused.
    - ``draws`` is False for operators whose ``sample`` never uses its generator (the
      parameters follow from the severity and the image): the harness then gives them
      ``NO_DRAWS`` instead of deriving a seeded generator (``operator_rng``), which is a
      large part of the fixed cost of a fast kernel. A draw from ``NO_DRAWS`` raises.
    - ``plain_params`` is True for operators whose ``sample`` always returns a new dict of
      str keys to plain ``str``/``int``/``float``/``bool``/``None`` values, lists of them
      or lists of such lists (what JSON gives back unchanged): the call then keeps that
      dict as the record's params instead of checking and copying it (``_jsonable``), a
      fixed cost that matters next to 30-50 us kernels. Default False: a plugin's
      parameters are checked. A subclass that overrides ``sample`` without declaring
      ``plain_params`` itself is checked again (the flag is not inherited past it).
      ``tests/perturb/test_fast_paths.py`` holds every built-in that declares it to it.
    - ``capabilities`` declares what the operator does (``derm_stress.schema.Capability``:
      ``plants_diagnosis``, ``changes_geometry``, ...); metrics select conditions by it, so
      a new operator that plants a diagnosis is measured as one without naming it anywhere.
    - ``configured`` is True for operators whose severity table comes from their
      configuration (a grid entry), not from the class, such as the albumentations bridge:
      they cannot be built from a name and a severity alone, so ``registry()`` leaves them
      out unless asked.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    family: ClassVar[str]
    severities: ClassVar[Mapping[int, Mapping[str, Any]]] = {}
    options: ClassVar[Mapping[str, Any]] = {}
    graded: ClassVar[bool] = True
    kernel_version: ClassVar[int] = 1
    draws: ClassVar[bool] = True
    plain_params: ClassVar[bool] = False
    configured: ClassVar[bool] = False
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, severity: int = 3, **config: Any) -> None:
        if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)):
            raise InvalidArgument(
                f"{self.name}: severity must be an integer 0-{MAX_SEVERITY}, got {severity!r}"
            )
        if not 0 <= severity <= MAX_SEVERITY:
            raise InvalidArgument(
                f"{self.name}: severity must be 0-{MAX_SEVERITY}, got {severity!r}"
            )
        unknown = sorted(set(config) - set(self.options))
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            close = difflib.get_close_matches(unknown[0], list(self.options), n=1, cutoff=0.6)
            hint = f" did you mean {close[0]!r}?" if close else ""
            raise InvalidArgument(
                f"{self.name}: unknown option {unknown[0]!r} (value {config[unknown[0]]!r});"
                f"{hint} allowed options: {allowed}"
            )
        self.severity = int(severity)
        self.config: dict[str, Any] = {**self.options, **config}
        self.validate()

    def validate(self) -> None:
        """Check ``self.config``; raise ``InvalidArgument`` naming the option and value."""

    @property
    def level(self) -> Mapping[str, Any]:
        """The severity table row for this operator's severity (empty at severity 0)."""
        return self.severities.get(self.severity, {})

    @property
    def label(self) -> str:
        """Short readable id used in condition ids, e.g. ``motion_blur@3``."""
        return self.make_label(with_severity=True)

    @property
    def key_label(self) -> str:
        """The label without severity, e.g. ``motion_blur``: the operator's part of the RNG
        key, so the severities of one operator share their random draws."""
        return self.make_label(with_severity=False)

    def make_label(self, with_severity: bool) -> str:
        """The label from the operator's name and non-default options, with ``@severity``
        (graded operators, or severity 0) when ``with_severity``."""
        shown = {k: v for k, v in self.config.items() if v != self.options.get(k)}
        text = self.name
        if shown:
            text += (
                "["
                + ";".join(
                    ",".join(map(str, v)) if isinstance(v, (list, tuple)) else f"{k}={v}"
                    for k, v in sorted(shown.items())
                )
                + "]"
            )
        if with_severity and (self.graded or self.severity == 0):
            text += f"@{self.severity}"
        return text

    @abstractmethod
    def sample(self, rng: np.random.Generator, target: T, case: Case) -> dict[str, Any]:
        """Draw the random parameters for one application (JSON-serialisable)."""

    @abstractmethod
    def apply(self, target: T, params: Mapping[str, Any]) -> T:
        """Apply sampled parameters deterministically; never mutate ``target``."""

    def __call__(
        self, target: T, rng: np.random.Generator, case: Case, where: str
    ) -> tuple[T, Applied]:
        """Sample and apply; return the output and its record."""
        if self.severity == 0:
            return target, Applied.make(self.name, 0, where, dict(self.config), {})
        params = self.sample(rng, target, case)
        if not self.plain_params:
            params = _jsonable(params)
        out = self.apply(target, params)
        changes: tuple[tuple[str, Any, Any], ...] = ()
        if isinstance(target, Note) and isinstance(out, Note):
            changes = note_changes(target, out)
        return out, Applied.make(
            self.name, self.severity, where, dict(self.config), params, changes
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(severity={self.severity}, config={self.config!r})"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "sample" in cls.__dict__ and "plain_params" not in cls.__dict__:
            cls.plain_params = False  # a new sample() declares its own output plain
        if "name" in cls.__dict__ and cls.__doc__ and cls.severities:
            cls.__doc__ = cls.__doc__.rstrip() + "\n\n" + severity_table(cls) + "\n"


def severity_table(cls: type[Operator[Any]]) -> str:
    """Render the severity table of an operator class as reStructuredText-ish text."""
    rows = ["    Severity table (0 = identity):", ""]
    for severity, params in sorted(cls.severities.items()):
        text = ", ".join(f"{k}={v}" for k, v in params.items())
        rows.append(f"    {severity}: {text}")
    return "\n".join(rows)


def note_changes(before: Note, after: Note) -> tuple[tuple[str, Any, Any], ...]:
    """(field, old, new) for every field that differs between two notes."""
    old, new = before.to_dict(), after.to_dict()
    return tuple((f, old[f], new[f]) for f in Note.field_names() if old[f] != new[f])


def _check_operator(name: str, cls: type[Operator[Any]]) -> None:
    if getattr(cls, "name", None) != name:
        raise ValueError(
            f"operator class {cls.__qualname__} has name {getattr(cls, 'name', None)!r}: "
            f"register it under its name"
        )
    missing = [s for s in range(1, MAX_SEVERITY + 1) if s not in cls.severities]
    if cls.graded and missing and not cls.configured:
        raise ValueError(f"operator {cls.name!r} has no severity table row for {missing}")
    if cls.kind not in ("image", "note"):
        raise ValueError(f"operator {cls.name!r}: kind must be 'image' or 'note', got {cls.kind!r}")


#: every operator, by name: the built-in ones (``@register``) and those installed packages
#: publish in the ``derm_stress.operators`` entry point group (name = operator class)
OPERATORS: Registry[type[Operator[Any]]] = Registry(
    "operator",
    Operator,
    group="derm_stress.operators",
    check=_check_operator,
    name_of=lambda cls: cls.name,
)


def register(cls: type[Operator[Any]]) -> type[Operator[Any]]:
    """Class decorator adding an operator to ``OPERATORS`` under its ``name`` (a duplicate
    name, a class that is not an ``Operator`` or a missing severity row is an error)."""
    if not (isinstance(cls, type) and issubclass(cls, Operator)):
        raise TypeError(f"{cls!r} is not an Operator subclass")
    return OPERATORS.register(cls, name=cls.name)


def registry(
    *,
    configured: bool = False,
    on_broken: Callable[[PluginError], None] | None = None,
) -> dict[str, type[Operator[Any]]]:
    """Name -> class for every registered operator (a copy), plugins included.

    Operators whose severity table is configured per use (``Operator.configured``) are
    included only with ``configured=True``: every other one can be built from its name.
    A plugin operator that fails to load is left out and handed to ``on_broken`` (default:
    a ``PluginWarning``), so one broken package does not stop a listing or a report;
    ``get_operator`` of its name raises the ``PluginError``.
    """
    if on_broken is None:
        on_broken = _warn_broken
    return {n: c for n, c in OPERATORS.items(on_broken=on_broken) if configured or not c.configured}


def _warn_broken(error: PluginError) -> None:
    warnings.warn(f"{error}; left out", PluginWarning, stacklevel=3)


def get_operator(name: str) -> type[Operator[Any]]:
    """The operator class called ``name``; an unknown name suggests close ones."""
    return OPERATORS.get(name)


def make_operator(name: str, severity: int | None = None, **config: Any) -> Operator[Any]:
    """Instantiate a registered operator; severity defaults to 3 (graded) or 1 (ungraded)."""
    cls = get_operator(name)
    if severity is None:
        severity = 3 if cls.graded else 1
    return cls(severity, **config)


def replay(record: Applied | Mapping[str, Any] | str, target: T) -> T:
    """Re-apply a stored record to the original target: identical output.

    ``record`` is an ``Applied``, or its printed form: the dict of ``Applied.to_dict`` or
    its JSON text (as property-test failures and ``derm-stress perturb`` print it)."""
    if isinstance(record, str):
        text = record
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"replay: not a JSON record ({exc}): {text[:80]!r}") from None
    if isinstance(record, Mapping):
        missing = [k for k in ("op", "severity", "target") if k not in record]
        if missing:
            raise InvalidArgument(
                f"replay: the record lacks {', '.join(missing)}; expected what "
                "Applied.to_dict() gives (op, severity, target, config, params)"
            )
        record = Applied.from_dict(record)
    if not isinstance(record, Applied):
        raise InvalidArgument(
            f"replay: expected an Applied record, its dict or JSON, got {type(record).__name__}"
        )
    op = make_operator(record.op, record.severity, **record.config)
    if record.severity == 0:
        return target
    out: T = op.apply(target, record.params)
    return out


def describe(cls: type[Operator[Any]]) -> dict[str, Any]:
    """The public description of an operator, as ``derm-stress ops --json`` prints it."""
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return {
        "name": cls.name,
        "kind": cls.kind,
        "family": cls.family,
        "description": " ".join(doc.split()),
        "graded": cls.graded,
        "capabilities": sorted(c.value for c in cls.capabilities),
        "options": dict(cls.options),
        "severities": {str(s): dict(p) for s, p in sorted(cls.severities.items())},
    }
