"""Inbound: albumentations transforms and pipelines as derm-stress image operators, on real
PAD-UFES-20 photos."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np
import pytest

from derm_stress.cases import Case, Note
from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument, UnknownName
from derm_stress.perturb import (
    Applied,
    Condition,
    build_probe,
    expand_grid,
    load_grid,
    make_operator,
    registry,
    replay,
)
from derm_stress.perturb.albumentations_bridge import AlbumentationsOperator

BRIGHTNESS = {
    s: {"brightness_limit": [0.08 * s, 0.1 * s], "contrast_limit": [0.0, 0.0]} for s in range(1, 6)
}


def _op(severity: int = 3, **config: Any) -> AlbumentationsOperator:
    if not config:
        config = {"transform": "RandomBrightnessContrast", "table": BRIGHTNESS}
    op = make_operator("albumentations", severity, **config)
    assert isinstance(op, AlbumentationsOperator)
    return op


def _pipeline(*transforms: Any) -> dict[str, Any]:
    return A.to_dict(A.Compose(list(transforms), p=1.0))  # type: ignore[no-any-return]


def _case(pad: Dataset, index: int = 0) -> Case:
    return pad.cases[index]


def test_grid_entry_runs_every_level_of_its_table_and_the_id_names_the_transform() -> None:
    entry = {
        "op": "albumentations",
        "transform": "RandomBrightnessContrast",
        "severity": BRIGHTNESS,
    }
    conditions = expand_grid({"image": [entry]})
    ids = [c.id for c in conditions[1:]]
    assert len(ids) == 5
    assert all(i.startswith("img=albumentations[RandomBrightnessContrast#") for i in ids)
    assert [i.split("@")[1] for i in ids] == [f"{s}|ctx=image_only" for s in range(1, 6)]


def test_editing_one_row_of_the_table_changes_every_level_id() -> None:
    edited = {**BRIGHTNESS, 5: {"brightness_limit": [0.45, 0.5], "contrast_limit": [0.0, 0.0]}}
    a = [_op(s).label for s in range(1, 6)]
    b = [_op(s, transform="RandomBrightnessContrast", table=edited).label for s in range(1, 6)]
    assert not set(a) & set(b)
    # the identity is the resolved albumentations config, version included
    row = _op(1).rows[1]
    assert row["__version__"] == A.__version__ and row["transform"]["p"] == 1.0
    # spelling a tuple as a list or a key as a string is the same table
    same = {str(s): {k: tuple(v) for k, v in r.items()} for s, r in BRIGHTNESS.items()}
    assert _op(3, transform="RandomBrightnessContrast", table=same).label == a[2]


def test_output_is_albumentations_own_output_at_the_recorded_seed(pad: Dataset) -> None:
    case = _case(pad)
    probe = build_probe(case, Condition(image_ops=(_op(4),)), seed=7)
    record = probe.applied[0]
    direct = A.RandomBrightnessContrast(**BRIGHTNESS[4], p=1.0)
    direct.set_random_seed(record.params["seed"])
    from derm_stress.images import load_image

    expected = direct(image=load_image(case.images[0]))["image"]
    assert np.array_equal(probe.images[0], expected)
    # the parameters albumentations applied are in the record
    (applied,) = record.params["applied"]
    assert applied["transform"] == "RandomBrightnessContrast"
    assert 0.32 <= applied["params"]["beta"] / 255 <= 0.4  # brightness_limit, in 0-255 units
    assert record.params["albumentations"] == A.__version__


def test_seeds_differ_across_cases_images_and_positions_and_not_across_severities(
    pad: Dataset,
) -> None:
    op = _op(2)
    two_images = Case("two", (pad.cases[0].images[0], pad.cases[1].images[0]), Note(), "NEV")
    probe = build_probe(two_images, Condition(image_ops=(op, op)), seed=0)
    seeds = [r.params["seed"] for r in probe.applied]
    assert len(set(seeds)) == 4  # 2 positions x 2 images
    other = build_probe(_case(pad, 1), Condition(image_ops=(op,)), seed=0).applied[0]
    first = build_probe(_case(pad, 0), Condition(image_ops=(op,)), seed=0).applied[0]
    assert other.params["seed"] != first.params["seed"]
    # levels of one table share their draws (like the built-in operators), so a severity
    # curve differs only in strength
    stronger = build_probe(_case(pad, 0), Condition(image_ops=(_op(5),)), seed=0).applied[0]
    assert stronger.params["seed"] == first.params["seed"]
    again = build_probe(_case(pad, 0), Condition(image_ops=(op,)), seed=1).applied[0]
    assert again.params["seed"] != first.params["seed"]


@pytest.mark.parametrize(
    "config",
    [
        {"transform": "RandomBrightnessContrast", "table": BRIGHTNESS},
        {"transform": "GaussNoise", "table": {3: {"std_range": [0.1, 0.2]}}},
        {
            "pipeline": _pipeline(
                A.GaussNoise(p=1.0), A.HorizontalFlip(p=0.5), A.ImageCompression(p=0.7)
            )
        },
        {"table": {3: _pipeline(A.RandomGamma(p=1.0), A.Rotate(limit=20, p=1.0))}},
    ],
)
def test_records_replay_byte_identically_after_a_json_round_trip(
    config: dict[str, Any], photos: list[np.ndarray], pad: Dataset
) -> None:
    op = _op(3, **config)
    for i, img in enumerate(photos[:3]):
        case = Case(f"c{i}", (img,), Note(), "NEV")
        probe = build_probe(case, Condition(image_ops=(op,)), seed=3, images=[img])
        record = Applied.from_dict(json.loads(json.dumps(probe.applied[0].to_dict())))
        assert np.array_equal(replay(record, img), probe.images[0])
        assert not np.array_equal(probe.images[0], img) or "pipeline" in config


def test_a_pipeline_may_hold_derm_stress_transforms(photos: list[np.ndarray]) -> None:
    from derm_stress import augment

    spec = _pipeline(augment.Hair(severity=(2, 4), p=1.0), A.GaussNoise(p=1.0))
    op = _op(1, pipeline=json.loads(json.dumps(spec)))
    case = Case("x", (photos[0],), Note(), "NEV")
    probe = build_probe(case, Condition(image_ops=(op,)), 0, [photos[0]])
    applied = probe.applied[0].params["applied"]
    assert [a["transform"] for a in applied] == ["Hair", "GaussNoise"]
    assert 2 <= applied[0]["params"]["ds_severity"] <= 4
    assert np.array_equal(replay(probe.applied[0], photos[0]), probe.images[0])


def test_pipeline_children_get_distinct_seeds(pad: Dataset) -> None:
    # Compose(seed=...) would give both flips one seed: always both or neither
    op = _op(1, pipeline=_pipeline(A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)))
    patterns = set()
    for case in pad.cases[:24]:
        record = build_probe(case, Condition(image_ops=(op,)), seed=0).applied[0]
        patterns.add(tuple(sorted(a["transform"] for a in record.params["applied"])))
    assert ("HorizontalFlip",) in patterns and ("VerticalFlip",) in patterns


def test_a_pipeline_runs_ungraded_and_large_params_are_summarised(pad: Dataset) -> None:
    op = _op(5, pipeline=_pipeline(A.GaussNoise(p=1.0)))
    assert op.severity == 1 and not op.graded and "@" not in op.label
    assert op.label.startswith("albumentations[Compose#")
    record = build_probe(_case(pad), Condition(image_ops=(op,)), seed=0).applied[0]
    noise = record.params["applied"][0]["params"]["noise_map"]
    assert noise["dtype"] == "float32" and len(noise["array"]) == 3
    assert len(json.dumps(record.to_dict())) < 4000


def test_grid_file_with_a_table_loads(tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "image:\n"
        "  - op: albumentations\n"
        "    transform: ImageCompression\n"
        "    severity:\n"
        "      1: {quality_range: [60, 60]}\n"
        "      3: {quality_range: [20, 20]}\n"
        "context: [image_only, full]\n",
        encoding="utf-8",
    )
    ids = [c.id for c in load_grid(grid)]
    assert len(ids) == 1 + 2 * 2
    assert any("ImageCompression#" in i and "@3|ctx=full" in i for i in ids)


@pytest.mark.parametrize(
    ("config", "severity", "message"),
    [
        ({"transform": "RandomFogg", "table": {1: {}}}, 1, "did you mean 'RandomFog'"),
        ({"transform": "RandomFog", "table": {1: {"fog_coef": 0.3}}}, 1, "'fog_coef_range'"),
        (
            {"transform": "RandomFog", "table": {1: {"fog_coef_range": [0.9, 0.1]}}},
            1,
            r"albumentations\[1\]: RandomFog: fog_coef_range",
        ),
        ({"transform": "RandomFog", "table": {1: {"p": 0.5}}}, 1, "'p' is not allowed"),
        ({"transform": "RandomFog", "table": {6: {}}}, 1, "keys must be 1-5"),
        ({"transform": "RandomFog", "table": {1: {}}}, 3, "severity 3 is not in the severity"),
        ({"transform": "RandomFog"}, 1, "needs a severity table"),
        ({}, 1, "give 'transform' with a severity table, or 'pipeline'"),
        ({"transform": "RandomFog", "pipeline": {}, "table": {1: {}}}, 1, "not both"),
        ({"pipeline": {"transform": "Blur"}}, 1, "the dict albumentations.to_dict returns"),
        (
            {"pipeline": {"transform": {"__class_fullname__": "Compose", "transforms": [
                {"__class_fullname__": "GausNoise"}]}}},
            1,
            r"transforms\[0\].*did you mean 'GaussNoise'",
        ),
        (
            {"pipeline": {"transform": {"__class_fullname__": "Compose", "transforms": [
                {"__class_fullname__": "GaussNoise", "std_rang": [0.1, 0.2]}]}}},
            1,
            "did you mean 'std_range'",
        ),
        ({"transform": "RandomFog", "table": {1: {}, "1": {}}}, 1, "appears twice"),
        ({"transform": "RandomFog", "table": [{}]}, 1, "must map levels 1-5"),
        ({"transform": "MedianBlur", "table": {1: {"blur_lmit": 5}}}, 1, "'blur_limit'"),
        ({"transform": "Normalize", "table": {1: {}}}, 1, None),
    ],
)  # fmt: skip
def test_bad_tables_fail_at_load_with_one_clear_line(
    config: dict[str, Any], severity: int, message: str | None, photos: list[np.ndarray]
) -> None:
    if message is None:  # builds, but its output is no photo: a clear error when it runs
        op = _op(severity, **config)
        with pytest.raises(InvalidArgument, match="H x W x 3 uint8"):
            op(photos[0], np.random.default_rng(0), Case("x", (photos[0],), Note(), "NEV"), "i")
        return
    with pytest.raises(InvalidArgument, match=message) as info:
        make_operator("albumentations", severity, **config)
    assert "\n" not in str(info.value)


def test_every_albumentations_image_transform_with_defaults_builds(photos: list) -> None:  # type: ignore[type-arg]
    from derm_stress.perturb.albumentations_bridge import transform_classes

    built = 0
    for name in sorted(transform_classes(A)):
        try:
            op = make_operator("albumentations", 1, transform=name, table={1: {}})
        except InvalidArgument as exc:
            # transforms that need arguments (a size, a function, reference images): a clear
            # line naming them, never a crash in the bridge
            message = str(exc)
            assert message.startswith(f"albumentations[1]: {name}: "), message
            assert "\n" not in message and "'strict'" not in message, message
            continue
        built += 1
        assert op.rows[1]["transform"]["__class_fullname__"] == name
    assert built > 60


def test_unknown_names_are_unknown_name_errors() -> None:
    with pytest.raises(UnknownName):
        make_operator("albumentation", 1)


def test_replay_refuses_a_record_from_another_albumentations_version(photos: list) -> None:  # type: ignore[type-arg]
    img = photos[0]
    _, record = _op(2)(img, np.random.default_rng(0), Case("x", (img,), Note(), "NEV"), "i")
    old = Applied.from_dict(
        {**record.to_dict(), "params": {**record.params, "albumentations": "1.4.0"}}
    )
    with pytest.raises(InvalidArgument, match=r"albumentations 1\.4\.0, installed"):
        replay(old, img)


def test_operator_pickles_and_runs_in_threads_like_the_harness(photos: list) -> None:  # type: ignore[type-arg]
    from concurrent.futures import ThreadPoolExecutor

    op = _op(4)
    copy = pickle.loads(pickle.dumps(op))
    case = Case("x", (photos[0],), Note(), "NEV")
    condition = Condition(image_ops=(op,))
    expected = build_probe(case, condition, 0, [photos[0]]).images[0]
    assert np.array_equal(
        build_probe(case, Condition(image_ops=(copy,)), 0, [photos[0]]).images[0], expected
    )
    with ThreadPoolExecutor(4) as pool:
        outs = list(
            pool.map(lambda _: build_probe(case, condition, 0, [photos[0]]).images[0], range(16))
        )
    assert all(np.array_equal(o, expected) for o in outs)


def test_registry_lists_it_only_when_asked() -> None:
    assert "albumentations" not in registry()
    assert registry(configured=True)["albumentations"] is AlbumentationsOperator
