"""The caches behind fast loading: the parsed vocabulary and the ICD-10-CM index."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from derm_stress.labels import icd, load


def test_parsed_vocabulary_cache_is_written_read_and_survives_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DERM_STRESS_CACHE", str(tmp_path))
    fresh = load._read(load.packaged_path())
    assert load._read_packaged() == (fresh, False)
    load._packaged.cache_clear()
    try:
        checked = load._packaged()  # a checked build writes the cache
        digest = hashlib.sha256(load.packaged_path().read_bytes()).hexdigest()[:24]
        cached = tmp_path / f"vocabulary-{digest}.json"
        assert cached.is_file()
        assert load._read_packaged() == (fresh, True)
        load._packaged.cache_clear()
        assert load._packaged().fingerprint == checked.fingerprint  # from the cache
        cached.write_text("{not json")
        assert load._read_packaged() == (fresh, False)  # a damaged cache is not used
    finally:
        load._packaged.cache_clear()


def test_unwritable_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("DERM_STRESS_CACHE", str(blocker / "sub"))  # cannot be a directory
    load._store_packaged(load._read(load.packaged_path()))
    assert load._read_packaged()[1] is False


@pytest.mark.parametrize("code", ["L40.59", "C44.311", "B35.4", "T78.3XXA", "S61.411A", "L20.84"])
def test_icd_index_agrees_with_the_package(code: str) -> None:
    lib = icd._library()
    assert icd.exists(code) and icd.description(code) == lib.get_description(code)
    expected = [a for a in lib.get_ancestors(code) if not lib.is_chapter_or_block(a)]
    assert icd.parents(code) == expected


def test_icd_shapes_that_are_not_codes() -> None:
    assert not icd.exists("L99.99") and not icd.exists("L40-L45") and not icd.exists("psoriasis")
    assert icd.canonical("l400") == "L40.0" and icd.looks_like_icd(" C44.91 ")
