"""Rebuild the bundled PAD-UFES-20 sample from ``data/pad-ufes-20`` (deterministic).

Per class, image ids are ordered by the SHA-256 of the ``img_id`` text and the first 15 are
kept: 90 cases, 15 per class. Every patient appears once in the full subset, so the sample
is patient-disjoint from the cases left for training the reference model.

Usage: python tools/make_sample.py [--per-class 15]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "pad-ufes-20"
TARGET = ROOT / "src" / "derm_stress" / "datasets" / "sample"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=15)
    args = parser.parse_args()
    with (SOURCE / "metadata.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = list(reader)
    by_class: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_class[row["diagnostic"]].append(row)
    keep: set[str] = set()
    for members in by_class.values():
        members.sort(key=lambda r: hashlib.sha256(r["img_id"].encode()).hexdigest())
        keep.update(r["img_id"] for r in members[: args.per_class])
    if TARGET.exists():
        for old in (TARGET / "images").glob("*"):
            old.unlink()
    (TARGET / "images").mkdir(parents=True, exist_ok=True)
    kept = [r for r in rows if r["img_id"] in keep]  # original row order
    with (TARGET / "metadata.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    for row in kept:
        name = Path(row["img_id"]).stem + ".jpg"
        shutil.copyfile(SOURCE / "images" / name, TARGET / "images" / name)
    shutil.copyfile(SOURCE / "LICENSE.txt", TARGET / "LICENSE.txt")
    print(f"wrote {len(kept)} cases to {TARGET}")


if __name__ == "__main__":
    main()
