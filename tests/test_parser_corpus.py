"""The parser against the committed corpus of model answers (target: >= 98% exact match)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from derm_stress.parsing import parse_answer

CORPUS = Path(__file__).parent / "data" / "parser_corpus.jsonl"


def test_corpus_is_large_and_varied() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150
    styles = Counter(r["style"] for r in rows)
    assert len(styles) >= 12
    assert sum(r["status"] == "unparseable" for r in rows) >= 4
    assert sum("OTHER" in r["differential"] for r in rows) >= 10


def test_exact_match_rate_is_at_least_98_percent() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    misses = []
    for row in rows:
        parsed = parse_answer(row["text"])
        got = (list(parsed.differential), parsed.triage, parsed.status)
        if got != (row["differential"], row["triage"], row["status"]):
            misses.append((row["id"], got))
    rate = 1 - len(misses) / len(rows)
    print(f"parser exact match: {len(rows) - len(misses)}/{len(rows)} = {rate:.1%}")
    assert rate >= 0.98, misses
