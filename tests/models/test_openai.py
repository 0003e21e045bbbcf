"""The OpenAI adapter over real HTTP against the local fault-injecting server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument
from derm_stress.models import OpenAIChatModel, make_model
from derm_stress.perturb import BASELINE, Probe, build_probe, expand_grid
from derm_stress.run import load_config, load_run, run
from derm_stress.testing import FakeOpenAIServer
from tests.conftest import ROOT

KEY = "sk-test-abcdef0123456789"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def probes(sample: Dataset) -> list[Probe]:
    full = expand_grid({"context": ["full"]})[1]
    return [build_probe(sample.cases[0], BASELINE, 0), build_probe(sample.cases[1], full, 0)]


def model(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, **kw: object
) -> OpenAIChatModel:
    monkeypatch.setenv("TEST_KEY", KEY)
    settings = {"timeout_s": 2.0, **kw}
    return OpenAIChatModel(
        "m", "gpt-test", base_url=server.base_url, api_key_env="TEST_KEY", **settings
    )  # type: ignore[arg-type]


def test_answers_are_parsed_and_requests_well_formed(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = model(
        server, monkeypatch, price={"input_per_million": 2.0, "output_per_million": 8.0}
    ).answer(probes)
    assert [a.differential for a in answers] == [("MEL", "NEV", "SEK")] * 2
    assert answers[0].confidences == (0.6, 0.3, 0.1) and answers[0].triage == "urgent"
    assert answers[0].prompt_tokens and answers[0].completion_tokens and answers[0].cost_usd
    assert "No clinical information" in (answers[0].prompt or "")
    assert "Referral note" in (answers[1].prompt or "").replace("referral note", "Referral note")
    request = server.requests[0]
    assert request["model"] == "gpt-test" and request["temperature"] == 0.0
    parts = request["messages"][1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"


def _api_config(tmp_path: Path, server: FakeOpenAIServer, **settings: Any) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "image": ["none", {"op": "defocus", "severity": 3}],
                "context": ["image_only", "full"],
                "dataset": {"limit": 3},
                "models": [
                    {
                        "name": "api",
                        "adapter": "openai",
                        "model": "gpt-test",
                        "base_url": server.base_url,
                        "api_key_env": "TEST_KEY",
                        **settings,
                    }
                ],
            }
        )
    )
    return config


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "derm_stress", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_key_never_reaches_run_files_logs_or_report(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    config = _api_config(tmp_path, server, max_concurrency=1)
    server.inject("401")  # its message quotes the key, as OpenAI's does
    server.inject("429", retry_after=0.05)
    # progress lines on; the 401 is 1 failure in 12, above the default --max-error-rate
    process = _cli("run", str(config), "--out", str(tmp_path / "run"), "--max-error-rate", "0.5")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "12 model calls" in stdout and "1 failed model calls" in stdout
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"  # it was sent
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files) and len(files) >= 3
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path.name
    assert KEY not in stdout and KEY not in stderr
    assert "api: 1 retries (last: HTTP 429)" in stderr  # the progress lines show retries
    rows = load_run(tmp_path / "run").rows
    assert {r.differential[0] for r in rows if r.differential} == {"MEL"}
    assert "[API key]" in json.dumps([r.error for r in rows])
    assert run(load_config(config), tmp_path / "run").calls == 1  # only the failed one again


def _journal(path: Path) -> set[str]:
    """The batch ids recorded in the run's results store (read as another process would)."""
    if not path.exists():
        return set()
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {b for (b,) in db.execute("SELECT batch_id FROM batches")}
    except sqlite3.OperationalError:  # not created yet
        return set()
    finally:
        db.close()


def test_batch_mode_resumes_polling_after_the_run_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    with FakeOpenAIServer(batch_delay_s=4.0) as srv:
        config = _api_config(tmp_path, srv, mode="batch", batch_poll_s=0.05, batch_size=100)
        process = _cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet")
        store_path = tmp_path / "run" / "results.sqlite"
        deadline = time.time() + 120
        while not _journal(store_path) and time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.kill()  # the batch is submitted and recorded, not yet complete
        process.wait(timeout=60)
        (batch_id,) = srv.batches
        journal = _journal(store_path)
        db = sqlite3.connect(store_path)
        stored = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        db.close()
        assert journal == {batch_id} and stored == 0
        assert not (tmp_path / "run" / "openai-batches.sqlite").exists()  # kept in the store
        summary = run(load_config(config), tmp_path / "run")
        assert len(srv.batches) == 1 and not srv.requests  # polled the same batch, no new one
    assert summary.calls == 12 and summary.model_errors == 0
    answers = load_run(tmp_path / "run").rows
    assert len(answers) == 12 and {r.differential[0] for r in answers} == {"MEL"}
    assert _journal(store_path) == {batch_id}  # answered requests keep their batch id


@pytest.mark.parametrize(
    ("fault", "kw"),
    [
        ("429", {"retry_after": 0.2}),
        ("500", {"times": 2}),
        ("timeout", {"stall_s": 1.5}),
        ("malformed", {}),
        ("empty_choices", {"times": 2}),
    ],
)
def test_transient_faults_are_retried(
    fault: str,
    kw: dict[str, float],
    server: FakeOpenAIServer,
    probes: list[Probe],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.inject(fault, **kw)  # type: ignore[arg-type]
    start = time.perf_counter()
    (answer,) = model(server, monkeypatch, timeout_s=0.5, max_concurrency=1).answer(probes[:1])
    assert answer.status == "ok" and answer.differential[0] == "MEL"
    assert answer.extra["attempts"] == 1 + int(kw.get("times", 1))
    if fault == "429":  # Retry-After honoured
        assert time.perf_counter() - start >= 0.2


def test_persistent_failure_becomes_an_error_answer(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.inject("500", times=10)
    answers = model(server, monkeypatch, max_retries=2).answer(probes[:1])
    assert answers[0].status == "error"
    assert answers[0].error == "HTTP 500: internal error (gave up after 3 attempts)"


def test_json_mode_and_its_fallback(probes: list[Probe], monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer() as srv:
        (answer,) = model(srv, monkeypatch, json_mode=True).answer(probes[:1])
        assert srv.requests[0]["response_format"] == {"type": "json_object"}
        assert answer.differential == ("MEL", "NEV", "SEK") and answer.raw.startswith("{")
    with FakeOpenAIServer(reject_json_mode=True) as srv:
        m = model(srv, monkeypatch, json_mode=True)
        (answer,) = m.answer(probes[:1])
        assert "response_format" in srv.requests[0] and "response_format" not in srv.requests[1]
        assert answer.status == "ok" and answer.extra["json_mode"] is False


def test_concurrency_is_bounded(probes: list[Probe], monkeypatch: pytest.MonkeyPatch) -> None:
    for limit in (1, 4):
        with FakeOpenAIServer(latency_s=0.15) as srv:
            model(srv, monkeypatch, max_concurrency=limit).answer(probes * 6)
            assert srv.max_in_flight == limit


def test_identity_holds_output_settings_only(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = model(server, monkeypatch, max_concurrency=2, max_retries=1)
    b = model(server, monkeypatch, max_concurrency=32, max_retries=9, timeout_s=9.0)
    c = model(server, monkeypatch, temperature=0.7)
    assert a.identity_hash() == b.identity_hash() != c.identity_hash()
    assert KEY not in json.dumps(a.identity())


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(InvalidArgument, match="environment variable NOPE_KEY is not set"):
        make_model({"name": "x", "adapter": "openai", "model": "m", "api_key_env": "NOPE_KEY"})
    keyless = make_model(
        {
            "name": "x",
            "adapter": "openai",
            "model": "m",
            "api_key_env": None,
            "base_url": "http://127.0.0.1:9/v1",
        }
    )
    assert keyless.identity()["base_url"] == "http://127.0.0.1:9/v1"


def test_unreachable_server_is_a_per_probe_error(
    probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    m = OpenAIChatModel("x", "m", base_url="http://127.0.0.1:9/v1", api_key_env=None, max_retries=1)
    (answer,) = m.answer(probes[:1])
    assert answer.status == "error" and "connection error" in (answer.error or "")


def test_rpm_is_enforced_on_the_client(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 300 requests a minute: one start every 0.2 s, whatever the concurrency. Delays on the
    # way (connection set-up, a loaded machine) can only make a request arrive later, so the
    # j-th arrival is at least j x 0.2 s after the call began: a bound that holds under load
    m = model(server, monkeypatch, rpm=300, max_concurrency=8)
    start = time.monotonic()
    answers = m.answer(probes * 5)
    assert all(a.status == "ok" for a in answers)
    times = sorted(server.arrivals)
    assert len(times) == 10
    for j, arrived in enumerate(times):
        assert arrived - start >= j * 0.2 - 0.01, (j, [t - start for t in times])


def test_tpm_spaces_requests_by_their_tokens(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    m = model(server, monkeypatch, tpm=60_000, max_tokens=100, max_concurrency=8)
    start = time.monotonic()
    m.answer(probes[:1] * 5)
    _, prompt = m.request_body(probes[0])
    per_request = m.estimate_tokens(prompt, [probes[0].images[0].shape[1::-1]]) + 100
    step = per_request / 1000  # seconds per request at 1,000 tokens a second
    times = sorted(server.arrivals)  # as above: delays only make arrivals later
    assert step > 0.1 and len(times) == 5
    for j, arrived in enumerate(times):
        assert arrived - start >= j * step - 0.01, (per_request, [t - start for t in times])


def test_concurrency_backs_off_on_429_and_recovers(
    probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    # answers take 0.3 s, so the 12 first requests are all in flight together
    with FakeOpenAIServer(latency_s=0.3, max_in_flight=3, retry_after_s=0.02) as srv:
        m = model(srv, monkeypatch, max_concurrency=12, max_retries=8)
        answers = m.answer(probes * 12)
        assert all(a.status == "ok" for a in answers), {a.error for a in answers}
        assert srv.rate_limited > 0 and m.limit.backoffs >= 1, srv.rate_limited
        assert m.limit.lowest <= 6, m.limit.lowest
        activity = m.activity()
        assert activity.retries >= srv.rate_limited, (activity, srv.rate_limited)
        assert activity.last_retry == "HTTP 429", activity
        srv.max_in_flight_allowed = None  # the server's limit is lifted: back to 12
        srv.latency_s = 0.1  # long enough for 10+ to overlap on a loaded client
        srv.max_in_flight = 0
        m.answer(probes * 100)
        assert m.limit.limit == 12 and srv.max_in_flight >= 10, (m.limit.limit, srv.max_in_flight)
        m.close()


def test_the_same_malformed_answer_is_not_retried_forever(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.inject("empty_choices", times=20)
    (answer,) = model(server, monkeypatch, max_retries=10).answer(probes[:1])
    assert answer.error == "malformed response: empty choices (gave up after 3 attempts)"
    assert len(server.requests) == 3


def test_one_client_and_loop_for_the_whole_run(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    m = model(server, monkeypatch)
    futures = [m.submit([p]) for p in probes * 3]
    assert [len(f.result(timeout=30)) for f in futures] == [1] * 6
    client, loop = m._client, m._loop
    m.answer(probes)
    assert m._client is client and m._loop is loop
    m.close()
    assert m._client is None and m._loop is None and loop is not None and loop.is_closed()


def test_azure_deployment_paths_and_key_header(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZ_KEY", KEY)
    m = make_model(
        {
            "name": "az",
            "adapter": "openai",
            "azure_endpoint": server.base_url.removesuffix("/v1"),
            "deployment": "gpt41-derm",
            "api_version": "2024-10-21",
            "api_key_env": "AZ_KEY",
        }
    )
    (answer,) = m.answer(probes[:1])
    assert answer.status == "ok" and answer.differential[0] == "MEL"
    assert server.paths == [
        "/openai/deployments/gpt41-derm/chat/completions?api-version=2024-10-21"
    ]
    assert server.headers[0]["api-key"] == KEY
    assert m.identity()["deployment"] == "gpt41-derm" and "base_url" not in m.identity()
    with pytest.raises(InvalidArgument, match="needs api_version and deployment"):
        make_model({"adapter": "openai", "azure_endpoint": "https://x", "api_key_env": None})


def test_wrong_key_quoted_by_the_server_is_redacted(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.inject("401")
    (answer,) = model(server, monkeypatch).answer(probes[:1])
    assert (
        answer.error
        == "HTTP 401: Incorrect API key provided: [API key]. (gave up after 1 attempts)"
    )


def test_batch_mode_half_price_same_answers(
    server: FakeOpenAIServer, probes: list[Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    price = {"input_per_million": 2.0, "output_per_million": 8.0}
    chat = model(server, monkeypatch, price=price).answer(probes)
    batch = model(server, monkeypatch, price=price, mode="batch", batch_poll_s=0.05)
    answers = batch.answer(probes)
    assert len(server.requests) == 2 and len(server.batches) == 1  # no chat call in batch mode
    assert [a.raw for a in answers] == [a.raw for a in chat]
    assert [a.cost_usd for a in answers] == pytest.approx([a.cost_usd / 2 for a in chat])
    assert batch.identity() == model(server, monkeypatch, price=price).identity()
    (upload,) = server.files.values().__iter__().__next__().splitlines()[:1]
    line = json.loads(upload)
    assert line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gpt-test"
    assert {p.split("?")[0] for p in server.paths} >= {"/v1/files", "/v1/batches"}


def test_ctrl_c_during_api_calls_stores_what_returned_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    with FakeOpenAIServer(latency_s=60.0) as srv:  # no answer comes back in time
        config = _api_config(tmp_path, srv, max_concurrency=4)
        process = _cli("run", str(config), "--out", str(tmp_path / "run"), "--quiet")
        deadline = time.time() + 120
        while len(srv.requests) < 4 and time.time() < deadline:
            time.sleep(0.05)
        assert len(srv.requests) == 4  # the stream keeps max_concurrency in flight
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)  # a hang would time out here
    assert process.returncode == 130, stderr
    assert "interrupted: results so far are stored" in stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
