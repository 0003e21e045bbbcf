"""The shortcuts taken for speed change no draw and no byte.

- ``operator_rng`` gives ``NO_DRAWS`` instead of a derived generator to applications that
  draw nothing; every operator declaring ``draws = False`` must really not draw, and the
  harness's output must equal that of a derived generator.
- Gaussian noise reads its 16-bit draws from PCG64's raw output and adds with OpenCV: the
  same values as ``Generator.bytes`` and NumPy's clipped sum (the reference kept here).
- Operators declaring ``plain_params`` return plain JSON data from ``sample``, so the call
  may keep it unchecked; the lookup-table operators' one-frame ``__call__`` gives what
  ``sample`` then ``apply`` give; ``round_to`` is ``round``; ``Applied``, a tuple now, keeps
  the record's behaviour.
"""

from __future__ import annotations

import json
import math
import pickle
import struct
from typing import Any

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
from derm_stress.perturb.base import MAX_SEVERITY, Applied, Operator, replay, round_to
from derm_stress.perturb.compose import OneOf
from derm_stress.perturb.image_ops import Brightness, ImageOperator, _ToneCurve


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


def _exactly(a: object, b: object) -> bool:
    """Equal with the same types all the way down (1 == 1.0 == True would not do)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exactly(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(_exactly(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


def test_the_built_in_image_operators_declare_plain_params_and_return_plain_data(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, case = photo_case
    shapes = [img, img[:5, :300], img[:1, :1], np.zeros((64, 80, 3), np.uint8)]
    names = sorted(  # the built-in ones (a test elsewhere may register its own)
        n for n, c in registry().items() if c.__module__ == "derm_stress.perturb.image_ops"
    )
    assert len(names) == 25 and all(registry()[n].plain_params for n in names)
    for name in names:
        for severity in range(1, MAX_SEVERITY + 1):
            op = make_operator(name, severity)
            for seed in range(8):
                for target in shapes:
                    params = op.sample(derive_rng(seed, "c", "k", "0"), target, case)
                    again = op.sample(derive_rng(seed, "c", "k", "0"), target, case)
                    assert params is not again  # a new dict every time: records share none
                    assert type(params) is dict
                    assert _exactly(json.loads(json.dumps(params)), params), (name, params)


def test_a_subclass_with_its_own_sample_is_checked_again(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    class Numpyish(Brightness):
        def sample(
            self, rng: np.random.Generator, target: np.ndarray, case: Case
        ) -> dict[str, Any]:
            return {"offset": np.float64(12.5)}

    img, case = photo_case
    assert not Numpyish.plain_params and Numpyish.__call__ is ImageOperator.__call__
    out, record = Numpyish(3)(img, derive_rng(0, "c", "k", "0"), case, "image[0]")
    assert type(record.params["offset"]) is float  # through the JSON check
    assert np.array_equal(out, F.add_brightness(img, 12.5))


TONE = sorted(
    n
    for n, c in registry().items()
    if issubclass(c, _ToneCurve) and c.__module__ == "derm_stress.perturb.image_ops"
)


def test_the_tone_operators_are_the_expected_ones() -> None:
    assert TONE == ["brightness", "contrast", "exposure", "gamma"]


@pytest.mark.parametrize("name", TONE)
def test_the_one_frame_call_equals_sample_then_apply(
    name: str, photo_case: tuple[np.ndarray, Case]
) -> None:
    img, case = photo_case
    directions = ["both", "darker", "brighter"] if name == "exposure" else [None]
    for direction in directions:
        config = {} if direction is None else {"direction": direction}
        for severity in range(MAX_SEVERITY + 1):
            op = make_operator(name, severity, **config)
            for seed in range(30):
                fast_rng = derive_rng(seed, case.case_id, "k", "0")
                out, record = op(img, fast_rng, case, "image[0]")
                slow_rng = derive_rng(seed, case.case_id, "k", "0")
                slow_out, slow_record = ImageOperator.__call__(op, img, slow_rng, case, "image[0]")
                assert _exactly(record.params, slow_record.params)
                assert record == slow_record and type(record) is Applied
                assert np.array_equal(out, slow_out)
                assert fast_rng.random() == slow_rng.random()  # as many draws
                if severity:
                    assert np.array_equal(op.apply(img, record.params), out)


def _generators(kind: type[np.random.BitGenerator], seed: int) -> list[np.random.Generator]:
    """Two generators in the same state: fresh, after a 32-bit draw (PCG64 then holds a
    buffered half word), or after a few doubles, depending on ``seed``."""
    pair = [np.random.Generator(kind(seed)) for _ in range(2)]
    for rng in pair:
        if seed % 3 == 1:
            rng.integers(0, 2**32, dtype=np.uint32)
        elif seed % 3 == 2:
            rng.random(seed % 7)
    return pair


@pytest.mark.parametrize(
    "kind", [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox]
)
@pytest.mark.parametrize("name", TONE)
def test_the_one_frame_call_draws_as_sample_does_from_any_generator(
    name: str, kind: type[np.random.BitGenerator], photo_case: tuple[np.ndarray, Case]
) -> None:
    # the call reads PCG64's raw outputs (and only those of an exact Generator over an exact
    # PCG64); every generator must give the same parameters and leave the same state
    img, case = photo_case
    directions = ["both", "darker"] if name == "exposure" else [None]
    for direction in directions:
        config = {} if direction is None else {"direction": direction}
        op = make_operator(name, 4, **config)
        for seed in range(60):
            fast_rng, slow_rng = _generators(kind, seed)
            record = op(img, fast_rng, case, "image[0]")[1]
            assert _exactly(record.params, op.sample(slow_rng, img, case))
            assert fast_rng.random(3).tolist() == slow_rng.random(3).tolist()


def test_a_generator_subclass_is_drawn_through_its_own_methods(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, case = photo_case

    class Counting(np.random.Generator):
        calls = 0

        def random(self, *args: Any, **kwargs: Any) -> Any:
            Counting.calls += 1
            return super().random(*args, **kwargs)

    record = make_operator("gamma", 2)(img, Counting(np.random.PCG64(5)), case, "image[0]")[1]
    assert Counting.calls == 1
    expected = make_operator("gamma", 2).sample(np.random.default_rng(5), img, case)
    assert record.params == expected


def test_the_one_frame_call_follows_a_changed_severity(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, case = photo_case
    op = make_operator("gamma", 1)
    first = op(img, derive_rng(0, "c", "k", "0"), case, "image[0]")[1]
    op.severity = 5
    record = op(img, derive_rng(0, "c", "k", "0"), case, "image[0]")[1]
    assert record.severity == 5
    assert record.params == make_operator("gamma", 5).sample(
        derive_rng(0, "c", "k", "0"), img, case
    )
    assert record.params != first.params


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(
    x=st.floats(allow_nan=False)
    | st.floats(-1e7, 1e7)
    | st.integers(-(10**9), 10**9).map(lambda k: (k + 0.5) / 10**6),
    digits=st.sampled_from([0, 1, 2, 4, 6, 8]),
)
def test_round_to_is_round(x: float, digits: int) -> None:
    assert struct.pack("<d", round_to(x, digits)) == struct.pack("<d", round(x, digits))


@pytest.mark.parametrize(
    "x", [0.0, -0.0, 1e-9, -1e-9, 5e-5, -5e-5, 0.5, 2.5, -2.5, math.inf, -math.inf, 1e300]
)
def test_round_to_keeps_the_edges_of_round(x: float) -> None:
    for digits in (0, 4, 6):
        assert struct.pack("<d", round_to(x, digits)) == struct.pack("<d", round(x, digits))
    assert math.isnan(round_to(math.nan, 4))


def test_applied_is_still_an_immutable_comparable_picklable_record(
    photo_case: tuple[np.ndarray, Case],
) -> None:
    img, case = photo_case
    out, record = make_operator("brightness", 3)(
        img, derive_rng(0, "c", "k", "0"), case, "image[0]"
    )
    assert isinstance(record, Applied)
    assert (record.op, record.severity, record.target, record.changes) == (
        "brightness",
        3,
        "image[0]",
        (),
    )
    assert repr(record).startswith(
        "Applied(op='brightness', severity=3, target='image[0]', config={}, params={'offset': "
    )
    copy = pickle.loads(pickle.dumps(record))
    assert type(copy) is Applied and copy == record
    assert Applied.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    assert np.array_equal(replay(record, img), out)
    assert record != Applied.make("brightness", 3, "image[1]", {}, dict(record.params))
    with pytest.raises(AttributeError):
        record.severity = 4  # type: ignore[misc]
    a, b = Applied("x", 1, "note"), Applied("x", 1, "note")
    assert a == b and a.config == {} and a.config is not b.config  # no shared default dict
    assert isinstance(make_operator("brightness", 0)(img, NO_DRAWS, case, "image[0]")[1], Applied)
    assert issubclass(Brightness, Operator)
