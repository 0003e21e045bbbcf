"""``run --dry-run``: calls counted against the store, tokens and cost estimated, nothing
called or written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from derm_stress.datasets import load_sample
from derm_stress.models import OpenAIChatModel
from derm_stress.models.tokens import image_tokens, scaled_size
from derm_stress.run import Budget, load_config, run
from derm_stress.run.dryrun import plan_run
from derm_stress.testing import FakeOpenAIServer
from tests.conftest import ROOT

PRICE = {"input_per_million": 2.0, "output_per_million": 8.0}


def _config(tmp_path: Path, server: FakeOpenAIServer, **settings: object) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "image": ["none", {"op": "defocus", "severity": 2}],
                "context": ["image_only", "full"],
                "dataset": {"limit": 5},
                "models": [
                    {
                        "name": "api",
                        "adapter": "openai",
                        "model": "gpt-test",
                        "base_url": server.base_url,
                        "api_key_env": None,
                        "price": PRICE,
                        **settings,
                    },
                    {"name": "reference", "adapter": "reference"},
                ],
            }
        )
    )
    return path


def test_dry_run_counts_estimates_and_calls_nothing(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        config = load_config(_config(tmp_path, server, max_tokens=300))
        api, ref = plan_run(config, tmp_path / "run")
        assert not (tmp_path / "run").exists() and not server.requests
        assert (api.results, api.stored, api.calls) == (20, 0, 20)
        assert (ref.calls, ref.input_tokens, ref.cost_usd) == (20, None, None)
        model = OpenAIChatModel("api", "gpt-test", api_key_env=None, price=PRICE)
        assert api.output_tokens == 20 * 300 and api.output_is_bound
        assert api.cost_usd == pytest.approx(model.cost(api.input_tokens or 0, 20 * 300))
        run(config, tmp_path / "run", budget=Budget(max_calls=12))
        answered = len(server.requests)
        api, ref = plan_run(config, tmp_path / "run")
    assert answered > 0 and (api.stored, api.calls) == (answered, 20 - answered)
    assert ref.stored + api.stored == 12 and ref.calls == 20 - ref.stored
    # with answers stored, output is their mean completion tokens (the server's: len // 4)
    answer = "1. Melanoma (60%)\n2. Melanocytic nevus (30%)\n3. Seborrheic keratosis (10%)\n"
    per_call = len(answer + "Triage: urgent") // 4
    assert not api.output_is_bound and api.output_tokens == (20 - answered) * per_call


def test_image_tokens_in_the_estimate_follow_detail_and_size(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        high, low, small = (
            plan_run(load_config(_config(tmp_path, server, **kw)), tmp_path / "r")[0]
            for kw in (
                {"image_detail": "high"},
                {"image_detail": "low"},
                {"image_detail": "high", "image_max_side": 200},
            )
        )
    cases = load_sample().cases[:5]
    sizes = [Image.open(c.images[0]).size for c in cases]  # type: ignore[arg-type]
    # each case is sent under 4 conditions, one photo each
    extra = 4 * sum(image_tokens(w, h, "high") - 85 for w, h in sizes)
    assert (high.input_tokens or 0) - (low.input_tokens or 0) == extra
    shrunk = 4 * sum(image_tokens(*scaled_size(w, h, 200), "high") - 85 for w, h in sizes)
    assert (small.input_tokens or 0) - (low.input_tokens or 0) == shrunk


def test_dry_run_from_the_command_line(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        config = _config(tmp_path, server, mode="batch")
        result = subprocess.run(
            [sys.executable, "-m", "derm_stress", "run", str(config), "--dry-run",
             "--out", str(tmp_path / "run")],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["model", "results", "stored", "calls"]
    assert lines[1].split()[:4] == ["api", "20", "0", "20"] and "batch: half price" in lines[1]
    assert lines[2].split()[:4] == ["reference", "20", "0", "20"] and lines[2].split()[-1] == "n/a"
    assert not (tmp_path / "run").exists() and not server.requests
