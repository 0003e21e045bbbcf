"""ICD-10-CM codes: recognising them in text and asking the official code set about them.

The code set comes from the ``simple-icd-10-cm`` package (the public-domain CMS release of
ICD-10-CM). Importing it reads the whole code set (about 1.5 s), so codes, descriptions and
parents are read from a JSON index built from it once per machine (see ``_index``), and only
when a code that no vocabulary entry lists has to be checked or named; every code the
vocabulary lists resolves without either.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from functools import cache
from types import ModuleType

from derm_stress.labels.cache import cache_dir

# A letter, two digits (the second may be a letter in a few chapters, e.g. C7A), then an
# optional dot and up to four more characters: "L40", "L40.0", "L400", "C44.91", "S01.81XA".
ICD_PATTERN = re.compile(r"^([A-TV-Z][0-9][0-9A-Z])\.?([0-9A-Z]{1,4})?$", re.IGNORECASE)
DYNAMIC_PREFIX = "ICD10CM:"


def looks_like_icd(text: str) -> bool:
    """Whether ``text`` has the shape of an ICD-10-CM code (it may still not exist)."""
    return ICD_PATTERN.match(text.strip()) is not None


def canonical(text: str) -> str:
    """``"l400"``, ``"L40.0"`` and ``" L40.0 "`` all become ``"L40.0"`` (shape only)."""
    match = ICD_PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not shaped like an ICD-10-CM code")
    head, tail = match.group(1).upper(), (match.group(2) or "").upper()
    return f"{head}.{tail}" if tail else head


def compact(code: str) -> str:
    """The code without its dot, upper case: the key codes are compared by."""
    return code.replace(".", "").strip().upper()


@cache
def _library() -> ModuleType:
    with warnings.catch_warnings():  # it reads its data through a deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm
    module: ModuleType = simple_icd_10_cm
    return module


@cache
def _index() -> dict[str, tuple[str, str]]:
    """Every code (no chapters or blocks): its description and parent code ("" at the top).

    Built from the package once per machine and package version and cached as JSON, which
    loads several times faster than the package parses its XML on import."""
    from importlib import metadata  # only when an unlisted code is looked up

    try:
        version = metadata.version("simple-icd-10-cm")
    except metadata.PackageNotFoundError:
        version = "unknown"
    cached = cache_dir() / f"icd10cm-{version}.json"
    try:
        raw = json.loads(cached.read_text(encoding="utf-8"))
        return {k: (v[0], v[1]) for k, v in raw.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        pass
    lib = _library()
    index: dict[str, tuple[str, str]] = {}
    for code in lib.get_all_codes(True):
        if lib.is_chapter_or_block(code):
            continue
        parent = lib.get_parent(code)
        index[code] = (lib.get_description(code), "" if lib.is_chapter_or_block(parent) else parent)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
        os.replace(partial, cached)
    except OSError:
        pass
    return index


def exists(code: str) -> bool:
    """Whether ``code`` is a category, subcategory or full code of ICD-10-CM."""
    try:
        return canonical(code) in _index()
    except ValueError:
        return False


def description(code: str) -> str:
    """The official short description of an existing code."""
    return _index()[canonical(code)][0]


def parents(code: str) -> list[str]:
    """The ancestors of an existing code, nearest first, without chapters and blocks."""
    index = _index()
    chain: list[str] = []
    parent = index[canonical(code)][1]
    while parent:
        chain.append(parent)
        parent = index[parent][1]
    return chain


@cache
def _descriptions() -> dict[str, str | None]:
    """Normalised official description -> code (``None`` where several codes share one)."""
    from derm_stress.labels.vocabulary import _key

    index: dict[str, str | None] = {}
    for code, (text, _) in _index().items():
        key = _key(text)
        index[key] = None if key in index and index[key] != code else code
    return index


def by_description(text: str) -> str | None:
    """The code whose official description is ``text`` (any case or punctuation), if one."""
    from derm_stress.labels.vocabulary import _key

    key = _key(text)
    if len(key) < 4:
        return None
    return _descriptions().get(key)
