"""Runs that cannot hang, lie or double-bill (issue 16, items 2, 3, 4 and 6), as a user
meets them: real `derm-stress run` processes, real signals, two processes on one directory."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from derm_stress.errors import EXIT_ERROR_RATE, EXIT_LOCKED, EXIT_NOTHING_TO_RUN
from tests.conftest import ROOT


def _config(tmp_path: Path, target: str, name: str = "c", **extra: Any) -> Path:
    model = {"name": "m", "adapter": "callable", "target": f"tests.run.helpers:{target}"}
    model.update(extra.pop("model", {}))
    spec = {"name": name, "dataset": {"limit": 4}, "models": [model], **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _wait_for(condition: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return data


def _running(out: Path) -> bool:
    try:
        return _manifest(out).get("status") == "running"
    except (OSError, ValueError):
        return False


def _statuses(out: Path) -> list[str]:
    db = sqlite3.connect(out / "results.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT status FROM results ORDER BY key")]
    finally:
        db.close()


# -- item 2: hangs, timeouts, Ctrl-C -------------------------------------------------------


def test_ctrl_c_stops_a_run_whose_model_never_returns(tmp_path: Path) -> None:
    config = _config(tmp_path, "hang")
    out = tmp_path / "run"
    process = _start("run", str(config), "--out", str(out), "--quiet")
    _wait_for(lambda: _running(out), "the run to start")
    time.sleep(0.5)  # the first call is now stuck in the model
    process.send_signal(signal.SIGINT)
    # without the fix the process ignores SIGINT for ever: communicate() would time out
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted: results so far are stored" in stderr
    assert _manifest(out)["status"] == "interrupted"


def test_a_second_ctrl_c_exits_at_once(tmp_path: Path) -> None:
    config = _config(tmp_path, "hang")
    out = tmp_path / "run"
    process = _start("run", str(config), "--out", str(out), "--quiet")
    _wait_for(lambda: _running(out), "the run to start")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)  # the run now waits a grace period for the call
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted again: exiting now" in stderr


def test_a_call_past_its_timeout_is_an_error_retried_on_the_next_run(tmp_path: Path) -> None:
    config = _config(tmp_path, "hang", model={"timeout_s": 0.5})
    out = tmp_path / "run"
    first = _cli("run", str(config), "--out", str(out), "--quiet")
    assert first.returncode == EXIT_ERROR_RATE, first.stderr
    assert "4 failed model calls" in first.stdout
    rows = sqlite3.connect(out / "results.sqlite").execute("SELECT answer FROM results")
    errors = [json.loads(a)["error"] for (a,) in rows]
    assert len(errors) == 4
    assert all("CallTimeout" in e and "timeout_s=0.5" in e for e in errors)
    assert _manifest(out)["models"][0]["timeout_s"] == 0.5
    second = _cli("run", str(config), "--out", str(out), "--quiet")
    assert "4 model calls, 0 reused" in second.stdout  # timed-out probes are asked again


# -- item 3: exit status -------------------------------------------------------------------


def test_exit_status_when_every_call_fails_and_the_error_rate_option(tmp_path: Path) -> None:
    config = _config(tmp_path, "always_fails")
    failed = _cli("run", str(config), "--out", str(tmp_path / "a"), "--quiet")
    assert failed.returncode == EXIT_ERROR_RATE
    assert "error rate 100.0% of 4 results: 4 failed model calls" in failed.stderr
    assert "above --max-error-rate 5.0%" in failed.stderr
    tolerated = _cli(
        "run", str(config), "--out", str(tmp_path / "b"), "--quiet", "--max-error-rate", "1"
    )
    assert tolerated.returncode == 0, tolerated.stderr
    fine = _config(tmp_path, "sleepy", name="fine")
    assert _cli("run", str(fine), "--out", str(tmp_path / "c"), "--quiet").returncode == 0


def test_exit_status_when_most_rows_are_rejected(make_manifest: Any, tmp_path: Path) -> None:
    rows = [{"case_id": "ok1", "image": "@0", "diagnosis": "nevus"}]
    rows += [{"case_id": f"bad{i}", "image": "@1", "diagnosis": "not a label"} for i in range(4)]
    manifest = make_manifest(rows)
    config = _config(tmp_path, "sleepy", dataset={"manifest": manifest.name})
    result = _cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == EXIT_ERROR_RATE, result.stderr
    assert "error rate 80.0% of 5 results" in result.stderr
    assert "4 dataset rows rejected" in result.stderr


def test_exit_status_when_no_case_loads(make_manifest: Any, tmp_path: Path) -> None:
    rows = [{"case_id": f"bad{i}", "image": "@0", "diagnosis": "not a label"} for i in range(3)]
    manifest = make_manifest(rows)
    config = _config(tmp_path, "sleepy", dataset={"manifest": manifest.name})
    result = _cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == EXIT_NOTHING_TO_RUN, result.stderr
    assert "0 cases loaded" in result.stderr and "3 rows rejected" in result.stderr
    assert not (tmp_path / "run").exists()  # nothing written


def test_run_help_documents_the_exit_codes() -> None:
    text = _cli("run", "--help").stdout
    lines = [
        "0    completed",
        "2    usage",
        "3    completed, but the error rate",
        "4    nothing",
        "5    another process",
        "6    the result store",
        "130  interrupted",
    ]
    for line in lines:
        assert line in text, line
    assert "--max-error-rate" in text


# -- items 4 and 6: one run per directory; a killed run is seen and tidied ------------------


def test_a_second_run_on_a_locked_directory_is_refused_and_a_kill_frees_it(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "sleepy", dataset={"limit": 60})  # 12 s of calls
    out = tmp_path / "run"
    first = _start("run", str(config), "--out", str(out), "--quiet")
    _wait_for(lambda: _running(out) and len(_statuses(out)) >= 2, "the first run's results")
    second = _cli("run", str(config), "--out", str(out), "--quiet")
    assert second.returncode == EXIT_LOCKED, second.stderr
    assert f"in use by another derm-stress run (process {first.pid}" in second.stderr
    # reading a run that is being written works (and takes no lock)
    report = _cli("report", str(out), "-o", str(tmp_path / "elsewhere" / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "ended abnormally" not in report.stderr
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    stored = len(_statuses(out))
    assert _manifest(out)["status"] == "running"  # what SIGKILL leaves
    (out / "manifest.json.tmp").write_text("")  # what a full disk leaves
    # the report of the killed run says so
    report = _cli("report", str(out), "-o", str(tmp_path / "killed.html"))
    assert report.returncode == 0, report.stderr
    assert "ended abnormally" in report.stderr
    assert "ended abnormally" in (tmp_path / "killed.html").read_text()
    # the OS released the lock: the next run goes on, tidies up and says what happened
    resumed = _cli("run", str(config), "--out", str(out), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "the previous run in" in resumed.stderr and "ended abnormally" in resumed.stderr
    assert f"{60 - stored} model calls, {stored} reused" in resumed.stdout  # none paid twice
    assert not (out / "manifest.json.tmp").exists()
    manifest = _manifest(out)
    assert manifest["status"] == "complete"
    assert manifest["previous_run"]["status"] == "running" and manifest["previous_run"]["tidied"]
    assert len(_statuses(out)) == 60


def test_two_runs_started_together_never_both_run(tmp_path: Path) -> None:
    config = _config(tmp_path, "sleepy", dataset={"limit": 20})
    out = tmp_path / "run"
    processes = [_start("run", str(config), "--out", str(out), "--quiet") for _ in range(2)]
    codes = sorted(p.wait(timeout=300) for p in processes)
    assert codes == [0, EXIT_LOCKED]
    assert len(_statuses(out)) == 20
    summary = _manifest(out)["summary"]
    assert summary["calls"] == 20 and summary["reused"] == 0  # the winner made every call
    assert os.path.exists(out / "run.lock")
