"""Two toy models built on the bundled reference model, for demos and tests of what the
report finds (callable targets, e.g. ``target: derm_stress.testing.toy_models:note_blind``):

- ``note_blind`` never reads the note: the reference model's image-only answer, whatever it
  is given, so context neither helps nor hurts it;
- ``referral_follower`` puts the referral's diagnosis first whenever the note carries one
  (and otherwise answers as the reference model), so it adopts every misleading referral.
"""

from __future__ import annotations

from functools import cache

from derm_stress.models.base import Answer
from derm_stress.models.reference.model import ReferenceModel, referral_code
from derm_stress.perturb.condition import Probe


@cache
def _reference() -> ReferenceModel:
    return ReferenceModel()


def note_blind(probe: Probe) -> Answer:
    """The reference model's answer to the photo alone."""
    blind = Probe(probe.case_id, probe.condition_id, probe.images, None, probe.applied)
    return _reference().answer([blind])[0]


def referral_follower(probe: Probe) -> list[str]:
    """The reference model's differential, with the referral's diagnosis moved first."""
    answer = _reference().answer([probe])[0]
    codes = list(answer.differential)
    suggested = referral_code(probe.note.referral) if probe.note is not None else None
    if suggested is not None and suggested in codes:
        codes.remove(suggested)
        codes.insert(0, suggested)
    return codes
