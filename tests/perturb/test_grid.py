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


def test_one_of_picks_per_case_and_records_the_choice(pad: Dataset) -> None:
    spec = {
        "image": [
            {
                "one_of": [{"op": "motion_blur"}, {"op": "defocus"}, {"op": "rotation"}],
                "severity": [2, 4],
            }
        ]
    }
    conditions = expand_grid(spec)
    assert [c.id for c in conditions[1:]] == [
        "img=one_of(motion_blur@2,defocus@2,rotation@2)|ctx=image_only",
        "img=one_of(motion_blur@4,defocus@4,rotation@4)|ctx=image_only",
    ]
    chosen = [build_probe(c, conditions[2], 0).applied[0] for c in pad.cases[:30]]
    assert {a.op for a in chosen} == {"motion_blur", "defocus", "rotation"}
    assert all(a.severity == 4 for a in chosen)
    # severities share the draw: a case gets the same operator at 2 and at 4
    mild = [build_probe(c, conditions[1], 0).applied[0].op for c in pad.cases[:30]]
    assert mild == [a.op for a in chosen]


def test_one_of_rejects_mixed_kinds_and_single_choices() -> None:
    with pytest.raises(InvalidArgument, match="at least two"):
        expand_grid({"image": [{"one_of": [{"op": "defocus"}]}]})
    with pytest.raises(InvalidArgument, match="is a note operator"):
        expand_grid({"image": [{"one_of": [{"op": "defocus"}, {"op": "sex_flip"}]}]})


def test_image_draws_do_not_depend_on_context_or_severity(pad: Dataset) -> None:
    conditions = {
        c.id: c
        for c in expand_grid(
            {
                "image": [{"op": "rotation", "severity": [2, 5]}],
                "context": [
                    "image_only",
                    "full",
                    {"op": "misleading_referral", "severity": [1, 5]},
                ],
            }
        )
    }
    case = pad.cases[4]
    probes = {cid: build_probe(case, c, 3) for cid, c in conditions.items()}
    a = probes["img=rotation@2|ctx=image_only"]
    b = probes["img=rotation@2|ctx=misleading_referral@5"]
    assert np.array_equal(a.images[0], b.images[0])
    strong = probes["img=rotation@5|ctx=full"].applied[0].params["angle_deg"]
    mild = a.applied[0].params["angle_deg"]
    assert np.sign(strong) == np.sign(mild) and abs(strong) > abs(mild)
    n1 = probes["img=rotation@2|ctx=misleading_referral@5"].note
    n2 = probes["img=rotation@5|ctx=misleading_referral@5"].note
    assert n1 == n2
    r1 = probes["img=rotation@2|ctx=misleading_referral@1"].applied[-1].params["diagnosis"]
    assert r1 == probes["img=rotation@2|ctx=misleading_referral@5"].applied[-1].params["diagnosis"]


@pytest.mark.parametrize("preset", ["quickstart", "capture", "context", "paper"])
def test_presets_expand(preset: str) -> None:
    conditions = load_config(preset_path(preset)).conditions
    assert conditions[0].is_baseline and len({c.id for c in conditions}) == len(conditions)


def test_capture_preset_covers_every_image_operator_at_every_severity() -> None:
    from derm_stress.perturb import registry

    ids = {c.id for c in load_config(preset_path("capture")).conditions}
    for name, cls in registry().items():
        if cls.kind == "image":
            assert all(f"img={name}@{s}|ctx=image_only" in ids for s in range(1, 6)), name


def test_context_preset_covers_every_note_operator() -> None:
    from derm_stress.perturb import registry

    labels = " ".join(c.context_label for c in load_config(preset_path("context")).conditions)
    for name, cls in registry().items():
        if cls.kind == "note":
            assert name in labels, name
