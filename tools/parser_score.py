"""Exact-match rate of derm_stress.parsing on tests/data/parser_corpus.jsonl.

An answer matches when the parsed differential (codes, in order), triage and status all
equal the expected ones. Usage: python tools/parser_score.py [--show-misses]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from derm_stress.parsing import parse_answer

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "parser_corpus.jsonl"


def score(show: bool = False) -> tuple[int, int]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    misses: Counter[str] = Counter()
    for row in rows:
        parsed = parse_answer(row["text"])
        got = (list(parsed.differential), parsed.triage, parsed.status)
        want = (row["differential"], row["triage"], row["status"])
        if got != want:
            misses[row["style"]] += 1
            if show:
                print(f"--- {row['id']} ({row['style']})\n{row['text']}\n want {want}\n got  {got}")
    matched = len(rows) - sum(misses.values())
    print(f"exact match: {matched}/{len(rows)} = {matched / len(rows):.1%}")
    if misses:
        print("misses by style: " + ", ".join(f"{s} {n}" for s, n in misses.most_common()))
    return matched, len(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show-misses", action="store_true")
    score(parser.parse_args().show_misses)
