"""HAM10000 (Tschandl, Rosendahl and Kittler, Sci. Data 5, 180161, 2018; CC BY-NC 4.0).

Published layout (Harvard Dataverse, doi:10.7910/DVN/DBW86T, and the ISIC 2018 task 3 copy):

- ``HAM10000_metadata.csv`` (Dataverse names it ``HAM10000_metadata`` without the suffix):
  columns ``lesion_id, image_id, dx, dx_type, age, sex, localization`` (later releases add
  ``dataset``). ``dx`` is one of ``akiec, bcc, bkl, df, mel, nv, vasc``; ``sex`` is
  ``male``/``female``/``unknown``; ``localization`` a body site or ``unknown``.
- the photos as ``<image_id>.jpg`` in ``HAM10000_images_part_1/`` and
  ``HAM10000_images_part_2/`` (or one ``HAM10000_images/`` folder, or ``images/``).

Several images show the same lesion (``lesion_id``); the lesion key is kept in
``Case.meta['lesion_key']`` so analyses can group by lesion.
"""

from __future__ import annotations

from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import Dataset, parse_float, parse_text
from derm_stress.datasets.benchmarks._layout import (
    ImageIndex,
    column_id,
    dataset_from_rows,
    find_file,
    read_rows,
    require_columns,
)
from derm_stress.datasets.benchmarks.fields import body_site, sex
from derm_stress.labels import normalise_label

METADATA = ("HAM10000_metadata.csv", "HAM10000_metadata")
IMAGE_FOLDERS = ("HAM10000_images_part_1", "HAM10000_images_part_2", "HAM10000_images", "images")
COLUMNS = ("lesion_id", "image_id", "dx")


def load_ham10000(folder: str | Path, name: str = "ham10000") -> Dataset:
    """Load a HAM10000 folder (metadata CSV plus the image folders)."""
    root = Path(folder)
    meta = find_file(root, METADATA, "HAM10000")
    header, rows = read_rows(meta)
    require_columns(meta, header, COLUMNS)
    images = ImageIndex(root, IMAGE_FOLDERS)

    def build(case_id: str, row: dict[str, str]) -> Case:
        return Case(
            case_id=case_id,
            images=(images.find(case_id),),
            note=Note(
                age=parse_float(row.get("age"), "age"),
                sex=sex(row.get("sex")),
                body_site=body_site(row.get("localization")),
            ),
            diagnosis=normalise_label(row.get("dx") or ""),
            meta={
                "lesion_key": (row.get("lesion_id") or "").strip(),
                "dx_type": parse_text(row.get("dx_type")) or "",
            },
        )

    return dataset_from_rows(name, root, rows, column_id("image_id"), build)
