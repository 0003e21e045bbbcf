"""Loaders for public dermatology benchmarks, read from their published layouts.

Each loader takes a local folder laid out as its publishers distribute it (never downloads),
maps the dataset's labels through the diagnosis vocabulary and its metadata to ``Note``
fields, and reports rows it cannot use as ``CaseIssue`` entries. ``detect_layout`` names the
layout of a folder, or says which files each known layout expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from derm_stress.datasets.base import Dataset
from derm_stress.datasets.benchmarks.ddi import load_ddi
from derm_stress.datasets.benchmarks.derm7pt import load_derm7pt
from derm_stress.datasets.benchmarks.fitzpatrick17k import load_fitzpatrick17k
from derm_stress.datasets.benchmarks.ham10000 import load_ham10000
from derm_stress.datasets.benchmarks.isic import load_isic_2019, load_isic_2020
from derm_stress.datasets.benchmarks.scin import load_scin
from derm_stress.datasets.pad_ufes import load_pad_ufes_20
from derm_stress.errors import DatasetError
from derm_stress.registry import Registry


@dataclass(frozen=True)
class Layout:
    """A dataset layout: its loader (``load(folder) -> Dataset``) and the files that
    identify a folder in it. This is what a dataset plugin publishes in the
    ``derm_stress.datasets`` entry point group (the entry point's name is the layout's)."""

    name: str
    load: Callable[..., Dataset]
    markers: tuple[str, ...]  # any one of these files identifies the layout
    citation: str


def _check_layout(name: str, layout: Layout) -> None:
    if layout.name != name:
        raise ValueError(f"layout {layout.name!r} is registered as {name!r}: use one name")
    if not callable(layout.load) or not layout.markers:
        raise ValueError(f"layout {layout.name!r} needs a loader and at least one marker file")


#: every dataset layout, by name: the published benchmarks below and those installed
#: packages publish in the ``derm_stress.datasets`` entry point group (``Layout`` objects)
LAYOUTS: Registry[Layout] = Registry(
    "dataset layout",
    Layout,
    instances=True,
    group="derm_stress.datasets",
    check=_check_layout,
    name_of=lambda layout: layout.name,
)
for _layout in (
    Layout(
        "pad_ufes_20",
        load_pad_ufes_20,
        ("metadata.csv",),
        "Pacheco et al., Data in Brief 32, 106221 (2020)",
    ),
    Layout(
        "ham10000",
        load_ham10000,
        ("HAM10000_metadata.csv", "HAM10000_metadata"),
        "Tschandl et al., Sci. Data 5, 180161 (2018)",
    ),
    Layout(
        "isic_2019",
        load_isic_2019,
        ("ISIC_2019_Training_GroundTruth.csv",),
        "ISIC 2019 challenge (Codella et al. 2018; Tschandl et al. 2018; Combalia et al. 2019)",
    ),
    Layout(
        "isic_2020",
        load_isic_2020,
        ("ISIC_2020_Training_GroundTruth_v2.csv", "ISIC_2020_Training_GroundTruth.csv"),
        "Rotemberg et al., Sci. Data 8, 34 (2021)",
    ),
    Layout(
        "fitzpatrick17k",
        load_fitzpatrick17k,
        ("fitzpatrick17k.csv",),
        "Groh et al., CVPR Workshops (2021)",
    ),
    Layout("ddi", load_ddi, ("ddi_metadata.csv",), "Daneshjou et al., Sci. Adv. 8 (2022)"),
    Layout(
        "scin",
        load_scin,
        ("scin_cases.csv", "dataset_scin_cases.csv", "dataset/scin_cases.csv"),
        "Ward et al., JAMA Netw. Open (2024)",
    ),
    Layout(
        "derm7pt",
        load_derm7pt,
        ("meta/meta.csv", "release_v0/meta/meta.csv"),
        "Kawahara et al., IEEE JBHI 23(2) (2019)",
    ),
):
    LAYOUTS.register(_layout)
del _layout


def detect_layout(folder: str | Path) -> Layout:
    """The known layout of ``folder``; a clear error naming every layout's files otherwise."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    layouts = [layout for _, layout in LAYOUTS.items()]
    found = [
        layout for layout in layouts if any((root / marker).is_file() for marker in layout.markers)
    ]
    if len(found) == 1:
        return found[0]
    expected = "; ".join(f"{lay.name}: {' or '.join(lay.markers)}" for lay in layouts)
    if not found:
        raise DatasetError(f"{root} is in no known dataset layout. Expected one of: {expected}")
    names = ", ".join(lay.name for lay in found)
    raise DatasetError(
        f"{root} matches several layouts ({names}): name one in the config, e.g. "
        f"{{{found[0].name}: {root}}}"
    )


def load_benchmark(folder: str | Path, layout: str | None = None) -> Dataset:
    """Load ``folder`` with the named layout's loader, or the one ``detect_layout`` finds."""
    chosen = LAYOUTS.get(layout) if layout is not None else detect_layout(folder)
    return chosen.load(folder)


__all__ = [
    "LAYOUTS",
    "Layout",
    "detect_layout",
    "load_benchmark",
    "load_ddi",
    "load_derm7pt",
    "load_fitzpatrick17k",
    "load_ham10000",
    "load_isic_2019",
    "load_isic_2020",
    "load_scin",
]
