"""Severity is monotonic: the documented similarity falls as severity rises, on real photos."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from derm_stress.datasets import Dataset
from derm_stress.images import load_image
from derm_stress.perturb import BASELINE, build_probe, make_operator, registry
from derm_stress.perturb.condition import Condition
from derm_stress.perturb.similarity import similarity, ssim

IMAGE_OPS = sorted(n for n, c in registry().items() if c.kind == "image")


@pytest.fixture(scope="module")
def calibration_photos(pad: Dataset) -> list[tuple[object, np.ndarray]]:
    """18 real photos: three per class, at both source resolutions."""
    chosen = []
    for diagnosis in ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK"):
        cases = [c for c in pad if c.diagnosis == diagnosis]
        chosen += cases[:: max(1, len(cases) // 3)][:3]
    return [(c, load_image(c.images[0])) for c in chosen]


@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGE_OPS)
def test_similarity_falls_with_severity(name: str, calibration_photos: list) -> None:  # type: ignore[type-arg]
    means = []
    for severity in range(6):
        condition = Condition(image_ops=(make_operator(name, severity),))
        scores = [
            similarity(img, build_probe(case, condition, 0, [img]).images[0])  # type: ignore[arg-type]
            for case, img in calibration_photos
        ]
        means.append(float(np.mean(scores)))
    assert means[0] == 1.0
    assert all(a > b for a, b in itertools.pairwise(means)), means


def test_similarity_is_one_for_identical_and_symmetric(photos: list[np.ndarray]) -> None:
    a = photos[0]
    b = build_probe(_case(a), Condition(image_ops=(make_operator("gamma", 3),)), 0, [a]).images[0]
    assert similarity(a, a) == 1.0 and ssim(a, a) == 1.0
    assert similarity(a, b) == pytest.approx(similarity(b, a))
    assert 0 < similarity(a, b) < 1
    assert BASELINE.is_baseline


def _case(img: np.ndarray):  # type: ignore[no-untyped-def]
    from derm_stress.cases import Case, Note

    return Case("x", (img,), Note(), "NEV")
