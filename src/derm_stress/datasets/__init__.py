"""Dataset loaders: the generic manifest, the public benchmarks' published layouts
(``benchmarks/``), and the bundled PAD-UFES-20 sample."""

from pathlib import Path

from derm_stress.datasets.base import CaseIssue, Dataset
from derm_stress.datasets.manifest import load_manifest
from derm_stress.datasets.pad_ufes import load_pad_ufes_20
from derm_stress.datasets.sample import SAMPLE_DIR, load_sample


def open_dataset(path: str | Path | None) -> Dataset:
    """A dataset from a path: a manifest file, a folder in a published layout (PAD-UFES-20,
    HAM10000, ISIC 2019/2020, Fitzpatrick17k, DDI, SCIN, Derm7pt), or (None) the sample."""
    if path is None:
        return load_sample()
    path = Path(path)
    if path.is_dir():
        from derm_stress.datasets.benchmarks import load_benchmark

        return load_benchmark(path)
    return load_manifest(path)


__all__ = [
    "SAMPLE_DIR",
    "CaseIssue",
    "Dataset",
    "load_manifest",
    "load_pad_ufes_20",
    "load_sample",
    "open_dataset",
]
