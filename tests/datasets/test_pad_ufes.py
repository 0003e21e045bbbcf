from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from derm_stress.datasets import Dataset, load_pad_ufes_20
from derm_stress.errors import DatasetError
from tests.conftest import PAD_DIR


def test_full_subset_loads_with_oddities_handled(pad: Dataset) -> None:
    assert len(pad) == 531 and pad.issues == []
    assert Counter(c.diagnosis for c in pad) == {
        "ACK": 118,
        "BCC": 120,
        "MEL": 32,
        "NEV": 120,
        "SCC": 24,
        "SEK": 117,
    }
    assert all(Path(c.images[0]).suffix == ".jpg" and Path(c.images[0]).exists() for c in pad)
    # UNK and empty cells are None, never strings
    assert sum(c.note.growth is None for c in pad) == 87
    assert sum(c.note.change is None for c in pad) == 85
    assert sum(c.note.fitzpatrick is None for c in pad) == 228
    assert all(c.note.age is not None and c.note.body_site for c in pad)
    assert len({c.meta["lesion_key"] for c in pad}) == 531


def test_first_row_maps_fields(pad: Dataset) -> None:
    case = next(c for c in pad if c.case_id == "PAT_46_881_939")
    note = case.note
    assert case.diagnosis == "BCC" and note.age == 55 and note.sex == "female"
    assert note.fitzpatrick == 3 and note.body_site == "neck" and note.size_mm == (6.0, 5.0)
    assert (note.itch, note.pain, note.growth, note.bleeding) == (True, False, True, True)
    assert note.skin_cancer_history is True and note.family_history is True
    assert "ancestry: father Pomerania" in (note.other_history or "")


def test_sample_is_patient_disjoint_and_balanced(sample: Dataset, pad: Dataset) -> None:
    assert len(sample) == 90
    assert set(Counter(c.diagnosis for c in sample).values()) == {15}
    assert {c.case_id for c in sample} <= {c.case_id for c in pad}
    assert len({c.meta["patient_id"] for c in sample}) == 90


def test_unknown_label_is_a_row_issue_and_missing_file_is_left_to_the_run(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    lines = (PAD_DIR / "metadata.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:4]
    rows[2] = rows[2].replace(",ACK,", ",XYZ,")
    for row in rows:
        stem = row.split(",")[24].removesuffix(".png")
        shutil.copyfile(PAD_DIR / "images" / f"{stem}.jpg", tmp_path / "images" / f"{stem}.jpg")
    (tmp_path / "metadata.csv").write_text("\n".join([header, *rows]) + "\n")
    first = Path(tmp_path / "images" / (rows[0].split(",")[24].removesuffix(".png") + ".jpg"))
    first.unlink()
    dataset = load_pad_ufes_20(tmp_path)
    assert len(dataset) == 2 and len(dataset.issues) == 1
    assert "line 4: unknown diagnosis label 'XYZ'" in dataset.issues[0].reason
    # the harness, not the loader, reports the unreadable photo, per case
    assert not Path(dataset.cases[0].images[0]).exists()


def test_folder_without_metadata_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no metadata\.csv"):
        load_pad_ufes_20(tmp_path)
