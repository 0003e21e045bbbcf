"""Finding vocabulary terms in text: tokenise once, look n-grams up in a dict, fuzzy last.

The index is built once per vocabulary (the active one can change through
``use_vocabulary``) from ``Vocabulary.terms()``: every normalised term with its code and
whether it is ambiguous. Matching is leftmost-longest over word tokens, so "nummular eczema"
is found as itself, never as "eczema". Only tokens no exact term covers are tried against
misspellings, with ``rapidfuzz`` (Damerau-Levenshtein on terms of at least
``FUZZY_MIN_LETTERS`` letters, a bound that grows with length, and never when two terms tie).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from derm_stress.labels import _key

# a word: letters/digits, with inner apostrophes ("Bowen's"); hyphens and slashes split
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
FUZZY_MIN_LETTERS = 8  # shorter terms are never matched when misspelt
SHORT_LETTERS = 3  # terms this short (abbreviations) match only when written in capitals


_POSSESSIVE = re.compile(r"'s\b")


def term_key(text: str) -> str:
    """The lookup form of a term or a span of text: ``_key`` without possessives or
    apostrophes ("Bowen's disease" and "Bowen disease" look the same)."""
    return _POSSESSIVE.sub("", _key(text)).replace("'", "")


def _max_distance(letters: int) -> int:
    """How many edits a misspelling of a term this long may have."""
    if letters < FUZZY_MIN_LETTERS:
        return 0
    return 1 if letters < 16 else 2


@dataclass(frozen=True)
class Mention:
    """A vocabulary term found in text: character span, candidate codes, how it matched."""

    start: int
    end: int
    codes: tuple[str, ...]  # one code, or several for an ambiguous term
    ambiguous: bool
    fuzzy: bool = False

    @property
    def code(self) -> str:
        return self.codes[0]


@dataclass(frozen=True)
class _Term:
    codes: tuple[str, ...]
    ambiguous: bool
    short: bool


def _plural_forms(word: str) -> tuple[str, ...]:
    """English and Latin plurals of a term's last word ("keratosis" -> "keratoses")."""
    forms = [word + "s"]
    if word.endswith("sis"):
        forms.append(word[:-3] + "ses")
    elif word.endswith("us"):
        forms += [word[:-2] + "i", word + "es"]
    elif word.endswith("y") and len(word) > 3:
        forms.append(word[:-1] + "ies")
    elif word.endswith("a"):
        forms.append(word + "e")
    elif word.endswith(("x", "ch", "sh", "s")):
        forms.append(word + "es")
    return tuple(forms)


class TermIndex:
    """Every term of one vocabulary, ready for fast lookup in answers."""

    def __init__(self, terms: Iterable[tuple[str, str, bool]], words: Iterable[str] = ()) -> None:
        """``terms``: (term, code, is_ambiguous); ``words``: short terms that are words, not
        abbreviations ("orf"), and so match in any case."""
        lowercase_ok = {term_key(w) for w in words}
        exact: dict[str, dict[str, bool]] = {}
        for text, code, ambiguous in terms:
            key = term_key(text)
            if not key:
                continue
            codes = exact.setdefault(key, {})
            codes[code] = codes.get(code, False) or ambiguous
        self._terms: dict[tuple[str, ...], _Term] = {}
        for key, codes in exact.items():
            words = tuple(key.split(" "))
            short = len(key.replace(" ", "")) <= SHORT_LETTERS and key not in lowercase_ok
            # a term naming two codes is ambiguous even if the vocabulary forgot to say so
            ambiguous = len(codes) > 1 or any(codes.values())
            self._terms[words] = _Term(tuple(sorted(codes)), ambiguous, short)
        # plurals never override a real term of another entry
        for words, term in list(self._terms.items()):
            for plural in _plural_forms(words[-1]):
                self._terms.setdefault((*words[:-1], plural), term)
        self._lengths: dict[str, tuple[int, ...]] = {}
        for words in self._terms:
            lengths = set(self._lengths.get(words[0], ())) | {len(words)}
            self._lengths[words[0]] = tuple(sorted(lengths, reverse=True))
        self._words = {w for words in self._terms for w in words}
        # fuzzy targets by (word count, letters): long, unambiguous terms only
        self._fuzzy: dict[tuple[int, int], list[str]] = {}
        self._fuzzy_codes: dict[str, str] = {}
        for key, codes in exact.items():
            letters = len(key.replace(" ", ""))
            if len(codes) == 1 and not any(codes.values()) and _max_distance(letters) > 0:
                self._fuzzy.setdefault((key.count(" ") + 1, letters), []).append(key)
                self._fuzzy_codes[key] = next(iter(codes))
        # per-word memo: could this word be a misspelt vocabulary word?
        self._suspect: dict[str, bool] = {}
        self._closest_memo: dict[str, tuple[int, str] | None] = {}
        self._word_list = sorted(w for w in self._words if len(w) >= 4)
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[tuple[str, int, int]]:
        """(lookup form, start, end) of every word of ``text``."""
        out = []
        for m in _TOKEN.finditer(text):
            word = m.group().lower()
            if word.isascii():  # the common case, without ``_key``'s Unicode work
                key = (word[:-2] if word.endswith("'s") else word).replace("'", "")
            else:
                key = term_key(word).replace(" ", "")
            if key:
                out.append((key, m.start(), m.end()))
        return out

    def mentions(self, text: str) -> list[Mention]:
        """Every vocabulary term in ``text``, leftmost-longest, in order."""
        tokens = self.tokens(text)
        words = [t[0] for t in tokens]
        found: list[Mention] = []
        covered: list[int | None] = [None] * len(tokens)  # index in ``found`` per token
        i = 0
        while i < len(tokens):
            lengths = self._lengths.get(words[i])
            hit = None
            if lengths is not None:
                for n in lengths:
                    if i + n > len(tokens):
                        continue
                    term = self._terms.get(tuple(words[i : i + n]))
                    if term is not None and self._spelt_right(text, tokens, i, n, term):
                        hit = (n, term)
                        break
            if hit is None:
                i += 1
                continue
            n, term = hit
            start, end = tokens[i][1], tokens[i + n - 1][2]
            for j in range(i, i + n):
                covered[j] = len(found)
            found.append(Mention(start, end, term.codes, term.ambiguous))
            i += n
        if len(tokens) > sum(c is not None for c in covered):
            found = self._misspelt(text, tokens, covered, found)
        return found

    @staticmethod
    def _spelt_right(
        text: str, tokens: list[tuple[str, int, int]], i: int, n: int, term: _Term
    ) -> bool:
        """Short terms (abbreviations) count only in capitals ("BCC", "AKs"): "mm" is a unit."""
        if not term.short:
            return True
        span = text[tokens[i][1] : tokens[i + n - 1][2]]
        letters = span[:-1] if span.endswith("s") and len(span) > 2 else span
        return letters.upper() == letters and any(c.isalpha() for c in letters)

    def _is_suspect(self, word: str) -> bool:
        """Whether a word no term covers is within reach of a vocabulary word (memoised)."""
        suspect = self._suspect.get(word)
        if suspect is None:
            suspect = (
                len(word) >= 5
                and word.isalpha()
                and word not in self._words
                and process.extractOne(
                    word,
                    self._word_list,
                    scorer=DamerauLevenshtein.distance,
                    score_cutoff=_max_distance(len(word)) or 1,
                )
                is not None
            )
            with self._lock:
                if len(self._suspect) > 200_000:  # bounded memo for endless streams of text
                    self._suspect.clear()
                self._suspect[word] = suspect
        return suspect

    def _misspelt(
        self,
        text: str,
        tokens: list[tuple[str, int, int]],
        covered: list[int | None],
        found: list[Mention],
    ) -> list[Mention]:
        """``found`` with misspelt long terms added, from spans around words no term knows.

        A span may swallow exact mentions it wholly contains: "conggenital nevus" is a
        misspelt congenital nevus, not a nevus.
        """
        memo = self._suspect
        suspects = [
            i
            for i, (word, _, _) in enumerate(tokens)
            if covered[i] is None and (memo[word] if word in memo else self._is_suspect(word))
        ]
        if not suspects:
            return found
        dropped: set[int] = set()
        added: list[Mention] = []

        def usable(first: int, last: int) -> bool:
            for j in range(first, last + 1):
                k = covered[j]
                if k == -1 or (
                    k is not None and not (first <= spans[k][0] and spans[k][1] <= last)
                ):
                    return False
            return True

        spans: dict[int, tuple[int, int]] = {}
        for j, k in enumerate(covered):
            if k is not None:
                lo, hi = spans.get(k, (j, j))
                spans[k] = (min(lo, j), max(hi, j))
        for i in suspects:
            if covered[i] is not None:
                continue
            best: tuple[int, int, int, str] | None = None  # (distance, first index, n, key)
            for n in (6, 5, 4, 3, 2, 1):
                for first in range(i - n + 1, i + 1):
                    last = first + n - 1
                    if first < 0 or last >= len(tokens) or not usable(first, last):
                        continue
                    if "\n" in text[tokens[first][1] : tokens[last][2]]:
                        continue
                    candidate = " ".join(t[0] for t in tokens[first : last + 1])
                    match = self._closest(candidate, n)
                    if match is not None and (best is None or match[0] < best[0]):
                        best = (match[0], first, n, match[1])
                if best is not None:
                    break  # the longest span that matches wins
            if best is None:
                continue
            _, first, n, key = best
            for j in range(first, first + n):
                k = covered[j]
                if k is not None and k >= 0:
                    dropped.add(k)
                covered[j] = -1
            code = self._fuzzy_codes[key]
            added.append(Mention(tokens[first][1], tokens[first + n - 1][2], (code,), False, True))
        out = [m for k, m in enumerate(found) if k not in dropped] + added
        out.sort(key=lambda m: m.start)
        return out

    def _closest(self, candidate: str, words: int) -> tuple[int, str] | None:
        """``_closest_uncached``, memoised (answers repeat their misspellings)."""
        if candidate in self._closest_memo:
            return self._closest_memo[candidate]
        known = self._closest_uncached(candidate, words)
        with self._lock:
            if len(self._closest_memo) > 100_000:
                self._closest_memo.clear()
            self._closest_memo[candidate] = known
        return known

    def _closest_uncached(self, candidate: str, words: int) -> tuple[int, str] | None:
        """The one term ``candidate`` misspells, or None if none or two are as close.

        Words of three letters or fewer must be spelt right ("b-cell" is not "t-cell"), and
        the distance must be within the bound of the term's own length.
        """
        letters = len(candidate) - words + 1
        bound = _max_distance(letters)
        if bound == 0:
            return None
        choices = [
            key
            for n in range(letters - bound, letters + bound + 1)
            for key in self._fuzzy.get((words, n), ())
        ]
        if not choices:
            return None
        hits = process.extract(
            candidate, choices, scorer=DamerauLevenshtein.distance, score_cutoff=bound, limit=5
        )
        given = candidate.split(" ")
        fits = [
            (int(distance), key)
            for key, distance, _ in hits
            if distance <= _max_distance(len(key.replace(" ", "")))
            and all(
                a == b
                for a, b in zip(given, key.split(" "), strict=True)
                if min(len(a), len(b)) <= 3
            )
        ]
        if not fits:
            return None
        fits.sort()
        tie = len(fits) > 1 and fits[1][0] == fits[0][0]
        if tie and self._fuzzy_codes[fits[0][1]] != self._fuzzy_codes[fits[1][1]]:
            return None  # two conditions as close: refuse to guess
        return fits[0]


_INDEX: dict[int, tuple[object, TermIndex]] = {}
_INDEX_LOCK = threading.Lock()


def index_for(owner: object, build: Callable[[], TermIndex]) -> TermIndex:
    """The ``TermIndex`` of ``owner`` (a vocabulary), built on first use, then reused."""
    entry = _INDEX.get(id(owner))
    if entry is not None and entry[0] is owner:
        return entry[1]
    built = build()
    with _INDEX_LOCK:
        if len(_INDEX) > 8:
            _INDEX.clear()
        _INDEX[id(owner)] = (owner, built)
    return built
