"""Interruptions and limits: SIGKILL at random points, Ctrl-C, budgets, faults, Ray.

Each interrupted run is resumed and compared result by result with an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from derm_stress.run import Budget, load_config, load_run, run
from derm_stress.testing.openai_server import FakeOpenAIServer
from tests.conftest import ROOT

SLOW = {"name": "slow", "adapter": "callable", "target": "tests.run.helpers:slow_varied"}


def _config(tmp_path: Path, name: str = "c", **extra: Any) -> Path:
    spec = {
        "name": name,
        "image": ["none", {"op": "gaussian_noise", "severity": [2, 5]}],
        "context": ["image_only", {"op": "misleading_referral", "severity": 5}],
        "dataset": {"limit": 30},
        "models": [SLOW],
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _results(run_dir: Path) -> dict[str, tuple[str, str]]:
    db = sqlite3.connect(run_dir / "results.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT key, status, answer FROM results").fetchall()
    finally:
        db.close()
    out = {}
    for key, status, answer in rows:
        data = json.loads(answer)
        out[key] = (status, json.dumps([data["raw"], data["differential"]]))
    return out


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    reference = run(load_config(config), tmp_path / "reference")
    assert reference.calls == 30 * 6
    expected = _results(tmp_path / "reference")
    out = tmp_path / "killed"
    rng = random.Random(5)
    stored_after_kill = []
    for _ in range(4):
        process = _cli("run", str(config), "--out", str(out), "--quiet")
        # wait until this run has stored something new (start-up time depends on the
        # machine's load), then kill it at a random point of the ~2 s that remain
        before = len(_stored(out))
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            if len(_stored(out)) > before:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        stored_after_kill.append(len(_results(out)) if (out / "results.sqlite").exists() else 0)
    final = _cli("run", str(config), "--out", str(out), "--quiet")
    stdout, stderr = final.communicate(timeout=300)
    assert final.returncode == 0, stderr
    got = _results(out)
    assert got == expected  # same keys, same answers: nothing lost, nothing duplicated
    assert stored_after_kill == sorted(stored_after_kill)  # progress is never lost
    assert any(0 < n < len(expected) for n in stored_after_kill)  # some kills landed mid-run
    assert f"{len(expected) - stored_after_kill[-1]} model calls" in stdout


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    out = tmp_path / "run"
    process = _cli("run", str(config), "--out", str(out), "--quiet")
    deadline = time.time() + 60
    while time.time() < deadline and len(_stored(out)) < 20:  # wait until it is under way
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted: results so far are stored" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    stored = len(_results(out))
    assert 20 <= stored < 180
    again = run(load_config(config), out)
    assert again.reused == stored and again.calls == 180 - stored


def _stored(out: Path) -> list[str]:
    if not (out / "results.sqlite").exists():
        return []
    try:
        db = sqlite3.connect(out / "results.sqlite", timeout=0.1)
        try:
            return [r[0] for r in db.execute("SELECT key FROM results")]
        finally:
            db.close()
    except sqlite3.OperationalError:  # schema not created yet
        return []


def test_max_calls_stops_cleanly_and_a_resume_finishes(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    first = run(config, tmp_path / "run", budget=Budget(max_calls=25))
    assert first.calls == 25 and first.stopped == "max_calls reached (25)"
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and len(load_run(tmp_path / "run").cases) == 30
    assert len(_results(tmp_path / "run")) == 25
    second = run(config, tmp_path / "run")
    assert second.reused == 25 and second.calls == 155 and second.stopped is None


def _api(server: FakeOpenAIServer, **settings: Any) -> dict[str, Any]:
    """An openai model entry pointing at the local fake server."""
    return {
        "name": "api",
        "adapter": "openai",
        "model": "gpt-test",
        "base_url": server.base_url,
        "api_key_env": "TEST_KEY",
        **settings,
    }


def test_max_cost_stops_once_reached_with_in_flight_calls_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", "sk-test")
    with FakeOpenAIServer() as server:
        api = _api(
            server,
            batch_size=4,
            max_concurrency=4,
            price={"input_per_million": 1.0, "output_per_million": 2.0},
        )
        config = load_config(_config(tmp_path, models=[api]))
        probe = run(config, tmp_path / "probe", budget=Budget(max_calls=8))
        budget = 2.5 * probe.cost_usd  # about 20 calls' worth
        summary = run(config, tmp_path / "run", budget=Budget(max_cost=budget))
    db = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    costs = [json.loads(a)["cost_usd"] for (a,) in db.execute("SELECT answer FROM results")]
    db.close()
    # requests flow continuously (an AsyncModel keeps 2 x max_concurrency = 8 submitted):
    # stopped at the first answer that reached the budget, the 7 others in flight kept
    in_flight = 2 * api["max_concurrency"]
    assert summary.stopped is not None and summary.stopped.startswith("max_cost reached")
    assert len(costs) == summary.calls and summary.calls < 180
    assert summary.cost_usd == pytest.approx(sum(costs))
    assert summary.cost_usd - in_flight * max(costs) < budget <= summary.cost_usd


def test_faults_from_the_server_are_stored_and_only_they_are_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", "sk-test")
    with FakeOpenAIServer() as server:
        api = _api(server, max_retries=0, timeout_s=0.5, max_concurrency=1, batch_size=8)
        config = load_config(_config(tmp_path, models=[api]))
        server.inject("500", times=3)
        server.inject("malformed", times=2)
        server.inject("timeout", stall_s=1.0)
        first = run(config, tmp_path / "run")
        assert first.calls == 180 and first.model_errors == 6
        statuses = [s for s, _ in _results(tmp_path / "run").values()]
        assert statuses.count("error") == 6
        second = run(config, tmp_path / "run")
    assert second.calls == 6 and second.model_errors == 0 and second.reused == 174


# a throwaway cluster on this machine only: no token authentication
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real Ray cluster on this machine, started with `ray start --head`."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    env = {**os.environ, **RAY_ENV}
    temp = tmp_path_factory.mktemp("ray")
    started = subprocess.run(
        [str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        if Path("/proc").is_dir():
            _stop_cluster(str(temp))
        else:  # no process table to read: stops every Ray cluster of this user
            stop = [str(ray_bin), "stop", "--force"]
            subprocess.run(stop, capture_output=True, timeout=120, env=env, check=False)


def _stop_cluster(temp_dir: str, timeout: float = 60.0) -> None:
    """Stop the cluster whose processes name ``temp_dir`` on their command line (the head's
    services), with their descendants (workers rename themselves ``ray::...``). Unlike
    ``ray stop``, which stops every Ray process of the user, this leaves the clusters of
    other test sessions on the machine running."""
    parents: dict[int, int] = {}
    ours: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if temp_dir.encode() in cmdline:
            ours.add(int(entry.name))
    found = len(ours) - 1
    while found != len(ours):  # add descendants until none is new
        found = len(ours)
        ours |= {pid for pid, parent in parents.items() if parent in ours}
    ours.discard(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while (ours := {pid for pid in ours if _running(pid)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not ours:
            return


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; its parent reaps it


def test_ray_executor_on_a_real_cluster_equals_the_local_executor(
    tmp_path: Path, ray_cluster: str
) -> None:
    config = _config(
        tmp_path,
        models=[SLOW, {"name": "reference", "adapter": "reference", "ray": {"replicas": 2}}],
    )
    local = run(load_config(config), tmp_path / "local")
    process = _cli(
        "run", str(config), "--out", str(tmp_path / "ray"), "--quiet",
        "--executor", "ray", "--address", ray_cluster, env=RAY_ENV,
    )  # fmt: skip
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert "= 360 results: 360 model calls" in stdout
    assert local.calls == 360
    assert _results(tmp_path / "ray") == _results(tmp_path / "local")
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["executor"] == "ray"


LOCAL_VOCABULARY = "entries:\n  PSORIASIS:\n    add_synonyms: [schuppenflechte]\n"


def test_ray_workers_parse_with_the_runs_vocabulary_file(tmp_path: Path, ray_cluster: str) -> None:
    """The cluster was started before the run: its workers see the run's vocabulary file
    only because the executor hands it to them."""
    (tmp_path / "local.yaml").write_text(LOCAL_VOCABULARY)
    model = {"name": "local", "adapter": "callable", "target": "tests.run.helpers:local_term"}
    config = _config(tmp_path, models=[model], vocabulary="local.yaml", image=["none"])
    process = _cli(
        "run", str(config), "--out", str(tmp_path / "ray"), "--quiet",
        "--executor", "ray", "--address", ray_cluster, env=RAY_ENV,
    )  # fmt: skip
    _stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    results = _results(tmp_path / "ray").values()
    differentials = [json.loads(payload)[1] for _, payload in results]
    assert len(differentials) == 60  # 30 cases x (image only, misleading referral)
    assert {d[0] for d in differentials} == {"PSORIASIS"}


def test_ray_refuses_actors_the_cluster_cannot_place(
    ray_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    from derm_stress.errors import InvalidArgument
    from derm_stress.run import RayExecutor

    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    executor = RayExecutor(ray_cluster)
    try:
        with pytest.raises(InvalidArgument, match=r"has 0 GPU\(s\); the model actors reserve 1"):
            executor.start([{"name": "r", "adapter": "reference", "ray": {"num_gpus": 1}}])
        with pytest.raises(InvalidArgument, match="reserve 2 and perturbation needs 1"):
            executor.start([{"adapter": "reference", "ray": {"replicas": 2, "num_cpus": 1}}])
        with pytest.raises(InvalidArgument, match="unknown ray option"):
            executor.start([{"adapter": "reference", "ray": {"gpus": 1}}])
    finally:
        executor.close()
        ray.shutdown()


def test_an_api_model_in_batch_mode_under_ray_never_pays_twice(
    tmp_path: Path, ray_cluster: str
) -> None:
    """Under the Ray executor an API model runs on the driver, so the batch it submitted is
    in the run's store: killed while the batch is pending, the run resumed on Ray polls it
    and submits nothing new."""
    from tests.models.test_openai import _journal

    env = {**RAY_ENV, "TEST_KEY": "sk-test"}
    with FakeOpenAIServer(batch_delay_s=4.0) as server:
        api = _api(server, mode="batch", batch_poll_s=0.05, batch_size=100, ray={"replicas": 2})
        config = _config(
            tmp_path,
            image=["none", {"op": "defocus", "severity": 3}],
            context=["image_only", "full"],
            dataset={"limit": 3},
            models=[api],
        )
        args = ("run", str(config), "--out", str(tmp_path / "run"), "--quiet",
                "--executor", "ray", "--address", ray_cluster)  # fmt: skip
        process = _cli(*args, env=env)
        store = tmp_path / "run" / "results.sqlite"
        deadline = time.time() + 180
        while not _journal(store) and time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.kill()  # submitted and journalled in the store, not yet complete
        _, stderr = process.communicate(timeout=60)
        assert len(server.batches) == 1 and _journal(store) == set(server.batches), stderr
        assert "runs it on the driver and ignores its ray options" in stderr
        resumed = _cli(*args, env=env)
        _, stderr = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, stderr
        assert len(server.batches) == 1 and not server.requests  # polled, not resubmitted
    assert len(_results(tmp_path / "run")) == 12
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["executor"] == "ray"
