"""Write tests/data/parser_corpus.jsonl: model answers with their expected parse.

Two parts. Hand-written answers (``HAND``) cover the hard cases one by one: refusals,
negations, hedges, lay terms, misspellings, diagnoses outside the vocabulary, JSON in code
fences, rambling. Templated answers render seeded random differentials in the styles the
study's models produce (GPT-4.1 markdown, MedGemma structured, LLaVA-Med and InternVL terse,
SkinGPT4 verbose, JSON), with the names varied through synonyms, spellings and
abbreviations. The expected parse is known by construction.

Usage: python tools/make_parser_corpus.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "parser_corpus.jsonl"

# how models name each diagnosis: canonical names, synonyms, abbreviations, misspellings
NAMES = {
    "MEL": [
        "Melanoma",
        "malignant melanoma",
        "MM",
        "melanoma in situ",
        "Melonoma",
        "superficial spreading melanoma",
    ],
    "NEV": [
        "Melanocytic nevus",
        "benign nevus",
        "mole",
        "naevus",
        "dysplastic nevus",
        "compound naevus",
        "Nevus",
    ],
    "BCC": [
        "Basal cell carcinoma",
        "BCC",
        "basal-cell carcinoma",
        "Basel cell carcinoma",
        "nodular basal cell carcinoma",
        "rodent ulcer",
    ],
    "SCC": [
        "Squamous cell carcinoma",
        "SCC",
        "cutaneous SCC",
        "squamous-cell carcinoma",
        "keratoacanthoma",
        "Squamous cell carcinonma",
    ],
    "ACK": [
        "Actinic keratosis",
        "AK",
        "solar keratosis",
        "actinic keratoses",
        "Actinic keratossis",
    ],
    "SEK": [
        "Seborrheic keratosis",
        "seborrhoeic keratosis",
        "SK",
        "seb K",
        "Seborheic keratosis",
        "basal cell papilloma",
    ],
    "DF": ["Dermatofibroma", "DF"],
    "BOD": ["Bowen's disease", "SCC in situ", "Bowens disease"],
    "LENT": ["Solar lentigo", "sun spot", "lentigo"],
    "VASC": ["Cherry angioma", "vascular lesion", "pyogenic granuloma"],
}
OTHER_NAMES = [
    "Psoriasis",
    "Eczema",
    "Lichen planus",
    "Wart (verruca vulgaris)",
    "Molluscum contagiosum",
    "Tinea corporis",
    "Sebaceous hyperplasia",
]
TRIAGE = {
    "MEL": "urgent",
    "BCC": "urgent",
    "SCC": "urgent",
    "ACK": "soon",
    "BOD": "soon",
    "NEV": "routine",
    "SEK": "routine",
    "DF": "routine",
    "LENT": "routine",
    "VASC": "routine",
}


def _gpt(items: list[tuple[str, int]], triage: str) -> str:
    lines = [
        "Based on the image and the clinical information provided, here is my assessment:",
        "",
        "**Differential diagnosis:**",
        "",
    ]
    for i, (name, conf) in enumerate(items, 1):
        lines.append(f"{i}. **{name}** ({conf}%) - features are compatible with this diagnosis.")
    lines += [
        "",
        f"**Triage:** {triage.capitalize()}",
        "",
        "Please note that a definitive diagnosis requires in-person examination.",
    ]
    return "\n".join(lines)


def _medgemma(items: list[tuple[str, int]], triage: str) -> str:
    lines = ["## Assessment", ""]
    for i, (name, conf) in enumerate(items, 1):
        lines.append(f"{i}. {name} — confidence {conf}%")
    lines += ["", f"Triage level: {triage}"]
    return "\n".join(lines)


def _terse(items: list[tuple[str, int]], triage: str) -> str:
    return ", ".join(name for name, _ in items) + f". Triage: {triage}."


def _lower(name: str) -> str:
    """Prose lower-cases names but keeps abbreviations (BCC, SK) in capitals."""
    return " ".join(w if w.isupper() else w.lower() for w in name.split())


def _llava(items: list[tuple[str, int]], triage: str) -> str:
    first, *rest = items
    text = f"The image shows a skin lesion that is most likely {_lower(first[0])}."
    if rest:
        text += " Other possibilities include " + " and ".join(_lower(n) for n, _ in rest) + "."
    return text + f" I would recommend a {triage} referral."


def _skingpt(items: list[tuple[str, int]], triage: str) -> str:
    first, *rest = items
    text = (
        f"Thank you for sharing this image. Looking at the lesion, I can see irregular "
        f"features. My top suspicion is {first[0]} with about {first[1]}% confidence. "
    )
    for name, conf in rest:
        text += f"{name} is also possible ({conf}%). "
    return text + (
        f"Given these findings the case should be triaged as {triage}. "
        "Consult a dermatologist for confirmation."
    )


def _json(items: list[tuple[str, int]], triage: str) -> str:
    return json.dumps(
        {"differential": [{"diagnosis": n, "confidence": c} for n, c in items], "triage": triage}
    )


def _fenced_json(items: list[tuple[str, int]], triage: str) -> str:
    return (
        "```json\n"
        + json.dumps(
            {
                "diagnoses": [{"name": n, "probability": c / 100} for n, c in items],
                "triage": triage,
            },
            indent=2,
        )
        + "\n```"
    )


def _bullets(items: list[tuple[str, int]], triage: str) -> str:
    lines = ["Differential:"] + [f"- {n}: {c}%" for n, c in items]
    return "\n".join([*lines, f"Triage - {triage}"])


STYLES = {
    "gpt_markdown": _gpt,
    "medgemma": _medgemma,
    "terse": _terse,
    "llava_prose": _llava,
    "skingpt_verbose": _skingpt,
    "json": _json,
    "json_fenced": _fenced_json,
    "bullets": _bullets,
}

PROSE = ("terse", "llava_prose", "skingpt_verbose")

HAND: list[dict[str, object]] = [
    {
        "style": "refusal",
        "text": "I'm sorry, but I can't provide a medical diagnosis from an "
        "image. Please consult a qualified dermatologist.",
        "differential": [],
        "triage": None,
        "status": "unparseable",
    },
    {
        "style": "refusal",
        "text": "As an AI, I am unable to diagnose skin conditions.",
        "differential": [],
        "triage": None,
        "status": "unparseable",
    },
    {"style": "empty", "text": "", "differential": [], "triage": None, "status": "unparseable"},
    {
        "style": "rambling",
        "text": "The picture is a bit blurry and the lighting is poor. I can "
        "see a lesion about 6 mm across with some pigment. Hard to say more.",
        "differential": [],
        "triage": None,
        "status": "unparseable",
    },
    {
        "style": "negation",
        "text": "This is not melanoma. It looks like a seborrheic keratosis.",
        "differential": ["SEK"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "negation",
        "text": "Likely dermatofibroma; melanoma is unlikely. Routine follow-up.",
        "differential": ["DF"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "negation",
        "text": "1. Basal cell carcinoma (70%)\n2. Squamous cell carcinoma "
        "(20%)\n3. Actinic keratosis (10%)\nNo features of melanoma.\nTriage: urgent",
        "differential": ["BCC", "SCC", "ACK"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "lay",
        "text": "It's just a mole, nothing to worry about. Routine check.",
        "differential": ["NEV"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "lay",
        "text": "Looks like a sun spot (age spot) on the cheek.",
        "differential": ["LENT"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "abbreviations",
        "text": "Ddx: BCC > SCC > AK. Urgent.",
        "differential": ["BCC", "SCC", "ACK"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "abbreviations",
        "text": "MM vs SK vs DF",
        "differential": ["MEL", "SEK", "DF"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "millimetres",
        "text": "A 6 mm pigmented lesion, 4mm raised. Most likely a nevus.",
        "differential": ["NEV"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "other",
        "text": "1. Psoriasis (50%)\n2. Melanoma (30%)\n3. Eczema (20%)\nTriage: soon",
        "differential": ["OTHER", "MEL", "OTHER"],
        "triage": "soon",
        "status": "ok",
    },
    {
        "style": "other",
        "text": "1. Lichen planus\n2. Seborrheic keratosis\nTriage: routine",
        "differential": ["OTHER", "SEK"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "other",
        "text": '{"differential": [{"diagnosis": "tinea", "confidence": 40}, '
        '{"diagnosis": "nummular eczema", "confidence": 35}, {"diagnosis": "BCC", '
        '"confidence": 25}], "triage": "routine"}',
        "differential": ["OTHER", "OTHER", "BCC"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "hedge",
        "text": "Possibly an actinic keratosis, though it could be early "
        "squamous cell carcinoma. Soon.",
        "differential": ["ACK", "SCC"],
        "triage": "soon",
        "status": "ok",
    },
    {
        "style": "hedge",
        "text": "I think this may be a Bowen's disease. Alternatively a superficial BCC.",
        "differential": ["BOD", "BCC"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "repeat",
        "text": "Melanoma. Melanoma should be excluded urgently; second "
        "option nevus.\nTriage: urgent",
        "differential": ["MEL", "NEV"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "markdown_table",
        "text": "| Rank | Diagnosis | Confidence |\n|---|---|---|\n"
        "| 1 | Seborrheic keratosis | 55% |\n| 2 | Melanoma | 30% |\n| 3 | Solar lentigo | 15% |"
        "\n\n**Triage:** routine",
        "differential": ["SEK", "MEL", "LENT"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "reasoning_bullets",
        "text": "Findings:\n- asymmetric pigmentation\n- irregular "
        "border\n- diameter over 6 mm\n\nDifferential:\n1. Melanoma (65%)\n2. Dysplastic nevus "
        "(25%)\n3. Seborrheic keratosis (10%)\n\nTriage: urgent",
        "differential": ["MEL", "NEV", "SEK"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "triage_words_in_text",
        "text": "This is a routine-looking seborrheic "
        "keratosis, but given the bleeding I would triage as soon.",
        "differential": ["SEK"],
        "triage": "soon",
        "status": "ok",
    },
    {
        "style": "json_no_triage",
        "text": '{"diagnoses": ["actinic keratosis", '
        '"squamous cell carcinoma", "basal cell carcinoma"]}',
        "differential": ["ACK", "SCC", "BCC"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "broken_json",
        "text": '{"differential": [{"diagnosis": "melanoma", "confi',
        "differential": ["MEL"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "uppercase",
        "text": "DIAGNOSIS: BASAL CELL CARCINOMA. TRIAGE: URGENT.",
        "differential": ["BCC"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "misspelled",
        "text": "1. seborheic keratosis\n2. melonoma\n3. dermatofibrom",
        "differential": ["SEK", "MEL", "DF"],
        "triage": None,
        "status": "ok",
    },
    {
        "style": "misspelled",
        "text": "Most likely basel cell carcinoma; differential actinic keratossis.",
        "differential": ["BCC", "ACK"],
        "triage": None,
        "status": "ok",
    },
    # written after the parser was tuned on the rest; scored 7/10 before the fixes they
    # prompted (negation scope, "cannot be excluded", "urgently", lentigo maligna)
    {
        "style": "fresh",
        "text": "Top 3 differential:\n(1) Nodular BCC \u2013 60%\n(2) "
        "Amelanotic melanoma \u2013 25%\n(3) Intradermal nevus \u2013 15%\nTriage level: URGENT",
        "differential": ["BCC", "MEL", "NEV"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "The most probable diagnosis is an actinic keratosis (about "
        "55%). Squamous cell carcinoma cannot be excluded (30%), and Bowen disease is a further "
        "possibility (15%). Recommend review soon.",
        "differential": ["ACK", "SCC", "BOD"],
        "triage": "soon",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "Answer: seborrhoeic keratosis\nConfidence: high\nTriage: routine",
        "differential": ["SEK"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "**1. Melanoma** \u2013 45%\n**2. Atypical (dysplastic) nevus** "
        "\u2013 35%\n**3. Pigmented BCC** \u2013 20%\n\nTriage: **urgent**",
        "differential": ["MEL", "NEV", "BCC"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "Diagnosis: dermatofibroma (70%), differential: nevus (20%), scar (10%). Routine.",
        "differential": ["DF", "NEV"],
        "triage": "routine",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "I believe this lesion represents a squamous cell carcinoma "
        "arising in an area of actinic damage. Given the rapid growth, keratoacanthoma is also "
        "in the differential. This should be seen urgently.",
        "differential": ["SCC"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": '{"top_diagnoses": [{"diagnosis": "Basal cell carcinoma", '
        '"confidence": 0.7}, {"diagnosis": "Sebaceous hyperplasia", "confidence": 0.2}], '
        '"triage": "urgent"}',
        "differential": ["BCC", "OTHER"],
        "triage": "urgent",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "1) Solar lentigo 50%\n2) Seborrheic keratosis 30%\n3) Lentigo "
        "maligna melanoma 20%\nTriage: soon",
        "differential": ["LENT", "SEK", "MEL"],
        "triage": "soon",
        "status": "ok",
    },
    {
        "style": "fresh",
        "text": "Unable to determine from this image; the photo is too blurry to assess.",
        "differential": [],
        "triage": None,
        "status": "unparseable",
    },
    {
        "style": "fresh",
        "text": "- Most likely: haemangioma\n- Alternative: pyogenic "
        "granuloma\n- Less likely: amelanotic melanoma\nTriage: routine",
        "differential": ["VASC", "MEL"],
        "triage": "routine",
        "status": "ok",
    },
]


def main() -> None:
    rng = random.Random(20261122)
    rows: list[dict[str, object]] = [dict(r, id=f"hand-{i:03d}") for i, r in enumerate(HAND)]
    codes = list(NAMES)
    for i in range(140):
        style = list(STYLES)[i % len(STYLES)]
        k = rng.choice([1, 2, 3, 3, 3, 4])
        chosen = rng.sample(codes, k)
        confidences = sorted((rng.randint(5, 80) for _ in chosen), reverse=True)
        items = [(rng.choice(NAMES[c]), conf) for c, conf in zip(chosen, confidences, strict=False)]
        expected = list(chosen)
        if rng.random() < 0.12 and style not in ("llava_prose",):  # an unknown diagnosis
            position = rng.randrange(len(items) + 1)
            items.insert(position, (rng.choice(OTHER_NAMES), 5))
            expected.insert(position, "OTHER")
        triage = (
            TRIAGE[chosen[0]] if rng.random() < 0.8 else rng.choice(["urgent", "soon", "routine"])
        )
        text = STYLES[style](items, triage)
        if style in PROSE and "OTHER" in expected:
            # a diagnosis outside the vocabulary is undetectable in running prose (nothing
            # marks it as one); the parser skips it, so the ones after it move up
            expected = [c for c in expected if c != "OTHER"]
        rows.append(
            {
                "id": f"gen-{i:03d}",
                "style": style,
                "text": text,
                "differential": expected,
                "triage": triage,
                "status": "ok",
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} answers to {OUT}")


if __name__ == "__main__":
    main()
