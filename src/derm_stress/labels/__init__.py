"""The diagnosis vocabulary: codes, names, synonyms, ICD-10-CM codes, hierarchy and triage.

The vocabulary is data (``derm_stress/data/vocabulary.yaml``, several hundred conditions),
read once per process and cached; ``docs/labels.md`` describes it. Codes are stable: the 13
original lesion codes (``ACK``, ``BCC``, ``MEL``, ``NEV``, ``SCC``, ``SEK``, ``BOD``, ``DF``,
``VASC``, ``LENT``, ``LPLK`` and HAM10000's group labels ``AKIEC`` and ``BKL``) keep their
meaning, and newer codes are UPPER_SNAKE slugs of the condition's name (``PSORIASIS``,
``ATOPIC_DERMATITIS``). A valid ICD-10-CM code that no entry lists becomes the dynamic code
``ICD10CM:<code>``, named by its official description.

Some datasets label with coarser groups (HAM10000's ``bkl`` lumps seborrhoeic keratosis,
solar lentigo and lichen planus-like keratosis), so an entry can be a *group label* whose
``members`` also count as a correct answer.

Triage has four levels, ``routine < soon < urgent < emergency``. Each entry has a default:
emergencies are stated per entry (SJS/TEN, necrotising fasciitis, eczema herpeticum, ...);
otherwise malignant diagnoses are ``urgent``, premalignant and in-situ ones ``soon``, benign
ones ``routine``. BCC is malignant and therefore ``urgent`` here even though some referral
guidelines (for example NICE NG12) route it non-urgently; a case's own ``triage`` column or a
``vocabulary:`` file changes it.

Most code calls the module-level functions, which use the *active* vocabulary: the packaged
one, or the one a run activated with ``use_vocabulary`` (a config's ``vocabulary: FILE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from derm_stress.labels.load import VocabularyError, load_vocabulary, packaged_path
from derm_stress.labels.vocabulary import (
    MALIGNANCIES,
    OTHER,
    TRIAGE_BY_MALIGNANCY,
    TRIAGE_LEVELS,
    AmbiguousName,
    Category,
    Entry,
    Malignancy,
    MatchLevel,
    Triage,
    Vocabulary,
    _key,
)

Label = Entry  # the name before the vocabulary grew; stored code and notebooks use it

_ACTIVE: ContextVar[Vocabulary | None] = ContextVar("derm_stress_vocabulary", default=None)


def vocabulary() -> Vocabulary:
    """The active vocabulary: the one ``use_vocabulary`` set, else the packaged one."""
    active = _ACTIVE.get()
    return active if active is not None else load_vocabulary()


@contextmanager
def use_vocabulary(vocab: Vocabulary) -> Iterator[Vocabulary]:
    """Make ``vocab`` the active vocabulary inside the ``with`` block (this thread/task)."""
    token = _ACTIVE.set(vocab)
    try:
        yield vocab
    finally:
        _ACTIVE.reset(token)


def synonym_table() -> dict[str, str]:
    """Every unambiguous normalised term of the active vocabulary mapped to its code (a copy)."""
    return vocabulary().synonym_table()


def normalise_label(text: str) -> str:
    """Map a dataset's label text (``"bkl"``, ``"Seborrheic keratosis"``, ``"L40.0"``) to a
    code. Raises ``UnknownName`` with suggestions when the text is not in the vocabulary and
    ``AmbiguousName`` (a subclass) for an abbreviation that names several conditions."""
    return vocabulary().normalise(text)


def label(code: str) -> Entry:
    """The ``Entry`` of a code."""
    return vocabulary().entry(code)


def accepted_codes(reference: str) -> frozenset[str]:
    """Codes that count as a correct answer at the exact level for ``reference``."""
    return vocabulary().accepted_codes(reference)


def is_correct(answer: str, reference: str | Iterable[str]) -> bool:
    """Whether ``answer`` is correct (exact level) for a case with these reference(s)."""
    return vocabulary().match_level(answer, reference) == "exact"


def match_level(answer: str, references: str | Iterable[str]) -> MatchLevel | None:
    """``"exact"``, ``"group"`` or ``None``: see ``Vocabulary.match_level``."""
    return vocabulary().match_level(answer, references)


def triage_for(code: str) -> Triage | None:
    """The default triage level of a diagnosis (``None`` for ``OTHER``)."""
    return vocabulary().triage(code)


if TYPE_CHECKING:
    LABELS: tuple[Entry, ...]
    BY_CODE: Mapping[str, Entry]


def __getattr__(name: str) -> object:
    # LABELS and BY_CODE are views of the active vocabulary, computed when asked for
    if name == "LABELS":
        return vocabulary().entries
    if name == "BY_CODE":
        return vocabulary().by_code
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BY_CODE",
    "LABELS",
    "MALIGNANCIES",
    "OTHER",
    "TRIAGE_BY_MALIGNANCY",
    "TRIAGE_LEVELS",
    "AmbiguousName",
    "Category",
    "Entry",
    "Label",
    "Malignancy",
    "MatchLevel",
    "Triage",
    "Vocabulary",
    "VocabularyError",
    "_key",
    "accepted_codes",
    "is_correct",
    "label",
    "load_vocabulary",
    "match_level",
    "normalise_label",
    "packaged_path",
    "synonym_table",
    "triage_for",
    "use_vocabulary",
    "vocabulary",
]
