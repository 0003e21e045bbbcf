"""Dataset loaders: PAD-UFES-20, the generic manifest, and the bundled sample."""

from derm_stress.datasets.base import CaseIssue, Dataset
from derm_stress.datasets.manifest import load_manifest
from derm_stress.datasets.pad_ufes import load_pad_ufes_20
from derm_stress.datasets.sample import SAMPLE_DIR, load_sample

__all__ = [
    "SAMPLE_DIR",
    "CaseIssue",
    "Dataset",
    "load_manifest",
    "load_pad_ufes_20",
    "load_sample",
]
