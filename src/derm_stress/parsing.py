"""Parse a model's free-text (or JSON) answer into a ranked differential of canonical codes.

A wrong parse is a wrong measurement, so this is conservative: diagnoses are found through the
vocabulary's synonyms (short abbreviations only in capitals, so "6 mm" is not melanoma),
negated mentions ("not melanoma", "melanoma is unlikely") are dropped, order of first mention
is the rank, and an answer with no diagnosis is ``unparseable`` rather than silently empty.
Triage is only what the answer states; metrics fall back to the triage of the top diagnosis.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

from derm_stress.labels import LABELS, OTHER, TRIAGE_LEVELS, _key, synonym_table, vocabulary

_NEGATION_BEFORE = re.compile(
    r"\b(not|no|without|unlikely|excluded?|rather than|rules? out|ruled out)\b[^.;,\n]{0,25}$",
    re.IGNORECASE,
)
_NEGATION_AFTER = re.compile(
    r"^[^.;,\n]{0,12}\b(unlikely|excluded|ruled out|is not)\b", re.IGNORECASE
)
# "cannot be excluded" keeps a diagnosis in the differential
_NOT_NEGATED_AFTER = re.compile(
    r"^[^.;,\n]{0,12}\b(cannot|can't|can not|could not|not) be (excluded|ruled out)",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_PROBABILITY = re.compile(
    r"(?:confidence|probability|p)\s*[:=]?\s*(0?\.\d+|1\.0+|0|1)\b", re.IGNORECASE
)
_TRIAGE = re.compile(r"\b(urgent|soon|routine)(?:ly)?\b", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(cannot|can't|unable to|not able to|won't)\b.{0,40}"
    r"\b(diagnos|provide|determine|assess)",
    re.IGNORECASE,
)


def _build_patterns() -> list[tuple[re.Pattern[str], str]]:
    terms: dict[str, tuple[str, bool]] = {}
    for lbl in LABELS:
        for text in (lbl.code, lbl.name, *lbl.synonyms):
            key = _key(text)
            short = len(key.replace(" ", "")) <= 3
            terms.setdefault(key, (lbl.code, short))
    # an ambiguous abbreviation ("MM") counts in capitals inside an answer, the context of a
    # dermatological differential, when only one entry of the vocabulary claims it
    for key, code, ambiguous in vocabulary().terms():
        if ambiguous and sum(1 for k, _, a in vocabulary().terms() if a and k == key) == 1:
            terms.setdefault(key, (code, True))
    patterns = []
    for key, (code, short) in sorted(terms.items(), key=lambda kv: -len(kv[0])):
        words = [re.escape(w) for w in key.split(" ")]
        body = r"[\s\-]+".join(words).replace("'", "'?")
        if short:  # abbreviations only as capitals: avoids "mm", "sk" inside prose
            patterns.append((re.compile(rf"(?<![A-Za-z]){body.upper()}(?![A-Za-z])"), code))
        else:
            patterns.append((re.compile(rf"\b{body}\b", re.IGNORECASE), code))
    return patterns


_PATTERNS = _build_patterns()


@dataclass(frozen=True)
class Parsed:
    """The result of parsing one answer."""

    differential: tuple[str, ...]
    confidences: tuple[float | None, ...]
    triage: str | None
    status: str  # "ok" or "unparseable"
    reason: str | None = None
    other_terms: tuple[str, ...] = ()


# Verbal likelihoods, used only when no number is given (longest phrase wins)
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


def _word_confidence(window: str) -> float | None:
    for pattern, value in _WORDS:
        if pattern.search(window):
            return value
    return None


def _sentence_around(text: str, start: int, end: int) -> str:
    """The clause holding a mention: from the last . ; or newline before it to the next."""
    left = max(text.rfind(c, 0, start) for c in ".;\n") + 1
    rights = [i for i in (text.find(c, end) for c in ".;\n") if i >= 0]
    return text[left : min(rights) if rights else len(text)]


def _confidence(segment: str) -> float | None:
    match = _PERCENT.search(segment)
    if match:
        value = float(match.group(1))
        return value / 100.0 if value <= 100 else None
    match = _PROBABILITY.search(segment)
    return float(match.group(1)) if match else None


def _negated(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    after = text[end : end + 40]
    if _NOT_NEGATED_AFTER.search(after):
        return False
    return bool(_NEGATION_BEFORE.search(text[line_start:start]) or _NEGATION_AFTER.search(after))


_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# vocabulary terms long enough to be matched when misspelt: (text, word count, code)
_FUZZY_TERMS = [(k, k.count(" ") + 1, c) for k, c in sorted(synonym_table().items()) if len(k) >= 6]
FUZZY_CUTOFF = 0.85


def _fuzzy(candidate: str, words: int) -> str | None:
    """The code of the vocabulary term ``candidate`` most likely misspells, if close."""
    best, best_code = FUZZY_CUTOFF, None
    for key, count, code in _FUZZY_TERMS:
        if count != words or key[0] != candidate[0] or abs(len(key) - len(candidate)) > 2:
            continue
        ratio = difflib.SequenceMatcher(None, candidate, key).ratio()
        if ratio >= best:
            best, best_code = ratio, code
    return best_code


def _mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, code) of every non-negated, non-overlapping vocabulary mention.

    Exact synonyms first (longest first, so they win overlaps); then misspellings: runs of
    one to four words not already matched, of at least 7 letters, within 2 letters of a
    vocabulary term's length and starting with its letter, similar at 0.85 or more.
    """
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return not any(start < e and s < end for s, e in taken)

    for pattern, code in _PATTERNS:
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                taken.append((m.start(), m.end()))
                if not _negated(text, m.start(), m.end()):
                    found.append((m.start(), m.end(), code))
    words = list(_WORD.finditer(text))
    for n in (4, 3, 2, 1):
        for i in range(len(words) - n + 1):
            start, end = words[i].start(), words[i + n - 1].end()
            if not free(start, end) or "\n" in text[start:end]:
                continue
            candidate = _key(text[start:end])
            if len(candidate.replace(" ", "")) < 7:
                continue
            guess = _fuzzy(candidate, n)
            if guess is not None:
                taken.append((start, end))
                if not _negated(text, start, end):
                    found.append((start, end, guess))
    return sorted(found)


_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.)]|[-*\u2022+]|\|)\s*(.*)$")
_HEADER_WORDS = r"(?:rank|diagnosis|diagnoses|differential|confidence|probability|likelihood|#)"
_NOT_AN_ITEM = re.compile(rf"^[\s|*#:\-]*(?:{_HEADER_WORDS}[\s|*#:\-]*)*$", re.IGNORECASE)


def _list_blocks(text: str) -> list[tuple[list[str], bool]]:
    """Consecutive runs of list items (numbered, bulleted or table rows), and whether the
    run is numbered."""
    blocks: list[tuple[list[str], bool]] = []
    current: list[str] = []
    numbered = False
    for line in text.split("\n"):
        match = _ITEM.match(line)
        if match:
            item = match.group(1)
            # table headers, separators and triage lines stay out but keep the block open
            if not _NOT_AN_ITEM.match(item) and not re.match(r"\W*triage", item, re.I):
                current.append(item)
                numbered = numbered or bool(re.match(r"\s*(\d|\|\s*\d)", line))
        elif current:
            blocks.append((current, numbered))
            current, numbered = [], False
    if current:
        blocks.append((current, numbered))
    return blocks


def _from_list(text: str) -> tuple[list[str], list[float | None], list[str]] | None:
    """The differential from the first list in which most items name a diagnosis; an item
    naming none keeps its rank as ``OTHER`` (dropping it would promote the items below)."""
    for block, numbered in _list_blocks(text):
        items = [(item, _mentions(item)) for item in block]
        named = sum(bool(m) for _, m in items)
        # a numbered list naming any diagnosis is the ranking; a bulleted one must name
        # diagnoses in at least half its items (bullets are often findings)
        if named == 0 or (not numbered and named * 2 < len(items)):
            continue
        codes: list[str] = []
        confidences: list[float | None] = []
        others: list[str] = []
        for item, mentions in items:
            if mentions:
                code, end = mentions[0][2], mentions[0][1]
                if code in codes:
                    continue
            elif re.match(r"\W*(no|not|without)\b", item, re.IGNORECASE):
                continue  # "No features of melanoma" is not a diagnosis
            else:
                code, end = OTHER, 0
                name = re.split(r"\s[-\u2014:(]|:|\(", re.sub(r"[*_`|]", "", item))[0]
                others.append(name.strip())
            codes.append(code)
            conf = _confidence(item[end:])
            confidences.append(conf if conf is not None else _word_confidence(item))
        return codes, confidences, others
    return None


def _parse_json(text: str) -> Parsed | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    # "differential", "diagnoses", "top_diagnoses", "differential_diagnosis", ...
    key = next(
        (k for k in ("differential", "diagnoses", "diagnosis", "ranking") if k in data),
        next(
            (k for k in data if re.search(r"diagnos|differential|ranking", str(k), re.IGNORECASE)),
            None,
        ),
    )
    items = data[key] if key is not None else None
    if isinstance(items, (str, dict)):
        items = [items]
    if not isinstance(items, list):
        return None
    codes: list[str] = []
    confidences: list[float | None] = []
    others: list[str] = []
    for item in items:
        name, conf = item, None
        if isinstance(item, dict):
            name = next(
                (item[k] for k in ("diagnosis", "name", "label", "condition") if k in item), ""
            )
            raw_conf = next(
                (item[k] for k in ("confidence", "probability", "likelihood") if k in item), None
            )
            if isinstance(raw_conf, (int, float)):
                conf = float(raw_conf) / (100.0 if raw_conf > 1 else 1.0)
            elif isinstance(raw_conf, str):
                conf = _confidence(raw_conf) or _confidence(f"p={raw_conf}")
        mentions = _mentions(str(name))
        code = mentions[0][2] if mentions else OTHER
        if code == OTHER:
            others.append(str(name))
        if code not in codes or code == OTHER:
            codes.append(code)
            confidences.append(conf)
    triage = data.get("triage")
    triage = str(triage).lower() if str(triage).lower() in TRIAGE_LEVELS else None
    if not codes:
        return None
    return Parsed(tuple(codes), tuple(confidences), triage, "ok", other_terms=tuple(others))


def parse_answer(text: str) -> Parsed:
    """Parse one answer. Never raises: failures are ``status='unparseable'`` with a reason."""
    if not text or not text.strip():
        return Parsed((), (), None, "unparseable", "empty answer")
    from_json = _parse_json(text)
    if from_json is not None:
        return from_json
    listed = _from_list(text)
    others: list[str] = []
    if listed is not None:
        codes, confidences, others = listed
    else:
        codes, confidences = [], []
        for start, end, code in _mentions(text):
            if code in codes:
                continue
            line_end = text.find("\n", end)
            conf = _confidence(text[end : line_end if line_end >= 0 else len(text)])
            if conf is None:
                conf = _word_confidence(_sentence_around(text, start, end))
            codes.append(code)
            confidences.append(conf)
    triage_match = re.search(
        r"triage[^a-z\n]{0,5}[a-z ]{0,15}?\b(urgent|soon|routine)(?:ly)?\b", text, re.IGNORECASE
    ) or _TRIAGE.search(text)
    triage = triage_match.group(1).lower() if triage_match else None
    if not codes:
        reason = "refusal" if _REFUSAL.search(text) else "no diagnosis found"
        return Parsed((), (), triage, "unparseable", reason)
    return Parsed(tuple(codes), tuple(confidences), triage, "ok", other_terms=tuple(others))
