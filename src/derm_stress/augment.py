"""derm-stress image operators as albumentations transforms, for training pipelines.

::

    import albumentations as A
    from derm_stress import augment

    train = A.Compose(
        [augment.Hair(severity=(1, 3), p=0.3), augment.MessagingApp(severity=2, p=0.5)],
        seed=137,
    )
    out = train(image=photo, mask=lesion_mask)

Every image operator has a class here named after it (``hair`` -> ``Hair``,
``off_center`` -> ``OffCenter``), and ``Perturb(operator=NAME, ...)`` takes any registered
image operator by name. Each takes ``severity`` (an int 0-5, or ``(low, high)``: drawn
uniformly per call), ``options`` (the operator's options, e.g. ``{"direction": "darker"}``)
and ``p``. They serialise with ``A.to_dict`` / ``A.from_dict`` (import this module first, so
albumentations knows the classes) and draw their random parameters from the generator
albumentations gives them, so ``Compose(seed=...)`` makes a pipeline reproducible as it does
for albumentations' own transforms.

Targets: photometric operators change the image only; masks, bounding boxes and keypoints
pass unchanged. Geometric operators (``rotation``, ``perspective``, ``distance``,
``off_center``) apply the same warp to masks (nearest-neighbour, same border handling) and
to bounding boxes (the box around the moved corners); they refuse keypoints. An operator
registered by a user, unknown to this module, runs on images only and refuses other targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import cv2
import numpy as np

from derm_stress.cases import Case, Note
from derm_stress.errors import InvalidArgument
from derm_stress.perturb import functional as F
from derm_stress.perturb.albumentations_bridge import import_albumentations
from derm_stress.perturb.base import MAX_SEVERITY, Operator, get_operator, make_operator
from derm_stress.perturb.image_ops import check_image

import_albumentations("derm_stress.augment")  # MissingDependency (an ImportError) with the command
import albumentations as A  # noqa: E402  (already imported, without its PyPI version check)

__all__ = [
    "GEOMETRIC",
    "PHOTOMETRIC",
    "Brightness",
    "ColorTemperature",
    "Contrast",
    "Defocus",
    "DermStressTransform",
    "DermoscopeCorners",
    "Distance",
    "Exposure",
    "Gamma",
    "GaussianBlur",
    "GaussianNoise",
    "Hair",
    "InkMarking",
    "JpegCompression",
    "LowLight",
    "LowResolution",
    "MessagingApp",
    "MotionBlur",
    "OffCenter",
    "Perspective",
    "Perturb",
    "Rotation",
    "Ruler",
    "Shadow",
    "SpecularGlare",
    "UnevenIllumination",
    "Vignetting",
    "transform_for",
]

# Operators that move pixels, with the border their image kernel uses (None: no border).
GEOMETRIC: dict[str, int | None] = {
    "rotation": cv2.BORDER_REFLECT_101,
    "perspective": cv2.BORDER_REFLECT_101,
    "distance": cv2.BORDER_CONSTANT,  # the new margin is plain skin: background in a mask
    "off_center": None,
}
# Operators that leave every pixel where it is (they may blur, recolour or draw over it).
PHOTOMETRIC = frozenset(
    {
        "brightness",
        "color_temperature",
        "contrast",
        "defocus",
        "dermoscope_corners",
        "exposure",
        "gamma",
        "gaussian_blur",
        "gaussian_noise",
        "hair",
        "ink_marking",
        "jpeg_compression",
        "low_light",
        "low_resolution",
        "messaging_app",
        "motion_blur",
        "ruler",
        "shadow",
        "specular_glare",
        "uneven_illumination",
        "vignetting",
    }
)
# image operators never read the case; one placeholder serves every call
_CASE = Case("augment", (np.zeros((1, 1, 3), np.uint8),), Note(), "NEV")
_CV2_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def _severity_range(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = value
    else:
        low = high = value
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InvalidArgument(
                f"{name}: severity must be an integer 0-{MAX_SEVERITY} or a (low, high) pair, "
                f"got {value!r}"
            )
    if not 0 <= low <= high <= MAX_SEVERITY:
        raise InvalidArgument(
            f"{name}: severity must be within 0-{MAX_SEVERITY} with low <= high, got {value!r}"
        )
    return int(low), int(high)


class DermStressTransform(A.DualTransform):  # type: ignore[misc]  # albumentations is untyped
    """Base of the derm-stress transforms: one registered image operator (``operator``)."""

    operator: ClassVar[str] = ""

    def __init__(
        self,
        severity: int | Sequence[int] = 3,
        options: Mapping[str, Any] | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self._setup(self.operator, severity, options)

    def _setup(
        self, operator: str, severity: int | Sequence[int], options: Mapping[str, Any] | None
    ) -> None:
        cls = get_operator(operator)
        if cls.kind != "image" or cls.configured:
            raise InvalidArgument(
                f"{operator!r} is not a built-in image operator; derm_stress.augment takes "
                "image operators (see `derm-stress ops`)"
            )
        if options is not None and not isinstance(options, Mapping):
            raise InvalidArgument(f"{operator}: options must be a mapping, got {options!r}")
        self.low, self.high = _severity_range(severity, operator)
        self.severity = severity
        self.options = dict(options or {})
        self.ops: dict[int, Operator[Any]] = {
            s: make_operator(operator, s, **self.options) for s in range(self.low, self.high + 1)
        }
        self.geometric = operator in GEOMETRIC
        self.photometric = operator in PHOTOMETRIC

    @property
    def operator_name(self) -> str:
        """The derm-stress operator this transform runs."""
        return next(iter(self.ops.values())).name

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        image = data["image"] if "image" in data else data["images"][0]
        check_image(image, self.operator_name)
        if not self.photometric:
            self._check_targets(data)
        severity = (
            self.low if self.low == self.high else self.py_random.randint(self.low, self.high)
        )
        op = self.ops[severity]
        sampled = {} if severity == 0 else op.sample(self.random_generator, image, _CASE)
        return {"ds_severity": severity, "ds_params": sampled}

    def _check_targets(self, data: Mapping[str, Any]) -> None:
        present = {k for k, v in data.items() if v is not None and k not in ("image", "images")}
        if self.geometric:
            refused = present & {"keypoints"}
            why = "it moves pixels and cannot carry keypoints"
        else:
            refused = present & {"mask", "masks", "bboxes", "keypoints"}
            why = "derm_stress.augment does not know whether it moves pixels"
        if refused and (refused != {"keypoints"} or len(data.get("keypoints", ())) > 0):
            raise InvalidArgument(
                f"{self.operator_name}: cannot transform {', '.join(sorted(refused))}: {why}; "
                "remove it from this pipeline or pass those targets to another one"
            )

    def apply(
        self, img: np.ndarray, ds_severity: int = 0, ds_params: Any = None, **params: Any
    ) -> np.ndarray:
        check_image(img, self.operator_name)
        if ds_severity == 0:
            return img
        out: np.ndarray = self.ops[ds_severity].apply(img, ds_params)
        return out

    def apply_to_mask(
        self, mask: np.ndarray, ds_severity: int = 0, ds_params: Any = None, **params: Any
    ) -> np.ndarray:
        if ds_severity == 0 or not self.geometric:
            return mask
        return _warp_mask(self.operator_name, mask, ds_params)

    def apply_to_bboxes(
        self, bboxes: np.ndarray, ds_severity: int = 0, ds_params: Any = None, **params: Any
    ) -> np.ndarray:
        if ds_severity == 0 or not self.geometric or len(bboxes) == 0:
            return bboxes
        h, w = params["shape"][:2]
        return _move_boxes(self.operator_name, bboxes, ds_params, h, w)

    def apply_to_keypoints(
        self, keypoints: np.ndarray, ds_severity: int = 0, ds_params: Any = None, **params: Any
    ) -> np.ndarray:
        return keypoints  # refused in _check_targets for operators that move pixels

    def __repr__(self) -> str:
        named = "" if type(self).operator else f"{self.operator_name!r}, "
        return (
            f"{type(self).__name__}({named}severity={self.severity!r}, "
            f"options={self.options!r}, p={self.p!r})"
        )


class Perturb(DermStressTransform):
    """Any registered image operator by name: ``Perturb("hair", severity=(1, 3), p=0.5)``."""

    def __init__(
        self,
        operator: str = "gaussian_blur",
        severity: int | Sequence[int] = 3,
        options: Mapping[str, Any] | None = None,
        p: float = 0.5,
    ) -> None:
        A.DualTransform.__init__(self, p=p)
        self.operator = operator  # type: ignore[misc]  # per instance here
        self._setup(operator, severity, options)


def _matrix(name: str, params: Mapping[str, Any], h: int, w: int) -> np.ndarray:
    """The 3x3 map (pixel-centre coordinates) of a geometric operator's warp, mirroring its
    kernel in ``perturb.functional``; the tests check the two agree on real photos."""
    if name == "rotation":
        rot = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), params["angle_deg"], 1.0)
        return np.vstack([rot, [0.0, 0.0, 1.0]])
    if name == "perspective":
        return np.asarray(F.perspective_matrix(h, w, params["inset"]), dtype=np.float64)
    if name == "distance":
        f, (sx, sy) = params["scale"], params["shift"]
        tx, ty = (1 - f) * w / 2 * (1 + sx), (1 - f) * h / 2 * (1 + sy)
        return np.array([[f, 0, tx], [0, f, ty], [0, 0, 1]], dtype=np.float64)
    if name == "off_center":
        top, left, ch, cw = _crop_window(params, h, w)
        # cv2.resize maps pixel centres: x_out + 0.5 = (x_in - left + 0.5) * w / cw
        sx, sy = w / cw, h / ch
        return np.array(
            [[sx, 0, (0.5 - left) * sx - 0.5], [0, sy, (0.5 - top) * sy - 0.5], [0, 0, 1]],
            dtype=np.float64,
        )
    raise InvalidArgument(f"{name}: not a geometric operator")


def _crop_window(params: Mapping[str, Any], h: int, w: int) -> tuple[int, int, int, int]:
    keep, cx, cy = params["keep"], params["cx"], params["cy"]
    ch, cw = max(1, round(h * keep)), max(1, round(w * keep))
    top = int(np.clip(round(cy * h - ch / 2), 0, h - ch))
    left = int(np.clip(round(cx * w - cw / 2), 0, w - cw))
    return top, left, ch, cw


def _warp_mask(name: str, mask: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """The operator's warp on a mask: nearest neighbour, so labels stay labels."""
    h, w = mask.shape[:2]
    dtype = mask.dtype
    work = mask
    if dtype == np.bool_:
        work = mask.astype(np.uint8)
    elif dtype.type not in _CV2_DTYPES:
        work = mask.astype(np.float64)  # exact for integer labels below 2**53
    if name == "off_center":
        top, left, ch, cw = _crop_window(params, h, w)
        crop = np.ascontiguousarray(work[top : top + ch, left : left + cw])
        out = _per_channels(crop, lambda m: cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST))
    else:
        matrix, border = _matrix(name, params, h, w), GEOMETRIC[name]
        assert border is not None
        out = _per_channels(
            np.ascontiguousarray(work),
            lambda m: cv2.warpPerspective(
                m, matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=border, borderValue=0
            ),
        )
    if out.ndim < mask.ndim:
        out = out[..., None]
    return out.astype(dtype, copy=False)


def _per_channels(mask: np.ndarray, fn: Any) -> np.ndarray:
    """Apply an OpenCV warp to masks with any number of channels (OpenCV takes up to 4)."""
    if mask.ndim == 2 or mask.shape[2] <= 4:
        out: np.ndarray = fn(mask)
        return out
    return np.stack([fn(np.ascontiguousarray(mask[..., c])) for c in range(mask.shape[2])], 2)


def _move_boxes(
    name: str, bboxes: np.ndarray, params: Mapping[str, Any], h: int, w: int
) -> np.ndarray:
    """Boxes (albumentations' normalised x_min, y_min, x_max, y_max, extra columns) after the
    warp: the smallest box around the four moved corners, clipped to the image."""
    matrix = _matrix(name, params, h, w)
    x0, y0, x1, y1 = (bboxes[:, i] * s for i, s in enumerate((w, h, w, h)))
    corners = np.stack(
        [
            np.stack([x0, y0], 1),
            np.stack([x1, y0], 1),
            np.stack([x1, y1], 1),
            np.stack([x0, y1], 1),
        ],
        1,
    )  # (N, 4, 2) in edge coordinates; OpenCV's maps are in pixel-centre coordinates
    moved = cv2.perspectiveTransform((corners - 0.5).reshape(-1, 1, 2), matrix).reshape(-1, 4, 2)
    moved = moved + 0.5
    out = np.array(bboxes, dtype=np.float64, copy=True)
    out[:, 0] = np.clip(moved[..., 0].min(1), 0, w) / w
    out[:, 1] = np.clip(moved[..., 1].min(1), 0, h) / h
    out[:, 2] = np.clip(moved[..., 0].max(1), 0, w) / w
    out[:, 3] = np.clip(moved[..., 1].max(1), 0, h) / h
    return out.astype(bboxes.dtype, copy=False)


def _class_name(operator: str) -> str:
    return "".join(part.capitalize() for part in operator.split("_"))


def _named(operator: str) -> type[DermStressTransform]:
    cls = get_operator(operator)
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return type(
        _class_name(operator),
        (DermStressTransform,),
        {
            "operator": operator,
            "__module__": __name__,
            "__doc__": f"derm-stress's ``{operator}`` operator as an albumentations transform: "
            f"{' '.join(doc.split())}",
        },
    )


Brightness = _named("brightness")
ColorTemperature = _named("color_temperature")
Contrast = _named("contrast")
Defocus = _named("defocus")
DermoscopeCorners = _named("dermoscope_corners")
Distance = _named("distance")
Exposure = _named("exposure")
Gamma = _named("gamma")
GaussianBlur = _named("gaussian_blur")
GaussianNoise = _named("gaussian_noise")
Hair = _named("hair")
InkMarking = _named("ink_marking")
JpegCompression = _named("jpeg_compression")
LowLight = _named("low_light")
LowResolution = _named("low_resolution")
MessagingApp = _named("messaging_app")
MotionBlur = _named("motion_blur")
OffCenter = _named("off_center")
Perspective = _named("perspective")
Rotation = _named("rotation")
Ruler = _named("ruler")
Shadow = _named("shadow")
SpecularGlare = _named("specular_glare")
UnevenIllumination = _named("uneven_illumination")
Vignetting = _named("vignetting")


def transform_for(operator: str) -> type[DermStressTransform]:
    """The albumentations transform class of a built-in image operator."""
    found = globals().get(_class_name(operator))
    if isinstance(found, type) and issubclass(found, DermStressTransform):
        return found
    get_operator(operator)  # an unknown name fails with did-you-mean
    raise InvalidArgument(f"{operator!r} has no named transform; use Perturb({operator!r}, ...)")
