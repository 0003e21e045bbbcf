"""Every label of the public datasets' label lists (data/label-lists/) maps to an entry."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from derm_stress.errors import UnknownName
from derm_stress.labels import is_correct, label, normalise_label

LISTS = Path(__file__).parents[2] / "data" / "label-lists"
# labels that are not diagnoses and must stay unmappable (a case labelled so cannot be scored)
NOT_DIAGNOSES = {"isic2019": {"UNK"}, "isic2020": {"unknown"}}
EXPECTED_SIZES = {
    "fitzpatrick17k": 114,
    "derm7pt": 20,
    "ham10000": 7,
    "isic2019": 9,
    "isic2020": 9,
    "pad-ufes-20": 6,
    "ddi": 78,
    "scin": 51,
}


def _rows(name: str) -> list[dict[str, str]]:
    with open(LISTS / f"{name}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _normalise(dataset: str, text: str) -> str:
    """A label as is, else qualified by its dataset (how the group labels of Fitzpatrick17k
    and Derm7pt, generic words such as 'benign' or 'miscellaneous', are named)."""
    try:
        return normalise_label(text)
    except UnknownName:
        return normalise_label(f"{dataset} {text}")


def test_every_list_is_there_with_its_size() -> None:
    assert {p.stem for p in LISTS.glob("*.csv")} == set(EXPECTED_SIZES)
    assert {n: len(_rows(n)) for n in EXPECTED_SIZES} == EXPECTED_SIZES
    assert (LISTS / "README.md").read_text(encoding="utf-8").count("| `") >= len(EXPECTED_SIZES)


@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_every_label_maps_to_an_entry(name: str) -> None:
    column = "diagnosis" if name == "derm7pt" else "label"
    unmapped = []
    for row in _rows(name):
        text = row[column]
        if text in NOT_DIAGNOSES.get(name, ()):
            with pytest.raises(UnknownName):
                normalise_label(text)
            continue
        try:
            label(_normalise(name, text))
        except UnknownName as exc:
            unmapped.append(f"{text}: {exc}")
    assert not unmapped, unmapped


def test_code_lists_map_to_the_original_codes() -> None:
    assert [normalise_label(r["label"]) for r in _rows("pad-ufes-20")] == [
        "ACK",
        "BCC",
        "MEL",
        "NEV",
        "SCC",
        "SEK",
    ]
    ham = {r["label"]: normalise_label(r["label"]) for r in _rows("ham10000")}
    assert ham == {
        "akiec": "AKIEC",
        "bcc": "BCC",
        "bkl": "BKL",
        "df": "DF",
        "mel": "MEL",
        "nv": "NEV",
        "vasc": "VASC",
    }
    assert all(normalise_label(r["name"]) == ham[r["label"]] for r in _rows("ham10000"))
    isic = {
        r["label"]: normalise_label(r["label"]) for r in _rows("isic2019") if r["label"] != "UNK"
    }
    assert isic == {
        "MEL": "MEL",
        "NV": "NEV",
        "BCC": "BCC",
        "AK": "ACK",
        "BKL": "BKL",
        "DF": "DF",
        "VASC": "VASC",
        "SCC": "SCC",
    }


@pytest.mark.parametrize("column", ["nine_partition_label", "three_partition_label"])
def test_fitzpatrick17k_partition_groups_are_group_labels_of_their_members(column: str) -> None:
    for row in _rows("fitzpatrick17k"):
        group = normalise_label(f"fitzpatrick17k {row[column]}")
        code = normalise_label(row["label"])
        assert label(group).members, group
        assert is_correct(code, group), (row["label"], code, group)


def test_derm7pt_groups_accept_their_diagnoses() -> None:
    for row in _rows("derm7pt"):
        group = row["group_in_source"]
        group_code = normalise_label("derm7pt misc" if group == "MISC" else group)
        code = _normalise("derm7pt", row["diagnosis"])
        assert is_correct(code, group_code), (row["diagnosis"], code, group_code)


def test_bare_partition_words_are_no_diagnosis() -> None:
    for word in ("benign", "malignant", "inflammatory", "non-neoplastic"):
        with pytest.raises(UnknownName):
            normalise_label(word)
