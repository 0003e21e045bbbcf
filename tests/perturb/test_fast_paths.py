"""The shortcuts taken for speed change no draw and no byte.

- ``operator_rng`` gives ``NO_DRAWS`` instead of a derived generator to applications that
  draw nothing; every operator declaring ``draws = False`` must really not draw, and the
  harness's output must equal that of a derived generator.
- Gaussian noise reads its 16-bit draws from PCG64's raw output and adds with OpenCV: the
  same values as ``Generator.bytes`` and NumPy's clipped sum (the reference kept here).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derm_stress.cases import Case
from derm_stress.datasets import load_sample
from derm_stress.images import load_image
from derm_stress.perturb import (
    NO_DRAWS,
    Condition,
    build_probe,
    derive_rng,
    make_operator,
    operator_rng,
    registry,
)
from derm_stress.perturb import functional as F
from derm_stress.perturb.base import MAX_SEVERITY
from derm_stress.perturb.compose import OneOf


@pytest.fixture(scope="module")
def photo_case() -> tuple[np.ndarray, Case]:
    case = load_sample().cases[0]
    return load_image(case.images[0]), case


def test_no_draws_fails_loudly_on_any_use() -> None:
    assert isinstance(NO_DRAWS, np.random.Generator)
    with pytest.raises(RuntimeError, match=r"no random generator.*used: random"):
        NO_DRAWS.random()
    with pytest.raises(RuntimeError, match="used: integers"):
        NO_DRAWS.integers(0, 10)
    assert repr(NO_DRAWS) == "NO_DRAWS"


def test_operator_rng_derives_only_for_drawing_applications() -> None:
    blur = make_operator("motion_blur", 3)
    rng = operator_rng(blur, 7, "c1", "img=motion_blur", "0:image[0]")
    expected = derive_rng(7, "c1", "img=motion_blur", "0:image[0]")
    assert rng is not NO_DRAWS
    assert np.array_equal(rng.integers(0, 2**62, size=4), expected.integers(0, 2**62, size=4))
    # severity 0 still derives: a composite draws its choice whatever the severity
    assert operator_rng(make_operator("motion_blur", 0), 7, "c1", "x", "0") is not NO_DRAWS
    assert operator_rng(make_operator("jpeg_compression", 3), 7, "c1", "x", "0") is NO_DRAWS


@pytest.mark.parametrize(
    "name", sorted(n for n, c in registry().items() if c.kind == "image" and not c.draws)
)
def test_operators_declaring_no_draws_draw_nothing(
    name: str, photo_case: tuple[np.ndarray, Case]
) -> None:
    """At every severity the record and the bytes with ``NO_DRAWS`` equal those with a
    derived generator (and a draw would have raised)."""
    img, case = photo_case
    for severity in range(1, MAX_SEVERITY + 1):
        op = make_operator(name, severity)
        fast, fast_record = op(img, NO_DRAWS, case, "image[0]")
        slow, slow_record = op(img, derive_rng(0, case.case_id, "k", "0"), case, "image[0]")
        assert fast_record == slow_record
        assert np.array_equal(fast, slow)


def test_the_drawing_operators_are_the_expected_ones() -> None:
    """A new operator draws unless it says otherwise; these four say so."""
    no_draws = sorted(n for n, c in registry(configured=True).items() if not c.draws)
    assert no_draws == ["defocus", "gaussian_blur", "jpeg_compression", "low_resolution"]


def test_probe_equals_applying_each_operator_with_its_derived_generator(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, case = photo_case
    ops = (make_operator("jpeg_compression", 2), make_operator("motion_blur", 4))
    probe = build_probe(case, Condition(image_ops=ops), 11, [img])
    out = img
    for position, op in enumerate(ops):
        key = "img=jpeg_compression+motion_blur"
        rng = derive_rng(11, case.case_id, key, f"{position}:image[0]")
        out, _ = op(out, rng, case, "image[0]")
    assert np.array_equal(probe.images[0], out)


def _reference_noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise as it was computed before (Generator.bytes, int16 sum, np.clip)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    index = np.frombuffer(rng.bytes(2 * img.size), dtype="<u2").reshape(img.shape)
    levels = np.rint(F._NORMAL * np.float32(sigma)).astype(np.int16)
    out = img.astype(np.int16)
    out += levels[index]
    return np.clip(out, 0, 255).astype(np.uint8)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**63 - 1),
    count=st.integers(1, 5000),
)
def test_uniform16_is_generator_bytes(seed: int, count: int) -> None:
    expected = np.frombuffer(
        np.random.Generator(np.random.PCG64(seed)).bytes(2 * count), dtype="<u2"
    )
    assert np.array_equal(F._uniform16(seed, count), expected)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    shape=st.sampled_from([(1, 1, 3), (2, 2, 3), (5, 300, 3), (37, 41, 3), (64, 96, 3)]),
    sigma=st.floats(0.1, 90.0),
    seed=st.integers(0, 2**63 - 1),
    pixels_seed=st.integers(0, 2**32 - 1),
)
def test_gaussian_noise_equals_the_reference(
    shape: tuple[int, int, int], sigma: float, seed: int, pixels_seed: int
) -> None:
    img = np.random.default_rng(pixels_seed).integers(0, 256, size=shape, dtype=np.uint8)
    assert np.array_equal(F.gaussian_noise(img, sigma, seed), _reference_noise(img, sigma, seed))


def test_gaussian_noise_equals_the_reference_on_a_photo(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, _ = photo_case
    for sigma in (4.0, 14.0, 32.0, 120.0):  # 120: sums far outside 0-255 on both sides
        assert np.array_equal(F.gaussian_noise(img, sigma, 5), _reference_noise(img, sigma, 5))


def test_one_of_at_severity_zero_still_draws_its_choice(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, case = photo_case
    choices = (make_operator("jpeg_compression", 0), make_operator("defocus", 0))
    probe = build_probe(case, Condition(image_ops=(OneOf(choices),)), 3, [img])
    assert np.array_equal(probe.images[0], img)
    assert probe.applied[0].op in {"jpeg_compression", "defocus"}
