"""The parser against the open-vocabulary corpus (tests/data/answers_open.jsonl).

Expected differentials are condition names written by hand (``tools/answers_open_cases.py``)
and resolved here through the vocabulary, so the test checks the parser against what the
answer says, not against what the parser once produced. Target: >= 98% exact differentials
(the ranked code list equals the expected one), with a per-format breakdown on failure.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from derm_stress.errors import UnknownName
from derm_stress.labels import OTHER, normalise_label
from derm_stress.parsing import parse_answer

CORPUS = Path(__file__).parent / "data" / "answers_open.jsonl"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()
]


def expected_codes(row: dict[str, Any]) -> list[str]:
    """The expected names as codes, in order; a condition named twice counts once."""
    codes: list[str] = []
    for name in row["expected"]:
        code = OTHER if name.startswith("OTHER:") else normalise_label(name)
        if code == OTHER or code not in codes:
            codes.append(code)
    return codes


def test_every_expected_name_is_in_the_vocabulary() -> None:
    unknown = sorted(
        {
            name
            for row in ROWS
            for name in row["expected"]
            if not name.startswith("OTHER:") and not _resolves(name)
        }
    )
    assert not unknown, f"{len(unknown)} expected names the vocabulary lacks: {unknown}"


def test_unknown_conditions_are_really_unknown() -> None:
    known = sorted(
        name[len("OTHER:") :].strip()
        for row in ROWS
        for name in row["expected"]
        if name.startswith("OTHER:") and _resolves(name[len("OTHER:") :])
    )
    assert not known, f"now in the vocabulary, update the corpus: {known}"


def _resolves(name: str) -> bool:
    try:
        normalise_label(name)
    except UnknownName:
        return False
    return True


def test_corpus_is_large_and_varied() -> None:
    assert len(ROWS) >= 600
    styles = Counter(row["style"] for row in ROWS)
    assert len(styles) >= 12, styles
    conditions = {c for row in ROWS for c in expected_codes(row)} - {OTHER}
    assert len(conditions) >= 150, len(conditions)
    assert sum(row["status"] == "unparseable" for row in ROWS) >= 5
    assert sum(any(n.startswith("OTHER:") for n in row["expected"]) for row in ROWS) >= 8


def _breakdown(misses: list[tuple[dict[str, Any], Any]]) -> str:
    total = Counter(row["style"] for row in ROWS)
    missed = Counter(row["style"] for row, _ in misses)
    lines = [f"  {style:24s} {total[style] - missed[style]:4d}/{total[style]}" for style in total]
    shown = [
        f"  {row['id']} ({row['style']}): {row['text']!r}\n    want {want}\n    got  {got}"
        for row, (want, got) in misses[:40]
    ]
    return "per format:\n" + "\n".join(lines) + "\nmisses:\n" + "\n".join(shown)


def test_exact_differentials_at_least_98_percent() -> None:
    misses = []
    for row in ROWS:
        parsed = parse_answer(row["text"])
        want = (expected_codes(row), row["status"])
        got = (list(parsed.differential), parsed.status)
        if got != want:
            misses.append((row, (want, got)))
    rate = 1 - len(misses) / len(ROWS)
    print(f"open corpus exact differentials: {len(ROWS) - len(misses)}/{len(ROWS)} = {rate:.1%}")
    if rate < 0.98:
        pytest.fail(f"exact differentials {rate:.1%} < 98%\n{_breakdown(misses)}")


def test_stated_triage_at_least_98_percent() -> None:
    misses = []
    for row in ROWS:
        got = parse_answer(row["text"]).triage
        if got != row["triage"]:
            misses.append((row, (row["triage"], got)))
    rate = 1 - len(misses) / len(ROWS)
    if rate < 0.98:
        pytest.fail(f"stated triage {rate:.1%} < 98%\n{_breakdown(misses)}")


def test_unknown_conditions_keep_their_text() -> None:
    for row in ROWS:
        others = [n[len("OTHER:") :].strip() for n in row["expected"] if n.startswith("OTHER:")]
        if others:
            parsed = parse_answer(row["text"])
            assert list(parsed.other_terms) == others, row["id"]


def test_corpus_file_is_what_its_script_writes() -> None:
    script = Path(__file__).resolve().parents[1] / "tools" / "make_answers_open.py"
    spec = importlib.util.spec_from_file_location("make_answers_open", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in module.build())
    assert CORPUS.read_text(encoding="utf-8") == written, "run python tools/make_answers_open.py"
