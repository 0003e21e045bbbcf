"""Python-callable models used by the harness tests (importable as config targets)."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from derm_stress.cases import Case
from derm_stress.perturb import Probe

if TYPE_CHECKING:
    import pytest

SEEN: dict[str, list[str]] = {}


def probe_digest(probe: Probe) -> str:
    digest = hashlib.sha256(probe.condition_id.encode())
    for image in probe.images:
        digest.update(image.tobytes())
    digest.update((probe.note_text or "").encode())
    return digest.hexdigest()


def recorder_a(probe: Probe) -> str:
    SEEN.setdefault("a", []).append(probe_digest(probe))
    return "melanoma"


def recorder_b(probe: Probe) -> str:
    SEEN.setdefault("b", []).append(probe_digest(probe))
    return "1. nevus\n2. melanoma"


def flaky(probe: Probe) -> str:
    """Fails for one case until ``FLAKY_FIXED`` is set."""
    if probe.case_id == FLAKY_CASE[0] and not FLAKY_FIXED[0]:
        raise ConnectionError("server went away")
    return "seborrhoeic keratosis"


FLAKY_CASE = [""]
FLAKY_FIXED = [False]


def slow_varied(probe: Probe) -> str:
    """Answers depend on the probe's pixels and note (so runs can be compared result by
    result), after a short sleep (so a run can be killed part-way)."""
    time.sleep(0.01)
    codes = ["melanoma", "nevus", "basal cell carcinoma", "seborrheic keratosis"]
    digest = probe_digest(probe)
    first, second = codes[int(digest[:8], 16) % 4], codes[int(digest[8:16], 16) % 4]
    return f"1. {first}\n2. {second}"


def hang(probe: Probe) -> str:
    """Never returns (a model server that stopped answering)."""
    while True:
        time.sleep(3600)


def sleepy(probe: Probe) -> str:
    """A slow but working model: 0.2 s per call."""
    time.sleep(0.2)
    return "1. nevus\n2. melanoma"


def always_fails(probe: Probe) -> str:
    raise ConnectionError("connection refused")


def huge(probe: Probe) -> str:
    """A model that rambles: a 10 MB answer that still names a diagnosis first."""
    return "1. melanoma\n" + "x" * 10_000_000


def spreadsheet(probe: Probe) -> str:
    """An answer a spreadsheet would run as a formula."""
    return '=HYPERLINK("http://evil.example","melanoma")'


def local_term(probe: Probe) -> str:
    """Answers with a synonym only a run's own vocabulary file knows (see LOCAL_VOCABULARY in
    test_resilience.py)."""
    return "1. Schuppenflechte\n2. melanoma"


def count_fingerprints(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the case id of every ``Case.fingerprint`` call (a photo read to hash
    it), in order; the fingerprints are computed as before."""
    seen: list[str] = []
    original = Case.fingerprint

    def fingerprint(self: Case, *args: Any) -> str:
        seen.append(self.case_id)
        return original(self, *args)

    monkeypatch.setattr(Case, "fingerprint", fingerprint)
    return seen
