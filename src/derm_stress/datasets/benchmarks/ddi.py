"""DDI, the Diverse Dermatology Images set (Daneshjou et al., Sci. Adv. 8, eabq6147, 2022).

Published layout (Stanford AIMI): ``ddi_metadata.csv`` with columns ``DDI_ID, DDI_file,
skin_tone, malignant, disease`` (plus an unnamed index column), and the photos named by
``DDI_file`` (``000001.png`` ...) beside it or in ``images/``. ``skin_tone`` is a Fitzpatrick
*group*: ``12`` (types I-II), ``34`` (III-IV) or ``56`` (V-VI); it is kept as
``Case.meta['fitzpatrick_group']`` (``I-II``...) rather than guessed into one type.
``malignant`` is kept as ``Case.meta['malignant']``.
"""

from __future__ import annotations

from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import Dataset, parse_bool
from derm_stress.datasets.benchmarks._layout import (
    ImageIndex,
    dataset_from_rows,
    find_file,
    read_rows,
    require_columns,
)
from derm_stress.labels import normalise_label

CSV = ("ddi_metadata.csv",)
SKIN_TONE_GROUPS = {"12": "I-II", "34": "III-IV", "56": "V-VI"}


def load_ddi(folder: str | Path, name: str = "ddi") -> Dataset:
    """Load a DDI folder (``ddi_metadata.csv`` plus the images)."""
    root = Path(folder)
    table = find_file(root, CSV, "DDI")
    header, rows = read_rows(table)
    require_columns(table, header, ("DDI_file", "disease"))
    images = ImageIndex(root, (".", "images", "ddidiversedermatologyimages"))

    def build(case_id: str, row: dict[str, str]) -> Case:
        file = (row.get("DDI_file") or "").strip()
        tone = (row.get("skin_tone") or "").strip().removesuffix(".0")
        if tone and tone not in SKIN_TONE_GROUPS:
            raise ValueError(f"skin_tone: expected 12, 34 or 56, got {tone!r}")
        malignant = parse_bool(row.get("malignant"), "malignant")
        return Case(
            case_id=case_id,
            images=(images.find(file),),
            note=Note(),
            diagnosis=normalise_label(row.get("disease") or ""),
            meta={
                "fitzpatrick_group": SKIN_TONE_GROUPS.get(tone, ""),
                "malignant": "" if malignant is None else str(malignant).lower(),
            },
        )

    return dataset_from_rows(
        name,
        root,
        rows,
        lambda row, line: Path((row.get("DDI_file") or "").strip()).stem or f"row {line}",
        build,
    )
