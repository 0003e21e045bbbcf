"""Value rules the public-benchmark loaders share (sex, body site, skin type).

Unlike a manifest's strict parsers, these read a published dataset's own vocabulary and treat
any value they do not recognise (``OTHER_OR_UNSPECIFIED``, a skin type of -1) as missing;
empty and ``unknown``-like cells follow the one missing-value rule, ``is_missing``."""

from __future__ import annotations

from derm_stress.cases import Sex
from derm_stress.datasets.base import is_missing


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
    if is_missing(value):
        return None
    return " ".join(str(value).replace("_", " ").replace("/", " / ").lower().split())


def fitzpatrick(value: object) -> int | None:
    """A Fitzpatrick type from ``3``, ``3.0``, ``III`` or ``FST3``; -1, 0 and blanks are missing."""
    if is_missing(value):
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
