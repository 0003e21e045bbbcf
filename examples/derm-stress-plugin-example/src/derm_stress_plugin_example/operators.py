"""Two operators: one for the photo, one for the note."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from derm_stress.cases import Case, Note
from derm_stress.perturb.image_ops import ImageOperator
from derm_stress.perturb.note_ops import NoteOperator


class LensFog(ImageOperator):
    """Fogged lens: the photo blended towards a milky grey (a cold phone camera)."""

    name = "lens_fog"
    family = "capture"
    # severity -> the parameters that grow with it (shown by `derm-stress ops`)
    severities: ClassVar[Mapping[int, Mapping[str, Any]]] = {
        1: {"amount": 0.08},
        2: {"amount": 0.15},
        3: {"amount": 0.25},
        4: {"amount": 0.35},
        5: {"amount": 0.5},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        # drawn from the run's RNG: the same seed gives the same fog
        return {"amount": round(self.level["amount"] * rng.uniform(0.9, 1.0), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        amount = float(params["amount"])
        fogged = target.astype(np.float32) * (1.0 - amount) + 200.0 * amount
        out: np.ndarray = np.clip(np.rint(fogged), 0, 255).astype(np.uint8)
        return out


class RoundAge(NoteOperator):
    """The patient's age rounded to a coarse step, as a hurried history gives it."""

    name = "round_age"
    family = "messy"
    severities: ClassVar[Mapping[int, Mapping[str, Any]]] = {
        1: {"step": 5},
        2: {"step": 10},
        3: {"step": 20},
        4: {"step": 30},
        5: {"step": 50},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        return {"step": self.level["step"]}

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        if target.age is None:
            return target
        step = int(params["step"])
        return target.replace(age=float(max(step, round(target.age / step) * step)))
