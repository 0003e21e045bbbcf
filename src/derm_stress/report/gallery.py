"""The worst flips: cases right at the baseline and wrong under a condition, with the photo
the model saw (rebuilt from the stored records), the note change and both answers."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from derm_stress.errors import CaseInputError
from derm_stress.images import encode_png, load_image
from derm_stress.metrics import BASELINE_ID, ConditionMetrics
from derm_stress.perturb.base import replay
from derm_stress.run.results import Row, RunData

THUMB = 144


@dataclass(frozen=True)
class Flip:
    model: str
    case_id: str
    diagnosis: str
    condition: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    note_changes: tuple[tuple[str, Any, Any], ...]
    thumbnail: str | None  # data URL, or None when the photo cannot be read


def _thumbnail(paths: list[str], row: Row) -> str | None:
    if not paths or row.result is None:
        return None
    try:
        img = load_image(Path(paths[0]))
    except CaseInputError:
        return None
    for record in row.result.applied:
        if record.target == "image[0]":
            img = replay(record, img)
    scale = THUMB / max(img.shape[:2])
    small = cv2.resize(
        img,
        (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
        interpolation=cv2.INTER_AREA,
    )
    return (
        "data:image/png;base64,"
        + base64.b64encode(encode_png(np.ascontiguousarray(small))).decode()
    )


def worst_flips(run: RunData, metrics: list[ConditionMetrics], per_model: int = 8) -> list[Flip]:
    """Per model, up to ``per_model`` flips from the conditions that hurt top-1 most (one
    per case, the first case in id order for each condition), taken alternately from
    corrupted-note conditions and the others, so that flips caused by a note change are
    shown beside flips caused by the photo."""
    t = run.table
    if BASELINE_ID not in t.conditions:
        return []
    bi = t.conditions.index(BASELINE_ID)
    images = {c.id: list(c.images) for c in run.cases}
    order = np.argsort(np.array(t.cases, dtype=object), kind="stable")
    scored = t.scored
    right_at_base = scored[:, bi] & (t.rank[:, bi] == 1)
    out: list[Flip] = []
    for mi, model in enumerate(t.models):
        ranked = sorted(
            (
                m
                for m in metrics
                if m.model == model and m.delta_top1 is not None and m.condition != BASELINE_ID
            ),
            key=lambda m: m.delta_top1 or 0.0,
        )
        noted = [m for m in ranked if m.spec.note_perturbed]
        others = [m for m in ranked if m not in noted]
        harmful = [m for pair in zip_longest(noted, others) for m in pair if m is not None]
        seen: set[int] = set()
        for m in harmful:
            ci = t.conditions.index(m.condition)
            flipped = right_at_base[mi] & scored[mi, ci] & (t.rank[mi, ci] != 1)
            n = next((int(n) for n in order if flipped[n] and int(n) not in seen), None)
            if n is None:
                continue
            seen.add(n)
            case_id = t.cases[n]
            base, row = run.row(model, BASELINE_ID, case_id), run.row(model, m.condition, case_id)
            changes = tuple(
                c
                for a in (row.result.applied if row.result else ())
                if a.target == "note"
                for c in a.changes
            )
            out.append(
                Flip(
                    model,
                    case_id,
                    row.diagnosis,
                    m.condition,
                    base.differential[:3],
                    row.differential[:3],
                    changes,
                    _thumbnail(images.get(case_id, []), row),
                )
            )
            if len(seen) >= per_model:
                break
    return out
