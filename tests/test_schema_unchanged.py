"""The typed schema changed how runs are written and read, not what they contain.

Expected values were recorded with main's code before the schema existed (at 93d22fc, with
``tools/record_behaviour.py``; see ``tests/data/schema_v1/README.md``):

- ``expected_grid.json`` (re-recorded for generator derivation version 2, see the README):
  the fixture grid (``config.yaml``: image operators incl. a
  kernel-versioned one, a sequence and a ``one_of``; note operators incl. a misleading
  referral and dropped fields; the baseline and the full note) run from scratch: every store
  key, a digest of every perturbed photo and note per (case, condition), and the SHA-256 of
  the metrics CSV and of the export;
- ``expected_v1.json``: the SHA-256 of the report files and the export written for ``run/``,
  a run directory written by that main (manifest format 1, no ``format_version``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "schema_v1"
SAMPLE = ROOT / "src" / "derm_stress" / "datasets" / "sample"
# where the sample's photos were when the fixture run was written (case records keep paths)
RECORDED_SAMPLE = "/tmp/s11/src/derm_stress/datasets/sample"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "record_behaviour", ROOT / "tools" / "record_behaviour.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_v1_run(dst: Path) -> Path:
    """The v1 fixture run, copied to ``dst`` with its case records' photo paths pointing at
    this checkout's sample (so the report's gallery finds them)."""
    shutil.copytree(FIXTURE / "run", dst)
    with sqlite3.connect(dst / "results.sqlite") as db:
        db.execute(
            "UPDATE cases SET record = replace(record, ?, ?)", (RECORDED_SAMPLE, str(SAMPLE))
        )
    db.close()
    return dst


def test_fixture_grid_keys_probes_and_metrics_are_unchanged(tmp_path: Path) -> None:
    expected = json.loads((FIXTURE / "expected_grid.json").read_text(encoding="utf-8"))
    recorded = _tool().record(FIXTURE / "config.yaml", tmp_path / "run")
    assert len(recorded["store_keys"]) == 300
    assert recorded["store_keys"] == expected["store_keys"]
    assert recorded["probes"] == expected["probes"]
    assert recorded["metrics_csv_sha256"] == expected["metrics_csv_sha256"]
    assert recorded["export_csv_sha256"] == expected["export_csv_sha256"]


def test_v1_run_directory_loads_reports_and_exports_as_before(tmp_path: Path) -> None:
    from derm_stress.run.results import load_run

    run_dir = copy_v1_run(tmp_path / "run")
    assert "format_version" not in json.loads((run_dir / "manifest.json").read_text("utf-8"))
    run = load_run(run_dir)
    assert run.manifest.format_version == 1
    assert len(run.manifest.conditions) == 30 and run.table.scored.sum() == 300
    expected = json.loads((FIXTURE / "expected_v1.json").read_text(encoding="utf-8"))
    assert _tool().report_digests(run_dir) == expected


@pytest.mark.parametrize("name", ["metrics.csv", "report.md"])
def test_v1_expectations_are_the_committed_files(tmp_path: Path, name: str) -> None:
    """The readable copies next to the fixture are the files the digests stand for."""
    expected = json.loads((FIXTURE / "expected_v1.json").read_text(encoding="utf-8"))
    import hashlib

    assert hashlib.sha256((FIXTURE / name).read_bytes()).hexdigest() == expected[name]
