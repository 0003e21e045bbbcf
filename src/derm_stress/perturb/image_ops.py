"""Image operators: the degradations of clinic photos, as small classes over ``functional``.

Sizes in severity tables (``*_frac``) are fractions of the image's shorter side, so a
severity means the same degradation on a 300 px and a 4000 px photo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from derm_stress.cases import Case
from derm_stress.errors import InvalidArgument
from derm_stress.perturb import functional as F
from derm_stress.perturb.base import Operator, register


class ImageOperator(Operator[np.ndarray]):
    """Base of image operators: target is an ``H x W x 3`` ``uint8`` array."""

    kind = "image"


def _side(img: np.ndarray) -> int:
    return int(min(img.shape[:2]))


def _sign(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


@register
class Exposure(ImageOperator):
    """Over- or under-exposure: linear light scaled by ``2**stops``, direction random."""

    name = "exposure"
    family = "lighting"
    severities = {
        1: {"stops": 0.4},
        2: {"stops": 0.8},
        3: {"stops": 1.2},
        4: {"stops": 1.6},
        5: {"stops": 2.0},
    }
    options = {"direction": "both"}

    def validate(self) -> None:
        _check_choice(self, "direction", ("both", "darker", "brighter"))

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        direction = self.config["direction"]
        sign = {"darker": -1, "brighter": 1}.get(direction) or _sign(rng)
        magnitude = self.level["stops"] * rng.uniform(0.85, 1.0)
        return {"stops": round(sign * magnitude, 6)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.exposure(target, params["stops"])


@register
class ColorTemperature(ImageOperator):
    """White-balance error: a warm (tungsten) or cool (shade) colour cast."""

    name = "color_temperature"
    family = "lighting"
    severities = {
        1: {"shift": 0.06},
        2: {"shift": 0.12},
        3: {"shift": 0.2},
        4: {"shift": 0.28},
        5: {"shift": 0.36},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        shift = _sign(rng) * self.level["shift"] * rng.uniform(0.85, 1.0)
        return {"red_gain": round(1 + shift, 6), "blue_gain": round(1 - shift, 6)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.white_balance(target, params["red_gain"], params["blue_gain"])


@register
class MotionBlur(ImageOperator):
    """Hand-shake motion blur: a line kernel at a random angle."""

    name = "motion_blur"
    family = "focus"
    severities = {
        1: {"length_frac": 0.01},
        2: {"length_frac": 0.02},
        3: {"length_frac": 0.035},
        4: {"length_frac": 0.05},
        5: {"length_frac": 0.07},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        length = max(2, round(self.level["length_frac"] * _side(target)))
        return {"length": int(length), "angle_deg": round(float(rng.uniform(0, 180)), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.motion_blur(target, params["length"], params["angle_deg"])


@register
class Defocus(ImageOperator):
    """Out-of-focus lens: a disk kernel."""

    name = "defocus"
    family = "focus"
    severities = {
        1: {"radius_frac": 0.004},
        2: {"radius_frac": 0.008},
        3: {"radius_frac": 0.014},
        4: {"radius_frac": 0.02},
        5: {"radius_frac": 0.028},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"radius": round(max(0.5, self.level["radius_frac"] * _side(target)), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.defocus(target, params["radius"])


@register
class GaussianBlur(ImageOperator):
    """Gaussian blur (soft focus, smudged lens)."""

    name = "gaussian_blur"
    family = "focus"
    severities = {
        1: {"sigma_frac": 0.003},
        2: {"sigma_frac": 0.006},
        3: {"sigma_frac": 0.01},
        4: {"sigma_frac": 0.015},
        5: {"sigma_frac": 0.021},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"sigma": round(max(0.3, self.level["sigma_frac"] * _side(target)), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.gaussian_blur(target, params["sigma"])


@register
class Rotation(ImageOperator):
    """Camera roll: rotation by a random-sign angle, borders filled by reflection."""

    name = "rotation"
    family = "angle"
    severities = {
        1: {"degrees": 5},
        2: {"degrees": 10},
        3: {"degrees": 20},
        4: {"degrees": 30},
        5: {"degrees": 45},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        angle = _sign(rng) * self.level["degrees"] * rng.uniform(0.8, 1.0)
        return {"angle_deg": round(float(angle), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.rotate(target, params["angle_deg"])


# For each receding edge (top, right, bottom, left): the two corners that move inwards, as
# (corner index, (dx, dy) in units of tilt). Corners: top-left, top-right, bottom-right,
# bottom-left.
_RECEDE = {
    0: ((0, (1.0, 0.5)), (1, (-1.0, 0.5))),
    1: ((1, (-0.5, 1.0)), (2, (-0.5, -1.0))),
    2: ((2, (-1.0, -0.5)), (3, (1.0, -0.5))),
    3: ((3, (0.5, -1.0)), (0, (0.5, 1.0))),
}


@register
class Perspective(ImageOperator):
    """Oblique camera: one edge of the frame recedes, as in a photo taken at an angle.

    The receding edge's corners move inwards by ``tilt`` of the width or height (plus up to
    15% jitter on every corner); which edge recedes is random.
    """

    name = "perspective"
    family = "angle"
    severities = {
        1: {"tilt": 0.04},
        2: {"tilt": 0.08},
        3: {"tilt": 0.13},
        4: {"tilt": 0.19},
        5: {"tilt": 0.26},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        tilt = self.level["tilt"]
        side = int(rng.integers(0, 4))
        offsets = np.zeros((4, 2))
        for corner, direction in _RECEDE[side]:
            offsets[corner] = direction
        offsets = offsets * tilt + rng.uniform(-0.15, 0.15, size=(4, 2)) * tilt
        return {"offsets": np.round(offsets, 6).tolist()}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.perspective(target, np.asarray(params["offsets"]))


@register
class JpegCompression(ImageOperator):
    """Lossy JPEG re-encoding, as when a photo is saved or sent at low quality."""

    name = "jpeg_compression"
    family = "capture"
    severities = {
        1: {"quality": 60},
        2: {"quality": 40},
        3: {"quality": 25},
        4: {"quality": 15},
        5: {"quality": 8},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"quality": int(self.level["quality"])}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.jpeg(target, params["quality"])


@register
class GaussianNoise(ImageOperator):
    """Sensor noise: additive Gaussian noise (0-255 units)."""

    name = "gaussian_noise"
    family = "capture"
    severities = {
        1: {"sigma": 4},
        2: {"sigma": 8},
        3: {"sigma": 14},
        4: {"sigma": 22},
        5: {"sigma": 32},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"sigma": float(self.level["sigma"]), "noise_seed": int(rng.integers(0, 2**63))}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.gaussian_noise(target, params["sigma"], params["noise_seed"])


def _check_choice(op: Operator[Any], option: str, allowed: tuple[str, ...]) -> None:
    value = op.config[option]
    if value not in allowed:
        raise InvalidArgument(
            f"{op.name}: option {option!r} must be one of {', '.join(allowed)}, got {value!r}"
        )
