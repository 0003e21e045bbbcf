"""derm_stress.testing: strategies, property helpers and the pytest plugin."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from derm_stress.cases import Note
from derm_stress.errors import InvalidArgument
from derm_stress.models import ReferenceModel
from derm_stress.perturb import Applied, Operator, replay
from derm_stress.perturb.condition import Condition
from derm_stress.testing import properties as dp
from derm_stress.testing import strategies as ds
from derm_stress.testing.pytest_plugin import load_model
from tests.conftest import ROOT


@settings(max_examples=40, deadline=None, derandomize=True)
@given(op=ds.operators(kind="image", families=["lighting"], min_severity=2, max_severity=3))
def test_operator_strategy_respects_its_bounds(op: Operator) -> None:  # type: ignore[type-arg]
    assert op.kind == "image" and op.family == "lighting" and 2 <= op.severity <= 3


@settings(max_examples=40, deadline=None, derandomize=True)
@given(op=ds.operators(kind="note"), note=ds.notes())
def test_note_strategies_compose(op: Operator, note: Note) -> None:  # type: ignore[type-arg]
    assert op.kind == "note" and isinstance(note, Note)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(condition=ds.conditions(max_image_ops=2))
def test_condition_strategy_builds_valid_conditions(condition: Condition) -> None:
    assert len(condition.image_ops) <= 2
    assert condition.context == "full" or not condition.note_ops


def test_strategies_shrink_to_the_mildest_and_accept_strategies_as_options() -> None:
    mildest = find(
        ds.operators(names=["defocus", "motion_blur"], max_severity=st.just(4)), lambda op: True
    )
    assert (mildest.name, mildest.severity) == ("defocus", 1)
    with pytest.raises(InvalidArgument, match="unknown operator"):
        ds.operators(names=["blurr"])
    with pytest.raises(InvalidArgument, match="no case"):
        ds.cases(diagnoses=["DF"])


def test_a_property_the_reference_model_fails_is_found_shrunk_and_reproducible(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference model adopts some wrong referrals, more often the more authoritative
    they are: Hypothesis finds a case, shrinks it to the mildest severity at which that case
    fails, and the report carries the replayable record."""
    model = ReferenceModel()

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(case=ds.cases(), severity=st.integers(1, 5))
    def hedged_referral_is_not_adopted(case, severity):  # type: ignore[no-untyped-def]
        dp.assert_resists_misleading_referral(model, case, severity=severity)

    with pytest.raises(dp.PropertyFailure) as failure:
        hedged_referral_is_not_adopted()
    message = str(failure.value)
    notes = "\n".join(getattr(failure.value, "__notes__", []))
    print(notes + "\n" + message)  # the shrunk example, as a user sees it
    shrunk = re.search(r"adopted the misleading referral .* \(severity (\d)\)", message)
    assert shrunk is not None
    severity = int(shrunk.group(1))
    record = json.loads(
        next(
            line.strip()
            for line in message.splitlines()
            if line.strip().startswith('{"op": "misleading_referral"')
        )
    )
    assert record["severity"] == severity
    case_id = message.split("case:")[1].split()[0]
    case = next(c for c in ds.load_sample().cases if c.case_id == case_id)
    assert replay(Applied.from_dict(record), case.note).referral == record["params"]["text"]
    assert f"severity={severity}" in notes and case_id in notes  # Hypothesis's shrunk example
    for milder in range(1, severity):  # shrunk: the same case resists every milder referral
        dp.assert_resists_misleading_referral(model, case, severity=milder)
    assert "adopted the misleading referral" in capsys.readouterr().out


def test_image_failures_save_the_perturbed_photo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # set after import: the folder is read when a property fails, not when the module loads
    monkeypatch.setenv("DERM_STRESS_FAILURES", str(tmp_path))
    model = ReferenceModel()
    case = ds.load_sample().cases[0]
    from derm_stress.perturb import make_operator

    with pytest.raises(dp.PropertyFailure) as failure:
        for severity in range(1, 6):  # some severity of noise changes its top-1
            dp.assert_stable_differential(
                model, case, make_operator("gaussian_noise", severity), k=1
            )
    saved = str(failure.value).split("saved:")[1].strip()
    from derm_stress.images import load_image

    assert Path(saved).parent == tmp_path
    assert load_image(Path(saved)).shape[2] == 3 and np.asarray(load_image(Path(saved))).any()


def test_plugin_builds_the_model_named_in_a_config(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(
        "models:\n  - {name: first, adapter: reference}\n"
        "  - {name: second, adapter: callable, target: 'tests.run.helpers:flaky'}\n"
    )
    assert load_model("").name == "reference"
    assert load_model(str(config)).name == "first"
    assert load_model(f"{config}:second").name == "second"
    with pytest.raises(KeyError, match="did you mean 'second'"):
        load_model(f"{config}:secnd")


def test_example_file_runs_against_a_model_given_on_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "m.yaml"
    config.write_text(
        "models:\n  - {name: always_mole, adapter: callable, "
        "target: 'tests.test_testing:always_mole'}\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "examples" / "test_model_robustness.py"),
            "--derm-model",
            str(config),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # a model that always answers "mole" is stable but triages everything routine: the
    # typo property holds (never downgraded from routine), the rotation one too
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def always_mole(probe):  # type: ignore[no-untyped-def]
    return "1. Melanocytic nevus (90%)\nTriage: routine"


def test_toy_models_ignore_notes_or_follow_referrals() -> None:
    """The toy models of the three-model screenshots: note_blind answers every note as the
    photo alone; referral_follower puts a referral's diagnosis first."""
    from derm_stress.models import ReferenceModel
    from derm_stress.perturb import BASELINE, Condition, build_probe
    from derm_stress.perturb.base import make_operator
    from derm_stress.testing.toy_models import note_blind, referral_follower

    case = ds.load_sample().cases[0]
    misled = Condition(context="full", note_ops=(make_operator("misleading_referral", 5),))
    probe = build_probe(case, misled, 0)
    planted = probe.applied[-1].params["diagnosis"]
    alone = ReferenceModel().answer([build_probe(case, BASELINE, 0)])[0]
    assert note_blind(probe).differential == alone.differential
    assert referral_follower(probe)[0] == planted
    full = build_probe(case, Condition(context="full"), 0)
    assert referral_follower(full) == list(ReferenceModel().answer([full])[0].differential)
