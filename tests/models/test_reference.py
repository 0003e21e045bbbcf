from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from derm_stress.datasets import Dataset
from derm_stress.labels import is_correct
from derm_stress.models import ReferenceModel, make_model
from derm_stress.models.reference.model import ReferenceWeights
from derm_stress.models.reference.train import train_reference
from derm_stress.perturb import BASELINE, build_probe, expand_grid
from tests.conftest import PAD_DIR


def _top1(model: ReferenceModel, sample: Dataset, condition_id: str) -> float:
    condition = next(
        c for c in expand_grid({"context": ["image_only", "full"]}) if c.id == condition_id
    )
    probes = [build_probe(c, condition, 0) for c in sample]
    answers = model.answer(probes)
    return float(
        np.mean(
            [
                is_correct(a.differential[0], c.diagnosis)
                for a, c in zip(answers, sample, strict=True)
            ]
        )
    )


def test_answers_rank_all_classes_with_probabilities(sample: Dataset) -> None:
    model = ReferenceModel()
    (answer,) = model.answer([build_probe(sample.cases[0], BASELINE, 0)])
    assert sorted(answer.differential) == ["ACK", "BCC", "MEL", "NEV", "SCC", "SEK"]
    assert answer.confidences == tuple(sorted(answer.confidences, reverse=True))
    assert sum(c or 0 for c in answer.confidences) == pytest.approx(1, abs=0.01)
    assert answer.triage in ("urgent", "soon", "routine") and answer.status == "ok"
    assert model.identity()["weights_sha256"] == ReferenceWeights().sha256


def test_held_out_accuracy_beats_chance_and_context_helps(sample: Dataset) -> None:
    model = ReferenceModel()
    image_only = _top1(model, sample, "img=none|ctx=image_only")
    full = _top1(model, sample, "img=none|ctx=full")
    assert image_only > 0.35  # chance is 1/6
    assert full > image_only + 0.05


def test_retraining_reproduces_the_shipped_model(tmp_path: Path, sample: Dataset) -> None:
    """A retrain reproduces the shipped model's answers; weights agree to float tolerance.

    Training is deterministic on one machine, but its 3,000 gradient steps run through BLAS
    matrix products whose summation order depends on the CPU's SIMD width and the BLAS build,
    so weights retrained elsewhere differ in the last digits (seen: 2.3e-7 absolute, 2.1e-5
    relative). What must be reproduced is what the model answers: the ranked differential on
    every held-out case, and probabilities to well within the differences that could reorder it.
    """
    out = tmp_path / "w.npz"
    summary = train_reference(PAD_DIR, out)
    assert summary.cases == 441
    shipped, retrained = ReferenceWeights(), ReferenceWeights(out)
    for head in ("image", "full"):
        for a, b in zip(shipped.heads[head], retrained.heads[head], strict=True):
            # float64 rounding over 3,000 steps: relative 1e-4 of the weight scale is 1000x the
            # largest cross-CPU difference seen and far below any change in training.
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(a).max()))
    for condition_id in ("img=none|ctx=image_only", "img=none|ctx=full"):
        condition = next(
            c for c in expand_grid({"context": ["image_only", "full"]}) if c.id == condition_id
        )
        probes = [build_probe(c, condition, 0) for c in sample]
        ours = ReferenceModel(weights=out).answer(probes)
        theirs = ReferenceModel().answer(probes)
        assert [a.differential for a in ours] == [a.differential for a in theirs]
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(
                [c or 0.0 for c in a.confidences], [c or 0.0 for c in b.confidences], atol=1e-3
            )


def test_make_model_errors_are_clear() -> None:
    with pytest.raises(KeyError, match="did you mean 'reference'"):
        make_model({"name": "x", "adapter": "referense"})
    with pytest.raises(ValueError, match="model 'x' \\(reference\\)"):
        make_model({"name": "x", "adapter": "reference", "temperature": 0})
