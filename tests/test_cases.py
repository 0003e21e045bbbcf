from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from derm_stress.cases import Case, Note, render_note


def test_render_note_omits_missing_fields_and_orders_lines() -> None:
    note = Note(
        age=61,
        sex="male",
        fitzpatrick=4,
        size_mm=(8.0, 6.5),
        duration_days=90,
        itch=True,
        bleeding=False,
        referral="?BCC",
    )
    assert render_note(note) == (
        "Age: 61 years\nSex: male\nFitzpatrick skin type: IV\nLesion size: 8 x 6.5 mm\n"
        "Duration: 3 months\nItching: yes\nBleeding: no\nReferral: ?BCC"
    )
    assert render_note(Note()) == ""


@pytest.mark.parametrize(
    ("days", "text"), [(3, "3 days"), (21, "3 weeks"), (400, "13.2 months"), (1100, "3 years")]
)
def test_durations_read_naturally(days: float, text: str) -> None:
    assert render_note(Note(duration_days=days)) == f"Duration: {text}"


def test_note_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="fitzpatrick must be 1-6"):
        Note(fitzpatrick=7)
    with pytest.raises(ValueError, match="sex must be"):
        Note(sex="F")  # type: ignore[arg-type]
    note = Note(size_mm=(3.0,), itch=False)
    assert Note.from_dict(note.to_dict()) == note
    assert note.present() == ("size_mm", "itch")


def test_case_rejects_unknown_codes_and_fingerprints_content(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        Case("x", (np.zeros((2, 2, 3), np.uint8),), Note(), "PSO")
    path = tmp_path / "a.jpg"
    path.write_bytes(b"one")
    case = Case("x", (path,), Note(), "MEL")
    first = case.fingerprint()
    path.write_bytes(b"two")
    assert case.fingerprint() != first
    path.unlink()
    assert case.fingerprint() not in (first,)
    assert Case("x", (path,), Note(age=3), "MEL").fingerprint() != case.fingerprint()
