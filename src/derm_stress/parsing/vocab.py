"""The parser's view of the active vocabulary: its term index and its hierarchy."""

from __future__ import annotations

from derm_stress.errors import UnknownName
from derm_stress.labels import Vocabulary, vocabulary
from derm_stress.parsing.terms import SHORT_LETTERS, TermIndex, index_for, term_key


def _short_words(vocab: Vocabulary) -> list[str]:
    """Short names written in lower case somewhere in the vocabulary ("Orf"): words, not
    abbreviations, so they match in any case ("orf"), unlike "AK" or "MM"."""
    words = []
    for entry in vocab:
        for text in (entry.name, *entry.synonyms):
            key = term_key(text)
            if len(key.replace(" ", "")) <= SHORT_LETTERS and any(c.islower() for c in text):
                words.append(key)
    return words


def active_index() -> TermIndex:
    """The term index of the vocabulary active now (built once per vocabulary)."""
    vocab = vocabulary()
    return index_for(vocab, lambda: TermIndex(vocab.terms(), _short_words(vocab)))


def ancestors(code: str) -> tuple[str, ...]:
    """The more general entries of ``code`` (its parent, grandparent...), nearest first."""
    try:
        return vocabulary().ancestors(code)
    except UnknownName:  # a code of another vocabulary has no hierarchy here
        return ()
