"""The triage an answer states, on the four levels ``routine < soon < urgent < emergency``.

Phrasings follow UK and US referral language: "A&E", "ER", "same-day" and "immediately" are
``emergency``; "urgent", "2-week wait" (the NHS suspected-cancer pathway), "fast-track" and
"as soon as possible" are ``urgent``; "soon", "semi-urgent", "within a few weeks" are
``soon``; "routine", "non-urgent", "no need for urgent referral" are ``routine``. A line such
as "Triage: ..." wins over phrases elsewhere; otherwise the first phrase in the answer counts.
"""

from __future__ import annotations

import re

from derm_stress.labels import TRIAGE_LEVELS

LEVELS = TRIAGE_LEVELS  # the phrases below name each of them

_PHRASES: tuple[tuple[str, str], ...] = (
    # negated urgency first, so "non-urgent" is not read as "urgent"
    (
        r"non[- ]?urgent(?:ly)?|not (?:an? )?urgent(?:ly)?|no (?:need for )?(?:an? )?urgent|"
        r"no urgency|not (?:needed |required )?urgently|routine(?:ly)?|elective(?:ly)?",
        "routine",
    ),
    (r"semi[- ]?urgent(?:ly)?|soon|within (?:a few|several|2-4|2 to 4|four|4|six|6) weeks", "soon"),
    (
        r"emergenc(?:y|ies)|A&E|A and E|accident and emergency|(?-i:ER|ED)|same[- ]day|"
        r"immediate(?:ly)?|call 999|call 911|ambulance|within (?:24|48) hours|tonight",
        "emergency",
    ),
    (
        r"urgent(?:ly)?|2[- ]?week[- ]wait|two[- ]week[- ]wait|2WW|fast[- ]track(?:ed)?|"
        r"suspected cancer (?:pathway|referral)|as soon as possible|ASAP|"
        r"within (?:2|two) weeks",
        "urgent",
    ),
)
_ANY = re.compile(
    r"(?<![\w-])(?:" + "|".join(f"(?P<l{i}>{p})" for i, (p, _) in enumerate(_PHRASES)) + r")(?!\w)",
    re.IGNORECASE,
)
_STATED = re.compile(
    r"\b(?:triage|urgency|priority|referral|disposition)\b(?:\s+(?:level|category|as|is|would be|"
    r"should be|recommendation|:))*[^\w\n]{0,6}",
    re.IGNORECASE,
)


def _level(match: re.Match[str]) -> str:
    for i, (_, level) in enumerate(_PHRASES):
        if match.group(f"l{i}") is not None:
            return level
    raise AssertionError("unreachable")  # pragma: no cover


def level_of(phrase: str) -> str | None:
    """The level a short phrase names ("same-day" -> ``emergency``), or None."""
    match = _ANY.search(phrase)
    return _level(match) if match else None


def stated_triage(text: str) -> str | None:
    """The triage level the answer states, or None if it states none."""
    for stated in _STATED.finditer(text):
        # "Triage: urgent", "I would triage as soon", "Urgency: same-day"
        line_end = text.find("\n", stated.end())
        window = text[stated.end() : line_end if line_end >= 0 else len(text)][:40]
        match = _ANY.match(window) or _ANY.search(window[:25])
        if match:
            return _level(match)
    match = _ANY.search(text)
    return _level(match) if match else None
