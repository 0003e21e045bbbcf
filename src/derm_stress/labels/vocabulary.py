"""The dermatology vocabulary: entries, the hierarchy they sit in, and lookups over them.

The data lives in ``derm_stress/data/vocabulary.yaml``; this module only reads, checks and
indexes it. See ``docs/labels.md`` for the schema, the hierarchy and how to extend it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Literal, get_args

from derm_stress.errors import UnknownName
from derm_stress.labels import icd

Malignancy = Literal["malignant", "premalignant", "benign"]
Triage = Literal["routine", "soon", "urgent", "emergency"]
MatchLevel = Literal["exact", "group"]
TRIAGE_LEVELS: tuple[Triage, ...] = get_args(Triage)  # ordered by urgency
MALIGNANCIES: tuple[Malignancy, ...] = get_args(Malignancy)

# Default triage when an entry states none: malignant diagnoses are urgent, premalignant and
# in-situ ones soon, benign ones routine. Emergencies are always stated per entry.
TRIAGE_BY_MALIGNANCY: dict[Malignancy, Triage] = {
    "malignant": "urgent",
    "premalignant": "soon",
    "benign": "routine",
}

OTHER = "OTHER"  # a diagnosis outside the vocabulary; never correct, triage unknown
UNCLASSIFIED = "unclassified"  # category and group of an ICD code with no listed ancestor
DATASET_GROUP = "dataset_group"  # the hierarchy group of datasets' group labels


_NOT_KEY = re.compile(r"[^a-z0-9']+")


@lru_cache(maxsize=1 << 16)
def _key(text: str) -> str:
    """Normalise label text for lookup: case, accents, punctuation and spacing."""
    text = text.replace("’", "'").replace("‘", "'")  # before ASCII folding drops them
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_KEY.sub(" ", text.lower()).strip()


class AmbiguousName(UnknownName):
    """A term (usually an abbreviation) that names several conditions, so names none."""


@dataclass(frozen=True)
class Entry:
    """One condition (or a dataset's group label) of the vocabulary.

    ``category`` and ``group`` are the two upper levels of the hierarchy; ``parent`` is a
    more general entry (``PLAQUE_PSORIASIS.parent == "PSORIASIS"``). ``members`` are codes
    that also count as a correct answer for a group label (HAM10000's ``BKL``). ``ambiguous``
    are terms this entry shares with other meanings: never used to resolve on their own.
    """

    code: str
    name: str
    synonyms: tuple[str, ...] = ()
    icd10cm: tuple[str, ...] = ()
    category: str = UNCLASSIFIED
    group: str = UNCLASSIFIED
    parent: str | None = None
    malignancy: Malignancy = "benign"
    triage: Triage = "routine"
    lookalikes: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    """A top level of the hierarchy and its groups (code -> display name)."""

    code: str
    name: str
    groups: Mapping[str, str]


class Vocabulary:
    """An indexed, validated set of entries. Build one with ``load_vocabulary``.

    Lookups are by code, by any normalised name or synonym, or by ICD-10-CM code. Instances
    are immutable once built (ICD codes no entry lists are named on first use and memoised).
    """

    def __init__(
        self,
        entries: Iterable[Entry],
        hierarchy: Iterable[Category],
        source: str = "",
        icd_owners: Mapping[str, str] | None = None,
    ) -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.hierarchy: dict[str, Category] = {c.code: c for c in hierarchy}
        self.source = source
        self.by_code: dict[str, Entry] = {e.code: e for e in self.entries}
        terms: dict[str, str] = {}
        ambiguous: dict[str, list[str]] = {}
        for entry in self.entries:
            for text in (entry.code, entry.name, *entry.synonyms):
                terms.setdefault(_key(text), entry.code)
            for text in entry.ambiguous:
                ambiguous.setdefault(_key(text), []).append(entry.code)
        self._terms = terms
        # "bowens disease", "behcet disease": the same term without its apostrophe or "'s"
        loose: dict[str, str] = {}
        for key, code in terms.items():
            if "'" in key:
                loose.setdefault(key.replace("'", ""), code)
                loose.setdefault(re.sub(r"'s\b", "", key), code)
        self._loose = {k: c for k, c in loose.items() if k not in terms}
        self._ambiguous = {k: tuple(v) for k, v in ambiguous.items()}
        # an ICD-10-CM code names the one entry listing it, or for a code several entries
        # list, the owner the vocabulary file names (checked when the file is loaded)
        icd_index: dict[str, str] = {}
        for entry in self.entries:
            for code in entry.icd10cm:
                icd_index.setdefault(icd.compact(code), entry.code)
        icd_index.update({icd.compact(k): v for k, v in (icd_owners or {}).items()})
        self._icd = icd_index
        self.icd_owners: dict[str, str] = dict(icd_owners or {})
        children: dict[str, list[str]] = {}
        for entry in self.entries:
            if entry.parent is not None:
                children.setdefault(entry.parent, []).append(entry.code)
        self._children = {k: tuple(v) for k, v in children.items()}
        reverse: dict[str, list[str]] = {}
        for entry in self.entries:
            for other in entry.lookalikes:
                reverse.setdefault(other, []).append(entry.code)
        self._lookalikes = {
            e.code: tuple(dict.fromkeys((*e.lookalikes, *reverse.get(e.code, ()))))
            for e in self.entries
        }
        self._dynamic: dict[str, Entry] = {}
        self._fingerprint: str | None = None

    # -- container protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and (code in self.by_code or self._is_dynamic(code))

    def __repr__(self) -> str:
        return f"<Vocabulary {len(self)} entries {self.fingerprint} from {self.source}>"

    # -- lookups --------------------------------------------------------------------------
    def entry(self, code: str) -> Entry:
        """The entry of a code (also a dynamic ``ICD10CM:<code>``); ``UnknownName`` if none."""
        found = self.by_code.get(code)
        if found is not None:
            return found
        if code.startswith(icd.DYNAMIC_PREFIX):
            return self._icd_entry(code[len(icd.DYNAMIC_PREFIX) :])
        raise UnknownName(f"unknown diagnosis code {code!r};{self._suggest(code)}")

    def normalise(self, text: str) -> str:
        """The code for a dataset's or model's diagnosis text.

        Accepts a code, a display name, a synonym (any case, accents, punctuation) or an
        ICD-10-CM code (``L40.0``, ``L400``). A valid ICD-10-CM code that no entry lists gives
        ``ICD10CM:<code>``. Raises ``AmbiguousName`` for an ambiguous abbreviation and
        ``UnknownName`` (with suggestions) for anything else.
        """
        stripped = text.strip()
        if stripped in self.by_code:
            return stripped
        if stripped.upper().startswith(icd.DYNAMIC_PREFIX):
            stripped = stripped[len(icd.DYNAMIC_PREFIX) :]
            if not icd.looks_like_icd(stripped):
                raise UnknownName(f"{text!r} is not an ICD-10-CM code")
        key = _key(stripped)
        code = self._lookup(key)
        if code is not None:
            return code
        if icd.looks_like_icd(stripped):
            return self._resolve_icd(stripped)
        if key in self._ambiguous:
            self._raise_ambiguous(text, key)
        described = icd.by_description(stripped)
        if described is not None:  # a hospital export's ICD-10-CM description as text
            return self._resolve_icd(described)
        for variant in _variants(stripped):
            code = self._lookup(variant)
            if code is not None:
                return code
        raise UnknownName(f"unknown diagnosis label {text!r};{self._suggest(stripped)}")

    def _lookup(self, key: str) -> str | None:
        return self._terms.get(key) or self._loose.get(key.replace("'", ""))

    def _raise_ambiguous(self, text: str, key: str) -> None:
        if key in self._ambiguous:
            names = ", ".join(f"{self.by_code[c].name} ({c})" for c in self._ambiguous[key])
            raise AmbiguousName(
                f"ambiguous diagnosis label {text!r}: it can mean {names} or something else; "
                "write the full name"
            )

    def terms(self) -> tuple[tuple[str, str, bool], ...]:
        """Every (normalised term, code, is_ambiguous), for parsers. Sorted, unique."""
        rows = {(k, c, False) for k, c in self._terms.items()}
        rows |= {(k, c, True) for k, codes in self._ambiguous.items() for c in codes}
        return tuple(sorted(rows))

    def synonym_table(self) -> dict[str, str]:
        """Every unambiguous normalised term mapped to its code (a copy)."""
        return dict(self._terms)

    def lookalikes(self, code: str) -> tuple[str, ...]:
        """Conditions in the same differential: listed by the entry, then those listing it."""
        if code in self._lookalikes:
            return self._lookalikes[code]
        parent = self.entry(code).parent
        return self.lookalikes(parent) if parent is not None else ()

    def ancestors(self, code: str) -> tuple[str, ...]:
        """The chain of ``parent`` codes, nearest first (empty for a top-level entry)."""
        chain: list[str] = []
        parent = self.entry(code).parent
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.entry(parent).parent
        return tuple(chain)

    def descendants(self, code: str) -> tuple[str, ...]:
        """Every entry below ``code`` through ``parent`` links, breadth first."""
        found: list[str] = []
        queue = list(self._children.get(code, ()))
        while queue:
            child = queue.pop(0)
            if child not in found:
                found.append(child)
                queue.extend(self._children.get(child, ()))
        return tuple(found)

    def accepted_codes(self, reference: str) -> frozenset[str]:
        """Codes that are correct at the exact level for ``reference``: itself, its members,
        and anything more specific than either (subtypes through ``parent``)."""
        if reference == OTHER:
            return frozenset()
        entry = self.entry(reference)
        if reference.startswith(icd.DYNAMIC_PREFIX):
            # no answer can name an unlisted ICD-10-CM code more precisely than the entry
            # it sits under, so that entry is the exact answer for it
            return frozenset((reference, entry.parent) if entry.parent else (reference,))
        heads = (reference, *entry.members)
        codes = set(heads)
        for head in heads:
            codes.update(self.descendants(head))
        return frozenset(codes)

    def groups(self, code: str) -> frozenset[tuple[str, str]]:
        """The (category, group) places of a code: its own, and its members' for a group label."""
        entry = self.entry(code)
        places = {(entry.category, entry.group)}
        places.update((self.entry(m).category, self.entry(m).group) for m in entry.members)
        # a dataset's group label sits where its members are, not beside other group labels
        return frozenset(
            p for p in places if p[1] != DATASET_GROUP and p != (UNCLASSIFIED, UNCLASSIFIED)
        )

    def match_level(self, answer: str, references: str | Iterable[str]) -> MatchLevel | None:
        """How well ``answer`` matches any of the references: ``"exact"`` (the condition, a
        member of a group label, or a more specific descendant; for a reference that is an
        unlisted ICD-10-CM code, the entry it sits under), ``"group"`` (same group of the
        hierarchy) or ``None``. ``OTHER`` never matches."""
        refs = (references,) if isinstance(references, str) else tuple(references)
        if answer == OTHER or answer not in self:
            return None
        refs = tuple(r for r in refs if r != OTHER)
        lineage = {answer, *self.ancestors(answer)}
        for ref in refs:
            accepted = self.accepted_codes(ref)
            if answer in accepted:
                return "exact"
            if not ref.startswith(icd.DYNAMIC_PREFIX) and lineage & accepted:
                return "exact"
        mine = self.groups(answer)
        if any(mine & self.groups(r) for r in refs):
            return "group"
        return None

    def triage(self, code: str) -> Triage | None:
        """The default triage level of a diagnosis (``None`` for ``OTHER``)."""
        if code == OTHER:
            return None
        return self.entry(code).triage

    @property
    def fingerprint(self) -> str:
        """A short stable hash of the content (entries and hierarchy), for run manifests."""
        if self._fingerprint is None:
            payload = {
                "entries": [asdict(e) for e in self.entries],
                "hierarchy": [
                    [c.code, c.name, sorted(c.groups.items())] for c in self.hierarchy.values()
                ],
                "icd10cm_owners": sorted(self.icd_owners.items()),
            }
            blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            self._fingerprint = "sha256:" + hashlib.sha256(blob).hexdigest()[:16]
        return self._fingerprint

    def group_name(self, category: str, group: str) -> str:
        """The display name of a group (the code itself when the hierarchy has none)."""
        cat = self.hierarchy.get(category)
        return cat.groups.get(group, group) if cat is not None else group

    # -- ICD-10-CM --------------------------------------------------------------------------
    def icd_code(self, code: str) -> str | None:
        """The entry an ICD-10-CM code is listed by, if any (no official check)."""
        return self._icd.get(icd.compact(code))

    def _resolve_icd(self, text: str) -> str:
        listed = self._icd.get(icd.compact(text))
        if listed is not None:
            return listed
        code = icd.canonical(text)
        if not icd.exists(code):
            raise UnknownName(
                f"unknown diagnosis label {text!r}: shaped like an ICD-10-CM code, but not one"
            )
        return self._icd_entry(code).code

    def _is_dynamic(self, code: str) -> bool:
        if not code.startswith(icd.DYNAMIC_PREFIX):
            return False
        try:
            self._icd_entry(code[len(icd.DYNAMIC_PREFIX) :])
        except UnknownName:
            return False
        return True

    def _icd_entry(self, raw: str) -> Entry:
        """The entry of an ICD-10-CM code no entry lists: named by its official description,
        placed under the nearest ancestor code an entry lists (else ``unclassified``)."""
        if not icd.looks_like_icd(raw):
            raise UnknownName(f"unknown diagnosis code {icd.DYNAMIC_PREFIX}{raw!s}")
        code = icd.canonical(raw)
        if code in self._dynamic:
            return self._dynamic[code]
        if not icd.exists(code):
            raise UnknownName(f"unknown diagnosis code {icd.DYNAMIC_PREFIX}{code}: not ICD-10-CM")
        home: Entry | None = None
        for ancestor in icd.parents(code):
            listed = self._icd.get(icd.compact(ancestor))
            if listed is not None:
                home = self.by_code[listed]
                break
        name = icd.description(code)
        if home is not None:
            entry = Entry(
                code=icd.DYNAMIC_PREFIX + code,
                name=name,
                icd10cm=(code,),
                category=home.category,
                group=home.group,
                parent=home.code,
                malignancy=home.malignancy,
                triage=home.triage,
            )
        else:
            malignancy = _malignancy_of_icd(code)
            entry = Entry(
                code=icd.DYNAMIC_PREFIX + code,
                name=name,
                icd10cm=(code,),
                malignancy=malignancy,
                triage=TRIAGE_BY_MALIGNANCY[malignancy],
            )
        self._dynamic[code] = entry
        return entry

    def _suggest(self, text: str) -> str:
        from rapidfuzz import fuzz, process

        key = _key(text)
        if not key:
            return " see docs/labels.md for the vocabulary"
        hits = process.extract(key, list(self._terms), scorer=fuzz.WRatio, limit=8)
        names: list[str] = []
        for term, score, _ in hits:
            if score < 80:
                continue
            code = self._terms[term]
            label = f"{self.by_code[code].name} ({code})"
            if label not in names:
                names.append(label)
        hint = f" did you mean {', '.join(names[:3])}?" if names else ""
        return f"{hint} see docs/labels.md for the {len(self)} entries of the vocabulary"


_QUALIFIERS = re.compile(r"\b(?:nos|unspecified|not otherwise specified|unsp)\b")
_PARENTHESES = re.compile(r"[(\[]([^)\]]*)[)\]]")
# words that qualify a diagnosis without changing it (course, severity, extent, side)
_ATTRIBUTES = re.compile(
    r"^(?:(?:acute|chronic|recurrent|persistent|severe|mild|moderate|extensive|multiple|"
    r"widespread|generali[sz]ed|locali[sz]ed|bilateral|left|right|infected|primary)\s+)+"
)
_TRAILING = re.compile(r"(?:\s+(?:flare|flare-up|flare up|exacerbation|x\s*\d+|\d+))+\s*$")
_SITE = re.compile(r"\s+(?:of|on|affecting)\s+(?:the\s+)?[a-z ,\-]+$")


def _variants(text: str) -> list[str]:
    """Keys to try when a label is not a term as written: the forms clinic and hospital
    exports use. Without a trailing qualifier ("Psoriasis, unspecified", "Eczema NOS"),
    without a parenthesis or only its content ("Atopic dermatitis (eczema)"), an inverted
    "Dermatitis, atopic", and the last word singular ("Seborrhoeic warts", "naevi")."""
    found: list[str] = []

    def add(candidate: str) -> None:
        key = _key(candidate)
        if key and key not in found:
            found.append(key)
            words = key.split(" ")
            last = words[-1]
            for plural, singular in (
                ("ies", "y"),
                ("ses", "sis"),
                ("es", ""),
                ("s", ""),
                ("i", "us"),
            ):
                if last.endswith(plural) and len(last) > len(plural) + 2:
                    singular_key = " ".join([*words[:-1], last[: -len(plural)] + singular])
                    if singular_key not in found:
                        found.append(singular_key)

    base = _QUALIFIERS.sub(" ", text.lower()).replace(" - ", ", ")
    base = _TRAILING.sub("", _ATTRIBUTES.sub("", base.strip()))  # "chronic", "left", "flare"
    base = re.sub(r"\bca\b", "carcinoma", base)  # "basal cell ca"
    add(base)
    add(_SITE.sub("", base))  # "cellulitis of left leg", "onychomycosis of toenail"
    add(_PARENTHESES.sub(" ", base))
    for inner in _PARENTHESES.findall(base):
        add(inner)
    plain = _PARENTHESES.sub(" ", base)
    if plain.count(",") == 1:
        head, tail = (part.strip() for part in plain.split(","))
        add(f"{tail} {head}")
        add(head)
    eponym = _key(plain)  # "Kawasaki", "Behcets", "Bowen's": the eponym without its noun
    if eponym and len(eponym.split()) <= 2:
        for noun in ("disease", "syndrome"):
            add(f"{eponym} {noun}")
    return found


def _malignancy_of_icd(code: str) -> Malignancy:
    """Malignancy of an ICD-10-CM code with no listed ancestor, from its chapter range:
    C00-D09 malignant or in situ (D00-D09 in situ: premalignant), otherwise benign."""
    letter, number = code[0], code[1:3]
    if letter == "C":
        return "malignant"
    if letter == "D" and number.isdigit() and int(number) < 10:
        return "premalignant"
    return "benign"
