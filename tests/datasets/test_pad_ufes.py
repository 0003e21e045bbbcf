from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from derm_stress import cases
from derm_stress.datasets import Dataset, load_pad_ufes_20, pad_ufes
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


# -- the per-process cache of parsed folders (issue 17: a resume loads the sample again) ----


def _small_folder(root: Path, rows: int = 3) -> Path:
    """A PAD-UFES-20 folder of the first ``rows`` rows."""
    (root / "images").mkdir(parents=True)
    lines = (PAD_DIR / "metadata.csv").read_text().splitlines()
    for row in lines[1 : rows + 1]:
        stem = row.split(",")[24].removesuffix(".png")
        shutil.copyfile(PAD_DIR / "images" / f"{stem}.jpg", root / "images" / f"{stem}.jpg")
    (root / "metadata.csv").write_text("\n".join(lines[: rows + 1]) + "\n")
    return root


def _next_tick() -> None:
    """Let the file system's clock move on (its times are coarse, a few ms), so the next
    change gets times of its own."""
    time.sleep(0.05)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Folders actually parsed (read from their files), in order. Files count as settled
    at once (no racy window), unless a test says otherwise."""
    monkeypatch.setattr(cases, "RACY_SECONDS", 0.0)
    pad_ufes.clear_cache()
    seen: list[Path] = []
    original = pad_ufes._parse

    def parse(folder: Path, meta_path: Path) -> Any:
        seen.append(folder)
        return original(folder, meta_path)

    monkeypatch.setattr(pad_ufes, "_parse", parse)
    yield seen
    pad_ufes.clear_cache()


def _view(dataset: Dataset) -> list[tuple[object, ...]]:
    return [(c.case_id, c.images, c.note, c.diagnoses, dict(c.meta)) for c in dataset.cases]


def test_a_settled_folder_is_parsed_once_and_each_load_gets_its_own_cases(
    tmp_path: Path, parses: list[Path]
) -> None:
    folder = _small_folder(tmp_path / "pad")
    first, again = load_pad_ufes_20(folder), load_pad_ufes_20(folder, name="other")
    assert parses == [folder] and again.name == "other" and again.root == folder
    assert _view(first) == _view(again) and len(again) == 3
    assert all(a is not b for a, b in zip(first.cases, again.cases, strict=True))
    again.cases[0].meta["patient_id"] = "changed by a caller"  # type: ignore[index]
    again.cases.clear()
    third = load_pad_ufes_20(folder)
    assert parses == [folder] and _view(third) == _view(first)


def test_a_changed_metadata_file_is_parsed_again_even_at_the_same_size_and_mtime(
    tmp_path: Path, parses: list[Path]
) -> None:
    folder = _small_folder(tmp_path / "pad")
    meta = folder / "metadata.csv"
    before = load_pad_ufes_20(folder)
    stat = meta.stat()
    text = meta.read_text()
    # the same size and modification time, other content: its change time tells
    _next_tick()
    changed = text.replace(",BCC,", ",ACK,", 1)
    assert changed != text and len(changed) == len(text)
    meta.write_text(changed)
    os.utime(meta, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = load_pad_ufes_20(folder)
    assert len(parses) == 2
    assert [c.diagnosis for c in after] != [c.diagnosis for c in before]
    # replaced by another file (a new inode) with the same figures: parsed again too
    meta.rename(folder / "old.csv")
    _next_tick()
    (folder / "metadata.csv").write_text(text)
    os.utime(folder / "metadata.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert [c.diagnosis for c in load_pad_ufes_20(folder)] == [c.diagnosis for c in before]
    assert len(parses) == 3


def test_a_file_changed_within_the_racy_window_is_always_read(
    tmp_path: Path, parses: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _small_folder(tmp_path / "pad")
    # changed "just now": a write within the same clock tick could follow unseen
    monkeypatch.setattr(cases, "RACY_SECONDS", 3600.0)
    load_pad_ufes_20(folder)
    load_pad_ufes_20(folder)
    assert len(parses) == 2
    monkeypatch.setattr(cases, "RACY_SECONDS", 0.0)  # settled
    load_pad_ufes_20(folder)
    load_pad_ufes_20(folder)
    assert len(parses) == 3


def test_a_photo_added_or_removed_is_seen(tmp_path: Path, parses: list[Path]) -> None:
    folder = _small_folder(tmp_path / "pad")
    first = load_pad_ufes_20(folder).cases[0]
    photo = Path(first.images[0])
    png = photo.with_suffix(".png")  # the loader prefers images/<stem>.png to .jpg
    _next_tick()
    shutil.copyfile(photo, png)
    assert load_pad_ufes_20(folder).cases[0].images == (png,)
    _next_tick()
    png.unlink()
    assert load_pad_ufes_20(folder).cases[0].images == (photo,)
    assert len(parses) == 3


def test_a_folder_with_symbolic_links_or_another_vocabulary_is_parsed_again(
    tmp_path: Path, parses: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _small_folder(tmp_path / "pad")
    load_pad_ufes_20(folder)
    load_pad_ufes_20(folder)
    assert len(parses) == 1
    # labels are normalised through the active vocabulary: another one parses again
    active, other = pad_ufes.vocabulary, SimpleNamespace(fingerprint="sha256:another")
    monkeypatch.setattr(pad_ufes, "vocabulary", lambda: other)
    load_pad_ufes_20(folder)
    assert len(parses) == 2
    monkeypatch.setattr(pad_ufes, "vocabulary", active)
    # a link's target can change without the folder changing: never kept
    _next_tick()
    (folder / "images" / "link.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    load_pad_ufes_20(folder)
    load_pad_ufes_20(folder)
    assert len(parses) == 4
