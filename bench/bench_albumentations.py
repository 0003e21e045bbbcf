"""The albumentations bridge's cost, both ways, on PAD-UFES-20 photos.

Two comparisons, each side by side in one run, interleaved per photo:

1. inbound: an albumentations transform run as a derm-stress operator (RNG derivation,
   seeding albumentations, the input check, recording the applied parameters, the record)
   against calling the same albumentations transform directly with the seed the operator
   drew (``t.set_random_seed(seed); t(image=img)``: the same output, so the same work);
2. outbound: every derm-stress image operator as an ``augment`` transform called the
   albumentations way (``t(image=img)``) against the same operator called natively
   (``op(img, rng, case, where)``), both at severity 3.

For each (transform, photo) the best of ``--repeats`` timings is kept; the figure per
transform is the median over photos, and the summary the median over transforms.

Usage: python bench/bench_albumentations.py [--photos 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np

from derm_stress import augment
from derm_stress.cases import Case
from derm_stress.datasets import load_pad_ufes_20
from derm_stress.images import load_image
from derm_stress.perturb import derive_rng, make_operator, registry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "pad-ufes-20"
# transforms a corruption suite typically holds, cheap to expensive, at a mid severity
INBOUND: dict[str, dict[str, Any]] = {
    "RandomBrightnessContrast": {"brightness_limit": [0.2, 0.25], "contrast_limit": [0.2, 0.25]},
    "GaussNoise": {"std_range": [0.1, 0.15]},
    "MotionBlur": {"blur_limit": [9, 9]},
    "ImageCompression": {"quality_range": [25, 25]},
    "Defocus": {"radius": [4, 4]},
    "Rotate": {"limit": [15, 20]},
    "RandomFog": {"fog_coef_range": [0.3, 0.35]},
    "RandomShadow": {},
}


def photos(n: int) -> list[tuple[Case, np.ndarray]]:
    dataset = load_pad_ufes_20(DATA)
    step = max(1, len(dataset.cases) // n)
    return [(c, load_image(c.images[0])) for c in dataset.cases[::step][:n]]


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def inbound(sample: list[tuple[Case, np.ndarray]], repeats: int) -> dict[str, tuple[float, float]]:
    out = {}
    for name, args in INBOUND.items():
        op = make_operator("albumentations", 3, transform=name, table={3: args})
        direct = getattr(A, name)(**args, p=1.0)
        ours, theirs = [], []
        for case, img in sample:
            key = (0, case.case_id, f"img={op.label}", "0:image[0]")
            # interleaved, so load changes on the shared machine hit both alike
            seed = op(img, derive_rng(*key), case, "i")[1].params["seed"]
            ours.append(
                best(lambda o=op, k=key, i=img, c=case: o(i, derive_rng(*k), c, "i"), repeats)
            )
            # the same seed, so both do the same work (many transforms' cost depends on their
            # random draws: RandomShadow's polygons, RandomFog's particles)
            theirs.append(
                best(lambda d=direct, i=img, s=seed: (d.set_random_seed(s), d(image=i)), repeats)
            )
        out[name] = (statistics.median(ours), statistics.median(theirs))
    return out


def outbound(sample: list[tuple[Case, np.ndarray]], repeats: int) -> dict[str, tuple[float, float]]:
    out = {}
    for name in sorted(n for n, c in registry().items() if c.kind == "image"):
        op = make_operator(name, 3)
        transform = augment.transform_for(name)(severity=3, p=1.0)
        transform.set_random_seed(0)
        as_albu, native = [], []
        for case, img in sample:
            key = (0, case.case_id, f"img={name}", "0:image[0]")
            as_albu.append(best(lambda t=transform, i=img: t(image=i), repeats))
            native.append(
                best(lambda o=op, k=key, i=img, c=case: o(i, derive_rng(*k), c, "i"), repeats)
            )
        out[name] = (statistics.median(as_albu), statistics.median(native))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sample = photos(args.photos)
    sizes = sorted({img.shape[0] for _, img in sample})
    print(f"{len(sample)} photos ({', '.join(f'{s} px' for s in sizes)}), best of {args.repeats}")

    print("\ninbound: albumentations transform as a derm-stress operator vs called directly")
    print("| transform | derm-stress ms | albumentations direct ms | overhead |")
    print("| --- | ---: | ---: | ---: |")
    overheads = []
    for name, (ours, theirs) in inbound(sample, args.repeats).items():
        overheads.append(ours / theirs - 1)
        print(f"| {name} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | {overheads[-1]:+.1%} |")
    print(f"median overhead over transforms: {statistics.median(overheads):+.1%}")

    print("\noutbound: derm-stress operator as an albumentations transform vs called natively")
    print("| operator | augment ms | native ms | augment / native |")
    print("| --- | ---: | ---: | ---: |")
    ratios = []
    for name, (albu, native) in outbound(sample, args.repeats).items():
        ratios.append(albu / native)
        print(f"| {name} | {albu * 1e3:.2f} | {native * 1e3:.2f} | {ratios[-1]:.2f}x |")
    print(f"median augment / native over operators: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
