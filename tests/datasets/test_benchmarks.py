"""Public-benchmark loaders on small fixtures that mirror each published layout.

Every fixture uses real photos (PAD-UFES-20 files copied under the dataset's own file names)
and the file and column names documented in the loader's docstring.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from derm_stress.datasets import open_dataset
from derm_stress.datasets.benchmarks import (
    LAYOUTS,
    detect_layout,
    load_ddi,
    load_derm7pt,
    load_fitzpatrick17k,
    load_ham10000,
    load_isic_2019,
    load_isic_2020,
    load_scin,
)
from derm_stress.errors import DatasetError
from derm_stress.images import load_image
from derm_stress.labels import normalise_label
from derm_stress.run.config import load_dataset
from tests.conftest import PAD_DIR

PHOTOS = sorted((PAD_DIR / "images").glob("*.jpg"))[:6]


def _photo(dest: Path, index: int = 0) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PHOTOS[index % len(PHOTOS)], dest)


def _csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def test_ham10000_layout(tmp_path: Path) -> None:
    _csv(
        tmp_path / "HAM10000_metadata.csv",
        [
            {"lesion_id": "HAM_0000118", "image_id": "ISIC_0027419", "dx": "bkl",
             "dx_type": "histo", "age": "80.0", "sex": "male", "localization": "scalp"},
            {"lesion_id": "HAM_0000118", "image_id": "ISIC_0025030", "dx": "bkl",
             "dx_type": "histo", "age": "80.0", "sex": "male", "localization": "scalp"},
            {"lesion_id": "HAM_0002730", "image_id": "ISIC_0026769", "dx": "nv",
             "dx_type": "follow_up", "age": "", "sex": "unknown",
             "localization": "lower extremity"},
            {"lesion_id": "HAM_0001", "image_id": "ISIC_0000001", "dx": "xyz",
             "dx_type": "histo", "age": "50", "sex": "female", "localization": "back"},
        ],
    )  # fmt: skip
    _photo(tmp_path / "HAM10000_images_part_1" / "ISIC_0027419.jpg", 0)
    _photo(tmp_path / "HAM10000_images_part_2" / "ISIC_0025030.jpg", 1)
    _photo(tmp_path / "HAM10000_images_part_2" / "ISIC_0026769.jpg", 2)
    data = load_ham10000(tmp_path)
    cases = {c.case_id: c for c in data}
    assert list(cases) == ["ISIC_0027419", "ISIC_0025030", "ISIC_0026769"]
    first = cases["ISIC_0027419"]
    assert first.diagnosis == "BKL" and first.note.age == 80 and first.note.sex == "male"
    assert first.note.body_site == "scalp" and first.meta["lesion_key"] == "HAM_0000118"
    assert cases["ISIC_0025030"].images[0].parent.name == "HAM10000_images_part_2"
    third = cases["ISIC_0026769"].note
    assert cases["ISIC_0026769"].diagnosis == "NEV"
    assert (third.age, third.sex, third.body_site) == (None, None, "lower extremity")
    assert load_image(cases["ISIC_0026769"].images[0]).ndim == 3
    (issue,) = data.issues
    assert issue.source == "ISIC_0000001" and "line 5" in issue.reason and "xyz" in issue.reason
    assert detect_layout(tmp_path).name == "ham10000"


def test_isic_2019_layout_reads_one_hot_truth_and_metadata(tmp_path: Path) -> None:
    classes = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")

    def truth(image: str, hot: str) -> dict[str, str]:
        return {"image": image, **{c: "1.0" if c == hot else "0.0" for c in classes}}

    _csv(
        tmp_path / "ISIC_2019_Training_GroundTruth.csv",
        [truth("ISIC_0000000", "NV"), truth("ISIC_0000002", "MEL"),
         truth("ISIC_0000004", "AK"), truth("ISIC_0000005", "SCC"),
         truth("ISIC_0000009", "UNK")],
    )  # fmt: skip
    _csv(
        tmp_path / "ISIC_2019_Training_Metadata.csv",
        [
            {"image": "ISIC_0000000", "age_approx": "55.0", "anatom_site_general":
             "anterior torso", "lesion_id": "", "sex": "female"},
            {"image": "ISIC_0000002", "age_approx": "60.0", "anatom_site_general":
             "upper extremity", "lesion_id": "BCN_0000001", "sex": "male"},
        ],
    )  # fmt: skip
    for i, name in enumerate(("ISIC_0000000", "ISIC_0000002", "ISIC_0000004", "ISIC_0000005")):
        _photo(tmp_path / "ISIC_2019_Training_Input" / f"{name}.jpg", i)
    data = load_isic_2019(tmp_path)
    codes = {c.case_id: c.diagnosis for c in data}
    assert codes == {
        "ISIC_0000000": "NEV",
        "ISIC_0000002": "MEL",
        "ISIC_0000004": normalise_label("actinic keratosis"),
        "ISIC_0000005": "SCC",
    }
    first = data.cases[0]
    assert (first.note.age, first.note.sex, first.note.body_site) == (
        55,
        "female",
        "anterior torso",
    )
    assert data.cases[2].note.age is None  # no metadata row: every field missing
    (issue,) = data.issues
    assert issue.source == "ISIC_0000009" and "UNK" in issue.reason


def test_isic_2020_layout(tmp_path: Path) -> None:
    _csv(
        tmp_path / "ISIC_2020_Training_GroundTruth.csv",
        [
            {"image_name": "ISIC_2637011", "patient_id": "IP_7279968", "sex": "male",
             "age_approx": "45.0", "anatom_site_general_challenge": "head/neck",
             "diagnosis": "nevus", "benign_malignant": "benign", "target": "0"},
            {"image_name": "ISIC_0149568", "patient_id": "IP_0962375", "sex": "female",
             "age_approx": "55.0", "anatom_site_general_challenge": "upper extremity",
             "diagnosis": "melanoma", "benign_malignant": "malignant", "target": "1"},
            {"image_name": "ISIC_0074311", "patient_id": "IP_2950485", "sex": "female",
             "age_approx": "40.0", "anatom_site_general_challenge": "lower extremity",
             "diagnosis": "seborrheic keratosis", "benign_malignant": "benign", "target": "0"},
        ],
    )  # fmt: skip
    for i, name in enumerate(("ISIC_2637011", "ISIC_0149568", "ISIC_0074311")):
        _photo(tmp_path / "train" / f"{name}.jpg", i)
    data = load_isic_2020(tmp_path)
    assert [c.diagnosis for c in data] == ["NEV", "MEL", "SEK"]
    assert data.cases[0].note.body_site == "head / neck"
    assert data.cases[1].meta["patient_id"] == "IP_0962375"
    assert all(Path(c.images[0]).is_file() for c in data)
    assert detect_layout(tmp_path).name == "isic_2020"


def test_fitzpatrick17k_layout_keeps_partitions_and_skin_type(tmp_path: Path) -> None:
    _csv(
        tmp_path / "fitzpatrick17k.csv",
        [
            {"md5hash": "5e82a45bc5d78bd24ae9202d194423f8", "fitzpatrick_scale": "3",
             "fitzpatrick_centaur": "3", "label": "drug induced pigmentary changes",
             "nine_partition_label": "inflammatory", "three_partition_label": "non-neoplastic",
             "qc": "", "url": "https://example.invalid/a.jpg", "url_alphanum": "a"},
            {"md5hash": "fa2911a9b13b6f8af79cb700937cc14f", "fitzpatrick_scale": "-1",
             "fitzpatrick_centaur": "1", "label": "psoriasis",
             "nine_partition_label": "inflammatory", "three_partition_label": "non-neoplastic",
             "qc": "1 Diagnostic", "url": "https://example.invalid/b.jpg", "url_alphanum": "b"},
            {"md5hash": "d2bac3c9e4499032ca8e9b07c7d3bc40", "fitzpatrick_scale": "6",
             "fitzpatrick_centaur": "5", "label": "basal cell carcinoma",
             "nine_partition_label": "malignant epidermal",
             "three_partition_label": "malignant", "qc": "",
             "url": "https://example.invalid/c.jpg", "url_alphanum": "c"},
        ],
    )  # fmt: skip
    _photo(tmp_path / "images" / "5e82a45bc5d78bd24ae9202d194423f8.jpg", 0)
    _photo(tmp_path / "images" / "fa2911a9b13b6f8af79cb700937cc14f.jpg", 1)
    _photo(tmp_path / "images" / "d2bac3c9e4499032ca8e9b07c7d3bc40.jpg", 2)
    data = load_fitzpatrick17k(tmp_path)
    assert data.issues == []
    first, second, third = data.cases
    assert first.diagnosis == normalise_label("drug induced pigmentary changes")
    assert second.diagnosis == normalise_label("psoriasis")
    assert third.diagnosis == "BCC" and third.meta["three_partition_label"] == "malignant"
    assert [c.note.fitzpatrick for c in data] == [3, None, 6]
    assert first.meta["nine_partition_label"] == "inflammatory"
    assert all(Path(c.images[0]).is_file() for c in data)


def test_ddi_layout_keeps_skin_tone_group(tmp_path: Path) -> None:
    (tmp_path / "ddi_metadata.csv").write_text(
        ",DDI_ID,DDI_file,skin_tone,malignant,disease\n"
        "0,1,000001.png,56,True,melanoma-in-situ\n"
        "1,2,000002.png,12,False,verruca-vulgaris\n"
        "2,3,000003.png,34,False,seborrheic-keratosis-irritated\n",
        encoding="utf-8",
    )
    for i in (1, 2, 3):
        _photo(tmp_path / f"00000{i}.png", i)
    data = load_ddi(tmp_path)
    assert data.issues == [] and len(data) == 3
    assert [c.meta["fitzpatrick_group"] for c in data] == ["V-VI", "I-II", "III-IV"]
    assert [c.meta["malignant"] for c in data] == ["true", "false", "false"]
    assert data.cases[0].diagnosis == normalise_label("melanoma in situ")
    assert data.cases[1].diagnosis == normalise_label("verruca vulgaris")
    assert detect_layout(tmp_path).name == "ddi"


def test_scin_layout_multi_photo_symptoms_duration_and_monk(tmp_path: Path) -> None:
    symptom_cols = ("ITCHING", "PAIN", "BLEEDING", "INCREASING_SIZE", "DARKENING", "BURNING")
    base = {f"condition_symptoms_{s}": "" for s in symptom_cols}
    _csv(
        tmp_path / "scin_cases.csv",
        [
            {"case_id": "-1000600354148496558", "source": "SCIN", "release": "1.0.0",
             "year": "2023", "age_group": "AGE_30_TO_39", "sex_at_birth": "FEMALE",
             "fitzpatrick_skin_type": "FST2", **base, "condition_symptoms_ITCHING": "YES",
             "condition_symptoms_BURNING": "YES", "other_symptoms_FEVER": "YES",
             "textures_RAISED_OR_BUMPY": "YES", "body_parts_ARM": "YES",
             "body_parts_LEG": "YES", "related_category": "RASH",
             "condition_duration": "ONE_TO_FOUR_WEEKS",
             "image_1_path": "dataset/images/-3205742176803893704.png",
             "image_2_path": "dataset/images/-4762289084741430925.png", "image_3_path": ""},
            {"case_id": "-1002039107727665188", "source": "SCIN", "release": "1.0.0",
             "year": "2023", "age_group": "AGE_80_OR_ABOVE", "sex_at_birth": "MALE",
             "fitzpatrick_skin_type": "", **base, "other_symptoms_FEVER": "",
             "textures_RAISED_OR_BUMPY": "", "body_parts_ARM": "", "body_parts_LEG": "",
             "related_category": "", "condition_duration": "SINCE_CHILDHOOD",
             "image_1_path": "dataset/images/-1234.png", "image_2_path": "",
             "image_3_path": ""},
            {"case_id": "-77", "source": "SCIN", "release": "1.0.0", "year": "2023",
             "age_group": "", "sex_at_birth": "", "fitzpatrick_skin_type": "", **base,
             "other_symptoms_FEVER": "", "textures_RAISED_OR_BUMPY": "", "body_parts_ARM": "",
             "body_parts_LEG": "", "related_category": "", "condition_duration": "",
             "image_1_path": "dataset/images/-77.png", "image_2_path": "", "image_3_path": ""},
        ],
    )  # fmt: skip
    _csv(
        tmp_path / "scin_labels.csv",
        [
            {"case_id": "-1000600354148496558",
             "weighted_skin_condition_label": "{'Eczema': 0.69, 'Psoriasis': 0.08, "
             "'Post-Inflammatory hyperpigmentation': 0.11, 'Acute and chronic dermatitis': 0.11}",
             "dermatologist_fitzpatrick_skin_type_label_1": "FST3",
             "dermatologist_fitzpatrick_skin_type_label_2": "FST3",
             "dermatologist_fitzpatrick_skin_type_label_3": "FST4",
             "monk_skin_tone_label_india": "4.0", "monk_skin_tone_label_us": "3.0"},
            {"case_id": "-1002039107727665188",
             "weighted_skin_condition_label": "{'Tinea': 0.55, 'Eczema': 0.45}",
             "dermatologist_fitzpatrick_skin_type_label_1": "",
             "dermatologist_fitzpatrick_skin_type_label_2": "",
             "dermatologist_fitzpatrick_skin_type_label_3": "",
             "monk_skin_tone_label_india": "7.0", "monk_skin_tone_label_us": ""},
            {"case_id": "-77", "weighted_skin_condition_label": "",
             "dermatologist_fitzpatrick_skin_type_label_1": "",
             "dermatologist_fitzpatrick_skin_type_label_2": "",
             "dermatologist_fitzpatrick_skin_type_label_3": "",
             "monk_skin_tone_label_india": "", "monk_skin_tone_label_us": ""},
        ],
    )  # fmt: skip
    for i, name in enumerate(("-3205742176803893704", "-4762289084741430925", "-1234", "-77")):
        _photo(tmp_path / "dataset" / "images" / f"{name}.png", i)
    data = load_scin(tmp_path)
    first, second = data.cases
    assert len(first.images) == 2 and all(Path(p).is_file() for p in first.images)
    assert first.diagnosis == normalise_label("eczema")
    assert json.loads(first.meta["weighted_label"])["Psoriasis"] == 0.08
    note = first.note
    assert (note.age, note.sex, note.fitzpatrick) == (34, "female", 3)
    assert (note.itch, note.pain, note.bleeding, note.growth) == (True, False, False, False)
    assert note.body_site == "arm, leg" and note.duration_days == 14
    assert note.free_text is not None and "burning" in note.free_text
    assert "fever" in note.free_text and "raised or bumpy" in note.free_text
    assert first.meta["monk_skin_tone"] == "3" and first.meta["duration_band"] == (
        "ONE_TO_FOUR_WEEKS"
    )
    assert second.diagnosis == normalise_label("tinea")
    # no symptom ticked: unanswered, so missing rather than "no"
    assert second.note.itch is None and second.note.duration_days is None
    assert (second.note.age, second.note.fitzpatrick) == (85, None)
    assert second.meta["monk_skin_tone"] == "7"
    (issue,) = data.issues
    assert issue.source == "-77" and "not gradable" in issue.reason


def test_derm7pt_layout_keeps_clinic_and_derm_photos(tmp_path: Path) -> None:
    _csv(
        tmp_path / "meta" / "meta.csv",
        [
            {"case_num": "1", "diagnosis": "basal cell carcinoma", "seven_point_score": "0",
             "elevation": "nodular", "location": "abdomen", "sex": "female",
             "clinic": "NEL/Nel026.jpg", "derm": "NEL/Nel025.jpg",
             "management": "excision", "notes": ""},
            {"case_num": "2", "diagnosis": "melanoma (less than 0.76 mm)",
             "seven_point_score": "4", "elevation": "flat", "location": "back",
             "sex": "male", "clinic": "Aal/Aal002.jpg", "derm": "Aal/Aal001.jpg",
             "management": "excision", "notes": ""},
            {"case_num": "3", "diagnosis": "clark nevus", "seven_point_score": "1",
             "elevation": "sideways", "location": "back", "sex": "male",
             "clinic": "Aal/Aal004.jpg", "derm": "Aal/Aal003.jpg", "management": "",
             "notes": ""},
        ],
    )  # fmt: skip
    for i, rel in enumerate(
        ("NEL/Nel026.jpg", "NEL/Nel025.jpg", "Aal/Aal002.jpg", "Aal/Aal001.jpg")
    ):
        _photo(tmp_path / "images" / rel, i)
    data = load_derm7pt(tmp_path)
    first, second = data.cases
    assert [Path(p).name for p in first.images] == ["Nel026.jpg", "Nel025.jpg"]
    assert first.diagnosis == "BCC" and first.note.elevation is True
    assert (first.note.sex, first.note.body_site) == ("female", "abdomen")
    assert second.diagnosis == "MEL" and second.note.elevation is False
    (issue,) = data.issues
    assert issue.source == "derm7pt-3" and "elevation" in issue.reason


def test_folder_in_no_known_layout_names_the_expected_files(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError) as err:
        open_dataset(tmp_path)
    message = str(err.value)
    assert "no known dataset layout" in message
    expected = (
        "HAM10000_metadata.csv",
        "fitzpatrick17k.csv",
        "ddi_metadata.csv",
        "scin_cases.csv",
        "meta/meta.csv",
        "ISIC_2020_Training_GroundTruth.csv",
    )
    for name in expected:
        assert name in message
    with pytest.raises(DatasetError, match="not a HAM10000 folder: expected"):
        load_ham10000(tmp_path)


def test_config_names_a_layout_or_detects_it(tmp_path: Path) -> None:
    (tmp_path / "ddi_metadata.csv").write_text(
        "DDI_ID,DDI_file,skin_tone,malignant,disease\n1,000001.png,12,False,melanoma\n"
    )
    _photo(tmp_path / "000001.png")
    named = load_dataset({"ddi": "."}, tmp_path)
    detected = load_dataset({"folder": "."}, tmp_path)
    assert [c.case_id for c in named] == [c.case_id for c in detected] == ["000001"]
    assert set(LAYOUTS) >= {"ham10000", "isic_2019", "isic_2020", "fitzpatrick17k", "ddi",
                            "scin", "derm7pt", "pad_ufes_20"}  # fmt: skip


def test_a_csv_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ddi_metadata.csv").write_bytes(
        "DDI_ID,DDI_file,skin_tone,malignant,disease\n1,0.png,12,False,naevus caf\xe9\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_ddi(tmp_path)
