from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from derm_stress.datasets import load_manifest
from derm_stress.errors import DatasetError
from tests.conftest import ManifestFactory


def test_manifest_with_every_note_column(make_manifest: ManifestFactory) -> None:
    path = make_manifest(
        [
            {
                "case_id": "c1",
                "image": "@0",
                "diagnosis": "Basal cell carcinoma",
                "age": "64",
                "sex": "F",
                "fitzpatrick": "III",
                "body_site": "nose",
                "size_mm": "6x4",
                "duration_days": "120",
                "itch": "yes",
                "pain": "no",
                "bleeding": "1",
                "growth": "0",
                "change": "",
                "elevation": "TRUE",
                "skin_cancer_history": "false",
                "family_history": "unk",
                "other_history": "smoker",
                "referral": "?BCC",
                "free_text": "pearly papule",
                "clinic": "north",
            }
        ]
    )
    dataset = load_manifest(path)
    assert dataset.issues == []
    (case,) = dataset.cases
    note = case.note
    assert case.diagnosis == "BCC" and note.sex == "female" and note.fitzpatrick == 3
    assert note.size_mm == (6.0, 4.0) and note.duration_days == 120
    assert (note.itch, note.pain, note.bleeding, note.growth, note.change, note.elevation) == (
        True,
        False,
        True,
        False,
        None,
        True,
    )
    assert note.family_history is None and note.referral == "?BCC"
    assert case.meta["clinic"] == "north"


def test_bad_rows_are_reported_and_good_rows_kept(make_manifest: ManifestFactory) -> None:
    path = make_manifest(
        [
            {"case_id": "ok", "image": "@1", "diagnosis": "nevus", "age": "30"},
            {"case_id": "label", "image": "@2", "diagnosis": "psoriasiform thing", "age": ""},
            {"case_id": "escape", "image": "../../etc/passwd", "diagnosis": "MEL", "age": ""},
            {"case_id": "age", "image": "@3", "diagnosis": "MEL", "age": "old"},
            {"case_id": "ok", "image": "@4", "diagnosis": "MEL", "age": ""},
            {"case_id": "", "image": "@4", "diagnosis": "MEL", "age": ""},
            {"case_id": "two", "image": "@5;@6", "diagnosis": "SEK", "age": ""},
        ]
    )
    dataset = load_manifest(path)
    assert [c.case_id for c in dataset.cases] == ["ok", "two"]
    reasons = {i.source: i.reason for i in dataset.issues}
    assert "unknown diagnosis label 'psoriasiform thing'" in reasons["label"]
    assert "outside the manifest's folder" in reasons["escape"]
    assert "age: expected a number" in reasons["age"]
    assert "duplicate case_id" in reasons["ok"]
    assert "case_id is empty" in reasons["line 7"]


def test_absolute_path_outside_is_rejected(make_manifest: ManifestFactory) -> None:
    path = make_manifest([{"case_id": "a", "image": "/etc/hostname", "diagnosis": "MEL"}])
    assert "outside the manifest's folder" in load_manifest(path).issues[0].reason


def test_symlinks_are_followed_before_the_inside_check(
    make_manifest: ManifestFactory, tmp_path: Path
) -> None:
    path = make_manifest([{"case_id": "a", "image": "@0", "diagnosis": "MEL"}])
    inside = next((tmp_path / "img").iterdir())
    (tmp_path / "img" / "link.jpg").symlink_to(inside)
    (tmp_path / "img" / "out.jpg").symlink_to("/etc/hostname")
    (tmp_path / "linked").symlink_to(tmp_path / "img")
    (tmp_path / "away").symlink_to("/etc")
    rows = "case_id,image,diagnosis\nb,img/link.jpg,MEL\nc,img/out.jpg,MEL\n"
    rows += f"d,linked/{inside.name},MEL\ne,away/hostname,MEL\nf,img/../img/link.jpg,MEL\n"
    path.write_text(rows)
    dataset = load_manifest(path)
    images = {c.case_id: c.images[0] for c in dataset.cases}
    assert images == {"b": inside, "d": inside, "f": inside}
    assert {i.source for i in dataset.issues} == {"c", "e"}
    assert all("outside the manifest's folder" in i.reason for i in dataset.issues)


def test_misspelt_note_column_is_an_error(make_manifest: ManifestFactory) -> None:
    path = make_manifest(
        [{"case_id": "a", "image": "@0", "diagnosis": "MEL", "durations_days": "3"}]
    )
    assert "did you mean 'duration_days'" in load_manifest(path).issues[0].reason


def test_jsonl_manifest(tmp_path: Path, make_manifest: ManifestFactory) -> None:
    make_manifest([{"case_id": "x", "image": "@0", "diagnosis": "MEL"}])  # copies the photo
    image = next((tmp_path / "img").iterdir()).name
    lines = [
        json.dumps(
            {
                "case_id": "j1",
                "image": [f"img/{image}"],
                "diagnosis": "melanoma",
                "itch": True,
                "size_mm": [5, 3],
            }
        ),
        "{broken",
        "",
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines))
    dataset = load_manifest(path)
    assert [c.case_id for c in dataset.cases] == ["j1"]
    assert dataset.cases[0].note.size_mm == (5.0, 3.0) and dataset.cases[0].note.itch is True
    assert "invalid JSON" in dataset.issues[0].reason


def test_missing_required_column_or_file(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("case_id,image\nc,x.jpg\n")
    with pytest.raises(DatasetError, match="missing required columns diagnosis"):
        load_manifest(path)
    with pytest.raises(DatasetError, match="manifest not found"):
        load_manifest(tmp_path / "none.csv")


def test_a_manifest_is_checked_at_load_and_streamed_afterwards(
    make_manifest: ManifestFactory,
) -> None:
    rows = [{"case_id": f"c{i}", "image": "@0", "diagnosis": "MEL"} for i in range(6)]
    rows.insert(2, {"case_id": "bad", "image": "@0", "diagnosis": "not a label"})
    dataset = load_manifest(make_manifest(rows))
    # count and issues are known at once; no case is held until asked for
    assert len(dataset) == 6 and [i.source for i in dataset.issues] == ["bad"]
    assert dataset._cases is None
    assert [c.case_id for c in dataset.stream()] == [f"c{i}" for i in range(6)]
    assert dataset._cases is None  # streaming did not materialise the list
    first = dataset.select(limit=3)
    assert len(first) == 3 and [i.source for i in first.issues] == ["bad"]
    assert [c.case_id for c in first.stream()] == ["c0", "c1", "c2"] and first._cases is None
    assert first.fingerprint() == load_manifest(make_manifest(rows)).select(limit=3).fingerprint()
    assert [c.case_id for c in dataset.cases] == [f"c{i}" for i in range(6)]  # materialised


def test_photo_paths_resolved_per_folder_are_the_paths_resolved_one_by_one(
    make_manifest: ManifestFactory, tmp_path: Path
) -> None:
    """A manifest's rows resolve each photo's folder once (issue 17); every path, and every
    refusal, is the one resolving the row on its own gives."""
    from derm_stress.datasets.manifest import TextFolders, _image_paths

    make_manifest([{"case_id": "a", "image": "@0", "diagnosis": "MEL"}])
    inside = next((tmp_path / "img").iterdir()).name
    (tmp_path / "img" / "link.jpg").symlink_to(tmp_path / "img" / inside)
    (tmp_path / "img" / "out.jpg").symlink_to("/etc/hostname")
    (tmp_path / "linked").symlink_to(tmp_path / "img")
    (tmp_path / "away").symlink_to("/etc")
    texts = [
        f"img/{inside}", "img/link.jpg", f"img/{inside}", "img/link.jpg", "img/out.jpg",
        "img/out.jpg", f"linked/{inside}", f"linked/{inside}", "away/hostname",
        "away/hostname", "img/../img/link.jpg", f"img/../img/{inside}", f"img//{inside}",
        f"img/./{inside}", "missing.jpg", "missing.jpg", "/etc/hostname", "../x.jpg",
        "../x.jpg", "img/..", "img/.",
    ]  # fmt: skip
    root = tmp_path.resolve()
    folders: dict[Path, tuple[Path, frozenset[str]]] = {}
    by_text: TextFolders = {}

    def outcome(text: str, *cache: Any) -> Path | str:
        try:
            return _image_paths(root, text, *cache)[0]
        except ValueError as exc:
            return str(exc)

    for text in texts:
        assert outcome(text, folders, by_text) == outcome(text), text
    assert set(by_text) >= {"img", "linked", "away", ""}
