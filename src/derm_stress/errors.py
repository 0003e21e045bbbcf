"""Exception hierarchy: one root, argument errors also subclass the matching builtin."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DermStressError(Exception):
    """Root of every error derm-stress raises on purpose."""


class InvalidArgument(DermStressError, ValueError):
    """A value given by the user (config, CLI option, function argument) is not allowed."""


class UnknownName(InvalidArgument, KeyError):
    """A name (operator, adapter, label, field) that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DatasetError(DermStressError):
    """A dataset cannot be read at all (as opposed to one bad case)."""


class CaseInputError(DermStressError):
    """One case's input (image, note, label) is unusable; the run goes on without it."""


def did_you_mean(name: str, choices: Iterable[str], what: str) -> UnknownName:
    """Build an ``UnknownName`` error that suggests close matches and lists the choices."""
    options = sorted(choices)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.7)
    hint = f" did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownName(f"unknown {what} {name!r};{hint} available: {', '.join(options)}")
