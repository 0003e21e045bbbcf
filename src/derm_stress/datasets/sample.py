"""The PAD-UFES-20 sample shipped inside the package (see ``sample/README.md``)."""

from __future__ import annotations

from pathlib import Path

from derm_stress.datasets.base import Dataset
from derm_stress.datasets.pad_ufes import load_pad_ufes_20

SAMPLE_DIR = Path(__file__).parent / "sample"


def load_sample() -> Dataset:
    """Load the bundled, patient-disjoint 90-case sample of PAD-UFES-20 (15 per class)."""
    return load_pad_ufes_20(SAMPLE_DIR, name="pad-ufes-20-sample")
