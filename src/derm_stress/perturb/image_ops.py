"""Image operators: the degradations of clinic photos, as small classes over ``functional``.

Sizes in severity tables (``*_frac``) are fractions of the image's shorter side, so a
severity means the same degradation on a 300 px and a 4000 px photo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from derm_stress.cases import Case
from derm_stress.errors import InvalidArgument
from derm_stress.perturb import functional as F
from derm_stress.perturb.base import (
    _LARGE,
    _MAGIC,
    _POWERS,
    Applied,
    Operator,
    _jsonable,
    register,
    round_to,
    uniform,
)
from derm_stress.schema import Capability


class ImageOperator(Operator[np.ndarray]):
    """Base of image operators: target is an ``H x W x 3`` ``uint8`` array.

    Other arrays are rejected with a message saying how to convert them; parameters drawn
    before anything size-dependent, so at one seed a higher severity is a stronger version
    of the same degradation.
    """

    kind = "image"

    def __call__(
        self, target: np.ndarray, rng: np.random.Generator, case: Case, where: str
    ) -> tuple[np.ndarray, Applied]:
        # Operator.__call__ without the note branch, in one frame: its fixed cost matters
        # next to 30-50 us lookup-table kernels, which evict the interpreter's working set
        # from the cache between calls (each extra call or object costs microseconds there)
        check_image(target, self.name)
        severity = self.severity
        if not severity:
            return target, _record(Applied, (self.name, 0, where, dict(self.config), {}, ()))
        params = self.sample(rng, target, case)
        if not self.plain_params:
            params = _jsonable(params)
        out = self.apply(target, params)
        return out, _record(Applied, (self.name, severity, where, dict(self.config), params, ()))


_record = tuple.__new__  # Applied.make without its frame
_UINT8 = np.dtype(np.uint8)
_NDARRAY = np.ndarray


def check_image(img: object, op: str) -> None:
    """Raise ``InvalidArgument`` unless ``img`` is an ``H x W x 3`` ``uint8`` array."""
    if type(img) is np.ndarray and img.dtype is _UINT8:
        shape = img.shape
        if len(shape) == 3 and shape[2] == 3 and shape[0] and shape[1]:
            return
    if not isinstance(img, np.ndarray):
        raise InvalidArgument(f"{op}: expected an image array, got {type(img).__name__}")
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or 0 in img.shape:
        raise InvalidArgument(
            f"{op}: image operators take H x W x 3 uint8 RGB arrays, got shape {img.shape} "
            f"dtype {img.dtype}; convert grayscale, RGBA or 16-bit images with "
            "derm_stress.images.as_rgb_array (or load files with load_image)"
        )


class _ToneCurve(ImageOperator):
    """Lookup-table operators (exposure, brightness, contrast, gamma): one value drawn as
    ``sign * row * uniform(0.85, 1.0)`` (the sign drawn first unless fixed by a
    ``direction`` option), optionally through ``exp`` or ``2**``, rounded, and every byte
    mapped through a 256-entry table built from it (``F.apply_lut``, 35-50 us at 512 px).

    Next to such kernels the call's fixed cost is the figure that matters, and it is paid
    in a cold cache (the kernel's 1.6 MB of image data evicts the interpreter's working
    set), where every Python frame and object costs: ``__call__`` does the whole call in
    one frame (check, draws, rounding, kernel, record), the same values and bytes as
    ``sample`` then ``apply`` (``tests/perturb/test_fast_paths.py`` holds them equal). A
    subclass that overrides ``sample`` or ``apply`` gets the general ``__call__`` back.
    """

    plain_params = True  # a dict of one rounded float
    _param: ClassVar[str]  # the recorded parameter
    _row: ClassVar[str]  # its severity table column
    _curve: ClassVar[str] = ""  # "", "exp" or "exp2": applied to the drawn value
    _digits: ClassVar[int]  # decimals kept (round)
    _tone: _ToneConstants | None = None  # per instance: ``_constants()``, made on first call

    #: the kernel: ``F.exposure``, ``F.add_brightness``, ... (a staticmethod)
    _kernel: ClassVar[staticmethod[[np.ndarray, float], np.ndarray]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "sample" in cls.__dict__ or "apply" in cls.__dict__:
            cls.__call__ = ImageOperator.__call__  # type: ignore[method-assign]

    def _value(self, rng: np.random.Generator) -> float:
        """The drawn, transformed and rounded value (``sample``'s, and ``__call__``'s)."""
        sign = _FIXED_SIGN.get(self.config.get("direction", "both")) or _sign(rng)
        value = (
            sign * self.severities[self.severity][self._row] * (0.85 + (1.0 - 0.85) * rng.random())
        )
        if self._curve == "exp":
            value = float(np.exp(value))
        elif self._curve == "exp2":
            value = 2.0**value
        return round_to(value, self._digits)

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {self._param: self._value(rng)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return self._kernel(target, params[self._param])

    def _constants(self) -> _ToneConstants:
        """What ``__call__`` reads per call, gathered once per severity: the severity, name,
        whether a ``direction`` option may fix the sign, the table value, the curve,
        ``10**digits``, digits, the parameter's name and the kernel."""
        return (
            self.severity,
            self.name,
            "direction" in self.options,
            self.severities[self.severity][self._row],
            self._curve,
            _POWERS[self._digits],
            self._digits,
            self._param,
            self._kernel,
        )

    def __call__(
        self, target: np.ndarray, rng: np.random.Generator, case: Case, where: str
    ) -> tuple[np.ndarray, Applied]:
        # ImageOperator.__call__ with sample (_value, round_to) and apply written out: the
        # same draws, doubles and bytes, without their four frames, the constants read from
        # one tuple and no object made that is not needed (in the cold cache every
        # attribute, dict lookup and new object costs)
        if not (
            type(target) is _NDARRAY
            and target.dtype is _UINT8
            and target.ndim == 3
            and target.shape[2] == 3
            and target.size
        ):
            check_image(target, self.name)
        severity = self.severity
        constants = self._tone
        if constants is None or constants[0] != severity:  # first call, or severity changed
            if not severity:
                return target, _record(Applied, (self.name, 0, where, dict(self.config), {}, ()))
            constants = self._tone = self._constants()
        _, name, directional, row, curve, scale, digits, param, kernel = constants
        config = self.config
        sign = directional and _FIXED_SIGN.get(config["direction"])
        if type(rng) is _GENERATOR and type(bits := rng.bit_generator) is _PCG64:
            # the generator's doubles from its raw 64-bit outputs, as ``random`` makes them
            # for PCG64 ((raw >> 11) * 2**-53, so ``raw < 2**63`` is ``double < 0.5``):
            # the same values without ``random``'s dtype handling (tested on fresh and used
            # generators, against the general path of every bit generator)
            if not sign:
                sign = 1 if _PCG64_RAW(bits) < _HALF_RAW else -1
            unit = (_PCG64_RAW(bits) >> 11) * _DOUBLE_STEP
        elif sign:
            unit = rng.random()
        else:  # both doubles from one call: the same two values as two calls, one lock
            first, unit = rng.random(2).tolist()
            sign = 1 if first < 0.5 else -1
        value = sign * row * (0.85 + (1.0 - 0.85) * unit)
        if curve:
            value = float(np.exp(value)) if curve == "exp" else 2.0**value
        y = value * scale  # round_to(value, digits), inline, with its constants
        if -_LARGE < y < _LARGE and (k := (y + _MAGIC) - _MAGIC) and -0.499999 < y - k < 0.499999:
            value = k / scale
        else:
            value = round(value, digits)
        out = kernel(target, value)
        record = (name, severity, where, config.copy() if config else {}, {param: value}, ())
        return out, _record(Applied, record)


_ToneConstants = tuple[
    int, str, bool, float, str, float, int, str, Callable[[np.ndarray, float], np.ndarray]
]
_FIXED_SIGN = {"darker": -1, "brighter": 1}
_GENERATOR = np.random.Generator
_PCG64 = np.random.PCG64
_PCG64_RAW = np.random.PCG64.random_raw  # the unbound method: no bound method made per call
_HALF_RAW = 1 << 63
_DOUBLE_STEP = 1.0 / (1 << 53)


def _side(img: np.ndarray) -> int:
    return int(min(img.shape[:2]))


def _sign(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


@register
class Exposure(_ToneCurve):
    """Over- or under-exposure: linear light scaled by ``2**stops``, direction random."""

    name = "exposure"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
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

    _param = _row = "stops"
    _digits = 6
    _kernel = staticmethod(F.exposure)


@register
class ColorTemperature(ImageOperator):
    """White-balance error: a warm (tungsten) or cool (shade) colour cast."""

    name = "color_temperature"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"shift": 0.06},
        2: {"shift": 0.12},
        3: {"shift": 0.2},
        4: {"shift": 0.28},
        5: {"shift": 0.36},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        shift = _sign(rng) * self.level["shift"] * uniform(rng, 0.85, 1.0)
        return {"red_gain": round(1 + shift, 6), "blue_gain": round(1 - shift, 6)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.white_balance(target, params["red_gain"], params["blue_gain"])


@register
class MotionBlur(ImageOperator):
    """Hand-shake motion blur: a line kernel at a random angle."""

    name = "motion_blur"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
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
        return {"length": int(length), "angle_deg": round(float(uniform(rng, 0, 180)), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.motion_blur(target, params["length"], params["angle_deg"])


@register
class Defocus(ImageOperator):
    """Out-of-focus lens: a disk kernel."""

    name = "defocus"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
    family = "focus"
    kernel_version = 2  # 2: disks from 11 x 11 filtered in float32 (a few pixels differ)
    draws = False  # its parameters follow from the severity and the image
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
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
    family = "focus"
    kernel_version = 2  # 2: two float 1-D passes (about 0.5% of pixels differ by one grey level)
    draws = False  # its parameters follow from the severity and the image
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
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_GEOMETRY})
    family = "angle"
    severities = {
        1: {"degrees": 5},
        2: {"degrees": 10},
        3: {"degrees": 20},
        4: {"degrees": 30},
        5: {"degrees": 45},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        angle = _sign(rng) * self.level["degrees"] * uniform(rng, 0.8, 1.0)
        return {"angle_deg": round(float(angle), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.rotate(target, params["angle_deg"])


# For each edge nearer the camera (top, right, bottom, left): its two corners, which move
# inwards in the photo by (along the edge, towards the middle) in units of tilt. Corners:
# top-left, top-right, bottom-right, bottom-left.
_NEAR = {
    0: ((0, 1), (1.0, 0.5)),
    1: ((1, 2), (0.5, 1.0)),
    2: ((2, 3), (1.0, 0.5)),
    3: ((3, 0), (0.5, 1.0)),
}
_JITTER = 0.15  # every corner also moves inwards by up to this fraction of tilt, per axis


@register
class Perspective(ImageOperator):
    """Oblique camera: the photo as a phone tilted towards one edge would frame it.

    The frame shows a quadrilateral of the skin warped to fill it: the edge nearer the
    camera covers a narrower strip, so its two corners move inwards in the photo by
    ``tilt`` of the width or height along that edge and half of it towards the middle;
    every corner also moves inwards by up to 15% of ``tilt`` per axis (jitter). Which edge
    is nearer is random. Corners move only inwards, so the output shows no mirrored skin
    that the camera did not see. ``inset`` (recorded) is each corner's inward shift as
    fractions of width and height, clockwise from the top left.
    """

    name = "perspective"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_GEOMETRY})
    family = "angle"
    # 2: the frame filled from a quadrilateral inside the photo (version 1 shrank the whole
    # photo onto a quadrilateral inside the frame, the rest reflected border)
    kernel_version = 2
    # calibrated so each severity changes a photo as much as version 1 did: mean absolute
    # change over the 16 photos of bench_operators.py (512 px) 6.64, 8.76, 10.62, 12.69,
    # 15.15 grey levels (version 1: 6.62, 8.83, 10.73, 12.60, 15.16; `--mean-change`)
    severities = {
        1: {"tilt": 0.033},
        2: {"tilt": 0.063},
        3: {"tilt": 0.1},
        4: {"tilt": 0.15},
        5: {"tilt": 0.21},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        # nine doubles in one draw: the nearer edge, then each corner's x and y jitter
        tilt = self.level["tilt"]
        draws = rng.random(9).tolist()
        jitter = _JITTER * tilt
        inset = [[jitter * draws[i], jitter * draws[i + 1]] for i in (1, 3, 5, 7)]
        corners, (along_x, along_y) = _NEAR[min(3, int(draws[0] * 4))]
        for corner in corners:
            inset[corner][0] += along_x * tilt
            inset[corner][1] += along_y * tilt
        return {"inset": [[round(x, 6), round(y, 6)] for x, y in inset]}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.perspective(target, _inset(params))


def _inset(params: Mapping[str, Any]) -> list[list[float]]:
    """``params["inset"]`` checked: 4 [x, y] pairs of finite fractions in [0, 0.5)."""
    inset = params.get("inset")
    try:
        values = [float(v) for pair in inset for v in pair]  # type: ignore[union-attr]
        if len(inset) == 4 and len(values) == 8 and all(0.0 <= v < 0.5 for v in values):  # type: ignore[arg-type]
            return [values[0:2], values[2:4], values[4:6], values[6:8]]
    except (TypeError, ValueError):
        pass
    if inset is None:
        hint = (
            " (a record of perspective's kernel version 1, whose 'offsets' moved the "
            "photo's corners inside the frame; version 2 cannot replay it)"
            if "offsets" in params
            else ""
        )
        raise InvalidArgument(f"perspective: params need 'inset'{hint}, got {sorted(params)}")
    raise InvalidArgument(
        "perspective: 'inset' must be 4 [x, y] pairs of inward shifts in [0, 0.5) (fractions "
        f"of the width and height), got {inset!r:.120}"
    )


@register
class JpegCompression(ImageOperator):
    """Lossy JPEG re-encoding, as when a photo is saved or sent at low quality."""

    name = "jpeg_compression"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
    family = "capture"
    kernel_version = 2  # 2: libjpeg-turbo via simplejpeg (about 10% of values differ)
    draws = False  # its parameters follow from the severity and the image
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
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
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


@register
class Brightness(_ToneCurve):
    """Brightness offset: every channel shifted up or down (auto-exposure gone wrong)."""

    name = "brightness"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"offset": 12},
        2: {"offset": 25},
        3: {"offset": 40},
        4: {"offset": 58},
        5: {"offset": 80},
    }

    _param = "offset"
    _row = "offset"
    _digits = 4
    _kernel = staticmethod(F.add_brightness)


@register
class Contrast(_ToneCurve):
    """Contrast change around the mean grey level: flat (hazy) or harsh, direction random.

    ``log_factor`` is the natural log of the contrast factor's magnitude.
    """

    name = "contrast"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"log_factor": 0.2},
        2: {"log_factor": 0.4},
        3: {"log_factor": 0.65},
        4: {"log_factor": 0.9},
        5: {"log_factor": 1.2},
    }

    _param = "factor"
    _row = "log_factor"
    _curve = "exp"
    _digits = 6
    _kernel = staticmethod(F.contrast)


@register
class Gamma(_ToneCurve):
    """Tone-curve error: gamma above 1 darkens mid-tones, below 1 washes them out."""

    name = "gamma"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"log2_gamma": 0.3},
        2: {"log2_gamma": 0.6},
        3: {"log2_gamma": 0.9},
        4: {"log2_gamma": 1.25},
        5: {"log2_gamma": 1.6},
    }

    _param = "gamma"
    _row = "log2_gamma"
    _curve = "exp2"
    _digits = 6
    _kernel = staticmethod(F.gamma)


@register
class UnevenIllumination(ImageOperator):
    """Uneven light: brightness falls off linearly across the frame (window light, a lamp
    to one side)."""

    name = "uneven_illumination"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"falloff": 0.15},
        2: {"falloff": 0.3},
        3: {"falloff": 0.45},
        4: {"falloff": 0.6},
        5: {"falloff": 0.75},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {
            "angle_deg": round(float(uniform(rng, 0, 360)), 4),
            "low": round(1 - self.level["falloff"] * uniform(rng, 0.85, 1.0), 6),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        gain = F.linear_gradient(target.shape, params["angle_deg"], params["low"])
        return F.multiply(target, gain)


@register
class Shadow(ImageOperator):
    """Cast shadow: a soft-edged half-plane darkened, as by the phone or a hand."""

    name = "shadow"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"depth": 0.2, "cover": 0.25},
        2: {"depth": 0.35, "cover": 0.35},
        3: {"depth": 0.5, "cover": 0.45},
        4: {"depth": 0.62, "cover": 0.55},
        5: {"depth": 0.75, "cover": 0.65},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        # the shadowed side covers about ``cover`` of the frame: the edge sits that far in
        return {
            "angle_deg": round(float(uniform(rng, 0, 360)), 4),
            "offset": round(1.0 - 2.0 * self.level["cover"], 6),
            "softness": round(float(uniform(rng, 0.03, 0.12)), 6),
            "depth": round(self.level["depth"] * uniform(rng, 0.9, 1.0), 6),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        gain = F.shadow_mask(
            target.shape, params["angle_deg"], params["offset"], params["softness"], params["depth"]
        )
        return F.multiply(target, gain)


@register
class SpecularGlare(ImageOperator):
    """Specular glare: bright soft spots from the flash reflecting on shiny skin."""

    name = "specular_glare"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR, Capability.OCCLUDES})
    family = "lighting"
    severities = {
        1: {"spots": 1, "radius": 0.04, "intensity": 0.5},
        2: {"spots": 1, "radius": 0.07, "intensity": 0.7},
        3: {"spots": 2, "radius": 0.09, "intensity": 0.8},
        4: {"spots": 3, "radius": 0.11, "intensity": 0.9},
        5: {"spots": 4, "radius": 0.14, "intensity": 0.95},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        level = self.level
        spots = []
        for _ in range(int(level["spots"])):
            r = level["radius"] * uniform(rng, 0.7, 1.3)
            spots.append(
                [
                    round(float(uniform(rng, 0.25, 0.75)), 5),  # near the lesion, usually centred
                    round(float(uniform(rng, 0.25, 0.75)), 5),
                    round(r * uniform(rng, 0.7, 1.4), 5),
                    round(r * uniform(rng, 0.7, 1.4), 5),
                    round(level["intensity"] * uniform(rng, 0.9, 1.0), 5),
                ]
            )
        return {"spots": spots}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.glare(target, params["spots"])


@register
class Vignetting(ImageOperator):
    """Lens vignetting: corners darker than the centre."""

    name = "vignetting"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"strength": 0.15},
        2: {"strength": 0.3},
        3: {"strength": 0.45},
        4: {"strength": 0.6},
        5: {"strength": 0.75},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"strength": round(self.level["strength"] * uniform(rng, 0.9, 1.0), 6)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.multiply(target, F.vignette_mask(target.shape, params["strength"]))


@register
class LowLight(ImageOperator):
    """Low light: under-exposed and noisy, as a phone camera in a dim room."""

    name = "low_light"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_COLOUR})
    family = "lighting"
    severities = {
        1: {"stops": 0.5, "noise": 0.8},
        2: {"stops": 1.0, "noise": 1.2},
        3: {"stops": 1.5, "noise": 1.6},
        4: {"stops": 2.0, "noise": 2.0},
        5: {"stops": 2.5, "noise": 2.5},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {
            "stops": float(self.level["stops"]),
            "noise": float(self.level["noise"]),
            "noise_seed": int(rng.integers(0, 2**63)),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.low_light(target, params["stops"], params["noise"], params["noise_seed"])


@register
class Distance(ImageOperator):
    """Camera too far away: the lesion shrinks in the frame; the margin is filled with the
    photo's edge extended and blurred (plain skin, never a copy of the lesion)."""

    name = "distance"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_GEOMETRY, Capability.DEGRADES_DETAIL})
    family = "angle"
    severities = {
        1: {"scale": 0.92},
        2: {"scale": 0.8},
        3: {"scale": 0.66},
        4: {"scale": 0.52},
        5: {"scale": 0.36},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {
            "scale": float(self.level["scale"]),
            "shift": [round(float(v), 5) for v in rng.uniform(-0.5, 0.5, size=2)],
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.zoom_out(target, params["scale"], (params["shift"][0], params["shift"][1]))


@register
class OffCenter(ImageOperator):
    """Off-centre framing: the photo is cropped towards a random direction, so the lesion
    sits near an edge (and is partly cut off at high severity)."""

    name = "off_center"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.CHANGES_GEOMETRY})
    family = "angle"
    severities = {
        1: {"shift": 0.08},
        2: {"shift": 0.15},
        3: {"shift": 0.23},
        4: {"shift": 0.31},
        5: {"shift": 0.4},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        angle = uniform(rng, 0, 2 * np.pi)
        shift = self.level["shift"]
        return {
            "keep": round(1.0 - shift, 6),
            "cx": round(0.5 + shift * float(np.cos(angle)), 6),
            "cy": round(0.5 + shift * float(np.sin(angle)), 6),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.crop_resize(target, params["keep"], params["cx"], params["cy"])


@register
class LowResolution(ImageOperator):
    """Low resolution: down-sampled by ``scale`` and shown at the original size."""

    name = "low_resolution"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
    family = "capture"
    draws = False  # its parameters follow from the severity and the image
    kernel_version = 2  # the area filter takes the scale itself (functional.resample)
    severities = {
        1: {"scale": 0.6},
        2: {"scale": 0.4},
        3: {"scale": 0.28},
        4: {"scale": 0.18},
        5: {"scale": 0.12},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"scale": float(self.level["scale"])}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.resample(target, params["scale"])


@register
class MessagingApp(ImageOperator):
    """Messaging-app forwarding: resized then JPEG-compressed, twice (sent, then forwarded)."""

    name = "messaging_app"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.DEGRADES_DETAIL})
    family = "capture"
    kernel_version = 2  # 2: its JPEG passes through simplejpeg (F.jpeg)
    severities = {
        1: {"scale": 0.85, "quality": 75},
        2: {"scale": 0.75, "quality": 62},
        3: {"scale": 0.65, "quality": 50},
        4: {"scale": 0.55, "quality": 38},
        5: {"scale": 0.45, "quality": 28},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        scale, quality = self.level["scale"], self.level["quality"]
        second = min(max(round(quality * uniform(rng, 0.85, 1.05)), 5), 95)  # np.clip's value
        return {"passes": [[scale, quality], [round(float(uniform(rng, 0.85, 1.0)), 4), second]]}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.recompress(target, params["passes"])


def _random_walks(
    rng: np.random.Generator, count: int, steps: int, curl: float
) -> list[list[list[float]]]:
    """``count`` gently curving polylines of ``steps`` segments (points as fractions)."""
    starts = rng.uniform(0.0, 1.0, size=(count, 1, 2))
    lengths = rng.uniform(0.2, 0.6, size=(count, 1, 1))
    angles = rng.uniform(0, 2 * np.pi, size=(count, 1)) + np.cumsum(
        rng.normal(0, curl, size=(count, steps)), axis=1
    )
    moves = np.stack([np.cos(angles), np.sin(angles)], axis=2) * (lengths / steps)
    points = np.concatenate([starts, starts + np.cumsum(moves, axis=1)], axis=1)
    return np.round(points, 5).tolist()  # type: ignore[no-any-return]


@register
class Hair(ImageOperator):
    """Hair over the lesion: dark, thin, gently curving strands."""

    name = "hair"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.OCCLUDES})
    family = "artifact"
    severities = {
        1: {"strands": 4},
        2: {"strands": 10},
        3: {"strands": 20},
        4: {"strands": 35},
        5: {"strands": 55},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        side = _side(target)
        shade = float(uniform(rng, 15, 60))
        style = {
            "color": [round(shade * 1.1, 2), round(shade * 0.9, 2), round(shade * 0.8, 2)],
            "thickness": round(max(1.0, side / 220 * uniform(rng, 0.8, 1.4)), 3),
            "opacity": round(float(uniform(rng, 0.75, 0.95)), 4),
        }
        lines = _random_walks(rng, int(self.level["strands"]), 12, 0.12)
        return {"lines": lines, **style}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.draw_polylines(
            target, params["lines"], params["color"], params["thickness"], params["opacity"]
        )


@register
class InkMarking(ImageOperator):
    """Surgical-pen ink circling the lesion (purple or blue), more strokes and darker with
    severity."""

    name = "ink_marking"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.OCCLUDES})
    family = "artifact"
    severities = {
        1: {"strokes": 1, "opacity": 0.5},
        2: {"strokes": 1, "opacity": 0.7},
        3: {"strokes": 2, "opacity": 0.8},
        4: {"strokes": 2, "opacity": 0.9},
        5: {"strokes": 3, "opacity": 0.95},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        purple = rng.random() < 0.7
        thickness = round(max(1.0, _side(target) / 90 * uniform(rng, 0.8, 1.3)), 3)
        lines = []
        for _ in range(int(self.level["strokes"])):
            cx, cy = rng.uniform(0.45, 0.55, size=2)
            rx, ry = rng.uniform(0.22, 0.38, size=2)
            start = uniform(rng, 0, 2 * np.pi)
            sweep = uniform(rng, 1.7, 2.1) * np.pi  # an ellipse drawn by hand rarely closes
            t = start + np.linspace(0, sweep, 48)
            wobble = 1 + rng.normal(0, 0.02, size=t.size)
            # element by element the same doubles as the scalar formula, Python's round
            xs = (cx + rx * wobble * np.cos(t)).tolist()
            ys = (cy + ry * wobble * np.sin(t)).tolist()
            lines.append([[round(x, 5), round(y, 5)] for x, y in zip(xs, ys, strict=True)])
        return {
            "lines": lines,
            "color": [110.0, 40.0, 150.0] if purple else [35.0, 55.0, 160.0],
            "thickness": thickness,
            "opacity": float(self.level["opacity"]),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.draw_polylines(
            target, params["lines"], params["color"], params["thickness"], params["opacity"]
        )


@register
class Ruler(ImageOperator):
    """A measuring ruler laid along one edge, wider and closer to the lesion with severity."""

    name = "ruler"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.OCCLUDES})
    family = "artifact"
    severities = {
        1: {"width": 0.06, "inset": 0.0},
        2: {"width": 0.09, "inset": 0.04},
        3: {"width": 0.12, "inset": 0.09},
        4: {"width": 0.15, "inset": 0.15},
        5: {"width": 0.18, "inset": 0.22},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {
            "side": int(rng.integers(0, 4)),
            "width": float(self.level["width"]),
            "inset": float(self.level["inset"]),
            "tick": round(_side(target) / float(uniform(rng, 45, 70)), 4),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.ruler(target, params["side"], params["width"], params["inset"], params["tick"])


@register
class DermoscopeCorners(ImageOperator):
    """Dermoscope field of view: black corners outside a centred circle (radius as a
    fraction of the half-diagonal)."""

    name = "dermoscope_corners"
    plain_params = True  # sample() returns plain JSON data (tested)
    capabilities = frozenset({Capability.OCCLUDES})
    family = "artifact"
    severities = {
        1: {"radius": 0.95},
        2: {"radius": 0.88},
        3: {"radius": 0.8},
        4: {"radius": 0.72},
        5: {"radius": 0.64},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {
            "radius": round(self.level["radius"] * uniform(rng, 0.97, 1.03), 5),
            "softness": round(float(uniform(rng, 0.01, 0.04)), 5),
        }

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        return F.circular_mask(target, params["radius"], params["softness"])
