"""Answer-parser throughput on one core: today's parser against the one before it.

Usage: python bench/bench_parsing.py [--repeat 5] [--old-commit 3258df5]

Parses the two committed corpora (tests/data/parser_corpus.jsonl, the lesion answers, and
tests/data/answers_open.jsonl, the open-vocabulary corpus) with

- ``new``: ``derm_stress.parsing.parse_answer`` over the active vocabulary;
- ``old/13``: the parser of commit ``--old-commit`` (read with ``git show``, so the bench
  needs a git checkout) over the 13 lesion labels it was written for;
- ``old/full``: the same old parser given every entry of the active vocabulary (one regular
  expression per term, as it was built).

in one process, side by side, one corpus pass after another. ``cold`` is the first pass
after building the parser's tables, with empty memos (what the first answers of a run
cost, table building apart); ``warm`` is the
best of ``--repeat`` further passes. Times are the process's CPU time (``time.process_time``),
so a machine shared with other jobs slows the figures less; the parsers are single-threaded.
Building the tables is timed apart. Prints answers per CPU-second and the ratios; the figures
in bench/README.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from derm_stress import labels
from derm_stress.parsing import parse_answer
from derm_stress.parsing import vocab as parsing_vocab
from derm_stress.parsing.terms import _INDEX

ROOT = Path(__file__).resolve().parents[1]
CORPORA = {
    "existing": ROOT / "tests" / "data" / "parser_corpus.jsonl",
    "open": ROOT / "tests" / "data" / "answers_open.jsonl",
}
LEGACY = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK", "BOD", "DF", "VASC", "LENT", "LPLK", "AKIEC")
LEGACY += ("BKL",)


def _entries() -> list[Any]:
    """Every entry of the active vocabulary (or the 13 labels before the open one)."""
    get = getattr(labels, "vocabulary", None)
    if get is None:
        return list(labels.LABELS)
    vocabulary = get()
    return [vocabulary.entry(code) for code in sorted({c for _, c, _ in vocabulary.terms()})]


def old_parser(commit: str, entries: Iterable[Any]) -> Callable[[str], Any]:
    """``parse_answer`` of the parser at ``commit``, built over ``entries``."""
    source = subprocess.run(
        ["git", "show", f"{commit}:src/derm_stress/parsing.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries = list(entries)
    table: dict[str, str] = {}
    for entry in entries:
        for text in (entry.code, entry.name, *entry.synonyms):
            table.setdefault(labels._key(text), entry.code)
    fake = types.ModuleType("bench_old_labels")
    fake.LABELS = tuple(entries)  # type: ignore[attr-defined]
    fake.OTHER = labels.OTHER  # type: ignore[attr-defined]
    fake.TRIAGE_LEVELS = ("routine", "soon", "urgent")  # type: ignore[attr-defined]
    fake._key = labels._key  # type: ignore[attr-defined]
    fake.synonym_table = lambda: dict(table)  # type: ignore[attr-defined]
    sys.modules["bench_old_labels"] = fake
    source = source.replace("from derm_stress.labels import", "from bench_old_labels import")
    module = types.ModuleType(f"old_parsing_{len(entries)}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:parsing.py", "exec"), module.__dict__)
    parse: Callable[[str], Any] = module.parse_answer
    return parse


def _pass(parse: Callable[[str], Any], texts: list[str]) -> float:
    """CPU seconds of one pass: on a shared machine, waiting for a core is not counted."""
    start = time.process_time()
    for text in texts:
        parse(text)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old-commit", default="3258df5")
    args = parser.parse_args()
    texts = {}
    for name, path in CORPORA.items():
        rows = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
        texts[f"{name} ({len(rows)})"] = rows
    entries = _entries()
    legacy = [labels.label(code) for code in LEGACY]
    terms = sum(1 + len(e.synonyms) for e in entries)
    print(f"vocabulary: {len(entries)} entries, about {terms} names and synonyms")

    start = time.perf_counter()
    _INDEX.clear()
    parsing_vocab.active_index().prepare()
    build_new = time.perf_counter() - start
    start = time.perf_counter()
    parsers: dict[str, Callable[[str], Any]] = {"new": parse_answer}
    parsers["old/13"] = old_parser(args.old_commit, legacy)
    build_old13 = time.perf_counter() - start
    start = time.perf_counter()
    parsers["old/full"] = old_parser(args.old_commit, entries)
    build_oldfull = time.perf_counter() - start
    print(
        f"build tables: new {build_new * 1e3:.0f} ms, old/13 {build_old13 * 1e3:.0f} ms, "
        f"old/full {build_oldfull * 1e3:.0f} ms"
    )
    rates: dict[tuple[str, str, str], float] = {}
    for corpus, rows in texts.items():
        for name, parse in parsers.items():
            if name == "new":  # cold: fresh tables, empty memos
                _INDEX.clear()
                parsing_vocab.active_index().prepare()
            cold = _pass(parse, rows)
            warm = min(_pass(parse, rows) for _ in range(args.repeat))
            rates[(corpus, name, "cold")] = len(rows) / cold
            rates[(corpus, name, "warm")] = len(rows) / warm
    print(f"\n{'corpus':16s} {'parser':9s} {'cold ans/s':>11s} {'warm ans/s':>11s}")
    for corpus in texts:
        for name in parsers:
            print(
                f"{corpus:16s} {name:9s} {rates[(corpus, name, 'cold')]:11,.0f} "
                f"{rates[(corpus, name, 'warm')]:11,.0f}"
            )
    print("\nratios new / old (warm, cold):")
    for corpus in texts:
        for old in ("old/13", "old/full"):
            warm = rates[(corpus, "new", "warm")] / rates[(corpus, old, "warm")]
            cold = rates[(corpus, "new", "cold")] / rates[(corpus, old, "cold")]
            print(f"  {corpus:16s} new / {old:8s}: {warm:5.2f}x warm, {cold:5.2f}x cold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
