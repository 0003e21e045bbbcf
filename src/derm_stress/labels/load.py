"""Reading vocabulary files: the packaged one and a user's additions and overrides.

Both have the same shape (see ``docs/labels.md``)::

    hierarchy:                      # categories and their groups
      inflammatory:
        name: Inflammatory
        groups: {eczematous: Eczematous dermatitis, ...}
    entries:
      NUMMULAR_ECZEMA:
        name: Nummular eczema
        synonyms: [discoid eczema, nummular dermatitis]
        icd10cm: [L30.0]
        category: inflammatory
        group: eczematous
        parent: ECZEMA
        lookalikes: [TINEA_CORPORIS, PSORIASIS]

A user file's entry with a new code is added; one with an existing code replaces only the
fields it gives (``add_synonyms`` appends instead of replacing). Every problem is reported
as one line naming the file, the entry and the field.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from derm_stress.errors import InvalidArgument, UnknownName
from derm_stress.errors import did_you_mean as _did_you_mean
from derm_stress.labels import icd
from derm_stress.labels.cache import cache_dir
from derm_stress.labels.vocabulary import (
    MALIGNANCIES,
    OTHER,
    TRIAGE_BY_MALIGNANCY,
    TRIAGE_LEVELS,
    Category,
    Entry,
    Malignancy,
    Vocabulary,
    _key,
)

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
MAX_FILE_BYTES = 8 * 1024 * 1024
_TUPLE_FIELDS = ("synonyms", "icd10cm", "lookalikes", "members", "ambiguous")
ENTRY_FIELDS = (*(f.name for f in fields(Entry) if f.name != "code"), "add_synonyms")


def did_you_mean(name: str, choices: Iterable[str], what: str) -> UnknownName:
    """Like ``errors.did_you_mean``, without listing hundreds of entry codes."""
    options = sorted(choices)
    if len(options) <= 30:
        return _did_you_mean(name, options, what)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.7)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownName(f"unknown {what} {name!r}{hint}")


class VocabularyError(InvalidArgument):
    """A vocabulary file is malformed or inconsistent (the message names entry and field)."""


def packaged_path() -> Path:
    """Where the packaged vocabulary file lives."""
    return Path(str(resources.files("derm_stress") / "data" / "vocabulary.yaml"))


def _read(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise VocabularyError(
                f"vocabulary file {path}: {size} bytes, more than the {MAX_FILE_BYTES} allowed"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VocabularyError(f"vocabulary file {path}: not found") from None
    except UnicodeDecodeError as exc:
        raise VocabularyError(f"vocabulary file {path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise VocabularyError(f"vocabulary file {path}: cannot read ({exc.strerror})") from None
    import yaml  # not needed when the packaged vocabulary comes from its cache

    if path == packaged_path():  # our own file: the fast C loader
        try:
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" line {where.line + 1}" if where is not None else ""
            raise VocabularyError(f"vocabulary file {path}:{line} not valid YAML") from None
    else:  # someone else's: bounded (no alias bombs), errors on one line
        from derm_stress.safe_yaml import load_yaml_text

        try:
            data = load_yaml_text(text, f"vocabulary file {path}")
        except InvalidArgument as exc:
            raise VocabularyError(" ".join(str(exc).split())) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise VocabularyError(f"vocabulary file {path}: expected a mapping with 'entries'")
    unknown = set(data) - {"hierarchy", "entries", "version", "sources", "icd10cm_owners"}
    if unknown:
        raise VocabularyError(
            f"vocabulary file {path}: unknown top-level key {sorted(map(str, unknown))[0]!r}; "
            "allowed: entries, hierarchy, icd10cm_owners, sources, version"
        )
    return cast(dict[str, Any], data)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise VocabularyError(f"{where}: expected a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _hierarchy(raw: object, where: str) -> list[Category]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise VocabularyError(f"{where}: 'hierarchy' must map category codes to categories")
    categories = []
    for code, body in raw.items():
        here = f"{where}: category {code!r}"
        if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", code):
            raise VocabularyError(f"{here}: codes are lower_snake_case")
        if not isinstance(body, dict) or set(body) - {"name", "groups"}:
            raise VocabularyError(f"{here}: expected 'name' and 'groups'")
        groups = body.get("groups") or {}
        if not isinstance(groups, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"[a-z][a-z0-9_]*", k) and isinstance(v, str)
            for k, v in groups.items()
        ):
            raise VocabularyError(f"{here}, field groups: map lower_snake_case codes to names")
        categories.append(Category(code, str(body.get("name") or ""), dict(groups)))
    return categories


def _entry(code: object, body: object, where: str, base: Entry | None) -> Entry:
    if not isinstance(code, str) or not CODE_PATTERN.match(code) or code == OTHER:
        raise VocabularyError(
            f"{where}: entry code {code!r} must be UPPER_SNAKE_CASE (and not {OTHER})"
        )
    here = f"{where}: entry {code}"
    if not isinstance(body, dict):
        raise VocabularyError(f"{here}: expected a mapping of fields, got {body!r}")
    for name in body:
        if name not in ENTRY_FIELDS:
            raise VocabularyError(f"{here}: {did_you_mean(str(name), ENTRY_FIELDS, 'field')}")
    values: dict[str, Any] = {}
    for name, value in body.items():
        field_where = f"{here}, field {name}"
        if name in (*_TUPLE_FIELDS, "add_synonyms"):
            values[name] = tuple(dict.fromkeys(_strings(value, field_where)))  # no repeats
        elif name == "parent":
            if value is not None and not isinstance(value, str):
                raise VocabularyError(f"{field_where}: expected a code, got {value!r}")
            values[name] = value
        elif not isinstance(value, str) or not value.strip():
            raise VocabularyError(f"{field_where}: expected a non-empty string, got {value!r}")
        else:
            values[name] = value.strip()
    extra = values.pop("add_synonyms", ())
    if base is None:
        if "name" not in values:
            raise VocabularyError(f"{here}, field name: required for a new entry")
        entry = Entry(code=code, name=values.pop("name"), **values)
    else:
        entry = replace(base, **values)
    if extra:
        entry = replace(entry, synonyms=tuple(dict.fromkeys((*entry.synonyms, *extra))))
    for text in entry.icd10cm:
        if not icd.looks_like_icd(text):
            raise VocabularyError(f"{here}, field icd10cm: {text!r} is not an ICD-10-CM code")
    return replace(entry, icd10cm=tuple(icd.canonical(t) for t in entry.icd10cm))


def _malignancy(entry: Entry, where: str) -> Malignancy:
    if entry.malignancy not in MALIGNANCIES:
        raise VocabularyError(
            f"{where}, field malignancy: {entry.malignancy!r} is not one of "
            f"{', '.join(MALIGNANCIES)}"
        )
    return entry.malignancy


def _resolve(entries: dict[str, Entry], raw: Mapping[str, Mapping[str, Any]]) -> None:
    """Fill what an entry does not state: category, group and malignancy from its parent
    (else ``unclassified``/``benign``); triage from its own malignancy when that is stated,
    else from the parent, else from the malignancy."""
    done: dict[str, Entry] = {}

    def resolve(code: str, seen: frozenset[str]) -> Entry:
        if code in done:
            return done[code]
        entry, body = entries[code], raw.get(code, {})
        parent = None
        if entry.parent in entries and entry.parent not in seen:
            parent = resolve(entry.parent, seen | {code})
        changes: dict[str, Any] = {}
        for name in ("category", "group", "malignancy"):
            if name not in body and parent is not None:
                changes[name] = getattr(parent, name)
        malignancy = changes.get("malignancy", entry.malignancy)
        if "triage" not in body:
            if "malignancy" in body or parent is None:
                if malignancy in TRIAGE_BY_MALIGNANCY:
                    changes["triage"] = TRIAGE_BY_MALIGNANCY[malignancy]
            else:
                changes["triage"] = parent.triage
        done[code] = replace(entry, **changes) if changes else entry
        return done[code]

    for code in entries:
        entries[code] = resolve(code, frozenset())


def _check_values(entry: Entry, categories: Mapping[str, Category], here: str) -> None:
    _malignancy(entry, here)
    if entry.triage not in TRIAGE_LEVELS:
        raise VocabularyError(
            f"{here}, field triage: {entry.triage!r} is not one of {', '.join(TRIAGE_LEVELS)}"
        )
    cat = categories.get(entry.category)
    if entry.category == "unclassified" and cat is None:
        raise VocabularyError(
            f"{here}, field category: required (or a parent to inherit it from); "
            f"categories: {', '.join(sorted(categories))}"
        )
    if cat is None:
        raise VocabularyError(
            f"{here}, field category: {did_you_mean(entry.category, categories, 'category')}"
        )
    if entry.group not in cat.groups:
        raise VocabularyError(
            f"{here}, field group: "
            f"{did_you_mean(entry.group, cat.groups, f'group of {entry.category}')}"
        )


def _check(
    vocab_entries: dict[str, Entry],
    categories: dict[str, Category],
    where: str,
    changed: Iterable[str] = (),
) -> None:
    """Cross-entry consistency: references exist, hierarchy places exist, no term names two
    entries. Entries this file changed are checked last, so a clash names them."""
    owner: dict[str, tuple[str, str]] = {}  # term key -> (code, field)
    late = [c for c in changed if c in vocab_entries]
    for code in late:  # a bad value is reported where it was written, not where inherited
        _check_values(vocab_entries[code], categories, f"{where}: entry {code}")
    order = [c for c in vocab_entries if c not in set(late)] + late
    for code in order:
        entry = vocab_entries[code]
        here = f"{where}: entry {code}"
        _check_values(entry, categories, here)
        for name, refs in (
            ("parent", (entry.parent,) if entry.parent else ()),
            ("lookalikes", entry.lookalikes),
            ("members", entry.members),
        ):
            for ref in refs:
                if ref == code:
                    raise VocabularyError(f"{here}, field {name}: refers to the entry itself")
                if ref not in vocab_entries:
                    raise VocabularyError(
                        f"{here}, field {name}: {did_you_mean(ref, vocab_entries, 'entry code')}"
                    )
        for name, texts in (
            ("code", (code,)),
            ("name", (entry.name,)),
            ("synonyms", entry.synonyms),
        ):
            for text in texts:
                key = _key(text)
                if not key:
                    raise VocabularyError(f"{here}, field {name}: {text!r} has no letters")
                seen = owner.get(key)
                if seen is not None and seen[0] != code:
                    raise VocabularyError(
                        f"{here}, field {name}: {text!r} already names {seen[0]} "
                        f"(its {seen[1]}); a term may name one condition only"
                    )
                owner.setdefault(key, (code, name))
    for code, entry in vocab_entries.items():
        for text in entry.ambiguous:
            seen = owner.get(_key(text))
            if seen is not None:
                raise VocabularyError(
                    f"{where}: entry {code}, field ambiguous: {text!r} is also an unambiguous "
                    f"term of {seen[0]} (its {seen[1]}); remove it there or here"
                )


def _check_parents(entries: Mapping[str, Entry], where: str) -> None:
    for code, entry in entries.items():
        chain = [code]
        parent = entry.parent
        while parent is not None:
            if parent not in entries:
                raise VocabularyError(
                    f"{where}: entry {code}, field parent: "
                    f"{did_you_mean(parent, entries, 'entry code')}"
                )
            if parent in chain:
                raise VocabularyError(
                    f"{where}: entry {code}, field parent: cycle {' -> '.join([*chain, parent])}"
                )
            chain.append(parent)
            parent = entries[parent].parent


def build(
    layers: list[tuple[Mapping[str, Any], str]], *, check_icd: bool = False, check: bool = True
) -> Vocabulary:
    """Build a vocabulary from parsed files, later layers adding to and overriding earlier.

    ``check=False`` skips the cross-entry checks, for data that passed them when it was
    cached (see ``_packaged``); field values are always checked."""
    entries: dict[str, Entry] = {}
    categories: dict[str, Category] = {}
    raw_all: dict[str, dict[str, Any]] = {}
    raw_entries: dict[str, Entry] = {}  # as written, before anything was inherited
    owners: dict[str, str] = {}
    for data, where in layers:
        for cat in _hierarchy(data.get("hierarchy"), where):
            old = categories.get(cat.code)
            if old is not None:  # a file adds groups to a category, or renames it
                cat = Category(cat.code, cat.name or old.name, {**old.groups, **cat.groups})
            categories[cat.code] = Category(cat.code, cat.name or cat.code, cat.groups)
        raw = data.get("entries") or {}
        if not isinstance(raw, dict):
            raise VocabularyError(f"{where}: 'entries' must map codes to entries")
        for code, body in raw.items():
            raw_entries[code] = _entry(code, body, where, raw_entries.get(code))
            if isinstance(body, dict):
                raw_all[code] = {**raw_all.get(code, {}), **body}
        entries = dict(raw_entries)
        if check:
            _check_parents(entries, where)
        _resolve(entries, raw_all)
        if check:
            _check(entries, categories, where, changed=[c for c in raw if isinstance(c, str)])
        if check_icd:
            for code in raw:
                for text in entries[code].icd10cm:
                    if not icd.exists(text):
                        raise VocabularyError(
                            f"{where}: entry {code}, field icd10cm: {text!r} is not in ICD-10-CM"
                        )
        owners.update(_owners(data.get("icd10cm_owners"), where))
        if check:
            _check_owners(entries, owners, where)
    source = " + ".join(where for _, where in layers)
    return Vocabulary(entries.values(), categories.values(), source=source, icd_owners=owners)


def _owners(raw: object, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise VocabularyError(f"{where}: 'icd10cm_owners' must map ICD-10-CM codes to entry codes")
    owners = {}
    for code, owner in raw.items():
        if not icd.looks_like_icd(code):
            raise VocabularyError(f"{where}: icd10cm_owners: {code!r} is not an ICD-10-CM code")
        owners[icd.canonical(code)] = owner
    return owners


def _check_owners(entries: Mapping[str, Entry], owners: Mapping[str, str], where: str) -> None:
    """A code listed by several entries must name its owner, and the owner must list it."""
    listed: dict[str, list[str]] = {}
    for entry in entries.values():
        for code in entry.icd10cm:
            listed.setdefault(code, []).append(entry.code)
    for code, owner in owners.items():
        if owner not in entries:
            raise VocabularyError(
                f"{where}: icd10cm_owners: {code}: {did_you_mean(owner, entries, 'entry code')}"
            )
        if owner not in listed.get(code, ()):
            raise VocabularyError(
                f"{where}: icd10cm_owners: {code}: {owner} does not list it in its icd10cm"
            )
    for code, codes in listed.items():
        if len(codes) > 1 and code not in owners:
            raise VocabularyError(
                f"{where}: ICD-10-CM code {code} is listed by {', '.join(codes)}: "
                "name the entry it stands for in icd10cm_owners"
            )


def _packaged_cache() -> tuple[Path, bytes]:
    path = packaged_path()
    blob = path.read_bytes()
    return cache_dir() / f"vocabulary-{hashlib.sha256(blob).hexdigest()[:24]}.json", blob


def _read_packaged() -> tuple[dict[str, Any], bool]:
    """The packaged file, parsed, and whether it came from the cache. YAML parsing is most
    of a cold load, so the parsed form of a file that passed every check is cached as JSON
    named by the file's SHA-256 (a changed file is a new name; a cache that cannot be
    written or read is skipped)."""
    cached, _ = _packaged_cache()
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data, True
    except (OSError, ValueError):
        pass
    return _read(packaged_path()), False


def _store_packaged(data: dict[str, Any]) -> None:
    cached, _ = _packaged_cache()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, cached)
    except OSError:
        pass


@cache
def _packaged() -> Vocabulary:
    data, from_cache = _read_packaged()
    vocab = build([(data, "vocabulary.yaml")], check=not from_cache)
    if not from_cache:  # checked: later processes may skip the cross-entry checks
        _store_packaged(data)
    return vocab


def load_vocabulary(extra: Path | str | None = None) -> Vocabulary:
    """The packaged vocabulary, with a user file's additions and overrides when given.

    The packaged one is read once per process. A user file's ICD-10-CM codes are checked
    against the official code set; errors name the file, the entry and the field.
    """
    if extra is None:
        return _packaged()
    path = Path(extra)
    try:
        stat = path.stat()
    except OSError:
        _read(path)  # raises the error that names the problem
        raise
    return _with_file(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _with_file(path: str, mtime_ns: int, size: int) -> Vocabulary:
    """Cached per file version (path, modification time, size): every process and every
    lookup of a run loads a user's file once."""
    del mtime_ns, size  # part of the cache key only
    packaged, _ = _read_packaged()
    return build([(packaged, "vocabulary.yaml"), (_read(Path(path)), path)], check_icd=True)


__all__ = [
    "VocabularyError",
    "build",
    "load_vocabulary",
    "packaged_path",
]
