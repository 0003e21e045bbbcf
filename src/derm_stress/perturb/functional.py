"""Pure pixel kernels on ``H x W x 3`` ``uint8`` RGB arrays (OpenCV + NumPy).

Every function is deterministic, returns a new array and never mutates its input.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import simplejpeg
import stringzilla

# Grey levels 0-255 as float64, the input of every tone curve below (built once).
_LEVELS = np.arange(256, dtype=np.float64)
_LEVELS.flags.writeable = False
_UNIT = _LEVELS / 255.0
_UNIT.flags.writeable = False
# the sRGB levels in linear light (the first half of ``exposure``'s tone curve)
_LINEAR = np.where(_UNIT <= 0.04045, _UNIT / 12.92, ((_UNIT + 0.055) / 1.055) ** 2.4)
_LINEAR.flags.writeable = False


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Round half to even, saturate to 0-255 and convert. Floating-point ``arr`` must be a
    temporary of the caller's: it is rounded and clipped in place (3-4x faster than
    allocating a new array at each step)."""
    if arr.dtype.kind != "f":
        out: np.ndarray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return out
    np.rint(arr, out=arr)
    if arr.size <= 4096:  # lookup tables: two bare ufuncs cost less than np.clip's wrapper
        np.maximum(arr, 0, out=arr)
        np.minimum(arr, 255, out=arr)
    else:
        np.clip(arr, 0, 255, out=arr)
    return arr.astype(np.uint8)


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates as float32 ``(1, W)`` and ``(H, 1)`` arrays: broadcasting them
    gives, element by element, what ``np.mgrid`` would at a fraction of the cost."""
    h, w = shape[:2]
    xx = np.arange(w, dtype=np.float32)[None, :]
    yy = np.arange(h, dtype=np.float32)[:, None]
    return xx, yy


def _lut(fn: np.ndarray) -> np.ndarray:
    return _to_uint8(fn).reshape(256)


def apply_lut(img: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Map every byte of ``img`` through a 256-entry ``uint8`` table (what ``cv2.LUT``
    does, with the same result): StringZilla's byte translation runs several times faster
    than ``cv2.LUT`` on 8-bit images."""
    src = np.ascontiguousarray(img)
    out = np.empty_like(src)
    stringzilla.translate(src.data, table.data, out=out.data)
    return out


def exposure(img: np.ndarray, stops: float) -> np.ndarray:
    """Scale linear light by ``2**stops`` (sRGB-aware), as an over/under-exposed photo."""
    linear = np.clip(_LINEAR * (2.0**stops), 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return apply_lut(img, _lut(srgb * 255.0))


def white_balance(img: np.ndarray, red_gain: float, blue_gain: float) -> np.ndarray:
    """Multiply the red and blue channels (a colour-temperature cast)."""
    out = img.astype(np.float32)
    out[..., 0] *= red_gain
    out[..., 2] *= blue_gain
    return _to_uint8(out)


def motion_blur(img: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Average ``img`` along a line of ``length`` px at ``angle_deg`` (hand shake).

    The kernel is the set of distinct pixel offsets on the line, equally weighted; it is
    applied as a sum of shifted copies (one per offset) rather than a dense 2-D filter,
    which gives the same result at a fraction of the cost.
    """
    if length < 2:
        return img.copy()
    rad = np.deg2rad(angle_deg)
    dx, dy = np.cos(rad), -np.sin(rad)
    steps = np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, 4 * length)
    offsets = sorted({(round(t * dx), round(t * dy)) for t in steps})
    pad = max(max(abs(x), abs(y)) for x, y in offsets)
    padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    h, w = img.shape[:2]
    # 257 taps of 255 still fit in 16 bits; longer lines need 32
    total = np.zeros(img.shape, dtype=np.uint16 if len(offsets) <= 257 else np.uint32)
    for x, y in offsets:
        total += padded[pad + y : pad + y + h, pad + x : pad + x + w]
    return ((total * 2 + len(offsets)) // (2 * len(offsets))).astype(np.uint8)


def defocus(img: np.ndarray, radius: float) -> np.ndarray:
    """Convolve with an anti-aliased disk of ``radius`` px (out-of-focus lens)."""
    if radius < 0.5:
        return img.copy()
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    kernel = np.clip(radius + 0.5 - np.sqrt(xx**2 + yy**2), 0.0, 1.0)
    kernel /= kernel.sum()
    if r < 5:  # up to 9 x 9: OpenCV's direct 8-bit path is the fastest
        return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    # larger disks go through OpenCV's DFT path, 1.25-1.4x faster on a float32 copy than on
    # uint8 (which converts block by block); a few pixels per million round differently
    # (by one grey level), hence defocus kernel version 2
    blurred = cv2.filter2D(img.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    out: np.ndarray = cv2.convertScaleAbs(blurred)  # round and saturate to uint8
    return out


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` px."""
    if sigma <= 0:
        return img.copy()
    # OpenCV's own kernel size for 8-bit images (3 sigma each side), applied as two float
    # 1-D passes: 2-3x faster than GaussianBlur's bit-exact fixed-point path, which rounds
    # differently on about 0.5% of pixels (by one grey level)
    ksize = round(sigma * 6 + 1) | 1
    kernel = cv2.getGaussianKernel(ksize, sigma, cv2.CV_32F)
    return cv2.sepFilter2D(img, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)


def rotate(img: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate about the centre, filling with reflected content (no black wedges)."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle_deg, 1.0)
    return cv2.warpAffine(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def perspective_matrix(h: int, w: int, inset: Sequence[Sequence[float]]) -> np.ndarray:
    """The 3 x 3 map (pixel-centre coordinates, photo -> output) of ``perspective``: the
    quadrilateral whose corners are the photo's corners moved inwards by ``inset`` (4 x 2,
    fractions of ``w - 1`` and ``h - 1``, corners clockwise from the top left) onto the full
    ``w x h`` frame."""
    (a, b), (c, d), (e, f), (g, k) = inset
    x, y = w - 1.0, h - 1.0
    quad = np.array(
        [[a * x, b * y], [x - c * x, d * y], [x - e * x, y - f * y], [g * x, y - k * y]],
        dtype=np.float32,
    )
    frame = np.array([[0.0, 0.0], [x, 0.0], [x, y], [0.0, y]], dtype=np.float32)
    matrix: np.ndarray = cv2.getPerspectiveTransform(quad, frame)
    return matrix


def perspective(img: np.ndarray, inset: Sequence[Sequence[float]]) -> np.ndarray:
    """A tilted camera filling the frame: the quadrilateral of the photo whose corners move
    inwards by ``inset`` (see ``perspective_matrix``) warped onto the whole frame.

    Every output pixel samples inside the photo (bilinear), so OpenCV stays on its fast
    path; the reflected border is read only where a corner sits on the photo's edge."""
    h, w = img.shape[:2]
    return cv2.warpPerspective(
        img,
        perspective_matrix(h, w, inset),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (1-100): 4:2:0 chroma subsampling and the
    accurate integer DCT, as a camera or OpenCV's ``imencode`` would compress it.

    Encoded and decoded by libjpeg-turbo through ``simplejpeg``, which reads and writes RGB
    directly: 15-20% faster than OpenCV's ``cvtColor`` + ``imencode`` + ``imdecode`` at
    512 px. The pixels differ from OpenCV's round trip on about 10% of values (by a grey
    level or two), so ``jpeg_compression`` and ``messaging_app`` are kernel version 2."""
    data = simplejpeg.encode_jpeg(
        np.ascontiguousarray(img), quality=int(quality), colorspace="RGB", colorsubsampling="420"
    )
    out: np.ndarray = simplejpeg.decode_jpeg(data, colorspace="RGB")
    return out


def _normal_table() -> np.ndarray:
    # Quantiles of the standard normal at the centres of 65,536 equal-probability bins:
    # indexing it with uniform 16-bit draws samples a normal distribution (tails cut at
    # +-4.3 sigma) several times faster than a float normal generator.
    from statistics import NormalDist

    dist = NormalDist()
    return np.array([dist.inv_cdf((i + 0.5) / 65536) for i in range(65536)], dtype=np.float32)


_NORMAL = _normal_table()


def _uniform16(noise_seed: int, count: int) -> np.ndarray:
    """``count`` uniform 16-bit draws: the same values as
    ``np.frombuffer(Generator(PCG64(noise_seed)).bytes(2 * count), "<u2")``, read straight
    from the bit generator's 64-bit outputs (little-endian, as ``Generator.bytes`` orders
    them) instead of through the three copies ``bytes`` makes: 3-4x faster."""
    raw = np.random.PCG64(noise_seed).random_raw((count + 3) // 4).astype("<u8", copy=False)
    out: np.ndarray = raw.view("<u2")[:count]
    return out


def standard_normal(shape: tuple[int, ...], noise_seed: int) -> np.ndarray:
    """Standard-normal float32 noise from ``noise_seed``, identical on every machine."""
    index = _uniform16(noise_seed, int(np.prod(shape))).reshape(shape)
    out: np.ndarray = _NORMAL.take(index)
    return out


def gaussian_noise(img: np.ndarray, sigma: float, noise_seed: int) -> np.ndarray:
    """Add zero-mean Gaussian noise of ``sigma`` (0-255 units), from its own seed.

    The noise is rounded to whole grey levels before it is added (the output is 8-bit).
    """
    levels = np.rint(_NORMAL * np.float32(sigma)).astype(np.int16)
    noise = levels.take(_uniform16(noise_seed, img.size))
    if img.size < 4096:  # OpenCV would take a 1-4 element array for a scalar
        return np.clip(img.reshape(-1) + noise, 0, 255).astype(np.uint8).reshape(img.shape)
    # OpenCV's saturating add (uint8 + int16 into uint8): the clipped sum, in one pass
    out: np.ndarray = cv2.add(np.ascontiguousarray(img).reshape(-1), noise, dtype=cv2.CV_8U)
    return out.reshape(img.shape)


def add_brightness(img: np.ndarray, offset: float) -> np.ndarray:
    """Add ``offset`` (0-255 units) to every channel."""
    return apply_lut(img, _lut(_LEVELS + offset))


def contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale deviations from the image's mean grey level by ``factor``."""
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    # the exact integer sum over the exact count: the same float as ``gray.mean()``, faster
    mean = cv2.sumElems(gray)[0] / gray.size
    return apply_lut(img, _lut((_LEVELS - mean) * factor + mean))


def gamma(img: np.ndarray, value: float) -> np.ndarray:
    """Tone curve ``out = in ** value`` on [0, 1]."""
    return apply_lut(img, _lut(255.0 * _UNIT**value))


def multiply(img: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Multiply by a per-pixel gain map (``H x W``, float32), as light falling unevenly."""
    out = img.astype(np.float32)
    out *= gain[..., None]
    return _to_uint8(out)


def linear_gradient(shape: tuple[int, ...], angle_deg: float, low: float) -> np.ndarray:
    """A gain map falling linearly from 1 to ``low`` across the image along ``angle_deg``."""
    h, w = shape[:2]
    xx, yy = _grid(shape)
    rad = np.deg2rad(angle_deg)
    t = (xx - (w - 1) / 2) * np.cos(rad) + (yy - (h - 1) / 2) * np.sin(rad)
    span = max(float(t.max() - t.min()), 1e-6)
    t = (t - t.min()) / span
    return np.asarray(1.0 - (1.0 - low) * t, dtype=np.float32)


def shadow_mask(
    shape: tuple[int, ...], angle_deg: float, offset: float, softness: float, depth: float
) -> np.ndarray:
    """Gain map of a cast shadow: a half-plane darkened to ``1 - depth`` with a soft edge.

    The edge is a line at ``angle_deg`` through the point ``offset`` (fraction of the
    half-diagonal) from the centre; ``softness`` is the edge width as a fraction of the
    shorter side.
    """
    h, w = shape[:2]
    xx, yy = _grid(shape)
    rad = np.deg2rad(angle_deg)
    half_diag = 0.5 * float(np.hypot(h, w))
    d = (xx - (w - 1) / 2) * np.cos(rad) + (yy - (h - 1) / 2) * np.sin(rad) - offset * half_diag
    width = max(softness * min(h, w), 1.0)
    inside = 1.0 / (1.0 + np.exp(-d / (width / 4.0)))
    return np.asarray(1.0 - depth * inside, dtype=np.float32)


def vignette_mask(shape: tuple[int, ...], strength: float) -> np.ndarray:
    """Gain map of lens vignetting: 1 at the centre, ``1 - strength`` at the corners."""
    h, w = shape[:2]
    xx, yy = _grid(shape)
    r = np.hypot((xx - (w - 1) / 2) / max(w / 2, 1), (yy - (h - 1) / 2) / max(h / 2, 1))
    r = r / np.sqrt(2.0)
    return np.asarray(1.0 - strength * r**2, dtype=np.float32)


def glare(img: np.ndarray, spots: list[list[float]]) -> np.ndarray:
    """Blend towards white inside soft elliptical spots (flash reflections on moist skin).

    Each spot is ``[cx, cy, rx, ry, intensity]``, centre and radii as fractions of width and
    height.
    """
    h, w = img.shape[:2]
    xx, yy = _grid(img.shape)
    alpha = np.zeros((h, w), dtype=np.float32)
    for cx, cy, rx, ry, intensity in spots:
        d2 = ((xx - cx * w) / max(rx * w, 0.5)) ** 2 + ((yy - cy * h) / max(ry * h, 0.5)) ** 2
        alpha = np.maximum(alpha, intensity * np.exp(-2.0 * d2))
    out = img.astype(np.float32) * (1 - alpha[..., None]) + 255.0 * alpha[..., None]
    return _to_uint8(out)


def low_light(img: np.ndarray, stops: float, noise: float, noise_seed: int) -> np.ndarray:
    """Under-expose by ``stops`` then add signal-dependent (shot) and read noise, as a phone
    camera in a dim room."""
    dark = exposure(img, -stops).astype(np.float32)
    shot = standard_normal(img.shape, noise_seed) * np.sqrt(dark + 1.0)
    read = standard_normal(img.shape[:2], noise_seed + 1)[..., None]
    return _to_uint8(dark + noise * shot + 0.5 * noise * read)


def zoom_out(img: np.ndarray, factor: float, shift: tuple[float, float]) -> np.ndarray:
    """Shrink the content by ``factor`` (camera farther away).

    The new margin is filled with the image's edge pixels extended outwards and blurred:
    plain skin, never a mirrored copy of the lesion. ``shift`` moves the shrunk content by
    fractions of the free margin.
    """
    h, w = img.shape[:2]
    tx = (1 - factor) * w / 2 * (1 + shift[0])
    ty = (1 - factor) * h / 2 * (1 + shift[1])
    matrix = np.array([[factor, 0, tx], [0, factor, ty]], dtype=np.float32)
    sharp = cv2.warpAffine(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    inside = cv2.warpAffine(
        np.ones((h, w), np.float32),
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    # a wide blur (sigma 12% of the shorter side), done at 1/8 resolution for speed
    small = cv2.resize(sharp, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(
        small, (0, 0), sigmaX=max(0.5, 0.015 * min(h, w)), borderType=cv2.BORDER_REPLICATE
    )
    fill = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    feather = max(0.5, 0.01 * min(h, w))
    alpha = cv2.GaussianBlur(inside, (0, 0), sigmaX=feather, sigmaY=feather)[..., None]
    alpha = np.minimum(alpha, inside[..., None])
    return _to_uint8(sharp.astype(np.float32) * alpha + fill.astype(np.float32) * (1 - alpha))


def crop_resize(img: np.ndarray, keep: float, cx: float, cy: float) -> np.ndarray:
    """Crop a window of ``keep`` of each side centred at (cx, cy) (fractions), resize back."""
    h, w = img.shape[:2]
    ch, cw = max(1, round(h * keep)), max(1, round(w * keep))
    # min/max on Python ints: what np.clip gives, without its per-call cost on scalars
    top = min(max(round(cy * h - ch / 2), 0), h - ch)
    left = min(max(round(cx * w - cw / 2), 0), w - cw)
    crop = img[top : top + ch, left : left + cw]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)


def resample(img: np.ndarray, scale: float) -> np.ndarray:
    """Down-sample by ``scale`` (area) and back up (linear): a low-resolution camera.

    The area filter is given ``scale`` itself (``fx``/``fy``), not the ratio of the rounded
    sizes: OpenCV's area tables are then about 7% faster at 512 px (the small image has the
    same size; its pixels differ slightly, so ``low_resolution`` is kernel version 2). An
    image too small to keep a pixel at ``scale`` goes down to 1 pixel per side as before."""
    h, w = img.shape[:2]
    if round(w * scale) >= 1 and round(h * scale) >= 1:
        small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    else:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def recompress(img: np.ndarray, passes: list[list[float]]) -> np.ndarray:
    """Messaging-app forwarding: for each ``[scale, quality]`` pass, resize then JPEG;
    finally back to the original size."""
    h, w = img.shape[:2]
    out = img
    for scale, quality in passes:
        oh, ow = out.shape[:2]
        size = (max(1, round(ow * scale)), max(1, round(oh * scale)))
        out = jpeg(cv2.resize(out, size, interpolation=cv2.INTER_AREA), int(quality))
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


def draw_polylines(
    img: np.ndarray,
    lines: list[list[list[float]]],
    color: list[float],
    thickness: float,
    opacity: float,
) -> np.ndarray:
    """Draw anti-aliased polylines (points as fractions of width/height) and blend them in."""
    h, w = img.shape[:2]
    scale = 16  # sub-pixel precision for cv2's fixed-point coordinates
    layer = np.zeros((h, w), dtype=np.uint8)
    for line in lines:
        pts = np.array([[x * w * scale, y * h * scale] for x, y in line], dtype=np.int32)
        cv2.polylines(
            layer,
            [pts],
            isClosed=False,
            color=255,
            thickness=max(1, round(thickness)),
            lineType=cv2.LINE_AA,
            shift=4,
        )
    alpha = layer.astype(np.float32)[..., None] / 255.0 * opacity
    colour = np.array(color, dtype=np.float32)
    return _to_uint8(img.astype(np.float32) * (1 - alpha) + colour * alpha)


def ruler(img: np.ndarray, side: int, width: float, inset: float, tick: float) -> np.ndarray:
    """Overlay a pale ruler strip with dark tick marks along one side (0 top, 1 right,
    2 bottom, 3 left); ``width`` and ``inset`` are fractions of the shorter side, ``tick`` the
    tick spacing in pixels."""
    rotated = np.rot90(img, k=side).copy()  # draw along the top edge, then rotate back
    h, w = rotated.shape[:2]
    short = min(h, w)
    top = round(inset * short)
    band = max(2, round(width * short))
    bottom = min(h, top + band)
    strip = rotated[top:bottom].astype(np.float32)
    strip = strip * 0.25 + np.array([235.0, 232.0, 215.0], dtype=np.float32) * 0.75
    step = max(2.0, tick)
    for i, x in enumerate(np.arange(step / 2, w, step)):
        length = band * (0.6 if i % 10 == 0 else 0.4 if i % 5 == 0 else 0.25)
        x0 = round(x)
        strip[: max(1, round(length)), x0 : x0 + 1] = (40.0, 40.0, 40.0)
    rotated[top:bottom] = _to_uint8(strip)
    return np.ascontiguousarray(np.rot90(rotated, k=-side))


def circular_mask(img: np.ndarray, radius: float, softness: float) -> np.ndarray:
    """Black out everything outside a centred circle of ``radius`` (fraction of the
    half-diagonal), as the field of view of a dermoscope; ``softness`` in the same unit."""
    h, w = img.shape[:2]
    xx, yy = _grid(img.shape)
    r = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) / max(0.5 * float(np.hypot(h, w)), 1e-6)
    gain = np.clip((radius - r) / max(softness, 1e-6) + 0.5, 0.0, 1.0).astype(np.float32)
    return multiply(img, gain)
