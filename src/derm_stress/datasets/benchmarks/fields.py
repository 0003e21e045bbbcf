"""Value rules the public-benchmark loaders share (sex, body site, skin type, missing)."""

from __future__ import annotations

from derm_stress.cases import Sex

MISSING = {"", "unk", "unknown", "na", "n/a", "nan", "none", "null", "-1", "not specified"}


def missing(value: object) -> bool:
    return value is None or str(value).strip().lower() in MISSING


def sex(value: object) -> Sex | None:
    """``male``/``female`` in any case or as ``m``/``f``; anything else is missing."""
    text = "" if value is None else str(value).strip().lower()
    if text in ("female", "f"):
        return "female"
    if text in ("male", "m"):
        return "male"
    return None


def body_site(value: object) -> str | None:
    """A body site as plain lower-case words (``lower_extremity`` -> ``lower extremity``)."""
    if missing(value):
        return None
    return " ".join(str(value).replace("_", " ").replace("/", " / ").lower().split())


def fitzpatrick(value: object) -> int | None:
    """A Fitzpatrick type from ``3``, ``3.0``, ``III`` or ``FST3``; -1, 0 and blanks are missing."""
    if missing(value):
        return None
    text = str(value).strip().upper().removeprefix("FST").removeprefix("TYPE").strip()
    roman = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
    if text in roman:
        return roman[text]
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number in (1, 2, 3, 4, 5, 6) else None
