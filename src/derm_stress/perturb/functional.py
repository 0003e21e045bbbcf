"""Pure pixel kernels on ``H x W x 3`` ``uint8`` RGB arrays (OpenCV + NumPy).

Every function is deterministic, returns a new array and never mutates its input.
"""

from __future__ import annotations

import cv2
import numpy as np


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return out


def _lut(fn: np.ndarray) -> np.ndarray:
    return _to_uint8(fn).reshape(256)


def exposure(img: np.ndarray, stops: float) -> np.ndarray:
    """Scale linear light by ``2**stops`` (sRGB-aware), as an over/under-exposed photo."""
    x = np.arange(256, dtype=np.float64) / 255.0
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    linear = np.clip(linear * (2.0**stops), 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return cv2.LUT(img, _lut(srgb * 255.0))


def white_balance(img: np.ndarray, red_gain: float, blue_gain: float) -> np.ndarray:
    """Multiply the red and blue channels (a colour-temperature cast)."""
    out = img.astype(np.float32)
    out[..., 0] *= red_gain
    out[..., 2] *= blue_gain
    return _to_uint8(out)


def motion_blur(img: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Convolve with a normalised line of ``length`` px at ``angle_deg`` (hand shake)."""
    if length < 2:
        return img.copy()
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), dtype=np.float32)
    centre = (size - 1) / 2.0
    rad = np.deg2rad(angle_deg)
    dx, dy = np.cos(rad), -np.sin(rad)
    for t in np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, 4 * length):
        x, y = round(centre + t * dx), round(centre + t * dy)
        kernel[y, x] = 1.0
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def defocus(img: np.ndarray, radius: float) -> np.ndarray:
    """Convolve with an anti-aliased disk of ``radius`` px (out-of-focus lens)."""
    if radius < 0.5:
        return img.copy()
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    kernel = np.clip(radius + 0.5 - np.sqrt(xx**2 + yy**2), 0.0, 1.0)
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` px."""
    if sigma <= 0:
        return img.copy()
    return cv2.GaussianBlur(
        img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
    )


def rotate(img: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate about the centre, filling with reflected content (no black wedges)."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle_deg, 1.0)
    return cv2.warpAffine(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def perspective(img: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Warp so the corners move by ``offsets`` (4x2, fractions of width/height)."""
    h, w = img.shape[:2]
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    dst = src + (np.asarray(offsets, dtype=np.float32) * np.array([w, h], dtype=np.float32))
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (1-100)."""
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV fails only on invalid input
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:  # pragma: no cover - a buffer OpenCV just wrote always decodes
        raise RuntimeError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[..., ::-1])


def gaussian_noise(img: np.ndarray, sigma: float, noise_seed: int) -> np.ndarray:
    """Add zero-mean Gaussian noise of ``sigma`` (0-255 units), from its own seed."""
    rng = np.random.Generator(np.random.PCG64(noise_seed))
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    return _to_uint8(img.astype(np.float32) + noise)
