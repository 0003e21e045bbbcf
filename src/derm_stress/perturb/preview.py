"""Contact sheets: what each image operator of a grid does to one case, and the notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from derm_stress.cases import Case, render_note
from derm_stress.images import load_image
from derm_stress.perturb.condition import Condition, build_probe

LABEL_WIDTH = 190
HEADER = 22


@dataclass
class Sheet:
    """A contact sheet image (RGB array) and the corrupted notes as text."""

    image: np.ndarray
    notes: str


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _thumb(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = size / max(h, w)
    small = cv2.resize(
        img,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    cell = np.full((size, size, 3), 255, np.uint8)
    top, left = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
    cell[top : top + small.shape[0], left : left + small.shape[1]] = small
    return cell


def contact_sheet(case: Case, conditions: Sequence[Condition], seed: int, size: int = 160) -> Sheet:
    """Rows: the grid's image operators (a sequence or one-of is its own row); columns: the
    original and each severity the grid uses. Each cell is exactly what a run with ``seed``
    sends a model."""
    original = [load_image(i) for i in case.images]
    rows: dict[str, dict[int, np.ndarray]] = {}
    seen: set[str] = set()
    for condition in conditions:
        label = condition.image_label
        if label == "none" or label in seen:
            continue
        seen.add(label)
        # a sequence or one_of has no single severity: it gets a row of its own
        name, severity = condition.single_image_op or (label, 1)
        probe = build_probe(case, Condition(image_ops=condition.image_ops), seed, original)
        rows.setdefault(name, {})[severity] = probe.images[0]
    severities = sorted({0, *(s for cells in rows.values() for s in cells)})
    columns = len(severities)
    height = HEADER + max(1, len(rows)) * (size + 4)
    canvas = Image.new("RGB", (LABEL_WIDTH + columns * (size + 4), height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    for col, severity in enumerate(severities):
        text = "original" if severity == 0 else f"severity {severity}"
        draw.text((LABEL_WIDTH + col * (size + 4) + 4, 4), text, fill="black", font=font)
    base = _thumb(original[0], size)
    for r, (name, cells) in enumerate(rows.items()):
        y = HEADER + r * (size + 4)
        draw.text((6, y + size // 2 - 8), name[:28], fill="black", font=font)
        canvas.paste(Image.fromarray(base), (LABEL_WIDTH, y))
        for severity, img in cells.items():
            col = severities.index(severity)
            canvas.paste(Image.fromarray(_thumb(img, size)), (LABEL_WIDTH + col * (size + 4), y))
    notes = [
        f"case {case.case_id} (seed {seed})",
        "",
        "== original note ==",
        render_note(case.note) or "(empty)",
    ]
    done: set[str] = set()
    for condition in conditions:
        if not condition.note_ops or condition.context_label in done:
            continue
        done.add(condition.context_label)
        probe = build_probe(
            case, Condition(context="full", note_ops=condition.note_ops), seed, original
        )
        changes = [f"  {f}: {old!r} -> {new!r}" for a in probe.applied for f, old, new in a.changes]
        notes += [
            "",
            f"== ctx={condition.context_label} ==",
            probe.note_text or "(empty)",
            "changes:",
            *(changes or ["  (none: the fields it touches are missing)"]),
        ]
    return Sheet(np.asarray(canvas), "\n".join(notes) + "\n")
