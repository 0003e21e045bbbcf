"""Robustness properties for a dermatology model, ready to copy into your own test suite.

Point it at your model with `pytest --derm-model path/to/run-config.yaml:model-name` (any
adapter: an OpenAI-compatible server, a local transformers model, a Python callable);
without the option it tests the bundled reference model, which passes both properties.

On failure Hypothesis shrinks to the mildest perturbation and first case that still break
the property, and the error shows both answers, the replayable record of what was applied
and the path of the saved perturbed photo.
"""

from __future__ import annotations

from hypothesis import given

from derm_stress.models import Model
from derm_stress.testing import properties as dp
from derm_stress.testing import strategies as ds

URGENT = ds.cases(triage="urgent")  # melanoma, BCC and SCC cases of the bundled sample


@dp.ci_settings(max_examples=20)
@given(case=URGENT, op=ds.operators(names=["rotation"], max_severity=1))
def test_urgent_top3_survives_a_slightly_rotated_camera(derm_model: Model, case, op) -> None:  # type: ignore[no-untyped-def]
    dp.assert_stable_differential(derm_model, case, op, k=3, context="full")


@dp.ci_settings(max_examples=20)
@given(case=URGENT, typos=ds.operators(names=["typos"]))
def test_typos_in_the_note_never_downgrade_an_urgent_case(derm_model: Model, case, typos) -> None:  # type: ignore[no-untyped-def]
    dp.assert_triage_not_downgraded(derm_model, case, typos)
