"""``replay`` takes a record in the form failures print it (issue 16, item 21)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from derm_stress.datasets import Dataset
from derm_stress.errors import InvalidArgument
from derm_stress.images import load_image
from derm_stress.models import CallableModel
from derm_stress.perturb import BASELINE, Condition, build_probe, make_operator, replay
from derm_stress.perturb.condition import Probe
from derm_stress.testing.properties import PropertyFailure, assert_stable_differential


def _fragile(probe: Probe) -> str:
    return "nevus" if probe.condition_id == BASELINE.id else "melanoma"


def test_replay_accepts_the_record_a_property_failure_prints(
    sample: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the failure saves its images under the working folder
    case = sample.cases[0]
    op = make_operator("defocus", 3)
    with pytest.raises(PropertyFailure) as caught:
        assert_stable_differential(CallableModel("fragile", _fragile), case, op)
    lines = str(caught.value).splitlines()
    start = lines.index("  applied (replay with derm_stress.perturb.replay):")
    printed = lines[start + 1].strip()
    original = load_image(case.images[0])
    expected = build_probe(case, Condition(image_ops=(op,)), 0).images[0]
    assert np.array_equal(replay(printed, original), expected)  # the JSON text
    assert np.array_equal(replay(json.loads(printed), original), expected)  # its dict


def test_replay_refuses_what_is_not_a_record() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InvalidArgument, match="lacks severity, target"):
        replay({"op": "defocus"}, image)
    with pytest.raises(InvalidArgument, match="not a JSON record"):
        replay("defocus@3", image)
