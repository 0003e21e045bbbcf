"""Outbound: derm-stress image operators as albumentations transforms, on real photos."""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
import pytest

from derm_stress import augment
from derm_stress.errors import InvalidArgument, UnknownName
from derm_stress.perturb import make_operator, registry
from derm_stress.perturb.similarity import similarity

IMAGE_OPS = sorted(n for n, c in registry().items() if c.kind == "image")
PHOTOMETRIC = sorted(augment.PHOTOMETRIC)
GEOMETRIC = sorted(augment.GEOMETRIC)


def _lesion_mask(img: np.ndarray) -> np.ndarray:
    """A label mask with two classes off-centre, so a warp visibly moves it."""
    mask = np.zeros(img.shape[:2], np.uint8)
    h, w = mask.shape
    mask[h // 4 : h // 2, w // 5 : w // 2] = 1
    mask[h // 2 : 3 * h // 4, w // 2 : 4 * w // 5] = 2
    return mask


def test_every_image_operator_is_classified_and_has_its_transform() -> None:
    assert set(PHOTOMETRIC).isdisjoint(GEOMETRIC)
    assert sorted([*PHOTOMETRIC, *GEOMETRIC]) == IMAGE_OPS
    for name in IMAGE_OPS:
        cls = augment.transform_for(name)
        assert cls.operator == name and cls.__doc__ and name in cls.__doc__
        assert cls.__name__ in augment.__all__


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_transform_matches_the_native_operator_on_real_photos(
    name: str, photos: list[np.ndarray]
) -> None:
    t = augment.transform_for(name)(severity=(1, 5), p=1.0)
    seen = set()
    for i, img in enumerate(photos[:3]):
        t.set_random_seed(i)
        out = t(image=img)["image"]
        severity, params = t.params["ds_severity"], t.params["ds_params"]
        seen.add(severity)
        native = make_operator(name, severity).apply(img, params)
        assert out.dtype == np.uint8 and out.shape == img.shape
        assert np.array_equal(out, native)
        assert 1 <= severity <= 5
    identity = augment.transform_for(name)(severity=0, p=1.0)
    assert np.array_equal(identity(image=photos[0])["image"], photos[0])


@pytest.mark.parametrize("name", PHOTOMETRIC)
def test_photometric_operators_pass_masks_boxes_and_keypoints_unchanged(
    name: str, photos: list[np.ndarray]
) -> None:
    img = photos[1]
    mask = _lesion_mask(img)
    pipeline = A.Compose(
        [augment.transform_for(name)(severity=5, p=1.0)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
        keypoint_params=A.KeypointParams(format="xy"),
        seed=1,
    )
    boxes, points = [[30.0, 40.0, 120.0, 150.0]], [(50.0, 60.0)]
    out = pipeline(image=img, mask=mask, bboxes=boxes, labels=[1], keypoints=points)
    assert not np.array_equal(out["image"], img)
    assert np.array_equal(out["mask"], mask)
    assert np.allclose(out["bboxes"], boxes) and np.allclose(out["keypoints"], points)


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_operators_move_masks_with_the_image(name: str, photos: list[np.ndarray]) -> None:
    # the image is the mask itself, drawn in grey levels: after the transform, reading the
    # labels back from the image must give the transformed mask
    mask = _lesion_mask(photos[0])
    drawn = np.repeat((mask * 120)[..., None], 3, axis=2).astype(np.uint8)
    for seed in range(3):
        t = augment.transform_for(name)(severity=(3, 5), p=1.0)
        t.set_random_seed(seed)
        out = t(image=drawn, mask=mask, masks=[mask, (mask == 2).astype(np.uint8)])
        read_back = np.rint(out["image"][..., 0] / 120.0)
        assert out["mask"].dtype == np.uint8 and set(np.unique(out["mask"])) <= {0, 1, 2}
        assert np.mean(read_back == out["mask"]) > 0.985, seed
        assert not np.array_equal(out["mask"], mask)
        assert np.array_equal(out["masks"][0], out["mask"])
        assert np.array_equal(out["masks"][1], out["mask"] == 2)
        # label masks of any dtype keep their dtype and labels (OpenCV lacks bool and int32)
        for labels in (mask == 2, mask.astype(np.int32) * 70000):
            t.set_random_seed(seed)
            moved = t(image=drawn, mask=labels)["mask"]
            assert moved.dtype == labels.dtype
            assert np.array_equal(
                moved.astype(bool), out["mask"] == 2 if labels.dtype == bool else out["mask"] > 0
            )


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_operators_move_boxes_around_their_content(
    name: str, photos: list[np.ndarray]
) -> None:
    mask = _lesion_mask(photos[0])
    ys, xs = np.nonzero(mask == 1)
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    pipeline = A.Compose(
        [augment.transform_for(name)(severity=2, p=1.0)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"], clip=True),
        seed=5,
    )
    out = pipeline(image=photos[0], mask=mask, bboxes=[box], labels=[1])
    ys, xs = np.nonzero(out["mask"] == 1)
    moved = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    (got,) = out["bboxes"]
    if name in ("distance", "off_center"):  # axis-aligned maps: the box is exact
        assert np.allclose(got[:4], moved, atol=2.0), (got, moved)
    else:  # the box around the moved corners encloses the moved region
        assert got[0] <= moved[0] + 1 and got[1] <= moved[1] + 1
        assert got[2] >= moved[2] - 1 and got[3] >= moved[3] - 1


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_operators_refuse_keypoints(name: str, photos: list[np.ndarray]) -> None:
    pipeline = A.Compose(
        [augment.transform_for(name)(p=1.0)], keypoint_params=A.KeypointParams(format="xy")
    )
    with pytest.raises(InvalidArgument, match=f"{name}: cannot transform keypoints"):
        pipeline(image=photos[0], keypoints=[(10.0, 10.0)])


def test_compose_seed_makes_a_pipeline_reproducible_and_serialisable(
    photos: list[np.ndarray],
) -> None:
    transforms = [augment.transform_for(n)(severity=(1, 4), p=0.5) for n in IMAGE_OPS]
    transforms.append(augment.Perturb("exposure", severity=3, options={"direction": "darker"}))
    pipeline = A.Compose(transforms, seed=11)
    rebuilt = A.from_dict(A.to_dict(pipeline))
    rebuilt.set_random_seed(11)
    again = A.Compose(
        [augment.transform_for(n)(severity=(1, 4), p=0.5) for n in IMAGE_OPS]
        + [augment.Perturb("exposure", severity=3, options={"direction": "darker"})],
        seed=11,
    )
    for img in photos[:3]:
        a, b, c = (
            pipeline(image=img)["image"],
            rebuilt(image=img)["image"],
            again(image=img)["image"],
        )
        assert np.array_equal(a, b) and np.array_equal(a, c)
    other = A.Compose(transforms, seed=12)
    assert not all(
        np.array_equal(pipeline(image=i)["image"], other(image=i)["image"]) for i in photos[:3]
    )
    restored = A.to_dict(rebuilt)["transform"]["transforms"]
    assert restored[-1]["__class_fullname__"] == "derm_stress.augment.Perturb"
    assert restored[-1]["options"] == {"direction": "darker"}


def test_replay_compose_replays_them(photos: list[np.ndarray]) -> None:
    pipeline = A.ReplayCompose(
        [augment.Hair(severity=(1, 5), p=1.0), augment.Rotation(p=0.5), augment.Gamma(p=0.5)]
    )
    for img in photos[:3]:
        out = pipeline(image=img, mask=_lesion_mask(img))
        again = A.ReplayCompose.replay(out["replay"], image=img, mask=_lesion_mask(img))
        assert np.array_equal(out["image"], again["image"])
        assert np.array_equal(out["mask"], again["mask"])


def test_probability_and_severity_range_are_honoured(photos: list[np.ndarray]) -> None:
    t = augment.Hair(severity=(2, 3), p=0.5)
    t.set_random_seed(0)
    applied, severities = 0, set()
    for _ in range(60):
        out = t(image=photos[2])["image"]
        if t.params:
            applied += 1
            severities.add(t.params["ds_severity"])
        else:
            assert np.array_equal(out, photos[2])
    assert 15 < applied < 45 and severities == {2, 3}


def test_severity_tracks_similarity_like_the_operator(photos: list[np.ndarray]) -> None:
    img = photos[0]
    scores = []
    for severity in (1, 5):
        t = augment.GaussianBlur(severity=severity, p=1.0)
        t.set_random_seed(0)
        scores.append(similarity(img, t(image=img)["image"]))
    assert scores[0] > scores[1]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: augment.Perturb("hairr"), UnknownName, "did you mean 'hair'"),
        (lambda: augment.Perturb("typos"), InvalidArgument, "not a built-in image operator"),
        (lambda: augment.Hair(severity=6), InvalidArgument, "severity must be within 0-5"),
        (lambda: augment.Hair(severity=(3, 1)), InvalidArgument, "low <= high"),
        (lambda: augment.Hair(severity=2.5), InvalidArgument, "must be an integer"),
        (lambda: augment.Exposure(options={"direction": "up"}), InvalidArgument, "direction"),
        (lambda: augment.Exposure(options={"dir": "up"}), InvalidArgument, "unknown option"),
        (lambda: augment.transform_for("rotatio"), UnknownName, "did you mean 'rotation'"),
    ],
)
def test_bad_arguments_fail_at_construction(build: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build()


def test_non_rgb_uint8_images_get_the_conversion_hint(photos: list[np.ndarray]) -> None:
    t = augment.Hair(p=1.0)
    with pytest.raises(InvalidArgument, match="H x W x 3 uint8"):
        t(image=photos[0].astype(np.float32) / 255)
