"""Reading images into the one in-memory form every operator and model works on.

That form is an ``H x W x 3`` ``uint8`` RGB NumPy array. Grayscale and RGBA files are
converted on load (alpha is composited on white), EXIF orientation is applied, and any
failure becomes a ``CaseInputError`` naming the file, so one bad photo costs one case.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from derm_stress.cases import ImageSource
from derm_stress.errors import CaseInputError

MAX_PIXELS = 64_000_000  # refuse decompression bombs explicitly rather than by warning
MIN_IMAGE_SIDE = 32  # a run's default: smaller photos hold nothing a model can assess


def _to_rgb(img: Image.Image) -> Image.Image:
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(arr / (65535.0 if arr.max() > 255 else 255.0) * 255.0, 0, 255)
        return Image.fromarray(arr.round().astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def decode_image(
    data: bytes,
    name: str = "<bytes>",
    min_side: int = 1,
    warnings_out: list[str] | None = None,
) -> np.ndarray:
    """Decode encoded image bytes to an RGB ``uint8`` array. A side under ``min_side``
    pixels is a ``CaseInputError``; of a multi-frame file (animated GIF, multi-page TIFF)
    the first frame is used, and a warning saying so is appended to ``warnings_out``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise CaseInputError(
                        f"image {name} is {img.width}x{img.height} px, over the limit of "
                        f"{MAX_PIXELS:,} pixels"
                    )
                if min(img.width, img.height) < min_side:
                    raise CaseInputError(
                        f"image {name} is {img.width}x{img.height} px, under the minimum side "
                        f"of {min_side} px (dataset.min_image_side)"
                    )
                frames = int(getattr(img, "n_frames", 1) or 1)
                if frames > 1 and warnings_out is not None:
                    warnings_out.append(
                        f"image {name} has {frames} frames ({img.format}); the first is used"
                    )
                img.load()  # decode now, so a truncated file fails here
                rgb = _to_rgb(img)
    except CaseInputError:
        raise
    except Exception as exc:  # Pillow raises many types for bad data
        raise CaseInputError(f"cannot decode image {name}: {exc}") from exc
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise CaseInputError(f"image {name} is empty")
    return np.ascontiguousarray(arr)


def load_image(
    source: ImageSource, min_side: int = 1, warnings_out: list[str] | None = None
) -> np.ndarray:
    """Load one image (a path or an array) as an RGB ``uint8`` array.

    Arrays are validated and converted: ``H x W`` grayscale and ``H x W x 4`` RGBA are
    accepted; other shapes and non-``uint8`` dtypes raise ``CaseInputError``, as does a
    side under ``min_side`` pixels. Warnings (multi-frame files) go to ``warnings_out``.
    """
    if isinstance(source, np.ndarray):
        arr = as_rgb_array(source)
        if min(arr.shape[:2]) < min_side:
            raise CaseInputError(
                f"image array is {arr.shape[1]}x{arr.shape[0]} px, under the minimum side of "
                f"{min_side} px (dataset.min_image_side)"
            )
        return arr
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CaseInputError(f"image file not found: {path}") from None
    except OSError as exc:
        raise CaseInputError(f"cannot read image {path}: {exc.strerror or exc}") from None
    return decode_image(data, str(path), min_side, warnings_out)


def as_rgb_array(arr: np.ndarray) -> np.ndarray:
    """Validate an in-memory image and return it as ``H x W x 3`` ``uint8`` RGB."""
    if arr.dtype != np.uint8:
        raise CaseInputError(f"image arrays must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise CaseInputError(f"image arrays must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise CaseInputError(f"image array is empty: shape {arr.shape}")
    return np.ascontiguousarray(arr)


def encode_png(arr: np.ndarray) -> bytes:
    """Encode an RGB array losslessly (used for thumbnails and saved examples)."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()
