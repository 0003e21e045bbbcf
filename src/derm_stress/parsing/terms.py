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


def _deletions(word: str) -> set[str]:
    """``word`` with one letter left out, every way."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


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
        lengths: dict[str, set[int]] = {}
        for words in self._terms:
            lengths.setdefault(words[0], set()).add(len(words))
        self._lengths = {w: tuple(sorted(n, reverse=True)) for w, n in lengths.items()}
        self._words = {w for words in self._terms for w in words}
        # the terms a misspelling may stand for: long, unambiguous ones only
        self._fuzzy_codes: dict[str, str] = {
            key: next(iter(codes))
            for key, codes in exact.items()
            if len(codes) == 1
            and not any(codes.values())
            and _max_distance(len(key.replace(" ", ""))) > 0
        }
        # which fuzzy targets hold a word, and a deletion index of the words (a word within
        # one edit of a vocabulary word shares a one-letter deletion with it, or is one)
        # (built on the first unknown word: most runs' first answers need neither)
        self._targets_with: dict[str, set[str]] = {}
        self._deletions: dict[str, set[str]] = {}
        # memos: the vocabulary words a word may misspell; the term a span misspells
        self._near_memo: dict[str, frozenset[str]] = {}
        self._closest_memo: dict[tuple[str, str], tuple[int, str] | None] = {}
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

    def prepare(self) -> TermIndex:
        """Build now what is otherwise built on the first unknown word (for timings, or a
        long-lived process that wants its first answers as fast as the rest)."""
        if not self._targets_with:
            self._build_fuzzy_tables()
        return self

    def _build_fuzzy_tables(self) -> None:
        targets: dict[str, set[str]] = {}
        for key in self._fuzzy_codes:
            for w in key.split(" "):
                targets.setdefault(w, set()).add(key)
        deletions: dict[str, set[str]] = {}
        for w in targets:
            for variant in {w, *_deletions(w)}:
                deletions.setdefault(variant, set()).add(w)
        with self._lock:
            self._deletions = deletions
            self._targets_with = targets

    def _near(self, word: str) -> frozenset[str]:
        """Words of long vocabulary terms that ``word`` (unknown to the vocabulary) may
        misspell: within one edit (two for words of 16 letters or more). Memoised."""
        near = self._near_memo.get(word)
        if near is not None:
            return near
        if len(word) < 5 or not word.isalpha() or word in self._words:
            near = frozenset()
        else:
            if not self._targets_with:
                self._build_fuzzy_tables()
            bound = _max_distance(len(word)) or 1
            if bound == 1:
                pool = set(self._deletions.get(word, ()))
                for variant in _deletions(word):
                    pool |= self._deletions.get(variant, set())
            else:
                pool = set(self._targets_with)
            near = frozenset(w for w in pool if DamerauLevenshtein.distance(word, w) <= bound)
        with self._lock:
            if len(self._near_memo) > 200_000:  # bounded memo for endless streams of text
                self._near_memo.clear()
            self._near_memo[word] = near
        return near

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
        memo = self._near_memo
        suspects = [
            i
            for i, (word, _, _) in enumerate(tokens)
            if covered[i] is None and (memo[word] if word in memo else self._near(word))
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
            suspect = tokens[i][0]
            best: tuple[int, int, int, str] | None = None  # (distance, first index, n, key)
            for n in (6, 5, 4, 3, 2, 1):
                for first in range(i - n + 1, i + 1):
                    last = first + n - 1
                    if first < 0 or last >= len(tokens) or not usable(first, last):
                        continue
                    if "\n" in text[tokens[first][1] : tokens[last][2]]:
                        continue
                    candidate = " ".join(t[0] for t in tokens[first : last + 1])
                    match = self._closest(candidate, n, suspect)
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

    def _closest(self, candidate: str, words: int, suspect: str) -> tuple[int, str] | None:
        """The one term ``candidate`` misspells, or None if none or two are as close.

        Only terms holding a word ``suspect`` may misspell are tried. Words of three letters
        or fewer must be spelt right ("b-cell" is not "t-cell"), and the distance must be
        within the bound of the term's own length. Memoised.
        """
        memo_key = (candidate, suspect)
        if memo_key in self._closest_memo:
            return self._closest_memo[memo_key]
        letters = len(candidate) - words + 1
        bound = _max_distance(letters)
        choices = {
            key
            for near in self._near(suspect)
            for key in self._targets_with.get(near, ())
            if key.count(" ") + 1 == words and abs(len(key) - words + 1 - letters) <= bound
        }
        found = self._pick(candidate, sorted(choices), bound) if bound and choices else None
        with self._lock:
            if len(self._closest_memo) > 100_000:
                self._closest_memo.clear()
            self._closest_memo[memo_key] = found
        return found

    def _pick(self, candidate: str, choices: list[str], bound: int) -> tuple[int, str] | None:
        given = candidate.split(" ")
        fits = []
        for key in choices:
            distance = DamerauLevenshtein.distance(candidate, key)
            if distance > min(bound, _max_distance(len(key.replace(" ", "")))):
                continue
            words = key.split(" ")
            if all(a == b for a, b in zip(given, words, strict=True) if min(len(a), len(b)) <= 3):
                fits.append((int(distance), key))
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
