"""Exception hierarchy: one root, argument errors also subclass the matching builtin."""

from __future__ import annotations

import difflib
import importlib
import reprlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

# Exit statuses of the command line (documented in the README and `derm-stress run --help`).
EXIT_OK = 0
EXIT_ERROR_RATE = 3  # completed, but the error rate is above --max-error-rate
EXIT_USAGE = 2  # bad config, option or input file: nothing was run
EXIT_NOTHING_TO_RUN = 4  # 0 cases loaded (or every dataset row rejected)
EXIT_LOCKED = 5  # another process holds the run directory
EXIT_STORE_DAMAGED = 6  # the result store is damaged; it was left untouched
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), what a shell reports too


class DermStressError(Exception):
    """Root of every error derm-stress raises on purpose. ``exit_code`` is the command
    line's exit status for it."""

    exit_code: int = EXIT_USAGE


class InvalidArgument(DermStressError, ValueError):
    """A value given by the user (config, CLI option, function argument) is not allowed."""


class UnknownName(InvalidArgument, KeyError):
    """A name (operator, adapter, label, field) that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingDependency(DermStressError, ImportError):
    """An optional dependency is not installed; the message gives the install command.
    Raised only by ``require``."""


class PluginError(DermStressError):
    """A registered entry (an entry point of an installed package, or a lazy entry) cannot
    be loaded or is not what its registry takes; the message names where it came from."""


class PluginWarning(UserWarning):
    """An installed plugin entry failed to load and was left out of a listing (the
    operators ``derm-stress ops`` prints, the families a report groups by); asking for it by
    name still raises its ``PluginError``."""


def require(
    module: str, extra: str, what: str, needs: str | None = None, note: str = ""
) -> ModuleType:
    """Import ``module`` for ``what``, or raise ``MissingDependency`` with the install
    command of the extra that brings it: the one way an optional dependency is imported.
    ``needs`` names the packages in the message (default: the module)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{what} needs {needs or module}: pip install 'derm-stress[{extra}]'{note}",
            name=module,
        ) from exc


class DatasetError(DermStressError):
    """A dataset cannot be read at all (as opposed to one bad case)."""


class CaseInputError(DermStressError):
    """One case's input (image, note, label) is unusable; the run goes on without it."""


class NothingToRun(DermStressError):
    """The run has nothing to do: no case could be loaded."""

    exit_code = EXIT_NOTHING_TO_RUN


class RunLocked(DermStressError):
    """Another process is running in the same run directory."""

    exit_code = EXIT_LOCKED


class StoreDamaged(DermStressError):
    """The result store cannot be read as a database; it is left as it is."""

    exit_code = EXIT_STORE_DAMAGED


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 3, 6, 6, 6
_SHORT.maxset = _SHORT.maxfrozenset = 6
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlong = 40


def shorten(value: Any, limit: int = 200) -> str:
    """``repr(value)`` bounded in size and time (nested or aliased YAML values can expand
    to gigabytes): the one way a user's value is echoed in an error message."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(name: str, choices: Iterable[str], what: str) -> UnknownName:
    """Build an ``UnknownName`` error that suggests close matches and lists the choices."""
    options = sorted(choices)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.7)
    hint = f" did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownName(f"unknown {what} {name!r};{hint} available: {', '.join(options)}")
