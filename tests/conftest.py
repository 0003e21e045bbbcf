"""Shared fixtures: real PAD-UFES-20 photos from the repository, and manifest builders."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from derm_stress.datasets import Dataset, load_pad_ufes_20, load_sample
from derm_stress.images import load_image

# Property tests are reproducible and never fail on time: the same examples on every run
# (a failure found once is found again), and no per-example deadline, which a loaded
# 2-core CI machine could miss (a property test failed so under load). A test's own
# ``@settings`` overrides what it names.
settings.register_profile("derm-stress", deadline=None, derandomize=True, database=None)
settings.load_profile("derm-stress")

ROOT = Path(__file__).resolve().parents[1]
PAD_DIR = ROOT / "data" / "pad-ufes-20"


@pytest.fixture(scope="session")
def pad() -> Dataset:
    """The repository's 531-case PAD-UFES-20 subset."""
    return load_pad_ufes_20(PAD_DIR)


@pytest.fixture(scope="session")
def sample() -> Dataset:
    return load_sample()


@pytest.fixture(scope="session")
def photos(pad: Dataset) -> list[np.ndarray]:
    """Six real photos, one per class, including one at 512 px and several at 300 px."""
    seen: dict[str, np.ndarray] = {}
    for case in pad:
        if case.diagnosis not in seen:
            seen[case.diagnosis] = load_image(case.images[0])
    return list(seen.values())


ManifestFactory = Callable[[list[dict[str, str]]], Path]


@pytest.fixture
def make_manifest(tmp_path: Path, pad: Dataset) -> ManifestFactory:
    """Write a CSV manifest in ``tmp_path`` whose rows may reference real photos.

    Each ``@N`` in a row's ``image`` value is replaced by a copy of the N-th PAD photo.
    """
    (tmp_path / "img").mkdir(exist_ok=True)

    def copy(index: int) -> str:
        source = pad.cases[index].images[0]
        assert isinstance(source, Path)
        shutil.copyfile(source, tmp_path / "img" / source.name)
        return f"img/{source.name}"

    def build(rows: list[dict[str, str]]) -> Path:
        columns: list[str] = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
            parts = row.get("image", "").split(";")
            if any(p.startswith("@") for p in parts):
                row["image"] = ";".join(copy(int(p[1:])) if p.startswith("@") else p for p in parts)
        path = tmp_path / "cases.csv"
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return path

    return build
