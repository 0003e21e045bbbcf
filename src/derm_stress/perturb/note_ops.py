"""Note operators: incomplete and misleading consultation context.

Each returns a new ``Note``; the record of an application lists every touched field with
its old and new value (computed by ``Operator.__call__``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from derm_stress.cases import (
    DEMOGRAPHIC_FIELDS,
    HISTORY_FIELDS,
    LESION_FIELDS,
    SYMPTOM_FIELDS,
    Case,
    Note,
)
from derm_stress.errors import InvalidArgument
from derm_stress.labels import BY_CODE, label
from derm_stress.perturb.base import Operator, register

BLOCKS: dict[str, tuple[str, ...]] = {
    "demographics": DEMOGRAPHIC_FIELDS,
    "lesion": LESION_FIELDS,
    "symptoms": SYMPTOM_FIELDS,
    "history": HISTORY_FIELDS,
    "referral": ("referral",),
    "free_text": ("free_text",),
}

# Diagnoses a clinician could plausibly suggest instead of the true one (visual look-alikes),
# so a misleading referral is a realistic mistake rather than an absurd one.
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
assert set(CONFUSABLE) == set(BY_CODE), "every label needs look-alikes for misleading_referral"


class NoteOperator(Operator[Note]):
    """Base of note operators: target is a ``Note``."""

    kind = "note"


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
class DropFields(NoteOperator):
    """Incomplete context: the named fields are missing from the note."""

    name = "drop_fields"
    family = "incomplete"
    graded = False
    options = {"fields": None}

    def validate(self) -> None:
        self.config["fields"] = list(_check_fields(self, self.config["fields"]))

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        return {"fields": [f for f in self.config["fields"] if getattr(target, f) is not None]}

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        return target.replace(**{f: None for f in params["fields"]})


@register
class DropRandomFields(NoteOperator):
    """Incomplete context: a random share of the present fields is missing."""

    name = "drop_random_fields"
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

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        return target.replace(**{f: None for f in params["fields"]})


@register
class DropBlock(NoteOperator):
    """Incomplete context: whole blocks of the note are missing (e.g. the history)."""

    name = "drop_block"
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

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        return target.replace(**{f: None for f in params["fields"]})


_REFERRAL_STYLES: dict[int, tuple[str, ...]] = {
    1: ("?{name}", "query {name}"),
    2: ("possible {name}", "could this be {name}?"),
    3: ("probable {name}", "looks like {name}"),
    4: ("clinically {name}", "{name}, please treat"),
    5: ("confirmed by dermatology: {name}", "diagnosis: {name} (dermatologist-confirmed)"),
}


@register
class MisleadingReferral(NoteOperator):
    """Misleading context: the referral suggests a wrong but look-alike diagnosis.

    Severity sets how assertive it is, from hedged ("?seborrhoeic keratosis") to
    authoritative ("confirmed by dermatology: seborrhoeic keratosis").
    """

    name = "misleading_referral"
    family = "misleading"
    severities = {s: {"style": list(_REFERRAL_STYLES[s])} for s in range(1, 6)}

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        options = CONFUSABLE[case.diagnosis]
        wrong = options[int(rng.integers(0, len(options)))]
        styles = _REFERRAL_STYLES[self.severity]
        template = styles[int(rng.integers(0, len(styles)))]
        return {"diagnosis": wrong, "text": template.format(name=label(wrong).name.lower())}

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        return target.replace(referral=params["text"])
