"""Exact-match rate of derm_stress.parsing on the committed answer corpora.

``lesions`` (tests/data/parser_corpus.jsonl): a match is the parsed differential (codes, in
order), triage and status all equal to the expected ones. ``open``
(tests/data/answers_open.jsonl): expected condition names are resolved through the active
vocabulary, a match is the differential and status; triage is scored apart. Prints the rate
and the misses per style.

Usage: python tools/parser_score.py [--corpus lesions|open|both] [--show-misses]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from derm_stress.labels import OTHER, normalise_label
from derm_stress.parsing import parse_answer

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CORPUS = DATA / "parser_corpus.jsonl"
OPEN_CORPUS = DATA / "answers_open.jsonl"


def _expected(row: dict[str, Any]) -> tuple[Any, ...]:
    if "expected" not in row:
        return (row["differential"], row["triage"], row["status"])
    codes: list[str] = []
    for name in row["expected"]:
        code = OTHER if name.startswith("OTHER:") else normalise_label(name)
        if code == OTHER or code not in codes:
            codes.append(code)
    return (codes, row["status"])


def score(path: Path = CORPUS, show: bool = False) -> tuple[int, int]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    misses: Counter[str] = Counter()
    triage_misses = 0
    for row in rows:
        parsed = parse_answer(row["text"])
        want = _expected(row)
        got: tuple[Any, ...] = (list(parsed.differential), parsed.status)
        if len(want) == 3:
            got = (list(parsed.differential), parsed.triage, parsed.status)
        elif parsed.triage != row["triage"]:
            triage_misses += 1
        if got != want:
            misses[row["style"]] += 1
            if show:
                print(f"--- {row['id']} ({row['style']})\n{row['text']}\n want {want}\n got  {got}")
    matched = len(rows) - sum(misses.values())
    print(f"{path.name}: exact match {matched}/{len(rows)} = {matched / len(rows):.1%}")
    if "expected" in rows[0]:
        print(f"  stated triage: {len(rows) - triage_misses}/{len(rows)}")
    if misses:
        print("  misses by style: " + ", ".join(f"{s} {n}" for s, n in misses.most_common()))
    return matched, len(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", choices=("lesions", "open", "both"), default="both")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    if args.corpus in ("lesions", "both"):
        score(CORPUS, args.show_misses)
    if args.corpus in ("open", "both"):
        score(OPEN_CORPUS, args.show_misses)
