"""Parse a model's free-text (or JSON) answer into a ranked differential of canonical codes.

A wrong parse is a wrong measurement, so this is conservative: diagnoses are found through the
vocabulary's synonyms (short abbreviations only in capitals, so "6 mm" is not melanoma),
negated mentions ("not melanoma", "melanoma is unlikely") are dropped, order of first mention
is the rank, and an answer with no diagnosis is ``unparseable`` rather than silently empty.
Triage is only what the answer states; metrics fall back to the triage of the top diagnosis.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from derm_stress.labels import LABELS, OTHER, TRIAGE_LEVELS, _key

_NEGATION_BEFORE = re.compile(
    r"\b(not|no|without|unlikely|excluded?|rather than|rules? out|ruled out)\b[^.;\n]{0,25}$",
    re.IGNORECASE,
)
_NEGATION_AFTER = re.compile(
    r"^[^.;\n]{0,12}\b(unlikely|excluded|ruled out|is not)\b", re.IGNORECASE
)
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_PROBABILITY = re.compile(
    r"(?:confidence|probability|p)\s*[:=]?\s*(0?\.\d+|1\.0+|0|1)\b", re.IGNORECASE
)
_TRIAGE = re.compile(r"\b(urgent|soon|routine)\b", re.IGNORECASE)
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


def _confidence(segment: str) -> float | None:
    match = _PERCENT.search(segment)
    if match:
        value = float(match.group(1))
        return value / 100.0 if value <= 100 else None
    match = _PROBABILITY.search(segment)
    return float(match.group(1)) if match else None


def _mentions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, code) of every non-negated, non-overlapping vocabulary mention."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, int, str]] = []
    for pattern, code in _PATTERNS:  # longest terms first, so they win overlaps
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            line_start = text.rfind("\n", 0, m.start()) + 1
            before = text[line_start : m.start()]
            after = text[m.end() : m.end() + 40]
            if _NEGATION_BEFORE.search(before) or _NEGATION_AFTER.search(after):
                continue
            found.append((m.start(), m.end(), code))
    return sorted(found)


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
    items = next(
        (data[k] for k in ("differential", "diagnoses", "diagnosis", "ranking") if k in data), None
    )
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
    codes: list[str] = []
    confidences: list[float | None] = []
    for _start, end, code in _mentions(text):
        if code in codes:
            continue
        line_end = text.find("\n", end)
        codes.append(code)
        confidences.append(_confidence(text[end : line_end if line_end >= 0 else len(text)]))
    triage_match = re.search(
        r"triage[^a-z\n]{0,5}[a-z ]{0,15}?\b(urgent|soon|routine)\b", text, re.IGNORECASE
    ) or _TRIAGE.search(text)
    triage = triage_match.group(1).lower() if triage_match else None
    if not codes:
        reason = "refusal" if _REFUSAL.search(text) else "no diagnosis found"
        return Parsed((), (), triage, "unparseable", reason)
    return Parsed(tuple(codes), tuple(confidences), triage, "ok")
