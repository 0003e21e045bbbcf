"""Reproducible training of the reference model (``derm-stress train-reference``).

Training set: every PAD-UFES-20 case in the given folder that is not in the bundled sample
(441 of the repository's 531). Features are standardised; each head is a class-balanced
multinomial logistic regression with L2 penalty, fitted by a fixed number of full-batch
Nesterov gradient steps from zero, so the same data gives the same weights.

The with-note head is trained on ``COPIES`` copies of every case: the note as it is, and
copies in which each field is dropped at random (``FIELD_DROPOUT``) and which carry, two times
in three, a simulated referral of a random authority (1, a question, to 5, "confirmed by
dermatology") that names the true diagnosis with a probability that grows with its authority
(``REFERRAL_ACCURACY``, 35% to 90%) and another class otherwise, as in real referral chains
where a confirmed diagnosis is right more often than a query. Everything is seeded.

Two shortcuts are closed on purpose. In PAD-UFES-20 which fields are missing depends on the
label (every BCC, MEL and SCC row is complete); the features carry no missingness indicator
(a missing field is the training mean) and random dropout makes missingness carry no label,
so the model reads what a note says, not which fields it lacks. And a model that never saw
a wrong referral could not show how much a misleading one sways it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derm_stress.cases import Case, Note
from derm_stress.datasets import load_pad_ufes_20, load_sample
from derm_stress.errors import DatasetError
from derm_stress.images import load_image
from derm_stress.models.reference.features import (
    NOTE_FIELDS,
    image_features,
    note_features,
)
from derm_stress.models.reference.model import WEIGHTS

L2 = 0.01
STEPS = 3000
STEP_SIZE = 0.5
# chance that a simulated referral of authority 1..5 names the true diagnosis
REFERRAL_ACCURACY = {1: 0.35, 2: 0.5, 3: 0.65, 4: 0.8, 5: 0.9}
COPIES = 5  # rows per case for the with-note head: the note as given, then noisy copies
FIELD_DROPOUT = 0.3  # per field, in the noisy copies
REFERRAL_SHARE = 2 / 3  # noisy copies that carry a simulated referral
SEED = 20261123


@dataclass(frozen=True)
class TrainSummary:
    cases: int
    classes: tuple[str, ...]
    train_top1: dict[str, float]
    out: Path


def _fit(x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    # missing note fields are NaN: standardised to 0, the mean of the values present
    present = (~np.isnan(x)).sum(axis=0)
    mean = np.where(present > 0, np.nansum(x, axis=0) / np.maximum(present, 1), 0.0)
    scale = np.sqrt(np.nansum((x - mean) ** 2, axis=0) / np.maximum(present, 1))
    scale[scale < 1e-8] = 1.0
    z = np.hstack([np.nan_to_num((x - mean) / scale, nan=0.0), np.ones((len(x), 1))])
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


def _referral(
    case: Case, authority: int, classes: tuple[str, ...], rng: np.random.Generator
) -> str:
    """A simulated referral: right with ``REFERRAL_ACCURACY[authority]``, else another of
    the training classes at random. (Wrong referrals drawn only from the true diagnosis's
    look-alikes would teach the model that a referral points at its look-alikes, so that a
    misleading referral, always a look-alike, would help it.)"""
    if rng.random() < REFERRAL_ACCURACY[authority]:
        return case.diagnosis
    others = [c for c in classes if c != case.diagnosis]
    return others[int(rng.integers(0, len(others)))]


def _noisy_note(case: Case, classes: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Features of a copy of the case's note with fields dropped at random and, two times
    in three, a simulated referral of random authority."""
    dropped = rng.random(len(NOTE_FIELDS)) < FIELD_DROPOUT
    note: Note = case.note.replace(
        **{name: None for name, drop in zip(NOTE_FIELDS, dropped, strict=True) if drop}
    )
    if rng.random() >= REFERRAL_SHARE:
        return note_features(note, None)
    authority = int(rng.integers(1, 6))
    return note_features(note, _referral(case, authority, classes, rng), authority)


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
    copies = [np.hstack([img, plain])]
    for _ in range(COPIES - 1):
        copies.append(np.hstack([img, np.stack([_noisy_note(c, classes, rng) for c in cases])]))
    full = np.vstack(copies)
    heads = {
        "image": _fit(img, y, len(classes)),
        "full": _fit(full, np.tile(y, COPIES), len(classes)),
    }
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    top1: dict[str, float] = {}
    for head, (mean, scale, weights) in heads.items():
        arrays[f"{head}_mean"], arrays[f"{head}_scale"] = mean, scale
        arrays[f"{head}_weights"] = weights
        x = img if head == "image" else full[: len(cases)]
        z = np.nan_to_num((x - mean) / scale, nan=0.0)
        pred = (np.hstack([z, np.ones((len(x), 1))]) @ weights).argmax(axis=1)
        top1[head] = float((pred == y).mean())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:  # a file handle keeps np.savez from renaming the path
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub misses **kwds
    return TrainSummary(len(cases), classes, top1, out)
