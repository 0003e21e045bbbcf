"""Perturbed bytes are pinned: SHA-256 of every image operator's output at every severity on
three real PAD-UFES-20 photos (512 x 512, 511 x 512 and 300 x 300), against digests stored in
``operator_digests.json``.

A kernel made faster must give the same bytes. A change that alters them on purpose bumps
the operator's ``kernel_version`` (which changes the store keys of its conditions, so old results
are not reused) and regenerates only that operator's digests::

    PYTHONPATH=src python -m tests.perturb.test_digests --write OPERATOR [OPERATOR ...]

(``--write all`` regenerates every digest, for a new operator or a new photo.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from derm_stress.cases import Case
from derm_stress.datasets import load_pad_ufes_20
from derm_stress.images import load_image
from derm_stress.perturb import derive_rng, make_operator, registry
from derm_stress.perturb.base import MAX_SEVERITY

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("operator_digests.json")
PHOTOS = ("PAT_1516_1765_530", "PAT_875_1668_588", "PAT_2140_4726_141")
SEED = 0


def image_operators() -> list[str]:
    return sorted(name for name, cls in registry().items() if cls.kind == "image")


def load_photos() -> list[tuple[Case, np.ndarray]]:
    dataset = load_pad_ufes_20(ROOT / "data" / "pad-ufes-20")
    by_id = {case.case_id: case for case in dataset.cases}
    return [(by_id[i], load_image(by_id[i].images[0])) for i in PHOTOS]


def digest(img: np.ndarray) -> str:
    """SHA-256 over shape, dtype and pixels (C order)."""
    h = hashlib.sha256(f"{img.shape}|{img.dtype}|".encode())
    h.update(np.ascontiguousarray(img).tobytes())
    return h.hexdigest()


def operator_digests(name: str, photos: list[tuple[Case, np.ndarray]]) -> dict[str, str]:
    """``"<case id>@<severity>" -> digest`` for one operator, as the harness seeds it."""
    out = {}
    for case, img in photos:
        before = img.copy()
        for severity in range(MAX_SEVERITY + 1):
            rng = derive_rng(SEED, case.case_id, f"img={name}", "0:image[0]")
            result, _ = make_operator(name, severity)(img, rng, case, "image[0]")
            out[f"{case.case_id}@{severity}"] = digest(result)
        assert np.array_equal(img, before), f"{name} modified its input"
    return out


@pytest.fixture(scope="module")
def digest_photos() -> list[tuple[Case, np.ndarray]]:
    return load_photos()


@pytest.fixture(scope="module")
def stored() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(DIGESTS.read_text())
    return data


def test_every_image_operator_has_digests(stored: dict[str, dict[str, str]]) -> None:
    assert sorted(stored) == image_operators()


@pytest.mark.parametrize("name", image_operators())
def test_operator_output_matches_stored_digests(
    name: str,
    digest_photos: list[tuple[Case, np.ndarray]],
    stored: dict[str, dict[str, str]],
) -> None:
    expected = stored[name]
    got = operator_digests(name, digest_photos)
    assert got.keys() == expected.keys()
    changed = sorted(k for k in got if got[k] != expected[k])
    assert not changed, (
        f"{name}: output bytes changed for {changed}; if intended, bump {name}'s kernel_version "
        f"and regenerate with `python -m tests.perturb.test_digests --write {name}`"
    )


def test_digest_sees_a_one_level_change(digest_photos: list[tuple[Case, np.ndarray]]) -> None:
    img = digest_photos[0][1].copy()
    before = digest(img)
    img[100, 200, 1] ^= 1
    assert digest(img) != before


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate stored operator digests.")
    parser.add_argument("--write", nargs="+", required=True, metavar="OPERATOR")
    args = parser.parse_args()
    names = image_operators() if args.write == ["all"] else args.write
    unknown = sorted(set(names) - set(image_operators()))
    if unknown:
        parser.error(f"not image operators: {', '.join(unknown)}")
    data = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    photos = load_photos()
    for name in names:
        data[name] = operator_digests(name, photos)
    data = {k: data[k] for k in sorted(data) if k in image_operators()}
    DIGESTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(names)} operators' digests to {DIGESTS}")


if __name__ == "__main__":
    main()
