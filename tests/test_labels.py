from __future__ import annotations

import pytest

from derm_stress.errors import UnknownName
from derm_stress.labels import (
    LABELS,
    TRIAGE_LEVELS,
    accepted_codes,
    is_correct,
    normalise_label,
    triage_for,
)

PAD = ["ACK", "BCC", "MEL", "NEV", "SCC", "SEK"]
HAM = {
    "akiec": "AKIEC",
    "bcc": "BCC",
    "bkl": "BKL",
    "df": "DF",
    "mel": "MEL",
    "nv": "NEV",
    "vasc": "VASC",
}


def test_pad_and_ham_labels_normalise() -> None:
    assert [normalise_label(c) for c in PAD] == PAD
    assert {k: normalise_label(k) for k in HAM} == HAM


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Seborrheic Keratosis", "SEK"),
        ("seborrhoeic keratosis", "SEK"),
        ("naevus", "NEV"),
        ("Basal-cell carcinoma", "BCC"),
        ("  actinic keratosis ", "ACK"),
        ("Bowen’s disease", "BOD"),
        ("mole", "NEV"),
    ],
)
def test_synonyms_and_spellings(text: str, code: str) -> None:
    assert normalise_label(text) == code


def test_unknown_label_suggests() -> None:
    with pytest.raises(UnknownName, match=r"unknown diagnosis label 'psoriasiss x'.*Psoriasis"):
        normalise_label("psoriasiss x")


def test_group_labels_accept_their_members() -> None:
    assert is_correct("SEK", "BKL") and is_correct("LENT", "BKL") and not is_correct("MEL", "BKL")
    assert is_correct("BOD", "SCC") and is_correct("ACK", "AKIEC")
    assert accepted_codes("MEL") == {"MEL"}


def test_triage_mapping() -> None:
    assert [triage_for(c) for c in ("MEL", "BCC", "SCC")] == ["urgent"] * 3
    assert triage_for("ACK") == "soon" and triage_for("NEV") == "routine"
    assert triage_for("OTHER") is None
    assert TRIAGE_LEVELS == ("routine", "soon", "urgent", "emergency")
    assert all(lbl.triage in TRIAGE_LEVELS for lbl in LABELS)
