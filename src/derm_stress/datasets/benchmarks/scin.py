"""SCIN, the Skin Condition Image Network (Ward et al., JAMA Netw. Open 2024; Google Research).

Published layout (github.com/google-research-datasets/scin, ``dataset_schema.md``):
``scin_cases.csv`` and ``scin_labels.csv`` joined on ``case_id`` (the copy in the public
bucket prefixes them ``dataset_``), with up to three photos per case at ``image_1_path`` ...
``image_3_path`` (``dataset/images/<id>.png``), found under the folder or in ``images/``.

What goes where:

- diagnosis: the condition with the largest weight in ``weighted_skin_condition_label`` (the
  dermatologists' rank-weighted consensus); the whole weighted differential is kept as JSON in
  ``Case.meta['weighted_label']``. A case no dermatologist could label is a rejected row.
- note: ``sex_at_birth``; age as the middle of ``age_group`` (``AGE_30_TO_39`` -> 35; 80 and
  above -> 85); self-reported ``condition_symptoms_*`` (itching, pain, bleeding, increasing
  size, darkening as a change); ``condition_duration`` as a typical value of its band (one
  week or less -> 3 days, 1-4 weeks -> 14 days, 1-3 months -> 60 days, 3-12 months -> 182
  days, over a year -> 730 days, over five years -> 2,191 days; since childhood and unknown ->
  missing) with the band itself in ``Case.meta['duration_band']``; ``body_parts_*`` as the
  body site; textures, burning, other symptoms (fever, joint pain...) and the user's
  ``related_category`` as free text. A question the user did not answer stays missing.
- Fitzpatrick type: the dermatologists' most common label
  (``dermatologist_fitzpatrick_skin_type_label_*``), else the self-reported one; Monk skin tone
  (``monk_skin_tone_label_us``, else ``_india``) in ``Case.meta['monk_skin_tone']``.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import Dataset, is_missing
from derm_stress.datasets.benchmarks._layout import (
    ImageIndex,
    column_id,
    dataset_from_rows,
    find_file,
    read_rows,
    require_columns,
)
from derm_stress.datasets.benchmarks.fields import fitzpatrick, sex
from derm_stress.labels import normalise_label

CASES = ("scin_cases.csv", "dataset_scin_cases.csv", "dataset/scin_cases.csv")
LABELS = ("scin_labels.csv", "dataset_scin_labels.csv", "dataset/scin_labels.csv")
DURATION_DAYS = {
    "ONE_DAY": 1.0,
    "LESS_THAN_ONE_WEEK": 3.0,
    "ONE_TO_FOUR_WEEKS": 14.0,
    "ONE_TO_THREE_MONTHS": 60.0,
    "THREE_TO_TWELVE_MONTHS": 182.0,
    "MORE_THAN_ONE_YEAR": 730.0,
    "MORE_THAN_FIVE_YEARS": 2191.0,
}
SYMPTOMS = {  # condition_symptoms_* suffix -> Note field
    "ITCHING": "itch",
    "PAIN": "pain",
    "BLEEDING": "bleeding",
    "INCREASING_SIZE": "growth",
    "DARKENING": "change",
}
_AGE = re.compile(r"AGE_(\d+)_(?:TO_(\d+)|OR_ABOVE)")


def _yes(value: str | None) -> bool:
    return (value or "").strip().upper() in ("YES", "TRUE", "1")


def _ticked(row: dict[str, str], prefix: str) -> list[str] | None:
    """Suffixes of the ticked ``prefix*`` boxes; None when the question has no answer."""
    columns = [c for c in row if c.startswith(prefix)]
    ticked = [c.removeprefix(prefix) for c in columns if _yes(row.get(c))]
    return ticked or None


def _words(suffix: str) -> str:
    return suffix.lower().replace("_", " ")


def _age(value: str | None) -> float | None:
    match = _AGE.fullmatch((value or "").strip().upper())
    if match is None:
        return None
    low = int(match.group(1))
    return float((low + int(match.group(2))) // 2 if match.group(2) else low + 5)


def _weighted_label(value: str | None) -> dict[str, float]:
    if is_missing(value):
        return {}
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        raise ValueError(f"weighted_skin_condition_label: not a mapping: {value!r}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"weighted_skin_condition_label: not a mapping: {value!r}")
    return {str(k): float(v) for k, v in parsed.items()}


def _fitzpatrick(row: dict[str, str]) -> int | None:
    votes = [
        fitzpatrick(row.get(f"dermatologist_fitzpatrick_skin_type_label_{i}")) for i in (1, 2, 3)
    ]
    counted = Counter(v for v in votes if v is not None).most_common()
    if counted:
        top = [v for v, n in counted if n == counted[0][1]]
        return sorted(top)[len(top) // 2]  # a tie takes the middle type
    return fitzpatrick(row.get("fitzpatrick_skin_type"))


def _note(row: dict[str, str]) -> tuple[Note, str]:
    symptoms = _ticked(row, "condition_symptoms_")
    fields: dict[str, bool | None] = {
        name: (suffix in symptoms) if symptoms is not None else None
        for suffix, name in SYMPTOMS.items()
    }
    extra: list[str] = []
    if symptoms is not None and "BURNING" in symptoms:
        extra.append("burning")
    others = [s for s in _ticked(row, "other_symptoms_") or [] if s != "NO_RELEVANT_SYMPTOMS"]
    extra += [_words(s) for s in others]
    textures = [s for s in _ticked(row, "textures_") or [] if s != "TEXTURE_UNSPECIFIED"]
    if textures:
        extra.append("texture " + ", ".join(_words(s) for s in textures))
    category = (row.get("related_category") or "").strip()
    if category and category not in ("OTHER_ISSUE_DESCRIPTION",):
        extra.append(f"patient's category {_words(category)}")
    parts = _ticked(row, "body_parts_")
    band = (row.get("condition_duration") or "").strip().upper()
    note = Note(
        age=_age(row.get("age_group")),
        sex=sex(row.get("sex_at_birth")),
        fitzpatrick=_fitzpatrick(row),
        body_site=", ".join(_words(p) for p in parts) if parts else None,
        duration_days=DURATION_DAYS.get(band),
        free_text=("Patient-reported: " + "; ".join(extra)) if extra else None,
        itch=fields["itch"],
        pain=fields["pain"],
        bleeding=fields["bleeding"],
        growth=fields["growth"],
        change=fields["change"],
    )
    return note, band


def load_scin(folder: str | Path, name: str = "scin") -> Dataset:
    """Load a SCIN folder (cases and labels CSVs plus the images)."""
    root = Path(folder)
    cases_csv, labels_csv = find_file(root, CASES, "SCIN"), find_file(root, LABELS, "SCIN")
    header, rows = read_rows(cases_csv)
    require_columns(cases_csv, header, ("case_id", "image_1_path"))
    label_header, label_rows = read_rows(labels_csv)
    require_columns(labels_csv, label_header, ("case_id", "weighted_skin_condition_label"))
    labels = {(r.get("case_id") or "").strip(): r for r in label_rows}
    images = ImageIndex(root, ("images", "dataset/images", "."))

    def build(case_id: str, row: dict[str, str]) -> Case:
        label_row = labels.get(case_id)
        if label_row is None:
            raise ValueError("no row in the labels file")
        weighted = _weighted_label(label_row.get("weighted_skin_condition_label"))
        if not weighted:
            raise ValueError("no dermatologist condition label (not gradable)")
        top = max(weighted.items(), key=lambda kv: kv[1])[0]
        paths = [row.get(f"image_{i}_path") or "" for i in (1, 2, 3)]
        photos = tuple(images.find(p.strip()) for p in paths if not is_missing(p))
        if not photos:
            raise ValueError("no image path")
        note, band = _note({**row, **label_row})
        monk = next(
            (
                str(label_row.get(c)).strip().removesuffix(".0")
                for c in ("monk_skin_tone_label_us", "monk_skin_tone_label_india")
                if not is_missing(label_row.get(c))
            ),
            "",
        )
        return Case(
            case_id=case_id,
            images=photos,
            note=note,
            diagnosis=normalise_label(top),
            meta={
                "weighted_label": json.dumps(weighted, sort_keys=True),
                "duration_band": band,
                "monk_skin_tone": monk,
            },
        )

    return dataset_from_rows(name, root, rows, column_id("case_id"), build)
