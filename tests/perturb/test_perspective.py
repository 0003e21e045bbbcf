"""``perspective`` (kernel version 2): a tilted camera filling the frame from a quadrilateral
inside the photo, so no output pixel shows reflected border (skin the camera did not see)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument
from derm_stress.perturb import derive_rng, make_operator, replay
from derm_stress.perturb import functional as F
from derm_stress.perturb.base import Applied
from derm_stress.perturb.image_ops import Perspective


def _params(severity: int, seed: int, img: np.ndarray) -> dict[str, list[list[float]]]:
    op = make_operator("perspective", severity)
    params = op.sample(derive_rng(seed, "case", "cond", "0"), img, None)  # type: ignore[arg-type]
    return params  # type: ignore[return-value]


@pytest.mark.parametrize("severity", range(1, 6))
def test_corners_move_only_inwards_and_the_nearer_edge_by_tilt(severity: int) -> None:
    tilt = Perspective.severities[severity]["tilt"]
    img = np.zeros((40, 60, 3), np.uint8)
    near_edges = set()
    for seed in range(200):
        inset = np.array(_params(severity, seed, img)["inset"])
        assert inset.shape == (4, 2)
        assert (inset >= 0).all() and (inset <= 1.15 * tilt + 1e-6).all()
        moved = np.flatnonzero(inset.max(axis=1) > 0.15 * tilt + 1e-6)  # beyond the jitter
        assert len(moved) == 2, inset  # the two corners of one edge
        edge = {(0, 1): "top", (1, 2): "right", (2, 3): "bottom", (0, 3): "left"}[
            (int(moved[0]), int(moved[1]))
        ]
        near_edges.add(edge)
        along = 0 if edge in ("top", "bottom") else 1  # the axis along that edge
        assert (inset[moved, along] >= tilt - 1e-6).all()
        assert (inset[moved, 1 - along] >= 0.5 * tilt - 1e-6).all()
    assert near_edges == {"top", "right", "bottom", "left"}


def test_the_output_never_reads_the_border(photos: list[np.ndarray]) -> None:
    """The same warp with a black constant border gives the same bytes, except at most
    on the outermost rows and columns (a corner may sit on the photo's edge)."""
    for img in photos[:3]:
        h, w = img.shape[:2]
        for severity in (1, 3, 5):
            for seed in range(4):
                inset = _params(severity, seed, img)["inset"]
                ours = F.perspective(img, inset)
                matrix = F.perspective_matrix(h, w, inset)
                black = cv2.warpPerspective(
                    img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
                )
                differs = (ours != black).any(axis=2)
                assert not differs[1:-1, 1:-1].any()


def test_the_matrix_takes_the_inset_corners_to_the_frame_corners() -> None:
    h, w = 300, 400
    inset = [[0.1, 0.05], [0.2, 0.0], [0.0, 0.3], [0.01, 0.02]]
    quad = np.array(
        [
            [0.1 * 399, 0.05 * 299],
            [399 - 0.2 * 399, 0],
            [399, 299 - 0.3 * 299],
            [0.01 * 399, 299 - 0.02 * 299],
        ]
    )
    moved = cv2.perspectiveTransform(quad.reshape(-1, 1, 2), F.perspective_matrix(h, w, inset))
    frame = [[0, 0], [399, 0], [399, 299], [0, 299]]
    np.testing.assert_allclose(moved.reshape(4, 2), frame, atol=1e-3)


def test_the_severities_grow_in_mean_change(photos: list[np.ndarray], pad: Dataset) -> None:
    case = pad.cases[1]
    changes = []
    for severity in range(1, 6):
        op = make_operator("perspective", severity)
        diffs = [
            np.abs(
                op(img, derive_rng(0, case.case_id, "c", "0"), case, "image[0]")[0].astype(int)
                - img
            ).mean()
            for img in photos[:4]
        ]
        changes.append(float(np.mean(diffs)))
    assert changes == sorted(changes) and changes[0] > 1


def test_a_version_1_record_is_refused_with_the_reason() -> None:
    img = np.zeros((16, 16, 3), np.uint8)
    old = Applied.make("perspective", 3, "image[0]", {}, {"offsets": [[0.0, 0.0]] * 4})
    with pytest.raises(InvalidArgument, match=r"kernel version 1.*cannot replay"):
        replay(old, img)
    with pytest.raises(InvalidArgument, match="params need 'inset'"):
        make_operator("perspective", 3).apply(img, {})


@pytest.mark.parametrize(
    "inset",
    [
        [[0.1, 0.1]] * 3,
        [[0.1, 0.1]] * 3 + [[0.1]],
        [[0.1, 0.1]] * 3 + [[0.1, -0.01]],
        [[0.1, 0.1]] * 3 + [[0.5, 0.1]],
        [[0.1, 0.1]] * 3 + [[float("nan"), 0.1]],
        [[0.1, 0.1]] * 3 + [["a", 0.1]],
        "0.1",
    ],
)
def test_a_bad_inset_is_refused(inset: object) -> None:
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(InvalidArgument, match="perspective: 'inset' must be 4"):
        make_operator("perspective", 3).apply(img, {"inset": inset})
