"""Perturbed bytes are pinned: SHA-256 of every image operator's output at every severity on
three real PAD-UFES-20 photos (512 x 512, 511 x 512 and 300 x 300), against digests stored in
``operator_digests.json``.

A kernel made faster must give the same bytes. A change that alters them on purpose bumps
the operator's ``kernel_version`` (which changes the store keys of its conditions, so old results
are not reused) and regenerates only that operator's digests::

    PYTHONPATH=src python -m tests.perturb.test_digests --write OPERATOR [OPERATOR ...]

(``--write all`` regenerates every digest, for a new operator or a new photo.)

Exact bytes are only promised on the CPU they were recorded on: OpenCV and NumPy pick SIMD
code paths (SSE4, AVX2, AVX-512) at run time, and float kernels may round differently on
another CPU. So ``operator_signatures.json`` also keeps, for every output, its 4 x 4 area
means per channel and the CPU features the digests were recorded with. On that CPU the test
demands identical bytes; on another it demands every area mean within 1 grey level and
warns that bytes differ there (a changed kernel moves them much further).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from derm_stress.cases import Case
from derm_stress.datasets import load_pad_ufes_20
from derm_stress.images import load_image
from derm_stress.perturb import derive_rng, make_operator, registry
from derm_stress.perturb.base import MAX_SEVERITY

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("operator_digests.json")
SIGNATURES = Path(__file__).with_name("operator_signatures.json")
TOLERANCE = 1.0  # grey levels, on 4 x 4 area means, for CPUs other than the recording one
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


def signature(img: np.ndarray) -> list[float]:
    """Area means over a 4 x 4 grid per channel (rounded to 0.01): robust to rounding."""
    small = cv2.resize(img.astype(np.float32), (4, 4), interpolation=cv2.INTER_AREA)
    return [round(float(v), 2) for v in small.ravel()]


def cpu() -> str:
    return f"opencv {cv2.__version__}: {cv2.getCPUFeaturesLine()}"


def operator_outputs(
    name: str, photos: list[tuple[Case, np.ndarray]]
) -> tuple[dict[str, str], dict[str, list[float]]]:
    """``"<case id>@<severity>" ->`` digest, and -> signature, for one operator, seeded as
    the harness seeds it."""
    digests, signatures = {}, {}
    for case, img in photos:
        before = img.copy()
        for severity in range(MAX_SEVERITY + 1):
            rng = derive_rng(SEED, case.case_id, f"img={name}", "0:image[0]")
            result, _ = make_operator(name, severity)(img, rng, case, "image[0]")
            digests[f"{case.case_id}@{severity}"] = digest(result)
            signatures[f"{case.case_id}@{severity}"] = signature(result)
        assert np.array_equal(img, before), f"{name} modified its input"
    return digests, signatures


def operator_digests(name: str, photos: list[tuple[Case, np.ndarray]]) -> dict[str, str]:
    """``"<case id>@<severity>" -> digest`` for one operator, as the harness seeds it."""
    return operator_outputs(name, photos)[0]


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
    got, signatures = operator_outputs(name, digest_photos)
    assert got.keys() == expected.keys()
    changed = sorted(k for k in got if got[k] != expected[k])
    if not changed:
        return
    hint = (
        f"if intended, bump {name}'s kernel_version and regenerate with "
        f"`python -m tests.perturb.test_digests --write {name}`"
    )
    recorded = json.loads(SIGNATURES.read_text())
    assert recorded["cpu"] != cpu(), f"{name}: output bytes changed for {changed}; {hint}"
    far = {
        k: float(np.abs(np.subtract(signatures[k], recorded["operators"][name][k])).max())
        for k in changed
    }
    moved = {k: round(v, 2) for k, v in far.items() if v > TOLERANCE}
    assert not moved, (
        f"{name}: output changed for {sorted(moved)} (largest area-mean change {moved} grey "
        f"levels; this CPU differs from the recording one, but not by that much); {hint}"
    )
    warnings.warn(
        f"{name}: bytes differ from those recorded on another CPU ({recorded['cpu']}) for "
        f"{len(changed)} outputs, within {TOLERANCE} grey level on 4 x 4 area means",
        stacklevel=1,
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
    sigs = json.loads(SIGNATURES.read_text())["operators"] if SIGNATURES.exists() else {}
    photos = load_photos()
    for name in names:
        data[name], sigs[name] = operator_outputs(name, photos)
    data = {k: data[k] for k in sorted(data) if k in image_operators()}
    DIGESTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    sigs = {k: sigs[k] for k in sorted(sigs) if k in image_operators()}
    SIGNATURES.write_text(
        json.dumps({"cpu": cpu(), "operators": sigs}, sort_keys=True, separators=(",", ":")) + "\n"
    )
    print(f"wrote {len(names)} operators' digests to {DIGESTS}")


if __name__ == "__main__":
    main()
