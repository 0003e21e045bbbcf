"""Registry-wide operator contract, on real photos and real notes.

Every registered operator must appear in ``EXAMPLES``; a new operator without an entry fails
``test_every_operator_has_an_example``, so none escapes the contract.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from derm_stress.cases import Case, Note
from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument, UnknownName
from derm_stress.perturb import derive_rng, describe, make_operator, registry, replay
from derm_stress.perturb.base import Applied

# name -> options needed to construct it (beyond severity)
EXAMPLES: dict[str, dict[str, Any]] = {
    "exposure": {},
    "color_temperature": {},
    "motion_blur": {},
    "defocus": {},
    "gaussian_blur": {},
    "rotation": {},
    "perspective": {},
    "jpeg_compression": {},
    "gaussian_noise": {},
    "drop_fields": {"fields": ["age", "itch", "duration_days"]},
    "drop_random_fields": {},
    "drop_block": {"blocks": ["history", "symptoms"]},
    "misleading_referral": {},
}
IMAGE_OPS = sorted(n for n, c in registry().items() if c.kind == "image")
NOTE_OPS = sorted(n for n, c in registry().items() if c.kind == "note")
FULL_NOTE = Note(
    age=61,
    sex="male",
    fitzpatrick=2,
    body_site="back",
    size_mm=(8.0, 6.0),
    duration_days=120,
    itch=True,
    pain=False,
    bleeding=True,
    growth=True,
    change=None,
    elevation=True,
    skin_cancer_history=False,
    family_history=True,
    other_history="smoker: yes",
    referral=None,
    free_text="patient worried",
)


def test_every_operator_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(registry())


def _case(pad: Dataset, note: Note | None = None) -> Case:
    case = pad.cases[1]
    return Case(case.case_id, case.images, note or FULL_NOTE, case.diagnosis)


def _apply(name: str, severity: int, target: Any, case: Case, seed: int = 0) -> tuple[Any, Applied]:
    op = make_operator(name, severity, **EXAMPLES[name])
    where = "note" if op.kind == "note" else "image[0]"
    return op(target, derive_rng(seed, case.case_id, "cond", "0"), case, where)


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_image_operator_contract(name: str, photos: list[np.ndarray], pad: Dataset) -> None:
    case = _case(pad)
    for img in photos[:3]:
        before = img.copy()
        identity, record0 = _apply(name, 0, img, case)
        assert np.array_equal(identity, img) and record0.params == {}
        for severity in range(1, 6):
            out, record = _apply(name, severity, img, case)
            assert out.shape == img.shape and out.dtype == np.uint8
            assert np.array_equal(img, before), "input was mutated"
            again, _ = _apply(name, severity, img, case)
            assert np.array_equal(out, again), "same seed gave different bytes"
            rebuilt = replay(Applied.from_dict(record.to_dict()), img)
            assert np.array_equal(rebuilt, out), "replay did not reproduce the output"
        assert not np.array_equal(_apply(name, 5, img, case)[0], img), "severity 5 did nothing"


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_image_operator_seed_changes_random_params(
    name: str, photos: list[np.ndarray], pad: Dataset
) -> None:
    case = _case(pad)
    records = {str(_apply(name, 3, photos[0], case, seed)[1].params) for seed in range(6)}
    deterministic = {"jpeg_compression", "defocus", "gaussian_blur"}  # no random parameter
    assert (len(records) == 1) == (name in deterministic)


@pytest.mark.parametrize("name", NOTE_OPS)
def test_note_operator_contract(name: str, pad: Dataset) -> None:
    case = _case(pad)
    identity, _ = _apply(name, 0, FULL_NOTE, case)
    assert identity == FULL_NOTE
    for severity in range(1, 6):
        out, record = _apply(name, severity, FULL_NOTE, case)
        assert isinstance(out, Note)
        changed = {f for f in Note.field_names() if getattr(out, f) != getattr(FULL_NOTE, f)}
        assert changed, f"{name}@{severity} changed nothing"
        assert changed == {c[0] for c in record.changes}, "record does not match the change"
        for field, old, new in record.changes:
            assert old == FULL_NOTE.to_dict()[field] and new == out.to_dict()[field]
        assert _apply(name, severity, FULL_NOTE, case)[0] == out
        assert replay(Applied.from_dict(record.to_dict()), FULL_NOTE) == out


def test_misleading_referral_names_a_wrong_lookalike_and_grows_assertive(pad: Dataset) -> None:
    for case in pad.cases[:40]:
        mild, r1 = _apply("misleading_referral", 1, case.note, case)
        strong, r5 = _apply("misleading_referral", 5, case.note, case)
        assert r1.params["diagnosis"] != case.diagnosis
        assert r5.params["diagnosis"] != case.diagnosis
        assert mild.referral and strong.referral
        assert mild.referral.startswith(("?", "query"))
        assert "confirmed" in strong.referral


def test_drop_random_fields_drops_more_with_severity(pad: Dataset) -> None:
    counts = [
        len(_apply("drop_random_fields", s, FULL_NOTE, _case(pad))[1].params["fields"])
        for s in range(1, 6)
    ]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_unknown_operator_suggests_a_name() -> None:
    with pytest.raises(UnknownName, match="did you mean 'motion_blur'"):
        make_operator("motion_blurr", 2)


@pytest.mark.parametrize(
    ("name", "severity", "options", "message"),
    [
        ("motion_blur", 6, {}, "severity must be 0-5, got 6"),
        ("motion_blur", 2.5, {}, "severity must be an integer"),
        ("motion_blur", 2, {"length": 3}, "unknown option 'length'"),
        ("exposure", 2, {"direction": "up"}, "must be one of both, darker, brighter"),
        ("drop_fields", 1, {"fields": ["duration"]}, "unknown note field 'duration'"),
        ("drop_fields", 1, {}, "must be a non-empty list"),
        ("drop_block", 1, {"blocks": ["vitals"]}, "must list blocks from"),
    ],
)
def test_bad_operator_arguments_fail_at_construction(
    name: str, severity: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make_operator(name, severity, **options)
    assert issubclass(InvalidArgument, ValueError)


def test_describe_lists_severity_tables_and_docstrings_carry_them() -> None:
    for name, cls in registry().items():
        info = describe(cls)
        assert info["kind"] in ("image", "note") and info["description"]
        if cls.graded:
            assert sorted(info["severities"]) == ["1", "2", "3", "4", "5"]
            assert "Severity table" in (cls.__doc__ or ""), name


@pytest.mark.parametrize("name", IMAGE_OPS)
@pytest.mark.parametrize("shape", [(8, 8, 3), (5, 300, 3), (1, 1, 3)])
def test_image_operators_handle_tiny_and_thin_images(
    name: str, shape: tuple[int, ...], pad: Dataset
) -> None:
    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    out, _ = _apply(name, 5, img, _case(pad))
    assert out.shape == img.shape and out.dtype == np.uint8
