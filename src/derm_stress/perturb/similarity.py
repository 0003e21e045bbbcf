"""The similarity measure the severity scales are calibrated against.

``similarity(a, b)`` is a multi-scale structural similarity: SSIM (Wang et al., 2004; 11-tap
Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03) computed per RGB channel at every scale
from full resolution down by halves (area averaging) while the shorter side stays at least
16 px (five scales for a 300 px photo, six for 512 px), averaged over channels and scales.
Per channel, so colour casts count; multi-scale, so a small shift, rotation or zoom lowers
it a little and a large one a lot (at full resolution every misalignment looks equally
bad, about 0.65). 1.0 means identical.
"""

from __future__ import annotations

import cv2
import numpy as np

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
MIN_SIDE = 16


def _blur(img: np.ndarray) -> np.ndarray:
    out: np.ndarray = cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)
    return out


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean single-scale SSIM over the channels of two same-shape ``uint8`` images."""
    if a.shape != b.shape:
        raise ValueError(f"ssim needs images of one shape, got {a.shape} and {b.shape}")
    x, y = a.astype(np.float32), b.astype(np.float32)
    mx, my = _blur(x), _blur(y)
    vx, vy, cxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
    num = (2 * mx * my + _C1) * (2 * cxy + _C2)
    den = (mx * mx + my * my + _C1) * (vx + vy + _C2)
    return float(np.mean(num / den))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-scale, per-channel SSIM (see the module docstring)."""
    scores = [ssim(a, b)]
    while min(a.shape[:2]) // 2 >= MIN_SIDE:
        h, w = a.shape[:2]
        size = (w // 2, h // 2)
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
        scores.append(ssim(a, b))
    return float(np.mean(scores))
