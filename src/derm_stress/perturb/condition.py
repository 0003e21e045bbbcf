"""Conditions (what is done to a case) and probes (what a model then sees)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from derm_stress.cases import Case, Note, render_note
from derm_stress.errors import InvalidArgument
from derm_stress.images import load_image
from derm_stress.perturb.base import RNG_VERSION, Applied, Operator, operator_rng, registry
from derm_stress.perturb.compose import OneOf
from derm_stress.schema import ConditionSpec, OperatorSpec

ContextMode = Literal["image_only", "full"]
CONTEXT_MODES: tuple[ContextMode, ...] = ("image_only", "full")


def _leaves(op: Operator[Any]) -> list[Operator[Any]]:
    """The operators that may run for ``op``: its choices for a ``one_of`` (recursively),
    else ``op`` itself."""
    if isinstance(op, OneOf):
        return [leaf for choice in op.choices for leaf in _leaves(choice)]
    return [op]


@dataclass(frozen=True, eq=False)
class Condition:
    """A named, ordered list of operators plus a context mode.

    ``context='image_only'`` sends no note (note operators are not allowed); ``'full'`` sends
    the note after the ``note_ops`` (none: the note as given). The id is stable and readable,
    e.g. ``img=motion_blur@3|ctx=drop_fields[duration_days,itch]``.
    """

    image_ops: tuple[Operator[np.ndarray], ...] = ()
    context: ContextMode = "image_only"
    note_ops: tuple[Operator[Note], ...] = ()

    def __post_init__(self) -> None:
        if self.context not in CONTEXT_MODES:
            raise InvalidArgument(
                f"context must be one of {', '.join(CONTEXT_MODES)}, got {self.context!r}"
            )
        if any(op.kind != "image" for op in self.image_ops):
            raise InvalidArgument("image_ops may only hold image operators")
        if any(op.kind != "note" for op in self.note_ops):
            raise InvalidArgument("note_ops may only hold note operators")
        if self.context == "image_only" and self.note_ops:
            raise InvalidArgument("an image_only condition sends no note, so it takes no note ops")

    @property
    def image_label(self) -> str:
        return "+".join(op.label for op in self.image_ops) or "none"

    @property
    def context_label(self) -> str:
        if self.context == "image_only":
            return "image_only"
        return "+".join(op.label for op in self.note_ops) or "full"

    @cached_property
    def id(self) -> str:  # cached: the harness asks for it per case and condition
        return f"img={self.image_label}|ctx={self.context_label}"

    @property
    def image_key(self) -> str:
        """The image part of the RNG key: the image operators' labels without severities
        (``img=motion_blur``), built from the operators, never from the display label."""
        return "img=" + ("+".join(op.key_label for op in self.image_ops) or "none")

    @property
    def context_key(self) -> str:
        """The note part of the RNG key (``ctx=misleading_referral``), likewise."""
        if self.context == "image_only":
            return "ctx=image_only"
        return "ctx=" + ("+".join(op.key_label for op in self.note_ops) or "full")

    @property
    def single_image_op(self) -> tuple[str, int] | None:
        """(label without severity, severity) when the photo gets one graded operator
        (``motion_blur@3`` -> ("motion_blur", 3)); sequences, ``one_of`` and ungraded
        operators -> None."""
        if len(self.image_ops) != 1:
            return None
        op = self.image_ops[0]
        if isinstance(op, OneOf) or op.label != f"{op.key_label}@{op.severity}":
            return None
        return op.key_label, op.severity

    @property
    def key_id(self) -> str:
        """The id as it enters store keys: ``id``, plus a ``#`` suffix listing what changed the
        output since the first release, so results made before are not reused:

        - ``name=vN`` for each active operator whose ``kernel_version`` N is above 1 (its
          kernel changed the output bytes), the active choices of a ``one_of`` included;
        - ``rng=vN`` (``RNG_VERSION``, now 2) where an active operator draws from its
          generator (``op.draws``; ``one_of`` draws its choice): version 2 derives other
          streams than version 1 did.

        Conditions where nothing draws (the baseline, the note as given, operators that
        draw nothing) keep their keys, so their stored results stay valid.
        ``img=motion_blur@3|ctx=image_only#rng=v2``,
        ``img=gaussian_blur@3|ctx=image_only#gaussian_blur=v2``."""
        ops: tuple[Operator[Any], ...] = (*self.image_ops, *self.note_ops)
        active = [op for op in ops if op.severity]
        kernels = [c for op in active for c in _leaves(op) if c.severity]
        parts = sorted(
            {f"{op.name}=v{op.kernel_version}" for op in kernels if op.kernel_version > 1}
        )
        if RNG_VERSION > 1 and any(op.draws for op in active):
            parts.append(f"rng=v{RNG_VERSION}")
        return self.id if not parts else self.id + "#" + ",".join(parts)

    @property
    def is_baseline(self) -> bool:
        """Clean image-only: no effective image operator, no note."""
        return self.context == "image_only" and all(op.severity == 0 for op in self.image_ops)

    @property
    def is_deterministic(self) -> bool:
        """True when the seed cannot change what the model sees (no operator is active)."""
        ops: tuple[Operator[Any], ...] = (*self.image_ops, *self.note_ops)
        return all(op.severity == 0 for op in ops)

    @cached_property
    def spec(self) -> ConditionSpec:
        """The condition as a typed record (what the run manifest stores)."""

        def ops(operators: Sequence[Operator[Any]]) -> tuple[OperatorSpec, ...]:
            return tuple(
                OperatorSpec(o.name, o.severity, dict(o.config), o.capabilities, o.label, o.family)
                for o in operators
            )

        return ConditionSpec(
            id=self.id,
            key=self.key_id,
            context=self.context,
            image=ops(self.image_ops),
            note=ops(self.note_ops),
            deterministic=self.is_deterministic,
            image_label=self.image_label,
            context_label=self.context_label,
            image_key=self.image_key,
            context_key=self.context_key,
            single_image_op=self.single_image_op,
        )

    def describe(self) -> dict[str, Any]:
        return self.spec.to_dict()

    def __repr__(self) -> str:
        return f"Condition({self.id!r})"


BASELINE = Condition()
BASELINE_ID = BASELINE.id  # "img=none|ctx=image_only", written here only
FULL_ID = Condition(context="full").id  # the clean photo with the note as given
_SINGLE_OP = re.compile(r"([a-z0-9_]+(?:\[[^\]]*\])?)@(\d+)")
_SEVERITY_TAG = re.compile(r"@\d+")
_LABEL_OP = re.compile(r"([a-z0-9_]+)(?:\[[^\]]*\])?(?:@(\d+))?")


def spec_from_id(condition_id: str) -> ConditionSpec:
    """The spec of a condition known only by its id (tables made by hand, tests): its
    operators read back from the labels, with their classes' capabilities."""
    return upgrade_v1_condition({"id": condition_id})


def upgrade_v1_condition(described: Mapping[str, Any]) -> ConditionSpec:
    """A condition of a format-1 manifest (``{"id", "deterministic", "image", "context",
    "note"[, "key"]}``, operators as ``{"op", "severity", **config}``) as a ``ConditionSpec``.

    Format 1 kept no labels: they are read back from the id here, the one place that knows
    its layout; capabilities come from the operator classes (none for an operator this
    installation does not know)."""
    condition_id = str(described["id"])
    image, _, context = condition_id.partition("|")
    image_label, context_label = image.removeprefix("img="), context.removeprefix("ctx=")
    match = _SINGLE_OP.fullmatch(image_label)

    def ops(entries: Sequence[Mapping[str, Any]]) -> tuple[OperatorSpec, ...]:
        out = []
        for entry in entries:
            config = {k: v for k, v in entry.items() if k not in ("op", "severity")}
            names = [str(entry["op"])]
            if entry["op"] == OneOf.name:  # its choices, as labels
                names = [m.group(1) for c in config.get("choices", ()) if (m := _LABEL_OP.match(c))]
            classes = [registry(configured=True).get(name) for name in names]
            capabilities = frozenset(c for cls in classes if cls for c in cls.capabilities)
            single = classes[0] if len(classes) == 1 else None
            if single is not None:
                family = single.family
            else:  # a one_of, or an operator this installation does not know
                family = OneOf.family if entry["op"] == OneOf.name else ""
            out.append(
                OperatorSpec(
                    str(entry["op"]), int(entry["severity"]), config, capabilities, "", family
                )
            )
        return tuple(out)

    def from_label(label: str) -> list[dict[str, Any]]:
        # descriptions holding only the id (hand-made manifests): operators from its labels
        if label in ("none", "image_only", "full"):
            return []
        found = [_LABEL_OP.fullmatch(part) for part in label.split("+")]
        return [
            {"op": m.group(1), "severity": int(m.group(2) or 1)} for m in found if m is not None
        ]

    context_mode = described.get("context") or (
        "image_only" if context_label == "image_only" else "full"
    )
    image_ops = described.get("image")
    note_ops = described.get("note")
    return ConditionSpec(
        id=condition_id,
        key=str(described.get("key", condition_id)),
        context=str(context_mode),
        image=ops(from_label(image_label) if image_ops is None else image_ops),
        note=ops(from_label(context_label) if note_ops is None else note_ops),
        deterministic=bool(described.get("deterministic", True)),
        image_label=image_label,
        context_label=context_label,
        image_key="img=" + _SEVERITY_TAG.sub("", image_label),
        context_key="ctx=" + _SEVERITY_TAG.sub("", context_label),
        single_image_op=(match.group(1), int(match.group(2))) if match else None,
    )


@dataclass(frozen=True, eq=False)
class Probe:
    """What a model sees for one (case, condition). Holds no reference diagnosis."""

    case_id: str
    condition_id: str
    images: tuple[np.ndarray, ...]
    note: Note | None
    applied: tuple[Applied, ...]

    @property
    def note_text(self) -> str | None:
        """The rendered note, or ``None`` for image-only conditions."""
        return None if self.note is None else render_note(self.note)


def build_probe(
    case: Case,
    condition: Condition,
    seed: int,
    images: Sequence[np.ndarray] | None = None,
) -> Probe:
    """Perturb one case under one condition.

    The RNG of each operator application is derived from (seed, case id, condition,
    operator position and target), so the result does not depend on what else runs. The
    condition part is the image label alone for image operators (``img=...``) and the
    context label alone for note operators (``ctx=...``), both without severities:

    - a case's photo under ``img=motion_blur@3`` is the same whatever the context, and its
      note under ``ctx=misleading_referral@5`` the same whatever the photo, so each effect is
      measured on identical inputs;
    - severities of one operator share their random draws (direction, angle, position) and
      differ only in strength, so a severity curve is not blurred by re-drawing them.
    ``images`` may pass already-loaded originals (they are not modified).
    """
    originals = tuple(images) if images is not None else tuple(load_image(i) for i in case.images)
    out_images, image_records = _perturb_images(case, condition, seed, originals)
    return _with_note(case, condition, seed, out_images, image_records)


def _perturb_images(
    case: Case, condition: Condition, seed: int, originals: Sequence[np.ndarray]
) -> tuple[tuple[np.ndarray, ...], tuple[Applied, ...]]:
    applied: list[Applied] = []
    out_images = []
    image_key = condition.image_key
    for index, image in enumerate(originals):
        where = f"image[{index}]"
        for position, op in enumerate(condition.image_ops):
            rng = operator_rng(op, seed, case.case_id, image_key, f"{position}:{where}")
            image, record = op(image, rng, case, where)
            applied.append(record)
        out_images.append(image)
    return tuple(out_images), tuple(applied)


def _with_note(
    case: Case,
    condition: Condition,
    seed: int,
    images: tuple[np.ndarray, ...],
    image_records: tuple[Applied, ...],
) -> Probe:
    applied = list(image_records)
    note: Note | None = None
    if condition.context == "full":
        note = case.note
        note_key = condition.context_key
        for position, note_op in enumerate(condition.note_ops):
            rng = operator_rng(note_op, seed, case.case_id, note_key, f"{position}:note")
            note, record = note_op(note, rng, case, "note")
            applied.append(record)
    return Probe(case.case_id, condition.id, images, note, tuple(applied))


def build_probes(
    case: Case,
    conditions: Sequence[Condition],
    seed: int,
    images: Sequence[np.ndarray] | None = None,
) -> list[Probe | Exception]:
    """``build_probe`` for many conditions of one case, perturbing each distinct photo once:
    conditions that share an image label (``img=blur@3`` under five contexts) share its
    pixels, which the seeding makes identical anyway. A condition whose perturbation fails
    gets the exception in its place; the others are unaffected."""
    originals = tuple(images) if images is not None else tuple(load_image(i) for i in case.images)
    photos: dict[str, tuple[tuple[np.ndarray, ...], tuple[Applied, ...]] | Exception] = {}
    out: list[Probe | Exception] = []
    for condition in conditions:
        label = condition.image_label
        if label not in photos:
            try:
                photos[label] = _perturb_images(case, condition, seed, originals)
            except Exception as exc:  # reported for the conditions that use this photo
                photos[label] = exc
        photo = photos[label]
        if isinstance(photo, Exception):
            out.append(photo)
            continue
        try:
            out.append(_with_note(case, condition, seed, *photo))
        except Exception as exc:
            out.append(exc)
    return out
