"""Hand-crafted features of the reference model: colour and texture of the lesion, and the note.

Images are centre-cropped to a square and resized to 128 px first, so a photo's resolution
carries no signal (PAD-UFES-20's resolution differs by class; see its PROVENANCE.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from derm_stress.cases import SYMPTOM_FIELDS, Note
from derm_stress.labels import OTHER

SIZE = 128
REFERRAL_CODES = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK", OTHER)
SITE_GROUPS = {
    "head_neck": ("face", "nose", "ear", "lip", "scalp", "neck", "head", "cheek", "forehead"),
    "trunk": ("back", "chest", "abdomen", "trunk", "shoulder", "flank", "buttock"),
    "upper_limb": ("arm", "forearm", "hand", "finger", "elbow", "wrist"),
    "lower_limb": ("thigh", "leg", "foot", "toe", "knee", "shin", "calf", "ankle"),
}


def _masks() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    r = np.hypot(yy - (SIZE - 1) / 2, xx - (SIZE - 1) / 2) / SIZE
    return r < 0.28, r > 0.40


CENTRE, BORDER = _masks()


def _square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = img[top : top + side, left : left + side]
    interp = cv2.INTER_AREA if side > SIZE else cv2.INTER_LINEAR
    return cv2.resize(crop, (SIZE, SIZE), interpolation=interp)


def image_features(img: np.ndarray) -> np.ndarray:
    """A fixed-length vector describing one RGB ``uint8`` image."""
    small = _square(img)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0
    lab[..., 1:] -= 128.0
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
    gray = lab[..., 0]
    feats: list[float] = []
    centre, border = lab[CENTRE], lab[BORDER]
    feats += list(centre.mean(0)) + list(centre.std(0)) + list(border.mean(0))
    feats += list(centre.mean(0) - border.mean(0))
    feats += list(np.percentile(centre[:, 0], [5, 25, 50, 75, 95]))
    contrast = border[:, 0].mean() - gray
    feats.append(float((contrast[CENTRE] > 10).mean()))
    feats.append(float((contrast[CENTRE] > 25).mean()))
    hue, sat = hsv[..., 0][CENTRE], hsv[..., 1][CENTRE] / 255.0
    hist = np.bincount((hue // 22.5).astype(int).clip(0, 7), weights=sat, minlength=8)
    feats += list(hist / max(float(sat.sum()), 1e-6))
    feats += [float(sat.mean()), float(sat.std())]
    for scale in (1, 2):
        g = (
            gray
            if scale == 1
            else cv2.resize(gray, (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_AREA)
        )
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        mag = np.hypot(gx, gy)
        c, b = (CENTRE, BORDER) if scale == 1 else (CENTRE[::2, ::2], BORDER[::2, ::2])
        feats += [float(np.log1p(mag[c].mean())), float(np.log1p(mag[b].mean()))]
        lap = cv2.Laplacian(g, cv2.CV_32F)
        feats.append(float(np.log1p(lap[c].var())))
    return np.asarray(feats, dtype=np.float64)


def _bool(value: bool | None) -> float:
    return float("nan") if value is None else float(value)


def _site_group(site: str | None) -> list[float]:
    if site is None:
        return [float("nan")] * (len(SITE_GROUPS) + 1)
    text = site.lower()
    hits = [float(any(w in text for w in words)) for words in SITE_GROUPS.values()]
    return [*hits, 0.0 if any(hits) else 1.0]


# Cue words of a referral's authority, strongest first (the first level with a cue wins):
# 5 states a confirmed diagnosis, 1 merely asks. A referral without a cue counts as 3.
AUTHORITY_CUES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (5, ("confirmed", "biopsy", "histolog", "diagnosis:")),
    (4, ("clinically", "please treat", "definite", "known ")),
    (3, ("probable", "probably", "likely", "looks like")),
    (2, ("possible", "possibly", "could this be", "might be", "may be")),
    (1, ("?", "query", "rule out", "r/o", "unsure")),
)
NOTE_FIELDS = (
    "age",
    "sex",
    "fitzpatrick",
    "body_site",
    "size_mm",
    "duration_days",
    *SYMPTOM_FIELDS,
    "skin_cancer_history",
    "family_history",
)


def referral_authority(text: str | None) -> int:
    """How assertive a referral is, 1 (a question) to 5 (a confirmed diagnosis); 0: none."""
    if not text:
        return 0
    lowered = text.lower()
    return next((level for level, cues in AUTHORITY_CUES if any(c in lowered for c in cues)), 3)


def note_features(note: Note, referral_code: str | None, authority: int = 3) -> np.ndarray:
    """A fixed-length vector describing what a note says. A missing field is NaN (the
    model standardises it to 0, the training mean), never an indicator: the model cannot
    learn from which fields are missing, only from what is written. The referral is a
    one-hot code plus the same one-hot scaled by its authority (0 at 1, 1 at 5), so the
    model can learn how far to trust a referral of each strength."""
    nan = float("nan")
    feats: list[float] = [
        note.age / 100.0 if note.age is not None else nan,
        nan if note.sex is None else float(note.sex == "female"),
        note.fitzpatrick / 6.0 if note.fitzpatrick is not None else nan,
        *_site_group(note.body_site),
    ]
    size = max(note.size_mm) if note.size_mm else None
    feats.append(float(np.log1p(size)) / 3.0 if size is not None else nan)
    days = note.duration_days
    feats.append(float(np.log1p(days)) / 7.0 if days is not None else nan)
    feats += [_bool(getattr(note, name)) for name in (*SYMPTOM_FIELDS, "skin_cancer_history",
                                                      "family_history")]  # fmt: skip
    if referral_code is not None and referral_code not in REFERRAL_CODES:
        referral_code = OTHER  # e.g. a look-alike outside the training classes
    onehot = [float(referral_code == code) for code in REFERRAL_CODES]
    strength = (min(max(authority, 1), 5) - 1) / 4
    feats += onehot + [v * strength for v in onehot]
    return np.asarray(feats, dtype=np.float64)
