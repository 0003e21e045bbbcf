"""The OpenAI adapter over real HTTP against the local fault-injecting server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument
from derm_stress.models import OpenAIChatModel, make_model
from derm_stress.perturb import BASELINE, Probe, build_probe, expand_grid
from derm_stress.run import load_config, load_run, run
from derm_stress.testing import FakeOpenAIServer

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


def test_key_never_reaches_identity_answer_or_run_files(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
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
                    }
                ],
            }
        )
    )
    summary = run(load_config(config), tmp_path / "run")
    assert summary.calls == 12 and summary.model_errors == 0
    for path in (tmp_path / "run").iterdir():
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path.name
    rows = load_run(tmp_path / "run").rows
    assert {r.differential[0] for r in rows} == {"MEL"}
    assert run(load_config(config), tmp_path / "run").calls == 0


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
