"""The Hugging Face adapter on tiny random models of real architectures, built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("transformers")

from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument
from derm_stress.models import HFModel, make_model
from derm_stress.perturb import BASELINE, build_probe, expand_grid
from derm_stress.run import load_config, load_run, run
from derm_stress.testing.tiny_models import ARCHITECTURES, build_tiny_vlm


@pytest.fixture(scope="module", params=list(ARCHITECTURES))
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vlm(request.param, tmp_path_factory.mktemp(request.param))


def test_loads_through_the_auto_classes_and_answers(tiny: Path, sample: Dataset) -> None:
    model = HFModel("tiny", str(tiny), max_new_tokens=12, batch_size=3)
    full = expand_grid({"context": ["full"]})[1]
    probes = [build_probe(c, BASELINE, 0) for c in sample.cases[:3]]
    probes.append(build_probe(sample.cases[3], full, 0))
    answers = model.answer(probes)
    assert len(answers) == 4
    for answer in answers:
        assert answer.status in ("ok", "unparseable") and isinstance(answer.raw, str)
        assert answer.completion_tokens and answer.completion_tokens <= 12
        assert answer.prompt and "most likely diagnoses" in answer.prompt
    _, loaded, device = model.load()
    assert (
        type(loaded).__name__.removesuffix("ForConditionalGeneration")
        in ("Llava", "Gemma3", "Idefics3")
        and device == "cpu"
    )


def test_greedy_answers_do_not_depend_on_batch_size(tiny: Path, sample: Dataset) -> None:
    probes = [build_probe(c, BASELINE, 0) for c in sample.cases[:4]]  # same prompt length
    one = HFModel("a", str(tiny), max_new_tokens=10, batch_size=1)
    four = HFModel("b", str(tiny), max_new_tokens=10, batch_size=4)
    singles = [one.answer([p])[0].raw for p in probes]
    assert singles == [a.raw for a in four.answer(probes)]
    assert one.identity() == four.identity()  # batch size is not part of the identity


def test_identity_follows_the_weights(tiny: Path, tmp_path: Path) -> None:
    architecture = json.loads((tiny / "config.json").read_text())["model_type"]
    retrained = build_tiny_vlm(architecture, tmp_path / "other", seed=1)  # same shapes
    same = HFModel("x", str(tiny))
    assert HFModel("y", str(tiny)).identity() == same.identity()
    assert HFModel("z", str(retrained)).identity()["weights"] != same.identity()["weights"]


def test_runs_in_the_harness_and_resumes(tiny: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "image": ["none", {"op": "defocus", "severity": 4}],
                "context": ["image_only", "full"],
                "dataset": {"limit": 2},
                "models": [
                    {"name": "tiny", "adapter": "hf", "path": str(tiny), "max_new_tokens": 8}
                ],
            }
        )
    )
    first = run(load_config(config), tmp_path / "run")
    assert first.calls == 8 and first.model_errors == 0
    assert {r.status for r in load_run(tmp_path / "run").rows} <= {"ok", "unparseable"}
    assert run(load_config(config), tmp_path / "run").calls == 0


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="never downloads weights"):
        make_model({"name": "m", "adapter": "hf", "path": str(tmp_path / "google/medgemma")})
