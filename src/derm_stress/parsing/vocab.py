"""The parser's view of the active vocabulary: its term index and its hierarchy."""

from __future__ import annotations

from derm_stress import labels
from derm_stress.parsing.terms import TermIndex, index_for


def _legacy_terms() -> list[tuple[str, str, bool]]:
    return [(key, code, False) for key, code in labels.synonym_table().items()]


def active_index() -> TermIndex:
    """The term index of the vocabulary active now."""
    get = getattr(labels, "vocabulary", None)
    if get is None:  # before the open vocabulary: the 13 lesion labels
        return index_for(labels, _legacy_terms)
    vocabulary = get()
    return index_for(vocabulary, vocabulary.terms)


def ancestors(code: str) -> tuple[str, ...]:
    """The more general entries of ``code`` (its parent, grandparent...)."""
    get = getattr(labels, "vocabulary", None)
    if get is None:
        return ()
    try:
        return tuple(get().ancestors(code))
    except Exception:  # a dynamic or unknown code has no hierarchy to use here
        return ()
