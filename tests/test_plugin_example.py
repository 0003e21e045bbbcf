"""The example plugin package (examples/derm-stress-plugin-example) installed for real and
used through its entry points: nothing in derm-stress names it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PLUGIN = ROOT / "examples" / "derm-stress-plugin-example"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed by pip into its own folder (a wheel built offline with the
    hatchling of the dev install), as a user's ``pip install`` would."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(target), str(PLUGIN)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "TMPDIR": str(build)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "derm_stress_plugin_example").is_dir()
    return target


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip


def test_ops_lists_the_plugin_operators(site: Path) -> None:
    listed = _cli(site, "ops", "--json")
    assert listed.returncode == 0, listed.stderr
    ops = {op["name"]: op for op in json.loads(listed.stdout)}
    assert ops["lens_fog"]["kind"] == "image" and ops["lens_fog"]["family"] == "capture"
    assert ops["round_age"]["kind"] == "note"
    table = _cli(site, "ops").stdout
    assert "lens_fog" in table and "round_age" in table
    # without the plugin on the path, the operator is unknown (nothing in derm-stress has it)
    plain = subprocess.run(
        [sys.executable, "-m", "derm_stress", "ops", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert "lens_fog" not in plain.stdout


def test_a_run_with_the_plugin_operators_adapter_and_dataset_completes_and_reports(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    ran = _cli(site, "run", str(PLUGIN / "plugin.yaml"), "--out", str(out), "--quiet")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "5 cases x 16 conditions x 1 model(s) = 80 results" in ran.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "tone_rule" in json.dumps(manifest)
    with (out / "metrics.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    conditions = {row["condition"] for row in rows}
    assert any("lens_fog@5" in c for c in conditions), conditions
    assert any("round_age@5" in c for c in conditions), conditions
    assert all(row["model"] == "tone-rule" for row in rows)
    assert all(int(row["errors"]) == 0 for row in rows)
    reported = _cli(site, "report", str(out))
    assert reported.returncode == 0, reported.stderr
    assert "lens_fog" in (out / "report.md").read_text(encoding="utf-8")


def test_plugin_settings_are_checked_against_its_signature(site: Path, tmp_path: Path) -> None:
    config = (PLUGIN / "plugin.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        config.replace("threshold: 120", "treshold: 120").replace(
            "{simple_csv: sample}", f"{{simple_csv: {PLUGIN / 'sample'}}}"
        ),
        encoding="utf-8",
    )
    ran = _cli(site, "run", str(bad), "--out", str(tmp_path / "r"), "--quiet")
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "unknown setting 'treshold'; did you mean 'threshold'?" in ran.stderr
