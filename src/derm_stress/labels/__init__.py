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

import os
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


ENV_VARIABLE = "DERM_STRESS_VOCABULARY"  # a vocabulary file for this process and its children


def vocabulary() -> Vocabulary:
    """The active vocabulary: the one ``use_vocabulary`` set, else the file named by the
    ``DERM_STRESS_VOCABULARY`` environment variable (how worker processes of a run get it),
    else the packaged one."""
    active = _ACTIVE.get()
    if active is not None:
        return active
    extra = os.environ.get(ENV_VARIABLE)
    return load_vocabulary(extra) if extra else load_vocabulary()


@contextmanager
def use_vocabulary(
    vocab: Vocabulary, process_wide: str | os.PathLike[str] | None = None
) -> Iterator[Vocabulary]:
    """Make ``vocab`` the active vocabulary inside the ``with`` block (this thread or task).

    ``process_wide``: the file ``vocab`` was loaded from, also exported as
    ``DERM_STRESS_VOCABULARY`` for the block, so processes started inside it (executors'
    workers) load the same vocabulary."""
    token = _ACTIVE.set(vocab)
    before = os.environ.get(ENV_VARIABLE)
    if process_wide is not None:
        os.environ[ENV_VARIABLE] = str(process_wide)
    try:
        yield vocab
    finally:
        _ACTIVE.reset(token)
        if process_wide is not None:
            if before is None:
                os.environ.pop(ENV_VARIABLE, None)
            else:
                os.environ[ENV_VARIABLE] = before


def run_vocabulary(manifest: Mapping[str, object]) -> tuple[Vocabulary, str | None]:
    """The vocabulary a run recorded in its manifest (``"vocabulary": {"file", "fingerprint"}``),
    to score or report it again, and a one-line warning when it cannot be the same one (the
    file is gone, or its content or the packaged vocabulary changed since the run)."""
    info = manifest.get("vocabulary")
    info = info if isinstance(info, Mapping) else {}
    file, expected = info.get("file"), info.get("fingerprint")
    if isinstance(file, str) and file:
        try:
            vocab = load_vocabulary(file)
        except VocabularyError as exc:
            return (
                load_vocabulary(),
                f"the run's vocabulary cannot be loaded ({exc}); using the packaged one",
            )
    else:
        vocab = load_vocabulary()
    if isinstance(expected, str) and expected != vocab.fingerprint:
        source = file or "the packaged vocabulary"
        return vocab, (
            f"the run used vocabulary {expected}; {source} is now {vocab.fingerprint}, "
            "so codes or triage levels may differ from the run's"
        )
    return vocab, None


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
    "ENV_VARIABLE",
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
    "run_vocabulary",
    "synonym_table",
    "triage_for",
    "use_vocabulary",
    "vocabulary",
]
