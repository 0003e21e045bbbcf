from __future__ import annotations

import numpy as np

from derm_stress.cases import Case, Note
from derm_stress.models import CallableModel, make_model
from derm_stress.perturb import BASELINE, Probe, build_probe

CASE = Case("c", (np.zeros((4, 4, 3), np.uint8),), Note(age=40), "MEL")


def answers_text(probe: Probe) -> str:
    return "1. Melanoma (80%)\n2. nevus (15%)\nTriage: urgent"


def test_text_is_parsed_and_timed() -> None:
    model = CallableModel("m", answers_text)
    (answer,) = model.answer([build_probe(CASE, BASELINE, 0)])
    assert answer.differential == ("MEL", "NEV") and answer.confidences == (0.8, 0.15)
    assert answer.triage == "urgent" and answer.latency_s is not None
    assert model.identity() == {
        "adapter": "callable",
        "version": "1",
        "target": "tests.models.test_callable:answers_text",
    }


def test_codes_exceptions_and_unparseable_text_are_per_probe() -> None:
    outputs = iter([["SEK", "NEV"], RuntimeError("boom"), "no idea, sorry", 42])

    def fn(probe: Probe) -> object:
        value = next(outputs)
        if isinstance(value, Exception):
            raise value
        return value

    probes = [build_probe(CASE, BASELINE, 0)] * 4
    answers = CallableModel("m", fn).answer(probes)
    assert answers[0].differential == ("SEK", "NEV") and answers[0].status == "ok"
    assert answers[1].status == "error" and answers[1].error == "RuntimeError: boom"
    assert answers[2].status == "unparseable" and answers[2].error == "no diagnosis found"
    assert answers[3].status == "error" and "must return str" in (answers[3].error or "")


def test_callable_from_config_target() -> None:
    model = make_model(
        {
            "name": "c",
            "adapter": "callable",
            "target": "tests.models.test_callable:answers_text",
            "version": "2",
        }
    )
    assert model.identity()["version"] == "2"
    assert model.answer([build_probe(CASE, BASELINE, 0)])[0].differential[0] == "MEL"
