"""A fresh run fingerprints each case in the perturbation worker, from the bytes it reads
for the probes (issue 17): the same fingerprint as ``Case.fingerprint``, the signature
taken before the read, and every case still recorded in order when a budget stops the run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from derm_stress import cases
from derm_stress.cases import Case, Note
from derm_stress.datasets import Dataset, load_manifest
from derm_stress.perturb.condition import Condition
from derm_stress.run import Budget, parse_config, run
from derm_stress.run.executors import perturb_case
from derm_stress.run.store import Store
from tests.conftest import ManifestFactory
from tests.run import helpers

GRID: dict[str, Any] = {
    "image": ["none", {"op": "gaussian_noise", "severity": 2}],
    "context": ["image_only", "full"],
}
MODEL = {"name": "a", "adapter": "callable", "target": "tests.run.helpers:recorder_a"}


def _conditions(tmp_path: Path) -> list[Condition]:
    spec = {**GRID, "dataset": {"limit": 1}, "models": [MODEL]}
    return list(parse_config(spec, tmp_path, "w").conditions)


def test_the_worker_fingerprint_equals_the_one_read_from_the_files(
    tmp_path: Path, pad: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases, "RACY_SECONDS", 0.0)
    conditions = _conditions(tmp_path)
    two = Case("two", (pad.cases[0].images[0], pad.cases[1].images[0]), Note(age=50), "NEV")
    built = perturb_case(two, conditions, 3, fingerprint=True)
    assert built.error is None and len(built.probes) == len(conditions)
    assert built.fingerprint == two.fingerprint()
    assert built.signature is not None and built.signature == two.file_signature()
    # the same probes whether or not the fingerprint is asked for
    plain = perturb_case(two, conditions, 3)
    assert plain.fingerprint is None and plain.signature is None
    assert [p.images[0].tobytes() for p in plain.probes if not isinstance(p, str)] == [
        p.images[0].tobytes() for p in built.probes if not isinstance(p, str)
    ]
    # a missing photo: an input error, and the fingerprint that says "unreadable"
    missing = Case("m", (tmp_path / "gone.jpg",), Note(), "NEV")
    failed = perturb_case(missing, conditions, 3, fingerprint=True)
    assert failed.error is not None and "not found" in failed.error
    assert failed.fingerprint == missing.fingerprint() and failed.signature is None
    # an in-memory image has a fingerprint but no signature
    array = Case("arr", (np.zeros((40, 40, 3), np.uint8),), Note(), "NEV")
    held = perturb_case(array, conditions, 3, fingerprint=True)
    assert held.fingerprint == array.fingerprint() and held.signature is None


def test_fingerprint_of_given_contents_is_checked_against_the_images(pad: Dataset) -> None:
    case = pad.cases[0]
    photo = case.images[0]
    assert isinstance(photo, Path)
    assert case.fingerprint([photo.read_bytes()]) == case.fingerprint()
    assert case.fingerprint([b"other bytes"]) != case.fingerprint()
    with pytest.raises(ValueError, match="1 images"):
        case.fingerprint([b"a", b"b"])


def _records(run_dir: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(run_dir / "results.sqlite")
    try:
        rows = db.execute("SELECT record FROM cases ORDER BY position").fetchall()
    finally:
        db.close()
    return [json.loads(r) for (r,) in rows]


def test_a_fresh_run_stopped_by_a_budget_records_every_case_in_order(
    tmp_path: Path, make_manifest: ManifestFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases, "RACY_SECONDS", 0.0)
    ids = [f"c{i}" for i in range(12)]
    manifest = make_manifest(
        [{"case_id": c, "image": f"@{i}", "diagnosis": "nevus"} for i, c in enumerate(ids)]
    )
    spec = {**GRID, "dataset": {"manifest": manifest.name}, "models": [MODEL]}
    config = parse_config(spec, tmp_path, "budget")
    first = run(config, tmp_path / "run", budget=Budget(max_calls=6))
    assert first.calls == 6 and first.stopped is not None
    records = _records(tmp_path / "run")
    dataset = load_manifest(manifest)
    assert [r["id"] for r in records] == ids
    assert [r["fingerprint"] for r in records] == [c.fingerprint() for c in dataset.cases]
    # every signature the workers computed is kept: the resume hashes no photo
    with Store(tmp_path / "run" / "results.sqlite") as store:
        assert store.fingerprints(dataset.cases) == [c.fingerprint() for c in dataset.cases]
    hashed = helpers.count_fingerprints(monkeypatch)
    second = run(config, tmp_path / "run")
    assert second.reused == 6 and second.calls == 12 * 4 - 6 and hashed == []
    assert _records(tmp_path / "run") == records
