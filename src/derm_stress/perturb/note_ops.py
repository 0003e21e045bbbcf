"""Note operators: incomplete and misleading consultation context.

Each returns a new ``Note``; the record of an application lists every touched field with
its old and new value (computed by ``Operator.__call__``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from derm_stress.cases import (
    DEMOGRAPHIC_FIELDS,
    HISTORY_FIELDS,
    LESION_FIELDS,
    ROMAN,
    SYMPTOM_FIELDS,
    Case,
    Note,
    duration_in_units,
    note_lines,
)
from derm_stress.errors import InvalidArgument
from derm_stress.labels import label, vocabulary
from derm_stress.perturb.base import Operator, register
from derm_stress.schema import Capability

BLOCKS: dict[str, tuple[str, ...]] = {
    "demographics": DEMOGRAPHIC_FIELDS,
    "lesion": LESION_FIELDS,
    "symptoms": SYMPTOM_FIELDS,
    "history": HISTORY_FIELDS,
    "referral": ("referral",),
    "free_text": ("free_text",),
}


# The look-alikes misleading_referral drew before the vocabulary had its own, kept for the 13
# original codes: stored results are keyed by the case and condition, not by what the
# operator planted, so changing these would silently mix old and new referrals (and the
# reference model was trained on them). Every other diagnosis draws from the vocabulary.
CONFUSABLE: dict[str, tuple[str, ...]] = {
    "ACK": ("SCC", "BCC", "SEK"),
    "BCC": ("SCC", "NEV", "SEK", "ACK"),
    "MEL": ("NEV", "SEK", "LENT"),
    "NEV": ("MEL", "SEK"),
    "SCC": ("ACK", "BCC", "SEK"),
    "SEK": ("MEL", "NEV", "ACK"),
    "BOD": ("ACK", "SEK"),
    "DF": ("NEV", "MEL"),
    "VASC": ("MEL", "NEV"),
    "LENT": ("MEL", "SEK"),
    "LPLK": ("BCC", "SEK"),
    "AKIEC": ("SEK", "BCC"),
    "BKL": ("MEL", "NEV"),
}


def lookalikes_for(case: Case) -> tuple[str, ...]:
    """Diagnoses a clinician could plausibly suggest instead of the case's own: the
    look-alikes of each of its accepted diagnoses (``CONFUSABLE`` for the 13 original
    codes, the vocabulary's for every other), in order, without any that would count as
    right for the case or that only says less (a broader term such as psoriasis for plaque
    psoriasis): a misleading referral is a realistic mistake, never a correct answer.
    Empty when none is known."""
    vocab = vocabulary()
    broader = {a for reference in case.diagnoses for a in vocab.ancestors(reference)}
    found: list[str] = []
    for reference in case.diagnoses:
        for code in CONFUSABLE.get(reference) or vocab.lookalikes(reference):
            if code in found or code in broader:
                continue
            if vocab.match_level(code, case.diagnoses) != "exact":
                found.append(code)
    return tuple(found)


class NoteOperator(Operator[Note]):
    """Base of note operators: target is a ``Note``."""

    kind = "note"


class FieldDropper(NoteOperator):
    """Base of note operators whose sampled params list the fields to make missing."""

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        return target.replace(**{f: None for f in params["fields"]})


def _check_fields(op: Operator[Any], fields: Any) -> tuple[str, ...]:
    names = Note.field_names()
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, (list, tuple)) or not fields:
        raise InvalidArgument(
            f"{op.name}: option 'fields' must be a non-empty list of note "
            f"fields, got {fields!r}; fields: {', '.join(names)}"
        )
    bad = [f for f in fields if f not in names]
    if bad:
        raise InvalidArgument(
            f"{op.name}: unknown note field {bad[0]!r}; fields: {', '.join(names)}"
        )
    return tuple(fields)


@register
class DropFields(FieldDropper):
    """Incomplete context: the named fields are missing from the note."""

    name = "drop_fields"
    capabilities = frozenset({Capability.REMOVES_INFORMATION})
    family = "incomplete"
    graded = False
    options = {"fields": None}

    def validate(self) -> None:
        self.config["fields"] = list(_check_fields(self, self.config["fields"]))

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        return {"fields": [f for f in self.config["fields"] if getattr(target, f) is not None]}


@register
class DropRandomFields(FieldDropper):
    """Incomplete context: a random share of the present fields is missing."""

    name = "drop_random_fields"
    capabilities = frozenset({Capability.REMOVES_INFORMATION})
    family = "incomplete"
    severities = {
        1: {"share": 0.1},
        2: {"share": 0.25},
        3: {"share": 0.4},
        4: {"share": 0.6},
        5: {"share": 0.8},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        present = list(target.present())
        k = min(len(present), max(1, round(self.level["share"] * len(present))))
        chosen = rng.choice(len(present), size=k, replace=False) if present else []
        return {"fields": sorted(present[i] for i in chosen)}


@register
class DropBlock(FieldDropper):
    """Incomplete context: whole blocks of the note are missing (e.g. the history)."""

    name = "drop_block"
    capabilities = frozenset({Capability.REMOVES_INFORMATION})
    family = "incomplete"
    graded = False
    options = {"blocks": None}

    def validate(self) -> None:
        blocks = self.config["blocks"]
        if isinstance(blocks, str):
            blocks = [blocks]
        if (
            not isinstance(blocks, (list, tuple))
            or not blocks
            or any(b not in BLOCKS for b in blocks)
        ):
            raise InvalidArgument(
                f"drop_block: option 'blocks' must list blocks from "
                f"{', '.join(BLOCKS)}, got {self.config['blocks']!r}"
            )
        self.config["blocks"] = list(blocks)

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        fields = [f for b in self.config["blocks"] for f in BLOCKS[b]]
        return {"fields": [f for f in fields if getattr(target, f) is not None]}


_REFERRAL_STYLES: dict[int, tuple[str, ...]] = {
    1: ("?{name}", "query {name}"),
    2: ("possible {name}", "could this be {name}?"),
    3: ("probable {name}", "looks like {name}"),
    4: ("clinically {name}", "{name}, please treat"),
    5: ("confirmed by dermatology: {name}", "diagnosis: {name} (dermatologist-confirmed)"),
}


@register
class MisleadingReferral(NoteOperator):
    """Misleading context: the referral suggests a wrong but look-alike diagnosis: one of
    the vocabulary's look-alikes of the case's diagnoses (the original table for the 13
    original codes), never one that counts as right for the case. A case whose diagnosis
    has no look-alike keeps its note.

    Severity sets how assertive it is, from hedged ("?seborrhoeic keratosis") to
    authoritative ("confirmed by dermatology: seborrhoeic keratosis").
    """

    name = "misleading_referral"
    capabilities = frozenset({Capability.PLANTS_DIAGNOSIS})
    family = "misleading"
    severities = {s: {"style": list(_REFERRAL_STYLES[s])} for s in range(1, 6)}

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        options = lookalikes_for(case)
        if not options:
            return {"diagnosis": None, "text": None}
        wrong = options[int(rng.integers(0, len(options)))]
        styles = _REFERRAL_STYLES[self.severity]
        template = styles[int(rng.integers(0, len(styles)))]
        return {"diagnosis": wrong, "text": template.format(name=label(wrong).name.lower())}

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        if params["text"] is None:
            return target
        return target.replace(referral=params["text"])


def _choose(rng: np.random.Generator, items: Sequence[str], k: int) -> list[str]:
    """``k`` distinct items in a seeded random order (fewer if there are fewer)."""
    if not items or k <= 0:
        return []
    picks = rng.choice(len(items), size=min(k, len(items)), replace=False)
    return [items[int(i)] for i in picks]


class FieldEditor(NoteOperator):
    """Base of note operators whose sampled params are the new field values:
    ``{"set": {field: value}}`` (JSON values), applied as they are."""

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        values = dict(params["set"])
        if values.get("size_mm") is not None:
            values["size_mm"] = tuple(values["size_mm"])
        return target.replace(**values)


@register
class TruncateFreeText(FieldEditor):
    """Incomplete context: the free text is cut short (severity 5 blanks it)."""

    name = "truncate_free_text"
    capabilities = frozenset({Capability.REMOVES_INFORMATION})
    family = "incomplete"
    severities = {
        1: {"keep": 0.8},
        2: {"keep": 0.6},
        3: {"keep": 0.4},
        4: {"keep": 0.2},
        5: {"keep": 0.0},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        text = target.free_text
        if text is None:
            return {"set": {}}
        cut = int(len(text) * self.level["keep"])
        kept = text[:cut].rsplit(" ", 1)[0] if cut < len(text) else text
        return {"set": {"free_text": kept.strip() or None}}


@register
class AgeShift(FieldEditor):
    """Erroneous context: the age is wrong by a number of years that grows with severity."""

    name = "age_shift"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "erroneous"
    severities = {
        1: {"years": 3},
        2: {"years": 7},
        3: {"years": 12},
        4: {"years": 20},
        5: {"years": 30},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        if target.age is None:
            return {"set": {}}
        shift = self.level["years"] * (1 if rng.random() < 0.5 else -1)
        if not 0 <= target.age + shift <= 110:
            shift = -shift  # stay a plausible age
        return {"set": {"age": float(min(110.0, max(0.0, target.age + shift)))}}


@register
class SexFlip(FieldEditor):
    """Erroneous context: the recorded sex is the other one."""

    name = "sex_flip"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "erroneous"
    graded = False

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        if target.sex is None:
            return {"set": {}}
        return {"set": {"sex": "male" if target.sex == "female" else "female"}}


SITE_REGIONS: dict[str, tuple[str, ...]] = {
    "head and neck": ("face", "nose", "ear", "lip", "scalp", "neck", "forehead", "cheek"),
    "trunk": ("back", "chest", "abdomen", "shoulder", "flank"),
    "upper limb": ("arm", "forearm", "hand", "finger"),
    "lower limb": ("thigh", "leg", "foot", "shin"),
}


def _region(site: str) -> str | None:
    text = site.lower()
    return next((r for r, sites in SITE_REGIONS.items() if any(s in text for s in sites)), None)


@register
class BodySiteSwap(FieldEditor):
    """Erroneous context: the body site is wrong; a neighbouring site at severity 1-2, a
    site in another region (a sun-exposed face for a covered back, say) from 3."""

    name = "body_site_swap"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "erroneous"
    severities = {
        1: {"scope": "same region"},
        2: {"scope": "same region"},
        3: {"scope": "other region"},
        4: {"scope": "other region"},
        5: {"scope": "other region"},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        if target.body_site is None:
            return {"set": {}}
        region = _region(target.body_site)
        current = target.body_site.lower()
        if self.level["scope"] == "same region" and region is not None:
            options = [s for s in SITE_REGIONS[region] if s not in current]
        else:
            options = [s for r, sites in SITE_REGIONS.items() if r != region for s in sites]
        return {"set": {"body_site": options[int(rng.integers(0, len(options)))]}}


@register
class DurationScale(FieldEditor):
    """Erroneous context: the duration is multiplied or divided by a growing factor (a
    lesion 'present for years' recorded as weeks, or the reverse)."""

    name = "duration_scale"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "erroneous"
    severities = {
        1: {"factor": 1.5},
        2: {"factor": 2},
        3: {"factor": 4},
        4: {"factor": 8},
        5: {"factor": 16},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        if target.duration_days is None:
            return {"set": {}}
        factor = float(self.level["factor"])
        scaled = target.duration_days * (factor if rng.random() < 0.5 else 1 / factor)
        return {"set": {"duration_days": round(max(1.0, scaled), 1)}}


@register
class SymptomFlip(FieldEditor):
    """Erroneous context: recorded symptoms (itch, pain, bleeding, growth, change,
    elevation) are the opposite of the truth; more of them with severity."""

    name = "symptom_flip"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "erroneous"
    severities = {
        1: {"flips": 1},
        2: {"flips": 1},
        3: {"flips": 2},
        4: {"flips": 3},
        5: {"flips": 4},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        present = [f for f in SYMPTOM_FIELDS if getattr(target, f) is not None]
        chosen = _choose(rng, present, int(self.level["flips"]))
        return {"set": {f: not getattr(target, f) for f in sorted(chosen)}}


@register
class HistoryFlip(FieldEditor):
    """Erroneous context: a history item is added or removed (personal skin cancer, family
    cancer); a missing item is added as present."""

    name = "history_flip"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "erroneous"
    severities = {
        1: {"items": 1},
        2: {"items": 1},
        3: {"items": 1},
        4: {"items": 2},
        5: {"items": 2},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        chosen = _choose(rng, ["skin_cancer_history", "family_history"], int(self.level["items"]))
        return {
            "set": {
                f: not getattr(target, f) if getattr(target, f) is not None else True
                for f in sorted(chosen)
            }
        }


def _contradiction(note: Note, field: str, rng: np.random.Generator) -> str | None:
    """A sentence contradicting ``field`` of ``note`` (None if it cannot be contradicted)."""
    value = getattr(note, field)
    yes_no = {
        "itch": ("Denies any itch.", "Complains of constant itching."),
        "pain": ("Painless.", "Very painful to touch."),
        "bleeding": ("Never bled.", "Bleeds easily."),
        "growth": ("Unchanged in size for years.", "Growing quickly."),
        "change": ("No change in appearance.", "Has changed colour recently."),
        "elevation": ("Completely flat lesion.", "Raised nodule."),
        "skin_cancer_history": ("No previous skin cancer.", "Previous melanoma excised."),
        "family_history": ("No family history of cancer.", "Strong family history of cancer."),
    }
    if field in yes_no and isinstance(value, bool):
        return yes_no[field][0] if value else yes_no[field][1]
    if field == "age" and value is not None:
        return "Young patient in their twenties." if value >= 45 else "Elderly patient."
    if field == "sex" and value is not None:
        return f"Patient is {'a man' if value == 'female' else 'a woman'}."
    if field == "size_mm" and value:
        return "Tiny lesion, about 1 mm." if max(value) >= 5 else "Large lesion, over 3 cm."
    if field == "duration_days" and value is not None:
        return "Appeared last week." if value > 60 else "Present since childhood."
    if field == "body_site" and value is not None:
        region = _region(value)
        others = [s for r, sites in SITE_REGIONS.items() if r != region for s in sites]
        return f"Lesion on the {others[int(rng.integers(0, len(others)))]}."
    return None


CONTRADICTABLE = (
    "age",
    "sex",
    "body_site",
    "size_mm",
    "duration_days",
    *SYMPTOM_FIELDS,
    "skin_cancer_history",
    "family_history",
)


@register
class Contradiction(FieldEditor):
    """Misleading context: the free text states the opposite of structured fields
    ("Denies any itch." when itch is recorded); more contradictions with severity."""

    name = "contradiction"
    capabilities = frozenset({Capability.CORRUPTS_FACTS})
    family = "misleading"
    severities = {
        1: {"statements": 1},
        2: {"statements": 1},
        3: {"statements": 2},
        4: {"statements": 2},
        5: {"statements": 3},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        present = [f for f in CONTRADICTABLE if getattr(target, f) is not None]
        chosen = _choose(rng, present, int(self.level["statements"]))
        sentences = [s for f in chosen if (s := _contradiction(target, f, rng))]
        if not sentences:
            return {"set": {}}
        text = " ".join(filter(None, [target.free_text, *sentences]))
        return {"set": {"free_text": text}, "contradicts": chosen}


def _shorthand(note: Note, field: str) -> str:
    value = getattr(note, field)
    if field == "age":
        return f"{value:g}yo"
    if field == "sex":
        return "F" if value == "female" else "M"
    if field == "fitzpatrick":
        return f"FST {ROMAN[value - 1]}"
    if field == "size_mm":
        return "x".join(f"{v:g}" for v in value) + "mm"
    if field == "duration_days":
        amount, unit = duration_in_units(float(value))
        suffix = {"days": "/7", "weeks": "/52", "months": "/12", "years": "y"}[unit]
        return f"{amount if unit == 'days' else round(amount):g}{suffix}"
    abbreviations = {
        "itch": "itch",
        "pain": "pain",
        "bleeding": "bleed",
        "growth": "grow",
        "change": "chg",
        "elevation": "raised",
    }
    if field in abbreviations:
        return ("+" if value else "-") + abbreviations[field]
    if field == "skin_cancer_history":
        return "PMHx skin ca" if value else "nil PMHx skin ca"
    if field == "family_history":
        return "FHx ca+" if value else "FHx ca-"
    if field == "other_history":
        return f"SHx {value}"
    if field == "referral":
        return f"ref: {value}"
    return str(value)


@register
class Shorthand(FieldEditor):
    """Messy documentation: structured fields rewritten as clinical shorthand in the free
    text ("61yo M, FST II, back, 8x6mm, 4/12, +itch -pain"); a larger share with severity."""

    name = "shorthand"
    capabilities = frozenset({Capability.REWORDS})
    family = "messy"
    severities = {
        1: {"share": 0.2},
        2: {"share": 0.4},
        3: {"share": 0.6},
        4: {"share": 0.8},
        5: {"share": 1.0},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        present = [f for f in target.present() if f != "free_text"]
        k = max(1, round(self.level["share"] * len(present))) if present else 0
        chosen = set(_choose(rng, present, k))
        if not chosen:
            return {"set": {}}
        text = ", ".join(_shorthand(target, f) for f in present if f in chosen)
        values: dict[str, Any] = {f: None for f in sorted(chosen)}
        values["free_text"] = " ".join(filter(None, [text + ".", target.free_text]))
        return {"set": values}


@register
class FieldShuffle(FieldEditor):
    """Messy documentation: the note arrives as one paragraph with its items in random
    order instead of structured fields."""

    name = "field_shuffle"
    capabilities = frozenset({Capability.REWORDS})
    family = "messy"
    graded = False

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        lines = [(f, line) for f, line in note_lines(target) if f != "free_text"]
        if len(lines) < 2:
            return {"set": {}}
        order = rng.permutation(len(lines))
        text = "; ".join(lines[int(i)][1] for i in order)
        values: dict[str, Any] = {f: None for f, _ in lines}
        values["free_text"] = " ".join(filter(None, [text + ".", target.free_text]))
        return {"set": values}


_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS: dict[str, str] = {}
for _row, _keys in enumerate(_KEYBOARD):
    for _col, _key in enumerate(_keys):
        near = [_keys[c] for c in (_col - 1, _col + 1) if 0 <= c < len(_keys)]
        for other in (_row - 1, _row + 1):
            if 0 <= other < len(_KEYBOARD):
                near += [_KEYBOARD[other][c] for c in (_col, _col + 1) if c < len(_KEYBOARD[other])]
        _NEIGHBOURS[_key] = "".join(near)
TEXT_FIELDS = ("body_site", "other_history", "referral", "free_text")


def _typo(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(0, len(word)))
    kind = int(rng.integers(0, 4))
    if kind == 0 and word[i].lower() in _NEIGHBOURS:  # neighbouring key
        near = _NEIGHBOURS[word[i].lower()]
        char = near[int(rng.integers(0, len(near)))]
        return word[:i] + (char.upper() if word[i].isupper() else char) + word[i + 1 :]
    if kind == 1 and len(word) > 3:  # dropped letter
        return word[:i] + word[i + 1 :]
    if kind == 2 and i < len(word) - 1:  # swapped letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]  # doubled letter


@register
class Typos(FieldEditor):
    """Messy documentation: character-level typos (neighbouring key, dropped, swapped or
    doubled letter) in the note's text fields, in a growing share of the words.

    Words come from NLTK's Treebank tokenizer (no downloaded data needed); everything
    between them is kept byte for byte.
    """

    name = "typos"
    capabilities = frozenset({Capability.REWORDS})
    family = "messy"
    severities = {
        1: {"rate": 0.05},
        2: {"rate": 0.1},
        3: {"rate": 0.2},
        4: {"rate": 0.3},
        5: {"rate": 0.45},
    }

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        from nltk.tokenize import TreebankWordTokenizer

        tokenizer = TreebankWordTokenizer()
        texts = {f: getattr(target, f) for f in TEXT_FIELDS if getattr(target, f)}
        words = [
            (f, start, end)
            for f, text in texts.items()
            for start, end in tokenizer.span_tokenize(text)
            if len(text[start:end]) >= 3 and text[start:end].isalpha()
        ]
        hits = [w for w in words if rng.random() < self.level["rate"]]
        if words and not hits:  # severity >= 1 always leaves at least one typo
            hits = [words[int(rng.integers(0, len(words)))]]
        values: dict[str, Any] = {}
        for field, text in texts.items():
            pieces, last = [], 0
            for _, start, end in sorted(w for w in hits if w[0] == field):
                pieces += [text[last:start], _typo(text[start:end], rng)]
                last = end
            new = "".join(pieces) + text[last:]
            if new != text:
                values[field] = new
        return {"set": values}
