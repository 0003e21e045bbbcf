"""CONTRIBUTING.md's operator example, kept working: an operator defined and registered
outside derm-stress's own modules is listed, expanded in a grid, run, reported and
replayed like a built-in one."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from derm_stress.cases import Case
from derm_stress.perturb import describe, expand_grid, register, registry, replay
from derm_stress.perturb.base import OPERATORS
from derm_stress.perturb.image_ops import ImageOperator
from derm_stress.report import write_report
from derm_stress.run import load_run, parse_config, run
from derm_stress.testing.properties import ask
from tests.perturb.test_digests import load_photos, operator_outputs

ROOT = Path(__file__).resolve().parents[1]


class LensFog(ImageOperator):
    """Fogged lens: the photo blended towards a milky grey (a cold phone camera)."""

    name = "lens_fog_contributing"
    family = "capture"
    severities: ClassVar[Mapping[int, Mapping[str, Any]]] = {
        1: {"amount": 0.08},
        2: {"amount": 0.15},
        3: {"amount": 0.25},
        4: {"amount": 0.35},
        5: {"amount": 0.5},
    }

    def sample(self, rng: np.random.Generator, target: np.ndarray, case: Case) -> dict[str, Any]:
        return {"amount": round(self.level["amount"] * rng.uniform(0.9, 1.0), 4)}

    def apply(self, target: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        fogged = target.astype(np.float32) * (1 - params["amount"]) + 200.0 * params["amount"]
        out: np.ndarray = np.clip(np.rint(fogged), 0, 255).astype(np.uint8)
        return out


@pytest.fixture
def fog() -> Iterator[type[LensFog]]:
    register(LensFog)  # what @register does in image_ops.py
    try:
        yield LensFog
    finally:  # other tests (the digests) see only the built-in operators
        OPERATORS.unregister(LensFog.name)


def test_a_new_operator_is_listed_and_documented(fog: type[LensFog]) -> None:
    assert registry()[fog.name] is fog
    described = describe(fog)
    assert described["family"] == "capture" and described["severities"]["5"] == {"amount": 0.5}
    assert "5: amount=0.5" in (fog.__doc__ or "")  # the severity table, appended
    with pytest.raises(ValueError, match="already registered"):
        register(LensFog)


def test_a_new_operator_runs_reports_and_replays(fog: type[LensFog], tmp_path: Path) -> None:
    spec = {
        "dataset": {"sample": "pad_ufes_20", "limit": 3},
        "image": ["none", {"op": fog.name, "severity": [1, 5]}],
        "context": ["image_only"],
        "seed": 0,
    }
    conditions = [c.id for c in expand_grid({k: spec[k] for k in ("image", "context")})]
    assert sum(fog.name in c for c in conditions) == 2
    summary = run(parse_config(spec, tmp_path, "fog"), tmp_path / "run")
    write_report(load_run(tmp_path / "run"))
    assert summary.calls == 9 and summary.model_errors == 0 and summary.input_errors == 0
    with (tmp_path / "run" / "metrics.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if fog.name in r["condition"]]
    assert len(rows) == 2 and all(int(r["n"]) == 3 for r in rows)
    assert f"{fog.name}@5" in (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    # the recorded parameters replay to the very photo the model saw
    from derm_stress.datasets import load_sample
    from derm_stress.images import load_image
    from derm_stress.models import ReferenceModel
    from derm_stress.perturb import Condition

    case = load_sample().cases[0]
    _, probe = ask(ReferenceModel("reference"), case, Condition(image_ops=(fog(5),)), seed=0)
    (record,) = probe.applied
    assert record.op == fog.name and 0.45 <= record.params["amount"] <= 0.5
    again = replay(record.to_dict(), load_image(case.images[0]))
    assert np.array_equal(again, probe.images[0])


def test_a_new_operator_gets_digests_like_the_built_in_ones(fog: type[LensFog]) -> None:
    digests, signatures = operator_outputs(fog.name, load_photos()[:1])
    assert set(signatures) == set(digests)
    assert len(digests) == 6 and len(set(digests.values())) == 6  # severities 0-5 all differ
