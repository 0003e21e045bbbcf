"""The albumentations bridge from the command line: runs that resume, `ops --grid` and
`calibrate`, and the base install without albumentations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.test_cli import cli

QUALITY = {1: 70, 2: 45, 3: 25, 4: 12, 5: 5}


def _table(qualities: dict[int, int]) -> dict[int, dict[str, list[int]]]:
    return {s: {"quality_range": [q, q]} for s, q in qualities.items()}


def _grid(tmp_path: Path, qualities: dict[int, int], **extra: object) -> Path:
    entry = {"op": "albumentations", "transform": "ImageCompression", "severity": _table(qualities)}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({"image": [entry], **extra}), encoding="utf-8")
    return path


def test_a_run_resumes_and_an_edited_table_is_run_afresh(tmp_path: Path) -> None:
    config = _grid(tmp_path, {1: 60, 4: 10}, dataset={"limit": 4})
    out = tmp_path / "run"
    first = cli("run", str(config), "--out", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "4 cases x 3 conditions x 1 model(s) = 12 results: 12 model calls" in first.stdout
    again = cli("run", str(config), "--out", str(out), "--quiet")
    assert "0 model calls, 12 reused" in again.stdout, again.stdout
    edited = _grid(tmp_path, {1: 60, 4: 11}, dataset={"limit": 4})
    third = cli("run", str(edited), "--out", str(out), "--quiet")
    # the baseline is shared; both levels of the edited table are new conditions
    assert "8 model calls, 4 reused" in third.stdout, third.stdout


def test_ops_lists_the_bridge_and_a_grid_with_its_table(tmp_path: Path) -> None:
    listed = cli("ops")
    assert "albumentations" in listed.stdout and listed.returncode == 0
    shown = cli("ops", "--grid", str(_grid(tmp_path, QUALITY)))
    assert shown.returncode == 0, shown.stderr
    assert "albumentations[ImageCompression#" in shown.stdout
    assert "5: __class_fullname__=ImageCompression" in shown.stdout
    assert "quality_range=[5, 5]" in shown.stdout and "options: transform=ImageCompression" in (
        shown.stdout
    )
    described = json.loads(cli("ops", "--grid", str(_grid(tmp_path, QUALITY)), "--json").stdout)
    assert described[0]["severities"]["3"]["quality_range"] == [25, 25]


def test_calibrate_passes_a_falling_table_and_fails_a_rising_one(tmp_path: Path) -> None:
    good = cli("calibrate", str(_grid(tmp_path, QUALITY)), "--cases", "3")
    assert good.returncode == 0, good.stderr
    line = next(x for x in good.stdout.splitlines() if x.startswith("albumentations["))
    assert line.endswith("yes")
    (tmp_path / "bad").mkdir()
    rising = {s: QUALITY[6 - s] for s in QUALITY}
    bad = cli("calibrate", str(_grid(tmp_path / "bad", rising)), "--cases", "3", "--json")
    assert bad.returncode == 1
    (curve,) = json.loads(bad.stdout)
    assert curve["falls"] is False and curve["means"]["1"] < curve["means"]["5"]
    assert "not falling with severity: albumentations[ImageCompression#" in bad.stderr


def test_calibrate_takes_operator_names_and_single_entries(tmp_path: Path) -> None:
    named = cli("calibrate", "gaussian_blur", "--cases", "2", "--json")
    assert named.returncode == 0, named.stderr
    (curve,) = json.loads(named.stdout)
    assert curve["operator"] == "gaussian_blur" and list(curve["means"]) == list("12345")
    entry = tmp_path / "entry.yaml"
    entry.write_text(
        yaml.safe_dump({"op": "albumentations", "transform": "Blur", "severity": {
            1: {"blur_limit": [3, 3]}, 2: {"blur_limit": [9, 9]}}}),
        encoding="utf-8",
    )  # fmt: skip
    single = cli("calibrate", str(entry), "--cases", "2")
    assert single.returncode == 0, single.stdout + single.stderr
    typo = cli("calibrate", "gausian_blur")
    assert typo.returncode == 2 and "did you mean 'gaussian_blur'" in typo.stderr


SCRIPT = """
import sys
sys.modules["albumentations"] = None  # importing it now raises ImportError
from derm_stress.errors import MissingDependency
from derm_stress.perturb import expand_grid, make_operator
assert len(expand_grid({"image": [{"op": "defocus", "severity": [1, 2]}]})) == 3
try:
    make_operator("albumentations", 1, transform="RandomFog", table={1: {}})
except MissingDependency as exc:
    assert "pip install 'derm-stress[albumentations]'" in str(exc), exc
else:
    raise AssertionError("expected an install hint")
try:
    import derm_stress.augment
except MissingDependency as exc:  # an ImportError
    assert "pip install 'derm-stress[albumentations]'" in str(exc), exc
else:
    raise AssertionError("expected an ImportError")
print("ok")
"""


def test_without_albumentations_the_bridge_gives_the_install_command() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
