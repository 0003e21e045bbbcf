"""A callable model for the several-datasets tests: right on the benchmark, wrong elsewhere."""

from __future__ import annotations

from derm_stress.perturb import Probe

TRUTH: dict[str, str] = {}  # case id -> diagnosis name, filled by the test


def benchmark_only(probe: Probe) -> str:
    """Names the true diagnosis for cases of the dataset ``benchmark``; a wrong one otherwise."""
    truth = TRUTH[probe.case_id]
    if probe.case_id.startswith("benchmark/"):
        return f"1. {truth}"
    return "1. dermatofibroma" if truth != "dermatofibroma" else "1. melanoma"
