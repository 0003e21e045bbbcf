"""Fitzpatrick17k (Groh et al., CVPR Workshops 2021; images from DermaAmin and Atlas Dermatologico).

Published layout (github.com/mattgroh/fitzpatrick17k): ``fitzpatrick17k.csv`` with columns
``md5hash, fitzpatrick_scale, fitzpatrick_centaur, label, nine_partition_label,
three_partition_label, qc, url, url_alphanum`` (early releases name the skin-type column
``fitzpatrick``). The photos are fetched from ``url`` by the user and saved by ``md5hash``
(``<md5hash>.jpg``), in ``images/`` or beside the CSV. ``fitzpatrick_scale`` is 1-6, or -1
where the annotators gave none. The nine- and three-partition groups are kept in
``Case.meta`` for subgroup analyses.
"""

from __future__ import annotations

from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import Dataset
from derm_stress.datasets.benchmarks._layout import (
    ImageIndex,
    column_id,
    dataset_from_rows,
    find_file,
    read_rows,
    require_columns,
)
from derm_stress.datasets.benchmarks.fields import fitzpatrick
from derm_stress.labels import normalise_label

CSV = ("fitzpatrick17k.csv",)


def load_fitzpatrick17k(folder: str | Path, name: str = "fitzpatrick17k") -> Dataset:
    """Load a Fitzpatrick17k folder (the CSV plus the downloaded images)."""
    root = Path(folder)
    table = find_file(root, CSV, "Fitzpatrick17k")
    header, rows = read_rows(table)
    require_columns(table, header, ("md5hash", "label"))
    skin_column = "fitzpatrick_scale" if "fitzpatrick_scale" in header else "fitzpatrick"
    images = ImageIndex(root, ("images", "data", "."))

    def build(case_id: str, row: dict[str, str]) -> Case:
        return Case(
            case_id=case_id,
            images=(images.find(case_id),),
            note=Note(fitzpatrick=fitzpatrick(row.get(skin_column))),
            diagnosis=normalise_label(row.get("label") or ""),
            meta={
                "nine_partition_label": (row.get("nine_partition_label") or "").strip(),
                "three_partition_label": (row.get("three_partition_label") or "").strip(),
                "qc": (row.get("qc") or "").strip(),
            },
        )

    return dataset_from_rows(name, root, rows, column_id("md5hash"), build)
