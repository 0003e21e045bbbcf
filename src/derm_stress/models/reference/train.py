"""Reproducible training of the reference model (``derm-stress train-reference``).

Training set: every PAD-UFES-20 case in the given folder that is not in the bundled sample
(441 of the repository's 531). Features are standardised; each head is a class-balanced
multinomial logistic regression with L2 penalty, fitted by a fixed number of full-batch
Nesterov gradient steps from zero, so the same data gives the same weights.

The with-note head is trained on two copies of every case: one without a referral, and one
with a simulated referral that names the true diagnosis 60% of the time and a look-alike
otherwise (seeded). Real referrals are often wrong; a model that never saw one could not
show how much a misleading referral sways it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derm_stress.cases import Case
from derm_stress.datasets import load_pad_ufes_20, load_sample
from derm_stress.errors import DatasetError
from derm_stress.images import load_image
from derm_stress.models.reference.features import REFERRAL_CODES, image_features, note_features
from derm_stress.models.reference.model import WEIGHTS
from derm_stress.perturb.note_ops import CONFUSABLE

L2 = 0.01
STEPS = 3000
STEP_SIZE = 0.5
REFERRAL_ACCURACY = 0.6
SEED = 20261122


@dataclass(frozen=True)
class TrainSummary:
    cases: int
    classes: tuple[str, ...]
    train_top1: dict[str, float]
    out: Path


def _fit(x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    onehot = np.eye(n_classes)[y]
    class_weight = len(y) / (n_classes * onehot.sum(axis=0))
    sample_weight = class_weight[y]
    sample_weight /= sample_weight.mean()
    w = np.zeros((z.shape[1], n_classes))
    v = w.copy()
    penalty = np.full((z.shape[1], 1), L2)
    penalty[-1] = 0.0  # no penalty on the bias
    for step in range(STEPS):
        logits = z @ v
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = z.T @ ((p - onehot) * sample_weight[:, None]) / len(y) + penalty * v
        w_next = v - STEP_SIZE * grad
        v = w_next + (step / (step + 3)) * (w_next - w)
        w = w_next
    return mean, scale, w


def _referral(case: Case, rng: np.random.Generator) -> str:
    if rng.random() < REFERRAL_ACCURACY:
        return case.diagnosis
    wrong = CONFUSABLE[case.diagnosis][int(rng.integers(0, len(CONFUSABLE[case.diagnosis])))]
    return wrong if wrong in REFERRAL_CODES else "OTHER"


def train_reference(data_dir: str | Path, out: str | Path = WEIGHTS) -> TrainSummary:
    """Train both heads on ``data_dir`` minus the bundled sample and save ``out`` (.npz)."""
    dataset = load_pad_ufes_20(data_dir)
    held_out = {c.case_id for c in load_sample()}
    cases = sorted((c for c in dataset if c.case_id not in held_out), key=lambda c: c.case_id)
    if not cases:
        raise DatasetError(f"no training cases in {data_dir} outside the bundled sample")
    classes = tuple(sorted({c.diagnosis for c in cases}))
    y = np.array([classes.index(c.diagnosis) for c in cases])
    img = np.stack([image_features(load_image(c.images[0])) for c in cases])
    rng = np.random.Generator(np.random.PCG64(SEED))
    plain = np.stack([note_features(c.note, None) for c in cases])
    referred = np.stack([note_features(c.note, _referral(c, rng)) for c in cases])
    full = np.vstack([np.hstack([img, plain]), np.hstack([img, referred])])
    heads = {
        "image": _fit(img, y, len(classes)),
        "full": _fit(full, np.concatenate([y, y]), len(classes)),
    }
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    top1: dict[str, float] = {}
    for head, (mean, scale, weights) in heads.items():
        arrays[f"{head}_mean"], arrays[f"{head}_scale"] = mean, scale
        arrays[f"{head}_weights"] = weights
        x = img if head == "image" else full[: len(cases)]
        pred = (np.hstack([(x - mean) / scale, np.ones((len(x), 1))]) @ weights).argmax(axis=1)
        top1[head] = float((pred == y).mean())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:  # a file handle keeps np.savez from renaming the path
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub misses **kwds
    return TrainSummary(len(cases), classes, top1, out)
