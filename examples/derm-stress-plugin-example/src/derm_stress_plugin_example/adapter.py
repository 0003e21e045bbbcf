"""A model adapter: settings come from the config entry, checked against ``__init__``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from derm_stress.models.base import Answer, Model
from derm_stress.perturb.condition import Probe


class ToneRuleModel(Model):
    """Answers by the photo's mean brightness: under ``threshold`` (0-255) melanoma first,
    else nevus first. A stand-in for a real model, deterministic and instant."""

    adapter = "tone_rule"

    def __init__(self, name: str, threshold: float = 120.0, batch_size: int = 16) -> None:
        super().__init__(name)
        if not 0 <= threshold <= 255:
            raise ValueError(f"tone_rule: threshold must be 0-255, got {threshold!r}")
        self.threshold = float(threshold)
        self.batch_size = batch_size

    def identity(self) -> dict[str, Any]:
        # every setting that changes the answers (and nothing else)
        return {"adapter": self.adapter, "threshold": self.threshold}

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        answers = []
        for probe in probes:
            if not probe.images:
                answers.append(Answer.failed("tone_rule needs a photo"))
                continue
            dark = float(np.mean(probe.images[0])) < self.threshold
            answers.append(Answer.from_text("melanoma; nevus" if dark else "nevus; melanoma"))
        return answers
