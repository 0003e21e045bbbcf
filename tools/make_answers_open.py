"""Write tests/data/answers_open.jsonl: model answers in many formats with hand-written
expected differentials.

The differentials and their expected condition names are written by hand in
``answers_open_cases.py``; the extra cases below (refusals, unknown conditions, ambiguous
abbreviations, negation traps) are written out in full. This script only lays each
differential out in the formats models use (prose, lists, tables, JSON...), so a row's
expected names are the hand-written ones, in the hand-written order: the parser never
produces them. Seeded, so the file is the same on every run:

    python tools/make_answers_open.py            # rewrites the corpus
    python tools/make_answers_open.py --check    # fails if the committed file differs
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answers_open_cases import DIFFERENTIALS, EXTRA

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "answers_open.jsonl"

Items = list[tuple[str, str]]  # (written, expected name)

# how each level can be stated; the test expects the level, never the wording
TRIAGE_PHRASES = {
    "emergency": [
        "Triage: emergency",
        "This needs same-day assessment.",
        "Please attend A&E now.",
        "Go to the emergency department immediately.",
        "Triage level: EMERGENCY",
        "Refer same-day to on-call dermatology.",
    ],
    "urgent": [
        "Triage: urgent",
        "Refer urgently via the 2-week wait pathway.",
        "Urgent referral recommended.",
        "Please arrange a 2WW referral.",
        "Triage level: Urgent",
        "This should be seen urgently by dermatology.",
    ],
    "soon": [
        "Triage: soon",
        "Should be reviewed soon.",
        "Semi-urgent referral advised.",
        "Please see a dermatologist within a few weeks.",
        "Triage level: soon",
    ],
    "routine": [
        "Triage: routine",
        "Routine referral is appropriate.",
        "Non-urgent: routine follow-up with the GP.",
        "Triage level: ROUTINE",
        "This can be managed routinely in primary care.",
    ],
}

# conditions used as negated distractors: a model saying "not X" must not list X
DISTRACTORS = [
    "melanoma",
    "psoriasis",
    "scabies",
    "basal cell carcinoma",
    "cellulitis",
    "tinea corporis",
    "urticaria",
    "lichen planus",
    "vitiligo",
    "herpes zoster",
    "impetigo",
    "rosacea",
    "bullous pemphigoid",
    "sarcoidosis",
    "mycosis fungoides",
]

NEGATIONS = [
    "{x} is unlikely.",
    "There is no evidence of {x}.",
    "The picture is not typical of {x}.",
    "{x} has been ruled out.",
    "I have ruled out {x}.",
    "Features are not consistent with {x}.",
    "{x} seems unlikely given the history.",
    "No features to suggest {x}.",
]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _percentages(n: int, rng: random.Random) -> list[int]:
    values = sorted((rng.randint(5, 70) for _ in range(n)), reverse=True)
    return [v if i == 0 else min(v, values[i - 1] - 1) for i, v in enumerate(values)]


def _triage(level: str | None, rng: random.Random) -> str:
    return "" if level is None else rng.choice(TRIAGE_PHRASES[level])


def prose(items: Items, level: str | None, rng: random.Random) -> str:
    w = [x for x, _ in items]
    openers = [
        "The appearance is most consistent with {0}.",
        "Based on the image and history, I think this is {0}.",
        "This most likely represents {0}.",
        "The lesion looks like {0}.",
    ]
    text = rng.choice(openers).format(w[0])
    if len(w) >= 2:
        text += " " + rng.choice(
            ["{0} is also possible.", "An alternative would be {1}.", "{0} is a consideration."]
        ).format(_cap(w[1]), w[1])
    if len(w) >= 3:
        text += " " + rng.choice(
            ["Less likely, {1}.", "I would also consider {1}.", "{0} should be kept in mind."]
        ).format(_cap(w[2]), w[2])
    if len(w) >= 4:
        text += f" Finally, {w[3]} is a remote possibility."
    return (text + " " + _triage(level, rng)).strip()


def numbered(items: Items, level: str | None, rng: random.Random) -> str:
    pct = _percentages(len(items), rng)
    head = rng.choice(["", "Differential diagnosis:\n", "**Differential:**\n\n", "Top 3:\n"])
    mark = rng.choice(["{n}. ", "{n}) ", "({n}) "])
    lines = [
        mark.format(n=i + 1)
        + rng.choice(["{w} ({p}%)", "{w} - {p}%", "**{w}** ({p}%)", "{w}"]).format(w=_cap(w), p=p)
        for i, ((w, _), p) in enumerate(zip(items, pct, strict=True))
    ]
    tail = _triage(level, rng)
    return head + "\n".join(lines) + ("\n\n" + tail if tail else "")


def one_line_paren(items: Items, level: str | None, rng: random.Random) -> str:
    sep = rng.choice(["; ", ", ", " "])
    body = sep.join(f"{i + 1}) {w}" for i, (w, _) in enumerate(items))
    return (rng.choice(["Differential: ", "DDx: ", ""]) + body + ". " + _triage(level, rng)).strip()


def one_line_dot(items: Items, level: str | None, rng: random.Random) -> str:
    body = " ".join(f"{i + 1}. {_cap(w)}" for i, (w, _) in enumerate(items))
    return (body + " " + _triage(level, rng)).strip()


def bullets(items: Items, level: str | None, rng: random.Random) -> str:
    mark = rng.choice(["- ", "* ", "\u2022 "])
    head = rng.choice(["", "Possible diagnoses:\n", "**Differential diagnosis**\n"])
    lines = [mark + _cap(w) for w, _ in items]
    tail = _triage(level, rng)
    return head + "\n".join(lines) + ("\n\n" + tail if tail else "")


def markdown(items: Items, level: str | None, rng: random.Random) -> str:
    text = "## Assessment\n\n**Most likely:** " + _cap(items[0][0]) + "\n"
    if len(items) > 1:
        text += "\n**Also consider:**\n" + "\n".join(f"- {_cap(w)}" for w, _ in items[1:]) + "\n"
    tail = _triage(level, rng)
    return text + ("\n### Triage\n" + tail if tail else "")


def table(items: Items, level: str | None, rng: random.Random) -> str:
    pct = _percentages(len(items), rng)
    rows = ["| Rank | Diagnosis | Likelihood |", "|---|---|---|"]
    rows += [
        f"| {i + 1} | {_cap(w)} | {p}% |"
        for i, ((w, _), p) in enumerate(zip(items, pct, strict=True))
    ]
    tail = _triage(level, rng)
    return "\n".join(rows) + ("\n\n" + tail if tail else "")


def json_list(items: Items, level: str | None, rng: random.Random) -> str:
    names = [w for w, _ in items]
    if rng.random() < 0.4:  # a bare list, triage (if any) stated below it
        return (json.dumps(names) + "\n" + _triage(level, rng)).strip()
    data: dict[str, object] = {"differential": names}
    if level is not None:
        data["triage"] = level
    return json.dumps(data)


def json_objects(items: Items, level: str | None, rng: random.Random) -> str:
    pct = _percentages(len(items), rng)
    key, conf = rng.choice([("diagnosis", "confidence"), ("name", "probability")])
    objs = [{key: w, conf: round(p / 100, 2)} for (w, _), p in zip(items, pct, strict=True)]
    data: dict[str, object] = {"diagnoses": objs}
    if level is not None:
        data["triage"] = level
    text = json.dumps(data, indent=2)
    return f"```json\n{text}\n```" if rng.random() < 0.5 else text


def json_nested(items: Items, level: str | None, rng: random.Random) -> str:
    assessment: dict[str, object] = {"most_likely": items[0][0]}
    if len(items) > 1:
        assessment["differential"] = [{"condition": w} for w, _ in items[1:]]
    data: dict[str, object] = {"assessment": assessment, "reasoning": "Morphology, distribution."}
    if level is not None:
        data["referral"] = {"urgency": level}
    return "Here is my answer:\n" + json.dumps(data)


def most_likely(items: Items, level: str | None, rng: random.Random) -> str:
    w = [x for x, _ in items]
    text = f"Most likely {w[0]}"
    if len(w) > 1:
        rest = ", ".join(w[1:-1]) + (" and " if len(w) > 2 else "") + w[-1]
        text += f"; differential includes {rest}"
    return (text + ". " + _triage(level, rng)).strip()


def hedged(items: Items, level: str | None, rng: random.Random) -> str:
    w = [x for x, _ in items]
    text = f"I can't be certain from a photo, but this may be {w[0]}."
    if len(w) > 1:
        text += f" It could also be {w[1]}."
    for x in w[2:]:
        text += f" {_cap(x)} cannot be excluded."
    return (text + " " + _triage(level, rng)).strip()


def negation(items: Items, level: str | None, rng: random.Random) -> str:
    expected = {e for _, e in items}
    written = {w for w, _ in items}
    pool = [d for d in DISTRACTORS if d not in expected and d not in written]
    x = rng.choice(pool)
    neg = rng.choice(NEGATIONS).format(x=x)
    neg = _cap(neg)
    w = [x for x, _ in items]
    text = f"Most likely {w[0]}. {neg}"
    if len(w) > 1:
        text += " Other possibilities: " + ", ".join(w[1:]) + "."
    return (text + " " + _triage(level, rng)).strip()


def mixed_language(items: Items, level: str | None, rng: random.Random) -> str:
    w = [x for x, _ in items]
    frame = rng.choice(
        [
            ("Diagnóstico más probable: {0}.", " Diagnóstico diferencial: {0}."),
            ("Diagnostic le plus probable : {0}.", " Diagnostics différentiels : {0}."),
            ("Wahrscheinlichste Diagnose: {0}.", " Differenzialdiagnosen: {0}."),
            ("Hipótese principal: {0}.", " Diagnósticos diferenciais: {0}."),
        ]
    )
    text = frame[0].format(w[0])
    if len(w) > 1:
        text += frame[1].format(", ".join(w[1:]))
    return (text + " " + _triage(level, rng)).strip()


FORMATS: dict[str, Callable[[Items, str | None, random.Random], str]] = {
    "prose": prose,
    "numbered": numbered,
    "one_line_paren": one_line_paren,
    "one_line_dot": one_line_dot,
    "bullets": bullets,
    "markdown": markdown,
    "table": table,
    "json_list": json_list,
    "json_objects": json_objects,
    "json_nested": json_nested,
    "most_likely": most_likely,
    "hedged": hedged,
    "negation": negation,
    "mixed_language": mixed_language,
}


def misspell(word: str, rng: random.Random) -> str | None:
    """One slip of the keyboard inside a long word: a swap, a dropped or a doubled letter."""
    words = word.split(" ")
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    target = words[longest]
    if len(word.replace(" ", "")) < 10 or len(target) < 7 or not target.isalpha():
        return None
    i = rng.randint(2, len(target) - 3)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap" and target[i] != target[i + 1]:
        target = target[:i] + target[i + 1] + target[i] + target[i + 2 :]
    elif kind == "drop":
        target = target[:i] + target[i + 1 :]
    else:
        target = target[:i] + target[i] + target[i:]
    words[longest] = target
    return " ".join(words)


def parse_line(line: str) -> tuple[str | None, Items]:
    level, _, body = line.partition("|")
    items = []
    for part in body.split(";"):
        written, _, expected = part.strip().partition("=")
        items.append((written.strip(), (expected or written).strip()))
    return (None if level.strip() == "-" else level.strip()), items


def build() -> list[dict[str, object]]:
    rng = random.Random(12)
    names = list(FORMATS)
    rows: list[dict[str, object]] = []
    cursor = 0
    for number, line in enumerate(DIFFERENTIALS.strip().splitlines()):
        level, items = parse_line(line)
        for _ in range(2):
            style = names[cursor % len(names)]
            cursor += 1
            stated = level if rng.random() < 0.8 else None
            text = FORMATS[style](items, stated, rng)
            rows.append(
                {
                    "id": f"open-{len(rows):03d}",
                    "style": style,
                    "text": text,
                    "expected": [e for _, e in items],
                    "triage": stated,
                    "status": "ok",
                    "case": number,
                }
            )
        # every other differential whose first term is long gets a misspelt version
        slip = misspell(items[0][0], rng) if number % 2 == 0 else None
        if slip is not None and slip != items[0][0]:
            style = names[cursor % len(names)]
            cursor += 1
            if style in ("negation",):  # keep the slip the only difficulty
                style = "numbered"
            stated = level if rng.random() < 0.5 else None
            text = FORMATS[style]([(slip, items[0][1]), *items[1:]], stated, rng)
            rows.append(
                {
                    "id": f"open-{len(rows):03d}",
                    "style": "misspelled",
                    "layout": style,
                    "text": text,
                    "expected": [e for _, e in items],
                    "triage": stated,
                    "status": "ok",
                    "case": number,
                }
            )
    for style, text, expected, level, status in EXTRA:
        rows.append(
            {
                "id": f"open-{len(rows):03d}",
                "style": style,
                "text": text,
                "expected": expected,
                "triage": level,
                "status": status,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in build())
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print("answers_open.jsonl is up to date" if same else "answers_open.jsonl differs")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10))} answers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
