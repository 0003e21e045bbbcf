"""Parse a model's free-text (or JSON) answer into a ranked differential of canonical codes.

A wrong parse is a wrong measurement, so this is conservative. Diagnoses are found through
every term of the active vocabulary (``terms``: one tokenisation, n-gram lookups, longest
match first, misspellings of long terms only); the answer's shape decides the ranking
(``structure``: JSON, numbered or bulleted lists, tables, one-line enumerations, else the
order of first mention in prose); negated mentions are dropped (``context``); an item that
names no known condition keeps its rank as ``OTHER`` with its text in ``other_terms``; an
answer naming nothing is ``unparseable`` with a reason. Triage is only what the answer
states (``triage``); metrics fall back to the triage of the top diagnosis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from derm_stress.labels import OTHER
from derm_stress.parsing.context import (
    chains,
    negated,
    number_confidence,
    sentence_around,
    word_confidence,
)
from derm_stress.parsing.structure import Item, json_items, lead_lines, list_items
from derm_stress.parsing.terms import Mention, TermIndex
from derm_stress.parsing.triage import LEVELS as TRIAGE_LEVELS
from derm_stress.parsing.triage import stated_triage
from derm_stress.parsing.vocab import active_index, ancestors, looked_up

__all__ = ["TRIAGE_LEVELS", "Parsed", "parse_answer"]

_REFUSAL = re.compile(
    r"\b(cannot|can't|unable to|not able to|won't)\b.{0,40}"
    r"\b(diagnos|provide|determine|assess)",
    re.IGNORECASE,
)
# words that make the clause around an abbreviation a diagnostic statement
_DIAGNOSTIC_CUE = re.compile(
    r"\b(?:likely|possible|probable|consider\w*|differential|diagnos\w*|ddx|exclude[sd]?|"
    r"rule out|suspect\w*|suspicion|impression|concern\w*|think|believe|favou?r\w*|vs|"
    r"versus|consistent with|in keeping with|suggestive of)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z]{3,}")
_STARTS_NEGATIVE = re.compile(r"^\W*(?:no|not|without|never)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """The result of parsing one answer.

    ``other_terms`` holds the text of each ``OTHER`` in ``differential``, in the same order.
    """

    differential: tuple[str, ...]
    confidences: tuple[float | None, ...]
    triage: str | None
    status: str  # "ok" or "unparseable"
    reason: str | None = None
    other_terms: tuple[str, ...] = ()


class _Answer:
    """The state of one parse: the text, its mentions and the codes named unambiguously."""

    def __init__(self, text: str, index: TermIndex) -> None:
        self.text = text
        self.index = index
        self._named: frozenset[str] | None = None
        self._kept: dict[tuple[str, bool], tuple[list[tuple[Mention, str]], bool]] = {}

    def named(self) -> frozenset[str]:
        """Codes the whole answer names by an unambiguous, non-negated term."""
        if self._named is None:
            mentions = self.index.mentions(self.text)
            flags = negated(self.text, mentions)
            self._named = frozenset(
                m.code
                for m, neg in zip(mentions, flags, strict=True)
                if not neg and not m.ambiguous
            )
        return self._named

    def resolve(self, mention: Mention, in_slot: bool) -> str | None:
        """The code of a mention; an ambiguous one only where the context decides: the
        answer names one of its meanings in full, or it has one meaning in this vocabulary
        and stands where a diagnosis goes (a list item, a JSON name, "X vs Y")."""
        if not mention.ambiguous:
            return mention.code
        spelled = [c for c in mention.codes if c in self.named()]
        if len(spelled) == 1:
            return spelled[0]
        if len(mention.codes) == 1 and in_slot:
            return mention.code
        return None

    def kept(self, text: str, slot_first: bool) -> tuple[list[tuple[Mention, str]], bool]:
        """Resolved, non-negated mentions of ``text`` and whether any mention was negated."""
        known = self._kept.get((text, slot_first))
        if known is None:
            known = self._kept[(text, slot_first)] = self._find(text, slot_first)
        return known

    def _find(self, text: str, slot_first: bool) -> tuple[list[tuple[Mention, str]], bool]:
        mentions = self.index.mentions(text)
        if not mentions:
            return [], False
        flags = negated(text, mentions)
        out: list[tuple[Mention, str]] = []
        chain_of: dict[int, list[int]] | None = None
        for i, (m, neg) in enumerate(zip(mentions, flags, strict=True)):
            if neg:
                continue
            if not m.ambiguous:
                out.append((m, m.code))
                continue
            if chain_of is None:
                chain_of = {j: g for g in chains(text, mentions) for j in g}
            chain = chain_of[i]
            in_slot = (
                (slot_first and i == 0 and not _WORD.search(text[: m.start]))
                or (len(chain) > 1 and any(not mentions[j].ambiguous for j in chain))
                or bool(_DIAGNOSTIC_CUE.search(sentence_around(text, m.start, m.end)))
            )
            code = self.resolve(m, in_slot)
            if code is not None:
                out.append((m, code))
        return out, any(flags)


# words that make a later, more specific mention a refinement of the earlier one rather than
# another item of the differential ("eczema, most likely nummular eczema")
_SPECIFYING = re.compile(
    r"\b(?:type|subtype|variant|form|specifically|namely|i\.?e|likely|probably|in particular|"
    r"more precisely)\b|\($",
    re.IGNORECASE,
)


def _refine(code: str, first: Mention, text: str, later: list[tuple[Mention, str]]) -> str:
    """A more specific entry that specifies an earlier mention of its parent replaces it
    ("eczema, most likely nummular eczema" is nummular eczema; "lichen planus or a lichenoid
    drug eruption" stays two items)."""
    end = first.end
    for mention, other in later:
        if code in ancestors(other) and _SPECIFYING.search(text[end : mention.start]):
            code, end = other, mention.end
    return code


def _other_name(item: str) -> str:
    name = re.split(r"\s[-\u2013\u2014:(]|:|\(|\s\|", re.sub(r"[*_`]", "", item))[0]
    return name.strip(" .;,|")


def _from_items(
    answer: _Answer, items: list[Item]
) -> tuple[list[str], list[float | None], list[str]]:
    codes: list[str] = []
    confidences: list[float | None] = []
    others: list[str] = []
    for item in items:
        kept, any_negated = answer.kept(item.text, slot_first=True)
        if kept:
            first, code = kept[0]
            code = _refine(code, first, item.text, kept[1:])
            if code in codes:
                continue
            end = first.end
        elif any_negated or _STARTS_NEGATIVE.match(item.text) or not _other_name(item.text):
            continue  # "No features of melanoma" is not a diagnosis
        else:
            name = _other_name(item.text)
            code, end = looked_up(name), 0
            if code == OTHER:
                others.append(name)
            elif code in codes:
                continue
        codes.append(code)
        if item.confidence_given:
            confidences.append(item.confidence)
        else:
            conf = number_confidence(item.text[end:])
            confidences.append(conf if conf is not None else word_confidence(item.text))
    return codes, confidences, others


def _from_prose(answer: _Answer) -> tuple[list[str], list[float | None]]:
    text = answer.text
    codes: list[str] = []
    confidences: list[float | None] = []
    sentences: list[str] = []
    ends: list[int] = []
    kept, _ = answer.kept(text, slot_first=False)
    for m, code in kept:
        sentence = sentence_around(text, m.start, m.end)
        parent = next(
            (
                i
                for i, c in enumerate(codes)
                if c in ancestors(code)
                and sentences[i] == sentence
                and _SPECIFYING.search(text[ends[i] : m.start])
            ),
            None,
        )
        if parent is not None:
            codes[parent] = code  # "psoriasis, the guttate type (guttate psoriasis)"
            ends[parent] = m.end
            continue
        if code in codes:
            continue
        line_end = text.find("\n", m.end)
        conf = number_confidence(text[m.end : line_end if line_end >= 0 else len(text)])
        if conf is None:
            conf = word_confidence(sentence)
        codes.append(code)
        confidences.append(conf)
        sentences.append(sentence)
        ends.append(m.end)
    return codes, confidences


def parse_answer(text: str) -> Parsed:
    """Parse one answer. Never raises: failures are ``status='unparseable'`` with a reason."""
    if not text or not text.strip():
        return Parsed((), (), None, "unparseable", "empty answer")
    answer = _Answer(text, active_index())
    others: list[str] = []
    from_json = json_items(text, number_confidence)
    if from_json is not None:
        items, triage = from_json
        codes, confidences, others = _from_items(answer, items)
        if codes:
            triage = triage or stated_triage(text)
            return Parsed(tuple(codes), tuple(confidences), triage, "ok", other_terms=tuple(others))

    def names_diagnosis(item: str) -> bool:
        return bool(answer.kept(item, slot_first=True)[0])

    listed = list_items(text, names_diagnosis)
    if listed is not None:
        listed_items, before = listed
        leads = [Item(line) for line in lead_lines(before) if names_diagnosis(line)]
        codes, confidences, others = _from_items(answer, leads + [Item(i) for i in listed_items])
    else:
        codes, confidences = _from_prose(answer)
    triage = stated_triage(text)
    if not codes:
        reason = "refusal" if _REFUSAL.search(text) else "no diagnosis found"
        return Parsed((), (), triage, "unparseable", reason)
    return Parsed(tuple(codes), tuple(confidences), triage, "ok", other_terms=tuple(others))
