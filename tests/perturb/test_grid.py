from __future__ import annotations

import numpy as np
import pytest

from derm_stress.cases import Case, Note
from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument, UnknownName
from derm_stress.perturb import BASELINE, build_probe, expand_grid, make_operator
from derm_stress.perturb.condition import Condition
from derm_stress.perturb.presets import preset_path
from derm_stress.run.config import load_config

ISSUE_EXAMPLE = {
    "image": ["none", {"op": "motion_blur", "severity": [1, 3, 5]}],
    "context": ["image_only", "full", {"op": "drop_fields", "fields": ["duration_days", "itch"]}],
}


def test_grid_is_the_product_of_its_axes_with_readable_ids() -> None:
    ids = [c.id for c in expand_grid(ISSUE_EXAMPLE)]
    assert len(ids) == 4 * 3
    assert ids[0] == "img=none|ctx=image_only"
    assert "img=motion_blur@3|ctx=drop_fields[duration_days,itch]" in ids
    assert "img=none|ctx=full" in ids and len(set(ids)) == len(ids)


def test_baseline_is_added_when_the_grid_lacks_it() -> None:
    conditions = expand_grid({"image": [{"op": "defocus", "severity": 2}], "context": ["full"]})
    assert [c.id for c in conditions] == ["img=none|ctx=image_only", "img=defocus@2|ctx=full"]
    assert conditions[0].is_baseline and not conditions[1].is_baseline


def test_sequences_multiply_out_and_keep_order() -> None:
    spec = {
        "image": [
            {
                "seq": [
                    {"op": "exposure", "severity": [1, 2]},
                    {"op": "jpeg_compression", "severity": 4},
                ]
            }
        ]
    }
    ids = [c.id for c in expand_grid(spec)][1:]
    assert ids == [
        "img=exposure@1+jpeg_compression@4|ctx=image_only",
        "img=exposure@2+jpeg_compression@4|ctx=image_only",
    ]


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        (
            {"image": [{"op": "drop_fields", "fields": ["age"]}]},
            InvalidArgument,
            "is a note operator",
        ),
        ({"context": [{"op": "defocus"}]}, InvalidArgument, "is a image operator"),
        ({"context": ["partial"]}, InvalidArgument, "expected image_only, full"),
        ({"image": [{"op": "defocuss", "severity": 1}]}, UnknownName, "did you mean 'defocus'"),
        ({"image": []}, InvalidArgument, "non-empty list"),
        ({"image": [{"severity": 1}]}, InvalidArgument, "expected an operator"),
    ],
)
def test_bad_grids_fail_with_a_clear_message(
    spec: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        expand_grid(spec)


def test_image_only_condition_rejects_note_ops() -> None:
    with pytest.raises(InvalidArgument, match="takes no note ops"):
        Condition(note_ops=(make_operator("drop_fields", fields=["age"]),))


def test_quickstart_preset_meets_the_demo_requirements() -> None:
    config = load_config(preset_path("quickstart"))
    ops = {c.image_label.split("@")[0] for c in config.conditions} - {"none"}
    contexts = {c.context_label for c in config.conditions}
    assert len(ops) >= 3 and len(contexts - {"image_only"}) >= 2
    assert config.conditions[0] is BASELINE or config.conditions[0].id == BASELINE.id


def test_probe_is_independent_of_order_and_other_conditions(pad: Dataset) -> None:
    conditions = expand_grid(
        {
            "image": [
                {"op": "gaussian_noise", "severity": [2, 4]},
                {"op": "rotation", "severity": 3},
            ],
            "context": ["image_only", {"op": "misleading_referral"}],
        }
    )
    cases = pad.cases[:3]
    forward = {(c.case_id, k.id): build_probe(c, k, seed=7) for c in cases for k in conditions}
    backward = {
        (c.case_id, k.id): build_probe(c, k, seed=7)
        for c in reversed(cases)
        for k in reversed(conditions)
    }
    for key, probe in forward.items():
        other = backward[key]
        assert all(np.array_equal(a, b) for a, b in zip(probe.images, other.images, strict=True))
        assert probe.note == other.note and probe.applied == other.applied
    noisy = forward[(cases[0].case_id, conditions[1].id)]
    reseeded = build_probe(cases[0], conditions[1], seed=8)
    assert conditions[1].image_label == "gaussian_noise@2"
    assert not np.array_equal(noisy.images[0], reseeded.images[0])


def test_probe_carries_no_diagnosis_and_image_only_has_no_note(pad: Dataset) -> None:
    case = pad.cases[0]
    probe = build_probe(case, BASELINE, seed=0)
    assert probe.note is None and probe.note_text is None
    assert not hasattr(probe, "diagnosis") and not hasattr(probe, "case")


def test_multi_image_cases_get_independent_draws(photos: list[np.ndarray]) -> None:
    case = Case("two", (photos[0], photos[0]), Note(), "NEV")
    condition = expand_grid({"image": [{"op": "rotation", "severity": 4}]})[1]
    probe = build_probe(case, condition, seed=1)
    assert len(probe.images) == 2 and [a.target for a in probe.applied] == ["image[0]", "image[1]"]
    assert probe.applied[0].params != probe.applied[1].params
