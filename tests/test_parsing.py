from __future__ import annotations

import pytest

from derm_stress.parsing import parse_answer


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
        'Here: {"differential": [{"diagnosis": "Olecranon bursitis", "confidence": 55},'
        ' {"diagnosis": "actinic keratosis", "confidence": 0.3}],'
        ' "triage": "soon"}'
    )
    assert parsed.differential == ("OTHER", "ACK") and parsed.confidences == (0.55, 0.3)
    assert parsed.other_terms == ("Olecranon bursitis",) and parsed.triage == "soon"


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
