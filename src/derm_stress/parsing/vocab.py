"""The parser's view of the active vocabulary: its term index and its hierarchy."""

from __future__ import annotations

import re

from derm_stress.errors import UnknownName
from derm_stress.labels import OTHER, Vocabulary, vocabulary
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


# the item shapes worth the vocabulary's full lookup: an ICD-10-CM code ("L40.0", "B354"),
# an inverted export label ("Dermatitis, atopic"). Its failure path builds did-you-mean
# suggestions (milliseconds), too slow for every unknown item of every answer.
_LOOKUP_SHAPE = re.compile(r"^(?:[A-Za-z]\d{2}(?:\.?[0-9A-Za-z]{1,4})?|[^,]{3,60},[^,]{3,60})$")


def looked_up(name: str) -> str:
    """The code the vocabulary's own lookup gives a whole item the term index did not find
    (an ICD-10-CM code such as "L40.0", a hospital export's "Dermatitis, atopic"), or
    ``OTHER``. Only whole list, table or JSON items come here, never prose."""
    if not _LOOKUP_SHAPE.match(name.strip()):
        return OTHER
    try:
        return vocabulary().normalise(name)
    except UnknownName:  # also AmbiguousName: an ambiguous term alone decides nothing
        return OTHER
