"""The command line, run as a user would (a subprocess of the installed entry point)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_run_report_export_and_resume(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "image": ["none", {"op": "defocus", "severity": [1, 4]}],
                "context": ["image_only", "full"],
                "dataset": {"limit": 5},
            }
        )
    )
    out = tmp_path / "run"
    first = cli("run", str(config), "--out", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "5 cases x 6 conditions x 1 model(s) = 30 results: 30 model calls" in first.stdout
    assert (out / "report.html").is_file() and f"report: {out / 'report.html'}" in first.stdout
    second = cli("run", str(config), "--out", str(out), "--quiet")
    assert "0 model calls, 30 reused" in second.stdout
    assert "no model was called" in second.stdout
    exported = cli("export", str(out), "--format", "csv")
    assert exported.returncode == 0 and (out / "results.csv").is_file()
    report = cli("report", str(out), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0 and (tmp_path / "r.html").stat().st_size > 10_000


def test_default_run_dir_is_named_after_the_config(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"limit": 2}}))
    assert cli("run", str(config), "--quiet", cwd=tmp_path).returncode == 0
    assert (tmp_path / "runs" / "tiny" / "report.html").is_file()


def test_ops_json_lists_every_operator() -> None:
    result = cli("ops", "--json")
    ops = json.loads(result.stdout)
    names = {o["name"] for o in ops}
    assert {"motion_blur", "exposure", "perspective", "drop_fields", "misleading_referral"} <= names
    assert all(set(o) >= {"name", "kind", "family", "description", "severities"} for o in ops)
    assert "severity" not in cli("ops").stderr


def test_grid_show_counts_conditions() -> None:
    result = cli("grid", "show", "perturbations/quickstart.yaml")
    assert result.stdout.splitlines()[0] == "img=none|ctx=image_only"
    assert result.stdout.strip().endswith("80 conditions (baseline included)")


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("image: [none, {op: motion_blurr, severity: 2}]\n")
    cases = [
        cli("run", str(bad)),
        cli("run", str(tmp_path / "absent.yaml")),
        cli("report", str(tmp_path)),
        cli("export", str(tmp_path), "--format", "xlsx"),
    ]
    for result in cases:
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
    assert cases[0].stderr.strip().splitlines() == [
        "error: unknown operator 'motion_blurr'; did you mean 'motion_blur'? available: "
        + cases[0].stderr.split("available: ")[1].strip()
    ]
    assert "config file not found" in cases[1].stderr
    assert "is not a run directory" in cases[2].stderr
    assert "'xlsx' is not one of 'csv', 'parquet'" in cases[3].stderr


def test_every_command_has_help() -> None:
    for command in ("demo", "run", "report", "ops", "export", "grid", "train-reference"):
        result = cli(command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout


def test_perturb_one_and_several_images(tmp_path: Path) -> None:
    from PIL import Image

    from derm_stress.cases import Case, Note
    from derm_stress.images import load_image
    from derm_stress.perturb import Condition, build_probe, make_operator

    images = sorted((ROOT / "data" / "pad-ufes-20" / "images").glob("*.jpg"))[:3]
    one = cli(
        "perturb",
        "--op",
        "motion_blur",
        "--severity",
        "4",
        "--seed",
        "5",
        str(images[0]),
        "-o",
        str(tmp_path / "one.png"),
    )
    assert one.returncode == 0, one.stderr
    record = json.loads(one.stdout.splitlines()[0])
    assert record["op"] == "motion_blur" and record["params"]["length"] >= 2
    # byte for byte what a run with seed 5 sends for that case
    case = Case(images[0].stem, (images[0],), Note(), "NEV")
    expected = build_probe(case, Condition(image_ops=(make_operator("motion_blur", 4),)), 5)
    assert (load_image(tmp_path / "one.png") == expected.images[0]).all()
    many = cli(
        "perturb",
        "--op",
        "exposure",
        "--option",
        "direction=darker",
        "--severity",
        "2",
        *map(str, images),
        "-o",
        str(tmp_path / "many"),
    )
    assert many.returncode == 0, many.stderr
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == sorted(
        f"{p.stem}.png" for p in images
    )
    assert (
        Image.open(tmp_path / "many" / f"{images[1].stem}.png").size == Image.open(images[1]).size
    )
    bad = cli("perturb", "--op", "sex_flip", str(images[0]), "-o", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and "is a note operator" in bad.stderr


def test_preview_writes_a_sheet_and_the_notes(tmp_path: Path) -> None:
    from PIL import Image

    result = cli(
        "preview",
        "--case",
        "PAT_636_1204_521",
        "--grid",
        "perturbations/quickstart.yaml",
        "--size",
        "64",
        "-o",
        str(tmp_path / "s.png"),
    )
    assert result.returncode == 0, result.stderr
    sheet = Image.open(tmp_path / "s.png")
    assert sheet.size[1] > 5 * 64  # five operator rows
    notes = (tmp_path / "s.txt").read_text()
    assert "== ctx=misleading_referral@5 ==" in notes and "referral: None ->" in notes
    missing = cli(
        "preview",
        "--case",
        "PAT_636_1204_52",
        "--grid",
        "perturbations/quickstart.yaml",
        "-o",
        str(tmp_path / "t.png"),
    )
    assert missing.returncode == 2 and "did you mean 'PAT_636_1204_521'" in missing.stderr


def test_progress_lines_in_logs_and_quiet_mode(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"image": ["none"], "context": ["image_only"], "dataset": {"limit": 20}})
    )
    loud = cli("run", str(config), "--out", str(tmp_path / "a"))
    assert loud.returncode == 0, loud.stderr
    lines = [line for line in loud.stderr.splitlines() if "results (" in line]
    assert (
        lines
        and lines[-1].strip().startswith("20/20 results")
        and "errors: reference 0" in lines[-1]
    )
    quiet = cli("run", str(config), "--out", str(tmp_path / "b"), "--quiet")
    assert quiet.returncode == 0 and "results (" not in quiet.stderr


def test_budget_flags_stop_the_run(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"image": ["none"], "context": ["image_only"], "dataset": {"limit": 20}})
    )
    result = cli("run", str(config), "--out", str(tmp_path / "a"), "--quiet", "--max-calls", "7")
    assert result.returncode == 0, result.stderr
    assert (
        "7 model calls" in result.stdout and "stopped early: max_calls reached (7)" in result.stdout
    )
    bad = cli("run", str(config), "--address", "auto")
    assert bad.returncode == 2 and "--address is for the Ray executor" in bad.stderr
