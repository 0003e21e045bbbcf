"""Severity calibration: does similarity to the clean photo fall as severity rises?

``calibrate`` runs single-operator image conditions over real photos and returns, per
operator, the mean ``similarity`` (see ``similarity.py``) of the perturbed photo to the
original at each severity. A table is calibrated when the curve falls strictly: severity 0
is 1.0 and every level is below the one before. ``derm-stress calibrate`` prints it, so a
team can check a severity table (an albumentations one, say) before a long run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from derm_stress.cases import Case
from derm_stress.errors import InvalidArgument
from derm_stress.images import load_image
from derm_stress.perturb.base import MAX_SEVERITY, Operator, get_operator, make_operator
from derm_stress.perturb.compose import OneOf
from derm_stress.perturb.condition import Condition, build_probe
from derm_stress.perturb.grid import expand_grid
from derm_stress.perturb.similarity import similarity
from derm_stress.safe_yaml import load_yaml_file

SEVERITY_TAG = "@"


@dataclass(frozen=True)
class Curve:
    """Mean similarity to the clean photo at each severity of one operator."""

    operator: str  # the condition label without its severity
    means: dict[int, float]  # severity -> mean similarity over the photos
    photos: int

    @property
    def falls(self) -> bool:
        """Strictly falling from 1.0 (severity 0) through every level given."""
        levels = [1.0] + [self.means[s] for s in sorted(self.means) if s > 0]
        return len(levels) > 1 and all(a > b for a, b in itertools.pairwise(levels))

    def to_dict(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "means": {str(s): round(v, 6) for s, v in sorted(self.means.items())},
            "photos": self.photos,
            "falls": self.falls,
        }


def operators_of(target: str | Path) -> tuple[list[Operator[Any]], int]:
    """The single image operators to calibrate: every severity of a registered operator
    name, or the image axis of a grid or run config file (a file may also hold one operator
    entry, ``{op: ..., severity: ...}``, or a list of them). Returns the operators and the
    number of image conditions skipped because they are not one operator."""
    text = str(target)
    path = Path(text)
    if not path.suffix and not path.exists():
        cls = get_operator(text)
        if cls.kind != "image" or cls.configured:
            raise InvalidArgument(
                f"{text!r} is not an image operator with a built-in table; give a grid file "
                "for operators whose table the grid sets (e.g. albumentations)"
            )
        levels = range(1, MAX_SEVERITY + 1) if cls.graded else range(1, 2)
        return [make_operator(text, s) for s in levels], 0
    if not path.is_file():
        raise InvalidArgument(f"{text}: neither an operator name nor a file")
    spec = load_yaml_file(path)
    if isinstance(spec, Mapping) and "op" in spec:
        axis: Any = [spec]
    elif isinstance(spec, list):
        axis = spec
    elif isinstance(spec, Mapping) and "image" in spec:
        axis = spec["image"]
    else:
        raise InvalidArgument(
            f"{text}: expected a grid with an 'image' axis, an operator entry "
            "{op: NAME, severity: ...} or a list of them"
        )
    ops: list[Operator[Any]] = []
    skipped = 0
    for condition in expand_grid({"image": axis}):
        if condition.is_baseline:
            continue
        op = condition.image_ops[0]
        if len(condition.image_ops) != 1 or isinstance(op, OneOf):
            skipped += 1
            continue
        ops.append(op)
    if not ops:
        raise InvalidArgument(f"{text}: no single image operator to calibrate")
    return ops, skipped


def _family(op: Operator[Any]) -> str:
    label = op.label
    tag = f"{SEVERITY_TAG}{op.severity}"
    return label[: -len(tag)] if label.endswith(tag) else label


def calibrate(ops: Iterable[Operator[Any]], cases: Sequence[Case], seed: int = 0) -> list[Curve]:
    """Mean similarity to the clean photo per operator and severity, over the first photo
    of each case, perturbed exactly as a run with ``seed`` would perturb it."""
    photos = [(case, load_image(case.images[0])) for case in cases]
    if not photos:
        raise InvalidArgument("calibrate needs at least one case")
    grouped: dict[str, dict[int, float]] = {}
    for op in ops:
        condition = Condition(image_ops=(op,))
        scores = [
            similarity(img, build_probe(case, condition, seed, [img]).images[0])
            for case, img in photos
        ]
        grouped.setdefault(_family(op), {})[op.severity] = float(np.mean(scores))
    return [Curve(name, dict(sorted(m.items())), len(photos)) for name, m in grouped.items()]


def spread_cases(cases: Sequence[Case], n: int) -> list[Case]:
    """``n`` cases spread over the diagnoses (round robin, in dataset order)."""
    by_diagnosis: dict[str, list[Case]] = {}
    for case in cases:
        by_diagnosis.setdefault(case.diagnosis, []).append(case)
    chosen: list[Case] = []
    for group in itertools.zip_longest(*by_diagnosis.values()):
        chosen.extend(c for c in group if c is not None)
        if len(chosen) >= n:
            break
    return chosen[:n]
