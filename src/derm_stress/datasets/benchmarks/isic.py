"""ISIC 2019 and ISIC 2020 challenge training sets (ISIC Archive; CC BY-NC 4.0).

ISIC 2019 (Codella et al. 2018; Tschandl et al. 2018; Combalia et al. 2019), published as:

- ``ISIC_2019_Training_GroundTruth.csv``: ``image`` and one column per class
  (``MEL, NV, BCC, AK, BKL, DF, VASC, SCC, UNK``) holding 1.0 for the image's class;
- ``ISIC_2019_Training_Metadata.csv`` (optional): ``image, age_approx,
  anatom_site_general, lesion_id, sex``;
- the photos as ``<image>.jpg`` in ``ISIC_2019_Training_Input/`` (or ``images/``).

ISIC 2020 (Rotemberg et al., Sci. Data 8, 34, 2021), published as:

- ``ISIC_2020_Training_GroundTruth.csv`` (or ``_v2``, or the Kaggle copy ``train.csv``):
  ``image_name, patient_id, sex, age_approx, anatom_site_general_challenge, diagnosis,
  benign_malignant, target`` (v2 adds ``lesion_id``);
- the photos as ``<image_name>.jpg`` in ``train/`` (or ``ISIC_2020_Training_JPEG/``,
  ``jpeg/train/``, ``images/``).

ISIC 2020's ``diagnosis`` is ``unknown`` for most benign images; such a row is kept only if
the vocabulary maps ``unknown`` (it is reported as a rejected row otherwise).
"""

from __future__ import annotations

from pathlib import Path

from derm_stress.cases import Case, Note
from derm_stress.datasets.base import Dataset, parse_float
from derm_stress.datasets.benchmarks._layout import (
    ImageIndex,
    column_id,
    dataset_from_rows,
    find_file,
    read_rows,
    require_columns,
)
from derm_stress.datasets.benchmarks.fields import body_site, sex
from derm_stress.errors import DatasetError
from derm_stress.labels import normalise_label

ISIC_2019_TRUTH = ("ISIC_2019_Training_GroundTruth.csv",)
ISIC_2019_META = "ISIC_2019_Training_Metadata.csv"
ISIC_2019_CLASSES = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
ISIC_2020_TRUTH = (
    "ISIC_2020_Training_GroundTruth_v2.csv",
    "ISIC_2020_Training_GroundTruth.csv",
    "train.csv",
)


def _one_hot_class(row: dict[str, str], classes: tuple[str, ...]) -> str:
    hot = [c for c in classes if (parse_float(row.get(c), c) or 0.0) >= 0.5]
    if len(hot) != 1:
        raise ValueError(f"expected exactly one class marked 1.0 among {', '.join(classes)}")
    if hot[0] == "UNK":
        raise ValueError("class UNK (none of the eight diagnoses): cannot be scored")
    return hot[0]


def load_isic_2019(folder: str | Path, name: str = "isic-2019") -> Dataset:
    """Load the ISIC 2019 training set (ground truth, optional metadata, images)."""
    root = Path(folder)
    truth = find_file(root, ISIC_2019_TRUTH, "ISIC 2019")
    header, rows = read_rows(truth)
    require_columns(truth, header, ("image",))
    classes = tuple(c for c in ISIC_2019_CLASSES if c in header)
    if not classes:
        raise DatasetError(f"{truth}: none of the class columns {', '.join(ISIC_2019_CLASSES)}")
    meta: dict[str, dict[str, str]] = {}
    if (root / ISIC_2019_META).is_file():
        _, meta_rows = read_rows(root / ISIC_2019_META)
        meta = {(r.get("image") or "").strip(): r for r in meta_rows}
    images = ImageIndex(root, ("ISIC_2019_Training_Input", "images"))

    def build(case_id: str, row: dict[str, str]) -> Case:
        extra = meta.get(case_id, {})
        return Case(
            case_id=case_id,
            images=(images.find(case_id),),
            note=Note(
                age=parse_float(extra.get("age_approx"), "age_approx"),
                sex=sex(extra.get("sex")),
                body_site=body_site(extra.get("anatom_site_general")),
            ),
            diagnosis=normalise_label(_one_hot_class(row, classes)),
            meta={"lesion_key": (extra.get("lesion_id") or "").strip()},
        )

    return dataset_from_rows(name, root, rows, column_id("image"), build)


def load_isic_2020(folder: str | Path, name: str = "isic-2020") -> Dataset:
    """Load the ISIC 2020 training set (ground-truth CSV plus the JPEG folder)."""
    root = Path(folder)
    truth = find_file(root, ISIC_2020_TRUTH, "ISIC 2020")
    header, rows = read_rows(truth)
    require_columns(truth, header, ("image_name", "diagnosis"))
    images = ImageIndex(root, ("train", "ISIC_2020_Training_JPEG", "jpeg/train", "images"))

    def build(case_id: str, row: dict[str, str]) -> Case:
        return Case(
            case_id=case_id,
            images=(images.find(case_id),),
            note=Note(
                age=parse_float(row.get("age_approx"), "age_approx"),
                sex=sex(row.get("sex")),
                body_site=body_site(row.get("anatom_site_general_challenge")),
            ),
            diagnosis=normalise_label(row.get("diagnosis") or ""),
            meta={
                "patient_id": (row.get("patient_id") or "").strip(),
                "lesion_key": (row.get("lesion_id") or "").strip(),
                "benign_malignant": (row.get("benign_malignant") or "").strip(),
            },
        )

    return dataset_from_rows(name, root, rows, column_id("image_name"), build)
