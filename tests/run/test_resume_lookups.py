"""What makes a resume cheap (issue 17) without ever reusing what changed: fingerprints
kept by file signature, cases marked complete, no lookups in a fresh store."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from derm_stress import cases
from derm_stress.cases import Case, Note
from derm_stress.datasets import Dataset
from derm_stress.run import parse_config, run
from derm_stress.run.store import Store
from tests.conftest import ManifestFactory
from tests.run import helpers

GRID: dict[str, Any] = {
    "image": ["none", {"op": "gaussian_noise", "severity": 2}],
    "context": ["image_only", "full"],
}
MODEL = {"name": "a", "adapter": "callable", "target": "tests.run.helpers:recorder_a"}


def _config(tmp_path: Path, manifest: Path, models: list[dict[str, Any]] | None = None) -> Any:
    spec = {**GRID, "dataset": {"manifest": manifest.name}, "models": models or [MODEL]}
    return parse_config(spec, tmp_path, "resume")


def _table(run_dir: Path, table: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(run_dir / "results.sqlite")
    try:
        return db.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        db.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Case ids whose photos are read to fingerprint them (files count as settled at once)."""
    monkeypatch.setattr(cases, "RACY_SECONDS", 0.0)
    return helpers.count_fingerprints(monkeypatch)


def test_a_resume_reads_no_photo_and_a_changed_photo_is_read_again(
    tmp_path: Path, make_manifest: ManifestFactory, pad: Dataset, counted: list[str]
) -> None:
    manifest = make_manifest(
        [
            {"case_id": "a", "image": "@0", "diagnosis": "nevus"},
            {"case_id": "b", "image": "@1", "diagnosis": "MEL"},
        ]
    )
    config = _config(tmp_path, manifest)
    first = run(config, tmp_path / "run")
    assert first.calls == 2 * 4 and sorted(counted) == ["a", "b"]
    fingerprints = {r[1]["fingerprint"] for r in _records(tmp_path / "run")}
    counted.clear()
    again = run(config, tmp_path / "run")
    assert again.calls == 0 and counted == []  # no photo hashed
    assert {r[1]["fingerprint"] for r in _records(tmp_path / "run")} == fingerprints
    # another photo under case b's file name: read again, b's results recomputed
    photo_b = next((tmp_path / "img").glob(Path(pad.cases[1].images[0]).name))
    shutil.copyfile(pad.cases[2].images[0], photo_b)
    changed = run(config, tmp_path / "run")
    assert counted == ["b"] and changed.calls == 4 and changed.reused == 4


def _records(run_dir: Path) -> list[tuple[int, dict[str, Any]]]:
    return [(p, json.loads(r)) for p, _, r in _table(run_dir, "cases")]


def test_a_file_changed_within_the_racy_window_has_no_signature(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x" * 100)
    case = Case("c", (photo,), Note(), "NEV")
    stamp = os.stat(photo)
    changed = max(stamp.st_mtime, stamp.st_ctime)
    assert case.file_signature(now=changed + 0.5) is None  # could change again unseen
    settled = case.file_signature(now=changed + cases.RACY_SECONDS + 1)
    assert settled is not None and len(settled) == 64
    assert Case("c", (photo,), Note(age=40), "NEV").file_signature(now=changed + 10) != settled
    os.utime(photo, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    assert case.file_signature(now=changed + 10) != settled
    assert Case("m", (tmp_path / "missing.jpg",), Note(), "NEV").file_signature() is None


def test_cases_are_marked_complete_and_a_deleted_result_is_recomputed(
    tmp_path: Path, make_manifest: ManifestFactory, counted: list[str]
) -> None:
    manifest = make_manifest(
        [{"case_id": c, "image": f"@{i}", "diagnosis": "nevus"} for i, c in enumerate("abc")]
    )
    config = _config(tmp_path, manifest)
    run(config, tmp_path / "run")
    assert len(_table(tmp_path / "run", "complete_cases")) == 3
    db = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    with db:
        (key,) = db.execute("SELECT key FROM results WHERE case_id = 'b' LIMIT 1").fetchone()
        db.execute("DELETE FROM results WHERE key = ?", (key,))
    db.close()
    assert _table(tmp_path / "run", "complete_cases") == []  # every mark forgotten
    again = run(config, tmp_path / "run")
    assert again.calls == 1 and again.reused == 11
    assert len(_table(tmp_path / "run", "complete_cases")) == 3  # marked again


def test_a_case_with_an_error_is_not_marked_and_is_retried(
    tmp_path: Path, make_manifest: ManifestFactory, counted: list[str]
) -> None:
    manifest = make_manifest(
        [{"case_id": c, "image": f"@{i}", "diagnosis": "nevus"} for i, c in enumerate("ab")]
    )
    models = [{"name": "f", "adapter": "callable", "target": "tests.run.helpers:flaky"}]
    config = _config(tmp_path, manifest, models)
    helpers.FLAKY_CASE[0], helpers.FLAKY_FIXED[0] = "b", False
    try:
        first = run(config, tmp_path / "run")
        assert first.model_errors == 4
        assert len(_table(tmp_path / "run", "complete_cases")) == 1  # a only
        helpers.FLAKY_FIXED[0] = True
        again = run(config, tmp_path / "run")
        assert again.calls == 4 and again.model_errors == 0
        assert len(_table(tmp_path / "run", "complete_cases")) == 2
    finally:
        helpers.FLAKY_FIXED[0] = True


def test_case_records_and_fingerprints_wait_for_the_next_put_or_commit(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.add_case(0, {"id": "x", "fingerprint": "f"})
        assert store.case_records() == [{"id": "x", "fingerprint": "f"}]
        store.add_case(1, {"id": "y", "fingerprint": "g"})
    with Store(tmp_path / "s.sqlite") as store:  # closing committed the second one
        assert [r["id"] for r in store.case_records()] == ["x", "y"]
        assert not store.has_results()


def _replace(store: Store, records: list[dict[str, Any]]) -> int:
    """Record ``records`` as a run does; returns the rows SQLite changed meanwhile."""
    before = store._db.total_changes
    store.clear_cases()
    for position, record in enumerate(records):
        store.add_case(position, record)
    store.end_cases(len(records))
    store.commit()
    return store._db.total_changes - before


def test_unchanged_case_records_are_not_written_again(tmp_path: Path) -> None:
    first = [{"id": c, "fingerprint": f"f{c}"} for c in "abcd"]
    with Store(tmp_path / "s.sqlite") as store:
        assert _replace(store, first) == 4
        assert _replace(store, first) == 0  # a resume of the same dataset writes nothing
        assert store.case_records() == first
        changed = [first[0], {"id": "b", "fingerprint": "new"}, first[2], first[3]]
        assert _replace(store, changed) > 0
        assert store.case_records() == changed
        assert _replace(store, first[:2]) > 0  # fewer cases: the rest dropped
        assert store.case_records() == first[:2]
        longer = [*first, {"id": "e", "fingerprint": "fe"}]
        _replace(store, longer)
        assert store.case_records() == longer


def test_a_run_over_a_changed_manifest_records_exactly_its_cases(
    tmp_path: Path, make_manifest: ManifestFactory, counted: list[str]
) -> None:
    rows = [{"case_id": c, "image": f"@{i}", "diagnosis": "nevus"} for i, c in enumerate("abc")]
    config = _config(tmp_path, make_manifest([dict(r) for r in rows]))
    run(config, tmp_path / "run")
    first = _records(tmp_path / "run")
    assert [r["id"] for _, r in first] == ["a", "b", "c"]
    run(config, tmp_path / "run")
    assert _records(tmp_path / "run") == first
    make_manifest([dict(rows[0]), dict(rows[2])])  # b removed
    shorter = run(config, tmp_path / "run")
    assert shorter.calls == 0 and [r["id"] for _, r in _records(tmp_path / "run")] == ["a", "c"]


def test_a_resume_reads_its_manifest_once_and_records_what_that_pass_found(
    tmp_path: Path, make_manifest: ManifestFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run checks the manifest, then streams it; a resume takes the count and
    rejected rows recorded by the last run over the same dataset and streams it once. What
    that pass finds, not the recorded figures, goes into the manifest and the summary."""
    from derm_stress.datasets import manifest as manifest_module

    reads: list[Path] = []
    original = manifest_module._read

    def counting(path: Path, *args: Any) -> Any:
        reads.append(path)
        return original(path, *args)

    monkeypatch.setattr(manifest_module, "_read", counting)
    rows = [
        {"case_id": "a", "image": "@0", "diagnosis": "nevus", "age": "40"},
        {"case_id": "b", "image": "@1", "diagnosis": "MEL", "age": "forty"},  # rejected
        {"case_id": "c", "image": "@2", "diagnosis": "nevus", "age": "61"},
    ]
    config = _config(tmp_path, make_manifest([dict(r) for r in rows]))
    first = run(config, tmp_path / "run")
    assert len(reads) == 2 and first.cases == 2 and first.dataset_issues == 1
    reads.clear()
    again = run(config, tmp_path / "run")
    assert len(reads) == 1 and again.calls == 0 and again.cases == 2
    recorded = json.loads((tmp_path / "run" / "manifest.json").read_text())["dataset"]
    assert recorded["cases"] == 2 and [i["source"] for i in recorded["issues"]] == ["b"]
    # the rejected row fixed, the config unchanged: the recorded figures are provisional
    make_manifest([dict(rows[0]), {**rows[1], "age": "44"}, dict(rows[2])])
    reads.clear()
    fixed = run(config, tmp_path / "run")
    assert len(reads) == 1 and fixed.calls == 4 and fixed.reused == 8
    assert fixed.cases == 3 and fixed.dataset_issues == 0
    recorded = json.loads((tmp_path / "run" / "manifest.json").read_text())["dataset"]
    assert recorded["cases"] == 3 and recorded["issues"] == []
    # another dataset setting (a limit): checked first, as any new dataset
    limited = parse_config(
        {**GRID, "dataset": {"manifest": "cases.csv", "limit": 2}, "models": [MODEL]},
        tmp_path,
        "resume",
    )
    reads.clear()
    assert run(limited, tmp_path / "run").cases == 2 and len(reads) == 2
