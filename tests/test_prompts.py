"""The prompt templates: what they ask for, and that an answer in the asked form parses."""

from __future__ import annotations

import re

import numpy as np
import pytest

from derm_stress.cases import Note
from derm_stress.labels import TRIAGE_LEVELS, vocabulary
from derm_stress.parsing import parse_answer
from derm_stress.perturb.condition import Probe
from derm_stress.prompts import build_prompt

PHOTO = np.zeros((8, 8, 3), np.uint8)


def _probe(note: Note | None) -> Probe:
    return Probe(case_id="c1", condition_id="img=none", images=(PHOTO,), note=note, applied=())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_prompt_offers_every_triage_level_of_the_vocabulary(fmt: str) -> None:
    # a level the prompt does not offer can only be under-triaged; the vocabulary uses all
    used = {entry.triage for entry in vocabulary().entries}
    assert used == set(TRIAGE_LEVELS)
    user = build_prompt(_probe(None), fmt=fmt).user  # type: ignore[arg-type]
    form = re.search(r'"triage": "([^"]+)"' if fmt == "json" else r"Triage: <([^>]+)>", user)
    assert form is not None
    assert form.group(1).split("|") == list(reversed(TRIAGE_LEVELS))
    asked = user.split("Then give a triage level:")[1].split(" Answer ")[0]
    for level in TRIAGE_LEVELS:
        assert re.search(rf"\b{level}\b", asked), level


@pytest.mark.parametrize("level", TRIAGE_LEVELS)
def test_an_answer_in_the_asked_form_gives_its_level(level: str) -> None:
    text = f"1. Psoriasis (60%)\n2. Eczema (30%)\n3. Tinea corporis (10%)\nTriage: {level}"
    assert parse_answer(text).triage == level
    json_answer = (
        f'{{"differential": [{{"diagnosis": "Psoriasis", "confidence": 60}}], "triage": "{level}"}}'
    )
    parsed = parse_answer(json_answer)
    assert parsed.triage == level and parsed.differential[0] == "PSORIASIS"


def test_the_prompt_says_what_context_came_with_the_photo() -> None:
    alone = build_prompt(_probe(None)).user
    assert "skin condition. No clinical information is available." in alone
    empty = build_prompt(_probe(Note())).user
    assert "The referral note is empty." in empty
    noted = build_prompt(_probe(Note(age=54, free_text="itchy plaques for 3 months"))).user
    assert "with the referral note:" in noted and "itchy plaques for 3 months" in noted


def test_the_prompt_counts_the_photos() -> None:
    one = build_prompt(_probe(None)).user
    assert one.startswith("Here is a photo of a skin condition.")
    assert "condition in the photo," in one
    two = Probe(case_id="c1", condition_id="x", images=(PHOTO, PHOTO), note=None, applied=())
    user = build_prompt(two).user
    assert user.startswith("Here are 2 photos of a skin condition.")
    assert "condition in the photos," in user
