"""The bundled reference model: an offline, CPU-only classifier shipped with its weights.

Two multinomial logistic-regression heads over hand-crafted features
(``features.py``): one on the image alone, one on the image plus the note, picked by whether
the probe carries a note. It was trained on the 441 PAD-UFES-20 cases that are not in the
bundled sample (``derm-stress train-reference`` retrains it). It is a yardstick that reacts
to degraded photos and notes the way a simple learned model does, not a clinical tool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from derm_stress.labels import OTHER, triage_for
from derm_stress.models.base import Answer, Model
from derm_stress.models.reference.features import (
    image_features,
    note_features,
    referral_authority,
)
from derm_stress.parsing import parse_answer
from derm_stress.perturb.condition import Probe

WEIGHTS = Path(__file__).parent / "weights.npz"


class ReferenceWeights:
    """Loaded weights: classes plus (mean, scale, matrix) for each head."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"reference weights not found at {path}; run 'derm-stress train-reference'"
            )
        self.path = path
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        with np.load(path, allow_pickle=False) as data:
            self.classes = tuple(str(c) for c in data["classes"])
            self.heads = {
                head: (data[f"{head}_mean"], data[f"{head}_scale"], data[f"{head}_weights"])
                for head in ("image", "full")
            }

    def probabilities(self, head: str, features: np.ndarray) -> np.ndarray:
        mean, scale, weights = self.heads[head]
        z = np.append(np.nan_to_num((features - mean) / scale, nan=0.0), 1.0)
        logits = z @ weights
        logits -= logits.max()
        p = np.exp(logits)
        return np.asarray(p / p.sum())


def referral_code(text: str | None) -> str | None:
    """The diagnosis a referral suggests (first one parsed), ``OTHER``, or ``None``."""
    if not text:
        return None
    parsed = parse_answer(text)
    return parsed.differential[0] if parsed.differential else OTHER


def features_for(images: Sequence[np.ndarray], note: Any) -> tuple[str, np.ndarray]:
    """The head to use and its feature vector (image features averaged over photos)."""
    img = np.mean([image_features(i) for i in images], axis=0)
    if note is None:
        return "image", img
    code, authority = referral_code(note.referral), referral_authority(note.referral)
    return "full", np.concatenate([img, note_features(note, code, authority)])


class ReferenceModel(Model):
    """Offline reference classifier (see module docstring). Returns the full ranking."""

    adapter = "reference"
    batch_size = 32

    def __init__(self, name: str = "reference", weights: str | Path | None = None) -> None:
        super().__init__(name)
        self._weights_path = Path(weights) if weights else WEIGHTS

    @cached_property
    def weights(self) -> ReferenceWeights:
        return ReferenceWeights(self._weights_path)

    def identity(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "weights_sha256": self.weights.sha256}

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        return [self._one(p) for p in probes]

    def _one(self, probe: Probe) -> Answer:
        head, feats = features_for(probe.images, probe.note)
        probs = self.weights.probabilities(head, feats)
        order = np.argsort(-probs, kind="stable")
        codes = tuple(self.weights.classes[i] for i in order)
        confidences = tuple(round(float(probs[i]), 4) for i in order)
        raw = "\n".join(
            f"{n}. {c} ({p:.0%})"
            for n, (c, p) in enumerate(zip(codes, confidences, strict=True), 1)
        )
        triage = triage_for(codes[0])
        return Answer(
            raw=f"{raw}\nTriage: {triage}",
            differential=codes,
            confidences=confidences,
            triage=triage,
        )
