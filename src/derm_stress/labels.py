"""The diagnosis vocabulary: canonical codes, display names, synonyms and triage.

Canonical codes are fine-grained diagnoses. Some datasets label with coarser groups
(HAM10000's ``bkl`` lumps seborrhoeic keratosis, solar lentigo and lichen planus-like
keratosis; ``akiec`` lumps actinic keratosis and Bowen's disease), so a label can be a
*group* whose ``members`` also count as a correct answer.

Triage mapping (documented in the README): malignant diagnoses are ``urgent``, premalignant
and in-situ diagnoses are ``soon``, benign ones ``routine``. BCC is malignant and therefore
``urgent`` here even though some referral guidelines (for example NICE NG12) route it
non-urgently; teams with another policy pass their own mapping to the metrics.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from derm_stress.errors import did_you_mean

Malignancy = Literal["malignant", "premalignant", "benign"]
Triage = Literal["urgent", "soon", "routine"]
TRIAGE_LEVELS: tuple[Triage, ...] = ("routine", "soon", "urgent")  # ordered by urgency

OTHER = "OTHER"  # a diagnosis outside the vocabulary; never correct, triage unknown


@dataclass(frozen=True)
class Label:
    """One entry of the vocabulary."""

    code: str
    name: str
    malignancy: Malignancy
    synonyms: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # for group labels: codes that also count as correct

    @property
    def triage(self) -> Triage:
        return TRIAGE_BY_MALIGNANCY[self.malignancy]


TRIAGE_BY_MALIGNANCY: dict[Malignancy, Triage] = {
    "malignant": "urgent",
    "premalignant": "soon",
    "benign": "routine",
}

LABELS: tuple[Label, ...] = (
    Label(
        "ACK",
        "Actinic keratosis",
        "premalignant",
        (
            "actinic keratosis",
            "actinic keratoses",
            "solar keratosis",
            "ak",
            "ack",
            "senile keratosis",
        ),
    ),
    Label(
        "BCC",
        "Basal cell carcinoma",
        "malignant",
        ("basal cell carcinoma", "bcc", "basalioma", "rodent ulcer", "basal cell cancer"),
    ),
    Label(
        "MEL",
        "Melanoma",
        "malignant",
        (
            "melanoma",
            "mel",
            "malignant melanoma",
            "mm",
            "melanoma in situ",
            "lentigo maligna",
            "lentigo maligna melanoma",
            "acral lentiginous melanoma",
        ),
    ),
    Label(
        "NEV",
        "Melanocytic nevus",
        "benign",
        (
            "nevus",
            "naevus",
            "nevi",
            "naevi",
            "melanocytic nevus",
            "melanocytic naevus",
            "nv",
            "nev",
            "mole",
            "benign nevus",
            "compound nevus",
            "junctional nevus",
            "intradermal nevus",
            "dysplastic nevus",
            "atypical nevus",
        ),
    ),
    Label(
        "SCC",
        "Squamous cell carcinoma",
        "malignant",
        (
            "squamous cell carcinoma",
            "scc",
            "cutaneous squamous cell carcinoma",
            "cscc",
            "squamous cell cancer",
            "keratoacanthoma",
        ),
        members=("BOD",),
    ),  # PAD-UFES-20 folds Bowen's disease into SCC
    Label(
        "SEK",
        "Seborrhoeic keratosis",
        "benign",
        (
            "seborrhoeic keratosis",
            "seborrheic keratosis",
            "seborrhoeic keratoses",
            "seborrheic keratoses",
            "sk",
            "sek",
            "seb k",
            "basal cell papilloma",
            "seborrheic wart",
        ),
    ),
    Label(
        "BOD",
        "Bowen's disease (SCC in situ)",
        "premalignant",
        (
            "bowen's disease",
            "bowens disease",
            "bowen disease",
            "scc in situ",
            "squamous cell carcinoma in situ",
            "intraepidermal carcinoma",
        ),
    ),
    Label(
        "DF", "Dermatofibroma", "benign", ("dermatofibroma", "df", "benign fibrous histiocytoma")
    ),
    Label(
        "VASC",
        "Vascular lesion",
        "benign",
        (
            "vascular lesion",
            "vasc",
            "angioma",
            "cherry angioma",
            "haemangioma",
            "hemangioma",
            "pyogenic granuloma",
            "angiokeratoma",
        ),
    ),
    Label(
        "LENT",
        "Solar lentigo",
        "benign",
        ("solar lentigo", "lentigo", "sun spot", "age spot", "liver spot", "lentigo senilis"),
    ),
    Label(
        "LPLK",
        "Lichen planus-like keratosis",
        "benign",
        ("lichen planus-like keratosis", "lichen planus like keratosis", "lplk"),
    ),
    # HAM10000 group labels.
    Label(
        "AKIEC",
        "Actinic keratosis / intraepithelial carcinoma",
        "premalignant",
        ("akiec",),
        members=("ACK", "BOD"),
    ),
    Label(
        "BKL",
        "Benign keratosis-like lesion",
        "benign",
        ("bkl", "benign keratosis", "benign keratosis-like lesion"),
        members=("SEK", "LENT", "LPLK"),
    ),
)

BY_CODE: dict[str, Label] = {label.code: label for label in LABELS}


def _key(text: str) -> str:
    """Normalise label text for lookup: case, accents, punctuation and spacing."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9']+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


_SYNONYMS: dict[str, str] = {}
for _label in LABELS:
    for _text in (_label.code, _label.name, *_label.synonyms):
        _SYNONYMS.setdefault(_key(_text), _label.code)


def synonym_table() -> dict[str, str]:
    """Every normalised synonym mapped to its canonical code (a copy)."""
    return dict(_SYNONYMS)


def normalise_label(text: str) -> str:
    """Map a dataset's label text (``"bkl"``, ``"Seborrheic keratosis"``) to a canonical code.

    Raises ``UnknownName`` with suggestions when the text is not in the vocabulary.
    """
    code = _SYNONYMS.get(_key(text))
    if code is None:
        raise did_you_mean(text, sorted({lbl.code for lbl in LABELS}), "diagnosis label")
    return code


def label(code: str) -> Label:
    """The ``Label`` of a canonical code."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise did_you_mean(code, BY_CODE, "diagnosis code") from None


def accepted_codes(reference: str) -> frozenset[str]:
    """Codes that count as a correct answer for the reference diagnosis ``reference``."""
    return frozenset((reference, *label(reference).members))


def is_correct(answer: str, reference: str) -> bool:
    """Whether answering ``answer`` is correct for a case whose diagnosis is ``reference``."""
    return answer in accepted_codes(reference)


def triage_for(code: str) -> Triage | None:
    """The triage level implied by a diagnosis (``None`` for ``OTHER``)."""
    if code == OTHER:
        return None
    return label(code).triage


# --- TEMPORARY (scoring-12): the part of vocab-12's Vocabulary API that scoring uses, over
# the 13 labels above, until vocab-12 lands; reverted at that merge. ---
_LOOKALIKES: dict[str, tuple[str, ...]] = {
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
_GROUP = {
    "ACK": "keratinocyte",
    "BOD": "keratinocyte",
    "AKIEC": "keratinocyte",
    "BCC": "keratinocyte",
    "SCC": "keratinocyte",
    "MEL": "melanocytic",
    "NEV": "melanocytic",
    "SEK": "keratosis",
    "LENT": "keratosis",
    "LPLK": "keratosis",
    "BKL": "keratosis",
    "DF": "fibrous",
    "VASC": "vascular",
}


class Vocabulary:
    """Temporary stand-in for vocab-12's class (only what scoring uses)."""

    def entry(self, code: str) -> Label:
        return label(code)

    def lookalikes(self, code: str) -> tuple[str, ...]:
        return _LOOKALIKES.get(code, ())

    def triage(self, code: str) -> Triage:
        return label(code).triage

    def match_level(self, answer: str, references: tuple[str, ...] | list[str]) -> str | None:
        if answer == OTHER or answer not in BY_CODE:
            return None
        if any(answer in accepted_codes(r) for r in references):
            return "exact"
        if any(_GROUP.get(answer) == _GROUP.get(r) for r in references):
            return "group"
        return None


_VOCABULARY = Vocabulary()


def vocabulary() -> Vocabulary:
    return _VOCABULARY
