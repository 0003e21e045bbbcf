"""ICD-10-CM codes: recognising them in text and asking the official code set about them.

The code set comes from the ``simple-icd-10-cm`` package (the public-domain CMS release of
ICD-10-CM). Importing it reads the whole code set (about 1.5 s), so it is imported only when a
code that no vocabulary entry lists has to be checked or named; every code the vocabulary
lists resolves without it.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from types import ModuleType

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


def exists(code: str) -> bool:
    """Whether ``code`` is a category, subcategory or full code of ICD-10-CM."""
    lib = _library()
    return bool(lib.is_valid_item(code)) and not lib.is_chapter_or_block(code)


def description(code: str) -> str:
    """The official short description of an existing code."""
    return str(_library().get_description(code))


def parents(code: str) -> list[str]:
    """The ancestors of an existing code, nearest first, without chapters and blocks."""
    lib = _library()
    return [c for c in lib.get_ancestors(code) if not lib.is_chapter_or_block(c)]
