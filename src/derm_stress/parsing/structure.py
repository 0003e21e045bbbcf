"""The shapes a differential comes in: JSON, lists, tables, one-line enumerations.

Each finder returns the answer's ranked items (the text naming one diagnosis, and a stated
confidence where the shape gives one), or None when the answer does not have that shape;
prose is what is left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from derm_stress.parsing.triage import level_of


@dataclass(frozen=True)
class Item:
    """One ranked entry of a structured answer: its text and a confidence if stated apart."""

    text: str
    confidence: float | None = None
    confidence_given: bool = False  # JSON gives it in its own field


# ---- JSON -----------------------------------------------------------------------------------

_NAME_KEYS = ("diagnosis", "name", "condition", "label", "dx", "disease", "term", "title")
_CONF_KEYS = ("confidence", "probability", "likelihood", "score", "prob", "p")
_DIAGNOSTIC_KEY = re.compile(
    r"diagnos|differential|ddx|condition|most_?likely|primary|top|ranking|alternative|"
    r"other|secondary|possib|consider|likely|impression|^dx$|^answer$|^result",
    re.IGNORECASE,
)
_NEGATIVE_KEY = re.compile(r"unlikely|exclu|ruled|not_|^no_|against|rejected", re.IGNORECASE)
_TRIAGE_KEY = re.compile(r"triage|urgency|priority|referral|disposition", re.IGNORECASE)


def _json_document(text: str) -> Any:
    """The first JSON object or array in the text (fenced or not), or None."""
    decoder = json.JSONDecoder()
    for start in (i for i, c in enumerate(text) if c in "{["):
        try:
            data, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            if text[start] == "{":
                return None  # a broken object: read the text as prose instead
            continue
        if isinstance(data, (dict, list)):
            return data
    return None


def _confidence_value(raw: Any, number: Callable[[str], float | None]) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        value = float(raw)
        return value / 100.0 if value > 1 else value
    if isinstance(raw, str):
        return number(raw) if number(raw) is not None else number(f"p={raw.strip()}")
    return None


def _collect(
    node: Any, out: list[Item], number: Callable[[str], float | None], names: bool = True
) -> None:
    """Diagnosis items of a JSON node, in document order. Strings count only where
    ``names`` (under a diagnostic key, or a bare list); under other keys ("assessment",
    "result") only objects are searched, so "findings": ["scaly"] names nothing."""
    if isinstance(node, str):
        if names and node.strip():
            out.append(Item(node))
    elif isinstance(node, list):
        for child in node:
            _collect(child, out, number, names)
    elif isinstance(node, dict):
        lowered = {str(k).lower(): v for k, v in node.items()}
        name = next((lowered[k] for k in _NAME_KEYS if isinstance(lowered.get(k), str)), None)
        if name is not None:
            raw = next((lowered[k] for k in _CONF_KEYS if k in lowered), None)
            out.append(Item(name, _confidence_value(raw, number), True))
            return
        for key, value in node.items():
            key = str(key)
            if _NEGATIVE_KEY.search(key) or _TRIAGE_KEY.search(key):
                continue
            if _DIAGNOSTIC_KEY.search(key):
                _collect(value, out, number)
            elif isinstance(value, dict):
                _collect(value, out, number, names=False)


def json_items(
    text: str, number: Callable[[str], float | None]
) -> tuple[list[Item], str | None] | None:
    """Items and stated triage of a JSON answer (a list of names, a list of objects with a
    diagnosis and a confidence, or an object holding those, nested or not)."""
    if "{" not in text and "[" not in text:
        return None
    data = _json_document(text)
    if data is None:
        return None
    items: list[Item] = []
    _collect(data, items, number)
    triage = None
    stack = [data]
    while stack and triage is None:
        node = stack.pop(0)
        if isinstance(node, dict):
            for key, value in node.items():
                if _TRIAGE_KEY.search(str(key)) and isinstance(value, str):
                    triage = level_of(value)
                    if triage is not None:
                        break
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    if not items:
        return None
    return items, triage


# ---- one-line enumerations ----------------------------------------------------------------

_INLINE_MARK = re.compile(r"(?:(?<=^)|(?<=[\s;,:(]))\(?(\d{1,2})[.)](?=[\s*_]*[^\d\s.,;)])")


def split_inline_lists(text: str) -> str:
    """Put each item of a one-line numbered list on its own line ("1) X; 2) Y; 3) Z")."""
    if not re.search(r"\d[.)]", text):
        return text
    lines = []
    for line in text.split("\n"):
        marks = list(_INLINE_MARK.finditer(line))
        seq: list[re.Match[str]] = []
        for m in marks:
            if int(m.group(1)) == len(seq) + 1:
                seq.append(m)
        if len(seq) < 2:
            lines.append(line)
            continue
        head = line[: seq[0].start()].rstrip()
        if head.strip(" *_:-"):
            lines.append(head)
        for i, m in enumerate(seq):
            end = seq[i + 1].start() if i + 1 < len(seq) else len(line)
            body = line[m.end() : end].strip().rstrip(";,").strip()
            lines.append(f"{m.group(1)}. {body}")
    return "\n".join(lines)


# ---- lists and tables ---------------------------------------------------------------------

_ITEM = re.compile(r"^\s*[*_]*\s*(?:\(?#?\d{1,2}\s*[.):]|[-*\u2022+\u2013](?=\s)|\|)[*_]*\s*(.*)$")
_HEADER_WORDS = r"(?:rank|diagnosis|diagnoses|differential|confidence|probability|likelihood|#)"
_NOT_AN_ITEM = re.compile(rf"^[\s|*#:\-]*(?:{_HEADER_WORDS}[\s|*#:\-]*)*$", re.IGNORECASE)
_NOT_A_DIAGNOSIS = re.compile(
    r"^\W*(?:triage|urgency|next steps?|recommend\w*|management|plan|advice|note|referral|"
    r"investigations?|treatment|follow[- ]?up|disclaimer|confidence|red flags?)\b",
    re.IGNORECASE,
)
_NEGATIVE_HEADER = re.compile(
    r"^\W*(?:unlikely|ruled out|excluded|not (?:consistent|likely|favou?red|supported)|"
    r"less consistent|against|rejected)\b",
    re.IGNORECASE,
)
_TABLE_DIAGNOSIS = re.compile(r"diagnos|condition|differential|name|ddx", re.IGNORECASE)
_RANK_CELL = re.compile(r"^[\s*_#]*(?:\d{1,2}|\d+(?:\.\d+)?\s*%|0?\.\d+|rank)?[\s*_.)]*$", re.I)


@dataclass
class _Block:
    items: list[str]
    numbered: bool
    negative: bool
    line: int  # where it starts


def _is_header(line: str) -> bool:
    bare = line.strip().strip("*_ ")
    return (
        bool(bare)
        and len(bare) <= 60
        and (bare.endswith(":") or line.lstrip().startswith("#") or line.strip().startswith("**"))
    )


def _table_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _blocks(text: str) -> list[tuple[_Block, bool]]:
    """Runs of list items, each with whether it directly follows the previous one (only
    headers and blank lines between)."""
    out: list[tuple[_Block, bool]] = []
    current: _Block | None = None
    adjacent = False  # does the next block directly follow the last one?
    negative = False
    diagnosis_column: int | None = None
    for number, line in enumerate(text.split("\n")):
        match = _ITEM.match(line)
        if match and line.lstrip().startswith("|"):
            cells = _table_cells(line)
            if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
                continue  # separator row
            header = any(_TABLE_DIAGNOSIS.search(c) for c in cells) and all(
                _NOT_AN_ITEM.match(c) or _TABLE_DIAGNOSIS.search(c) for c in cells
            )
            if diagnosis_column is None and header:
                diagnosis_column = next(
                    i for i, c in enumerate(cells) if _TABLE_DIAGNOSIS.search(c)
                )
                continue  # header row
            if diagnosis_column is not None and diagnosis_column < len(cells):
                col = diagnosis_column
            else:
                col = next((i for i, c in enumerate(cells) if not _RANK_CELL.match(c)), 0)
            item = " | ".join(cells[col:])
            if current is None:
                current = _Block([], True, negative, number)
            current.items.append(item)
            continue
        if match:
            item = match.group(1)
            if _NOT_AN_ITEM.match(item) or _NOT_A_DIAGNOSIS.match(item):
                continue  # table headers, triage lines: keep the block open
            if current is None:
                current = _Block([], False, negative, number)
            current.items.append(item)
            current.numbered = current.numbered or bool(re.match(r"\s*[*_]*\(?#?\d", line))
            continue
        if not line.strip():
            continue  # blank lines do not split a list
        if current is not None:
            out.append((current, adjacent))
            current = None
            adjacent = True
        diagnosis_column = None
        negative = bool(_NEGATIVE_HEADER.match(line.strip().strip("*_# ")))
        if not _is_header(line):
            adjacent = False
    if current is not None:
        out.append((current, adjacent))
    return out


def list_items(text: str, names_diagnosis: Callable[[str], bool]) -> tuple[list[str], str] | None:
    """The items of the answer's ranked list (the first list in which enough items name a
    diagnosis, and the lists that directly continue it: "Also consider:"), and the text
    before it, where a lead such as "**Most likely:** X" may rank first."""
    taken: list[str] = []
    start = 0
    text = split_inline_lists(text)
    for block, adjacent in _blocks(text):
        if taken and (not adjacent or block.negative):
            break
        if block.negative:
            continue
        named = sum(names_diagnosis(item) for item in block.items)
        # a numbered list naming any diagnosis is the ranking; a bulleted one must name
        # diagnoses in at least half its items (bullets are often findings)
        if named == 0 or (not block.numbered and named * 2 < len(block.items)):
            if taken:
                break
            continue
        if not taken:
            start = block.line
        taken += block.items
    if not taken:
        return None
    return taken, "\n".join(text.split("\n")[:start])


_LEAD = re.compile(
    r"\b(?:most likely|likely|probable|probably|diagnosis|impression|primary|working|"
    r"favou?r|I think|looks? like|consistent with|in keeping with|suggestive of|answer|"
    r"first|top|main)\b",
    re.IGNORECASE,
)


def lead_lines(before: str) -> list[str]:
    """Lines before a list that state a diagnosis ("**Most likely:** psoriasis")."""
    return [line for line in before.split("\n") if _LEAD.search(line)]
