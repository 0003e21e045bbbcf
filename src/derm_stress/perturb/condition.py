"""Conditions (what is done to a case) and probes (what a model then sees)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from derm_stress.cases import Case, Note, render_note
from derm_stress.errors import InvalidArgument
from derm_stress.images import load_image
from derm_stress.perturb.base import Applied, Operator, operator_rng

ContextMode = Literal["image_only", "full"]
CONTEXT_MODES: tuple[ContextMode, ...] = ("image_only", "full")


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
    def key_id(self) -> str:
        """The id as it enters store keys: ``id``, plus ``#op=vN`` for each active operator
        whose ``kernel_version`` is above 1 (its kernel changed the output bytes), so results made
        with an earlier kernel are not reused."""
        ops: tuple[Operator[Any], ...] = (*self.image_ops, *self.note_ops)
        bumped = sorted(
            {
                f"{op.name}=v{op.kernel_version}"
                for op in ops
                if op.severity and op.kernel_version > 1
            }
        )
        return self.id if not bumped else self.id + "#" + ",".join(bumped)

    @property
    def is_baseline(self) -> bool:
        """Clean image-only: no effective image operator, no note."""
        return self.context == "image_only" and all(op.severity == 0 for op in self.image_ops)

    @property
    def is_deterministic(self) -> bool:
        """True when the seed cannot change what the model sees (no operator is active)."""
        ops: tuple[Operator[Any], ...] = (*self.image_ops, *self.note_ops)
        return all(op.severity == 0 for op in ops)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "id": self.id,
            "deterministic": self.is_deterministic,
            "image": [{"op": o.name, "severity": o.severity, **o.config} for o in self.image_ops],
            "context": self.context,
            "note": [{"op": o.name, "severity": o.severity, **o.config} for o in self.note_ops],
        }
        if self.key_id != self.id:
            described["key"] = self.key_id
        return described

    def __repr__(self) -> str:
        return f"Condition({self.id!r})"


BASELINE = Condition()
_SEVERITY_TAG = re.compile(r"@\d+")
_SINGLE_OP = re.compile(r"([a-z0-9_]+(?:\[[^\]]*\])?)@(\d+)")


def image_op_and_severity(image_label: str) -> tuple[str, int] | None:
    """``motion_blur@3`` -> ("motion_blur", 3); ``exposure[direction=darker]@2`` keeps its
    options in the name; ``none``, sequences and ``one_of`` choices -> None."""
    match = _SINGLE_OP.fullmatch(image_label)
    return (match.group(1), int(match.group(2))) if match else None


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
    image_key = "img=" + _SEVERITY_TAG.sub("", condition.image_label)
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
        note_key = "ctx=" + _SEVERITY_TAG.sub("", condition.context_label)
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
