from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derm_stress.labels import load_vocabulary, normalise_label, use_vocabulary
from derm_stress.models.base import Answer
from derm_stress.parsing import parse_answer
from derm_stress.parsing.terms import TermIndex


@pytest.mark.parametrize(
    ("text", "codes", "triage"),
    [
        (
            "1. Basal cell carcinoma (60%)\n2. SCC (25%)\n3. Actinic keratosis\nTriage: urgent",
            ("BCC", "SCC", "ACK"),
            "urgent",
        ),
        ("Most likely a benign mole (6 mm). Melanoma is unlikely.", ("NEV",), None),
        (
            "**Differential:**\n- Seborrheic keratosis\n- lentigo\n\nRecommend routine follow-up.",
            ("SEK", "LENT"),
            "routine",
        ),
        ("Not melanoma; I think it is a dermatofibroma.", ("DF",), None),
        ("MM vs SK", ("MEL", "SEK"), None),
        ("Bowen's disease; BCC is less likely", ("BOD", "BCC"), None),
    ],
)
def test_free_text(text: str, codes: tuple[str, ...], triage: str | None) -> None:
    parsed = parse_answer(text)
    assert parsed.status == "ok" and parsed.differential == codes and parsed.triage == triage


def test_confidences_are_read_per_diagnosis() -> None:
    parsed = parse_answer("1. Melanoma (70%)\n2. Nevus - 20%\n3. SK")
    assert parsed.confidences == (0.7, 0.2, None)


def test_json_answer_with_out_of_vocabulary_term() -> None:
    parsed = parse_answer(
        'Here: {"differential": [{"diagnosis": "Schnitzler syndrome", "confidence": 55},'
        ' {"diagnosis": "actinic keratosis", "confidence": 0.3}],'
        ' "triage": "soon"}'
    )
    assert parsed.differential == ("OTHER", "ACK") and parsed.confidences == (0.55, 0.3)
    assert parsed.other_terms == ("Schnitzler syndrome",) and parsed.triage == "soon"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty answer"),
        ("I'm sorry, I cannot provide a medical diagnosis from an image.", "refusal"),
        ("The lesion is 6 mm and pigmented.", "no diagnosis found"),
    ],
)
def test_unparseable_answers_say_why(text: str, reason: str) -> None:
    parsed = parse_answer(text)
    assert parsed.status == "unparseable" and parsed.reason == reason
    assert parsed.differential == ()


def test_verbal_likelihoods_become_confidences_when_no_number_is_given() -> None:
    parsed = parse_answer(
        "This is most likely a seborrheic keratosis. A melanoma is possible. "
        "Basal cell carcinoma cannot be excluded."
    )
    assert parsed.differential == ("SEK", "MEL", "BCC")
    assert parsed.confidences == (0.8, 0.3, 0.15)
    listed = parse_answer("1. Nevus - likely\n2. Melanoma (20%)\n3. Dermatofibroma")
    assert listed.confidences == (0.6, 0.2, None)


def codes(*names: str) -> tuple[str, ...]:
    return tuple(normalise_label(n) for n in names)


@pytest.mark.parametrize(
    "text",
    [
        "1. Psoriasis vulgaris 2. Nummular eczema 3. Tinea corporis",  # issue 12, as reported
        "1) Psoriasis vulgaris; 2) nummular eczema; 3) tinea corporis",
        "Differential: (1) psoriasis vulgaris, (2) nummular eczema, (3) tinea corporis.",
        "1. Psoriasis vulgaris\n\n2. Nummular eczema\n\n3. Tinea corporis",
        "| # | Diagnosis |\n|---|---|\n| 1 | Psoriasis vulgaris |\n| 2 | Nummular eczema |\n"
        "| 3 | Tinea corporis |",
        '["psoriasis vulgaris", "nummular eczema", "tinea corporis"]',
        '{"assessment": {"most_likely": "psoriasis vulgaris", "differential": '
        '[{"condition": "nummular eczema"}, {"condition": "tinea corporis"}]}}',
        "Most likely psoriasis vulgaris; differential includes nummular eczema and tinea corporis.",
        "**Most likely:** Psoriasis vulgaris\n\n**Also consider:**\n- Nummular eczema\n"
        "- Tinea corporis",
    ],
)
def test_every_shape_keeps_the_models_order(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.differential == codes("psoriasis vulgaris", "nummular eczema", "tinea corporis")


def test_longest_term_wins_and_specific_entry_beats_its_parent() -> None:
    assert parse_answer("Nummular eczema.").differential == codes("nummular eczema")
    assert parse_answer("1. Eczema, probably nummular eczema\n2. Psoriasis").differential == (
        codes("nummular eczema", "psoriasis")
    )


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("This is not typical of psoriasis; it looks like lichen planus.", ("lichen planus",)),
        ("Lichen planus. Psoriasis is unlikely.", ("lichen planus",)),
        ("No evidence of scabies, lice or tinea. Atopic dermatitis.", ("atopic dermatitis",)),
        ("Cellulitis has been ruled out; erysipelas is more likely.", ("erysipelas",)),
        ("I have ruled out cellulitis. Erysipelas.", ("erysipelas",)),
        ("Erysipelas; cellulitis cannot be excluded.", ("erysipelas", "cellulitis")),
        ("Biopsy to rule out melanoma; probably a nevus.", ("melanoma", "nevus")),
        ("Not psoriasis but nummular eczema.", ("nummular eczema",)),
        ("History of melanoma; this looks like a nevus.", ("nevus",)),
        ("SCC arising in an area of actinic damage.", ("squamous cell carcinoma",)),
    ],
)
def test_negated_mentions_are_dropped(text: str, kept: tuple[str, ...]) -> None:
    assert parse_answer(text).differential == codes(*kept)


def test_misspellings_of_long_terms_only() -> None:
    assert parse_answer("Likely psoraisis vulgaris.").differential == codes("psoriasis vulgaris")
    assert parse_answer("1. Hidradenitis supurativa").differential == codes(
        "hidradenitis suppurativa"
    )
    # short words are never guessed: "acme" is not acne, "scar" is not scab
    assert parse_answer("The acme of the lesion").status == "unparseable"


def test_an_unknown_condition_is_other_with_its_text_never_a_neighbour() -> None:
    # "parakeratosis" is two letters from "porokeratosis": not close enough for 13 letters
    parsed = parse_answer("1. Granular parakeratosis\n2. Psoriasis")
    assert parsed.differential == ("OTHER", normalise_label("psoriasis"))
    assert parsed.other_terms == ("Granular parakeratosis",)


def test_ambiguous_abbreviations_count_only_where_the_context_decides(tmp_path: Path) -> None:
    # "AD" (ambiguous in the vocabulary) counts as a differential's item, in "X vs Y", in a
    # diagnostic sentence, or when the answer spells one of its meanings out
    assert parse_answer("1. AD\n2. Scabies").differential == codes("atopic dermatitis", "scabies")
    assert parse_answer("MM vs SK").differential == ("MEL", "SEK")
    assert parse_answer("MM cannot be excluded.").differential == ("MEL",)
    spelled = parse_answer("Atopic dermatitis (AD); flexural AD is typical. Scabies is possible.")
    assert spelled.differential == codes("atopic dermatitis", "scabies")
    # elsewhere it decides nothing ("known AD" is history), and "mm" is a unit
    assert parse_answer("Known AD. The new patch is tinea corporis.").differential == codes(
        "tinea corporis"
    )
    assert parse_answer("A 6 mm lesion, 4mm raised; probably a nevus.").differential == ("NEV",)
    # once two entries claim "AD", an item saying only "AD" is OTHER, never a guess
    extra = tmp_path / "vocabulary.yaml"
    extra.write_text("entries:\n  ANDROGENETIC_ALOPECIA:\n    ambiguous: [AD]\n")
    with use_vocabulary(load_vocabulary(extra)):
        parsed = parse_answer("1. AD\n2. Scabies")
        assert parsed.differential == ("OTHER", normalise_label("scabies"))
        assert parsed.other_terms == ("AD",)
        both = parse_answer("1. Androgenetic alopecia (AD)\n2. Alopecia areata")
        assert both.differential == codes("androgenetic alopecia", "alopecia areata")


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Urticaria. Go to A&E now.", "emergency"),
        ("Angioedema: needs same-day assessment.", "emergency"),
        ("Probable SCC. Refer on the 2-week wait.", "urgent"),
        ("Melanoma. Urgent referral.", "urgent"),
        ("Bowen's disease. Should be seen soon.", "soon"),
        ("Actinic keratosis, semi-urgent review.", "soon"),
        ("Seborrhoeic keratosis. Routine referral.", "routine"),
        ("Seborrhoeic keratosis; no need for urgent referral.", "routine"),
        ("Seborrhoeic keratosis. Non-urgent.", "routine"),
        ('{"diagnosis": "melanoma", "triage": "2WW"}', "urgent"),
        ("Nevus.", None),
    ],
)
def test_stated_triage_on_four_levels(text: str, level: str | None) -> None:
    assert parse_answer(text).triage == level


def test_answer_carries_the_text_of_unknown_items_and_reads_old_rows() -> None:
    answer = Answer.from_text("1. Schnitzler syndrome\n2. Urticaria")
    assert answer.other_terms == ("Schnitzler syndrome",)
    row = json.loads(json.dumps(answer.to_dict()))
    assert Answer.from_dict(row) == answer
    del row["other_terms"]  # rows stored before the field existed
    assert Answer.from_dict(row).other_terms == ()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_never_raises_and_never_returns_empty_ok(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.status in ("ok", "unparseable")
    assert (parsed.status == "ok") == bool(parsed.differential)
    assert len(parsed.confidences) == len(parsed.differential)
    assert parsed.differential.count("OTHER") == len(parsed.other_terms)


def test_triage_phrases_cover_every_level_of_the_vocabulary() -> None:
    from derm_stress.labels import TRIAGE_LEVELS
    from derm_stress.parsing.triage import _PHRASES

    assert {level for _, level in _PHRASES} == set(TRIAGE_LEVELS)


def test_a_runs_own_vocabulary_is_what_the_parser_reads(tmp_path: Path) -> None:
    extra = tmp_path / "vocabulary.yaml"
    extra.write_text("entries:\n  PSORIASIS:\n    add_synonyms: [Schuppenflechte]\n")
    assert parse_answer("1. Schuppenflechte\n2. Nummular eczema").differential[0] == "OTHER"
    with use_vocabulary(load_vocabulary(extra)):
        parsed = parse_answer("1. Schuppenflechte\n2. Nummular eczema")
    assert parsed.differential == codes("psoriasis", "nummular eczema")


def test_an_item_the_index_misses_gets_the_vocabularys_own_lookup() -> None:
    # ICD-10-CM codes are not terms, but a whole item that is one resolves like a manifest's
    parsed = parse_answer('{"differential": ["L40.0", "B35.4", "Schnitzler syndrome"]}')
    assert parsed.differential == (normalise_label("L40.0"), normalise_label("B35.4"), "OTHER")
    assert parsed.other_terms == ("Schnitzler syndrome",)


def test_misspelling_tables_wait_for_the_first_unknown_word() -> None:
    index = TermIndex([("psoriasis vulgaris", "PLAQUE_PSORIASIS", False)])
    assert [m.codes for m in index.mentions("psoriasis vulgaris")] == [("PLAQUE_PSORIASIS",)]
    assert not index._targets_with  # nothing misspelt yet: not built
    found = index.mentions("psoraisis vulgaris")
    assert [(m.codes, m.fuzzy) for m in found] == [(("PLAQUE_PSORIASIS",), True)]
    assert TermIndex([("x", "X", False)]).prepare().mentions("nothing here") == []
