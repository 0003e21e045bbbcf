"""Model settings as a user writes them (issue 16, items 2, 19 and 20): checked against the
adapter before anything is built, ``timeout_s`` for every adapter, callables from files."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument
from derm_stress.models import ADAPTERS, COMMON_SETTINGS, adapter_settings, make_model
from derm_stress.models.timeout import DEFAULT_TIMEOUT_S, CallCancelled, CallGuard, CallTimeout
from derm_stress.perturb import BASELINE, build_probe
from derm_stress.run import load_config, load_run, run
from tests.conftest import ROOT

# -- item 20: settings are checked before construction --------------------------------------


def test_a_typo_in_a_setting_suggests_the_name_and_lists_the_allowed() -> None:
    with pytest.raises(InvalidArgument) as caught:
        make_model({"name": "gpt", "adapter": "openai", "model": "x", "temprature": 0.2})
    message = str(caught.value)
    assert message.startswith("model 'gpt' (openai): unknown setting 'temprature';")
    assert "did you mean 'temperature'?" in message
    assert "allowed: api_key_env, api_version, azure_endpoint, base_url" in message
    assert "timeout_s" in message


def test_a_missing_setting_is_named() -> None:
    with pytest.raises(
        InvalidArgument, match=r"model 'c' \(callable\): missing setting\(s\) target"
    ):
        make_model({"name": "c", "adapter": "callable"})


def test_an_error_inside_a_constructor_is_not_disguised_as_a_setting_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(TypeError) as caught:  # Path(123): a bad value, reported as itself
        make_model({"adapter": "reference", "weights": 123})
    assert not isinstance(caught.value, InvalidArgument)
    target = tmp_path / "broken.py"
    target.write_text("raise TypeError('a bug in the user module')\n")
    with pytest.raises(InvalidArgument, match=r"importing .*broken.py failed: TypeError: a bug"):
        make_model({"adapter": "callable", "target": f"{target}:fn"})


def test_every_adapter_allows_the_common_settings() -> None:
    for adapter in ADAPTERS:
        allowed, _ = adapter_settings(adapter)
        assert set(COMMON_SETTINGS) <= set(allowed), adapter


def test_the_cli_prints_one_line_for_a_setting_typo(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"models": [{"adapter": "reference", "weigths": "x"}]}))
    result = subprocess.run(
        [sys.executable, "-m", "derm_stress", "run", str(config), "--out", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: model 'reference' (reference): unknown setting 'weigths'; did you mean "
        "'weights'? allowed: timeout_s, weights\n"
    )


# -- item 2: timeout_s reaches every adapter --------------------------------------------------


def test_timeout_s_is_a_setting_of_every_adapter_and_not_of_the_identity() -> None:
    default = make_model({"adapter": "reference"})
    short = make_model({"adapter": "reference", "timeout_s": 3})
    unlimited = make_model({"adapter": "reference", "timeout_s": None})
    assert (default.timeout_s, short.timeout_s, unlimited.timeout_s) == (DEFAULT_TIMEOUT_S, 3, None)
    assert default.identity_hash() == short.identity_hash()  # results stay shared
    openai = make_model({"adapter": "openai", "model": "m", "api_key_env": None, "timeout_s": 7})
    assert openai.timeout_s == 7  # the adapter's own client timeout
    with pytest.raises(InvalidArgument, match="timeout_s must be a positive number"):
        make_model({"adapter": "reference", "timeout_s": 0})


def test_the_guard_abandons_a_stuck_call_and_goes_on() -> None:
    guard = CallGuard("t")
    release = threading.Event()
    with pytest.raises(CallTimeout, match=r"timeout_s=0.2"):
        guard.call(release.wait, timeout_s=0.2)
    assert guard.call(lambda x: x + 1, 1, timeout_s=5) == 2  # a fresh worker
    with pytest.raises(ZeroDivisionError):
        guard.call(lambda: 1 / 0, timeout_s=5)
    release.set()
    assert guard.abandoned == 1


def test_a_batch_times_out_item_by_item_and_the_rest_still_run() -> None:
    guard = CallGuard("batch")
    release = threading.Event()

    def answer(item: int) -> int:
        if item == 2:
            release.wait()  # stuck
        if item == 3:
            raise ValueError("bad probe")
        return item * 10

    results = guard.map(answer, [0, 1, 2, 3, 4], timeout_s=0.3)
    release.set()
    assert [ok for ok, _ in results] == [True, True, False, False, True]
    assert [v for ok, v in results if ok] == [0, 10, 40]
    assert isinstance(results[2][1], CallTimeout) and isinstance(results[3][1], ValueError)
    assert guard.abandoned == 1


def test_cancel_ends_a_batch_and_fails_what_is_left() -> None:
    guard = CallGuard("batch")
    release = threading.Event()
    threading.Timer(0.3, guard.cancel).start()
    results = guard.map(lambda i: release.wait() if i == 1 else i, [0, 1, 2], timeout_s=None)
    release.set()
    assert results[0] == (True, 0)
    assert [type(v) for _, v in results[1:]] == [CallCancelled, CallCancelled]


def test_an_idle_worker_ends_and_the_next_call_starts_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from derm_stress.models import timeout

    monkeypatch.setattr(timeout, "IDLE_S", 0.05)
    guard = CallGuard("idle")
    assert guard.call(threading.current_thread, timeout_s=5).name == "call-idle"
    deadline = time.monotonic() + 30
    while any(t.name == "call-idle" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the idle worker never ended"
        time.sleep(0.01)
    assert guard.call(lambda: 42, timeout_s=5) == 42


def test_cancel_ends_the_wait_for_a_call_without_limit() -> None:
    guard = CallGuard("t")
    release = threading.Event()
    threading.Timer(0.3, guard.cancel).start()
    with pytest.raises(CallCancelled):
        guard.call(release.wait, timeout_s=None)
    with pytest.raises(CallCancelled):
        guard.call(time.time, timeout_s=None)  # later calls fail fast
    release.set()


def test_hf_generation_past_its_timeout_fails_the_batch(tmp_path: Path, sample: Dataset) -> None:
    pytest.importorskip("transformers")
    from derm_stress.testing.tiny_models import build_tiny_vlm

    folder = build_tiny_vlm("llava", tmp_path / "tiny")
    spec = {"adapter": "hf", "path": str(folder), "max_new_tokens": 64}
    quick = make_model({**spec, "timeout_s": 0.001})
    probes = [build_probe(c, BASELINE, 0) for c in sample.cases[:2]]
    answers = quick.answer(probes)
    assert [a.status for a in answers] == ["error", "error"]
    assert all("CallTimeout" in str(a.error) for a in answers)
    patient = make_model({**spec, "timeout_s": 600})
    assert [a.status for a in patient.answer(probes)] != ["error", "error"]
    assert quick.identity() == patient.identity()


# -- item 19: a callable defined in a file next to the config --------------------------------

MODEL_FILE = """
def answer(probe):
    return "1. melanoma\\n2. nevus"
"""


def test_a_file_target_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mine.py").write_text(MODEL_FILE)
    model = {"name": "mine", "adapter": "callable", "target": "models/mine.py:answer"}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"limit": 2}, "models": [model]}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "derm_stress", "run", str(config), "--out", "out", "--quiet"],
        cwd=elsewhere,  # not the config's folder, and it is not on sys.path
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = load_run(elsewhere / "out")
    assert [r.differential for r in data.rows] == [("MEL", "NEV")] * 2
    assert data.manifest.models[0].identity["target"] == "models/mine.py:answer"


def test_a_missing_file_or_module_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as caught:
        make_model({"adapter": "callable", "target": "nowhere.py:fn", "base_dir": str(tmp_path)})
    assert f"no file {tmp_path / 'nowhere.py'}" in str(caught.value)
    assert "read from the config's folder" in str(caught.value)
    (tmp_path / "mymodel.py").write_text(MODEL_FILE)
    config = tmp_path / "c.yaml"
    model = {"adapter": "callable", "target": "mymodel:answer"}
    config.write_text(yaml.safe_dump({"models": [model], "dataset": {"limit": 1}}))
    with pytest.raises(InvalidArgument) as caught:
        run(load_config(config), tmp_path / "out")
    message = str(caught.value)
    assert "cannot import 'mymodel'" in message and "looked in sys.path (" in message
    assert f"{tmp_path / 'mymodel.py'} exists" in message
    assert "write target: mymodel.py:answer" in message
