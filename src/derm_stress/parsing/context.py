"""What the words around a mention say about it: negation, chains, stated likelihood.

A *chain* is a run of mentions joined only by connectors ("X, Y or Z", "MM vs SK"); a
negation cue before or after a chain covers all of it ("no evidence of scabies, lice or
tinea", "eczema and psoriasis are unlikely"). A cue before a mention counts within its
clause and only if no turn ("but", "rather", "more likely") comes between; "X cannot be
excluded", "cannot rule out X" and "to rule out X" keep X in the differential. The history
or background of a lesion ("history of melanoma", "arising in an area of actinic damage",
"known AD") is not its differential and is dropped the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from derm_stress.parsing.terms import Mention

_CONNECTOR = re.compile(
    r"^[\s*_`]*(?:,|/|&|>|\+|or|and|and/or|nor|vs\.?|versus|,\s*or|,\s*and|,\s*nor)?[\s*_`]*$",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.;!?\n,]|\s-\s|\u2014")
_BEFORE_CUE = re.compile(
    r"\b(?:no (?:features|signs?|evidence|suggestion|history) (?:to suggest|suggesting|of|for)|"
    r"nothing to suggest|nothing suggest(?:s|ing)|not|no|without|unlikely(?: to be)?|"
    r"ruled out|rules out|rather than|neither|nor|"
    r"absence of|absent|negative for|free of|excludes?|excluded|against|instead of|"
    r"doubt(?:ful)?|non|"
    # the history or background of the lesion, not its diagnosis
    r"history of|h/o|known(?! as)|background of|arising (?:in|from|within|on)|"
    r"in an area of|treated for|previously)\b",
    re.IGNORECASE,
)
_TURN = re.compile(
    r"\b(?:but|however|although|though|rather|instead|more likely|favou?r\w*|so|only|just|"
    r"yet|except|apart from|other than)\b",
    re.IGNORECASE,
)
# "cannot exclude", "can't rule out", "not excluded", "to rule out", "rule out" (R/O)
_KEEP_BEFORE = re.compile(
    r"\b(?:(?:cannot|can't|can ?not|could ?not|couldn't|not|unable to|would not|wouldn't|"
    r"do not|don't|shouldn't|should not)\s+(?:yet\s+)?(?:be\s+)?"
    r"(?:exclude|excluded|rule out|ruled out)|(?:to|must|should|need to|needs to|would)\s+"
    r"(?:\w+\s+){0,2}?(?:exclude|rule out)|not (?:yet )?(?:been )?(?:excluded|ruled out)|"
    r"not only|if not|whether or not|non[- ]?urgent)\b[^.;!?\n]*$",
    re.IGNORECASE,
)
_VERB = r"(?:is|are|was|were|seems?|appears?|looks?|remains?|felt|thought)"
_AFTER_CUE = re.compile(
    r"^[\s*_`)\]]*(?:\([^)]*\)\s*)?[,:\-]?\s*(?:"
    # "X is unlikely", "X - unlikely", "X: ruled out", "X excluded"
    rf"(?:{_VERB}\s+)?(?:(?:very|highly|most|quite|rather|fairly|much)\s+)?"
    r"(?:unlikely|improbable|doubtful|excluded|ruled out)"
    # "X is not likely", "X is not" (but "X, not Y" negates Y, not X)
    rf"|{_VERB}\s+not\b(?! (?:yet )?(?:be |been )?(?:excluded|ruled out))"
    r"|(?:has|have) been (?:excluded|ruled out))\b",
    re.IGNORECASE,
)
_KEEP_AFTER = re.compile(
    r"^[\s*_`)\]]*[,:]?\s*(?:\w+\s+){0,2}?(?:cannot|can't|can ?not|could ?not|couldn't|"
    r"should not|shouldn't|must not|not yet|has not|have not)\s+(?:yet\s+)?(?:be\s+|been\s+)?"
    r"(?:excluded|ruled out|discounted|dismissed)",
    re.IGNORECASE,
)


_LIST_GAP = re.compile(r"^[\w\s'*_`-]*(?:,|/|&|\bor\b|\band\b|\bnor\b)[\w\s'*_`,/&-]*$", re.I)


def _joined(gap: str) -> bool:
    """Whether two mentions are items of one enumeration: only connectors between them, or
    a few words of an item the vocabulary does not know ("scabies, lice or tinea")."""
    if _CONNECTOR.match(gap):
        return True
    return len(gap) <= 40 and bool(_LIST_GAP.match(gap)) and len(gap.split()) <= 5


# every word that starts a negation cue above: a text without any negates nothing
_ANY_CUE = re.compile(
    r"\b(?:no|not|nothing|without|unlikely|ruled|rules|rather|neither|nor|absen\w*|negative|"
    r"free|exclud\w*|against|instead|doubt\w*|non|improbable|has been|have been|history|"
    r"h/o|known|background|arising|area|treated|previously)\b",
    re.IGNORECASE,
)


def chains(text: str, mentions: Sequence[Mention]) -> list[list[int]]:
    """Indices of mentions grouped in runs joined only by connectors."""
    groups: list[list[int]] = []
    for i, m in enumerate(mentions):
        if groups and _joined(text[mentions[i - 1].end : m.start]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _clause_start(text: str, pos: int) -> int:
    start = 0
    for m in _CLAUSE_END.finditer(text, max(0, pos - 120), pos):
        start = m.end()
    return start


def _negated_before(text: str, start: int) -> bool:
    window = text[_clause_start(text, start) : start]
    window = window[-60:]
    cues = list(_BEFORE_CUE.finditer(window))
    if not cues:
        return False
    cue = cues[-1]
    if _TURN.search(window[cue.end() :]):
        return False
    return not _KEEP_BEFORE.search(window)


def _negated_after(text: str, end: int) -> bool:
    after = text[end : end + 60]
    if _KEEP_AFTER.match(after):
        return False
    return bool(_AFTER_CUE.match(after))


def negated(text: str, mentions: Sequence[Mention]) -> list[bool]:
    """For each mention, whether the text says it is not the diagnosis."""
    flags = [False] * len(mentions)
    if not _ANY_CUE.search(text):  # most answers negate nothing: skip the clause work
        return flags
    for group in chains(text, mentions):
        first, last = mentions[group[0]], mentions[group[-1]]
        if _negated_before(text, first.start) or _negated_after(text, last.end):
            for i in group:
                flags[i] = True
        else:  # a cue inside the chain covers the mention right after it ("X, not Y")
            for i in group[1:]:
                gap = text[mentions[i - 1].end : mentions[i].start]
                flags[i] = bool(_BEFORE_CUE.search(gap)) and _negated_before(
                    text, mentions[i].start
                )
    return flags


# ---- stated likelihoods -------------------------------------------------------------------

_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_PROBABILITY = re.compile(
    r"(?:confidence|probability|p)\s*[:=]?\s*(0?\.\d+|1\.0+|0|1)\b", re.IGNORECASE
)
# verbal likelihoods, used only when no number is given (first listed phrase wins)
_WORDS: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(rf"\b{phrase}\b", re.IGNORECASE), value)
    for phrase, value in (
        (r"almost certain(?:ly)?|definite(?:ly)?", 0.9),
        (r"highly likely|very likely|most likely|most probable", 0.8),
        (r"less likely|cannot be excluded|can't be excluded|cannot rule out", 0.15),
        (r"likely|probable|probably", 0.6),
        (r"possible|possibly|may be|could be|might be|perhaps", 0.3),
    )
)


def word_confidence(window: str) -> float | None:
    """The likelihood a phrase such as "most likely" or "possible" states."""
    for pattern, value in _WORDS:
        if pattern.search(window):
            return value
    return None


def number_confidence(segment: str) -> float | None:
    """A stated percentage or probability ("55%", "p=0.3")."""
    match = _PERCENT.search(segment)
    if match:
        value = float(match.group(1))
        return value / 100.0 if value <= 100 else None
    match = _PROBABILITY.search(segment)
    return float(match.group(1)) if match else None


def sentence_around(text: str, start: int, end: int) -> str:
    """The clause holding a mention: from the last . ; or newline before it to the next."""
    left = max(text.rfind(c, 0, start) for c in ".;\n") + 1
    rights = [i for i in (text.find(c, end) for c in ".;\n") if i >= 0]
    return text[left : min(rights) if rights else len(text)]
