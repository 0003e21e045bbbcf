"""Dataset loaders: PAD-UFES-20, the generic manifest, and the bundled sample."""

from pathlib import Path

from derm_stress.datasets.base import CaseIssue, Dataset
from derm_stress.datasets.manifest import load_manifest
from derm_stress.datasets.pad_ufes import load_pad_ufes_20
from derm_stress.datasets.sample import SAMPLE_DIR, load_sample


def open_dataset(path: str | Path | None) -> Dataset:
    """A dataset from a path: a manifest file, a PAD-UFES-20 folder, or (None) the sample."""
    if path is None:
        return load_sample()
    path = Path(path)
    return load_pad_ufes_20(path) if path.is_dir() else load_manifest(path)


__all__ = [
    "SAMPLE_DIR",
    "CaseIssue",
    "Dataset",
    "load_manifest",
    "load_pad_ufes_20",
    "load_sample",
    "open_dataset",
]
