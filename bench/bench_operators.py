"""Image-operator throughput at 512 px on the PAD-UFES-20 photos.

Three comparisons, each side by side in one run:

1. every image operator at severity 3 through derm-stress (sampling, validation, the applied
   record) against calling its OpenCV/NumPy kernel directly with the same parameters: the
   wrapper's overhead;
2. the corruptions imagecorruptions 1.1.2 also implements, against imagecorruptions itself,
   run in its own virtual environment (it needs numpy<2 and scikit-image 0.19.3, so Python
   3.10 or older; the script creates bench/.venv-imagecorruptions with the first such
   interpreter it finds, or skips this part and says so);
3. the whole capture.yaml grid over all 531 photos on a process pool (images per second).

Usage: python bench/bench_operators.py [--photos 40] [--repeats 5] [--workers 2] [--skip-grid]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from derm_stress.cases import Case
from derm_stress.datasets import load_pad_ufes_20
from derm_stress.images import load_image
from derm_stress.perturb import derive_rng, make_operator, registry
from derm_stress.perturb.condition import build_probe
from derm_stress.perturb.presets import preset_path
from derm_stress.run import load_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "pad-ufes-20"
IC_VENV = ROOT / "bench" / ".venv-imagecorruptions"
# derm-stress operator -> imagecorruptions corruption with the same purpose
SHARED = {
    "gaussian_noise": "gaussian_noise",
    "defocus": "defocus_blur",
    "motion_blur": "motion_blur",
    "brightness": "brightness",
    "contrast": "contrast",
    "jpeg_compression": "jpeg_compression",
    "low_resolution": "pixelate",
    "gaussian_blur": "gaussian_blur",
}
IC_SCRIPT = """
import json, sys, time, statistics, warnings
import numpy as np
from imagecorruptions import corrupt
warnings.simplefilter("ignore")
images = list(np.load(sys.argv[1]).values())
repeats = int(sys.argv[2])
out = {}
for name in sys.argv[3:]:
    corrupt(images[0], corruption_name=name, severity=3)  # warm-up
    per_image = []
    for img in images:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            corrupt(img, corruption_name=name, severity=3)
            times.append(time.perf_counter() - t)
        per_image.append(min(times))
    out[name] = statistics.median(per_image)
print(json.dumps(out))
"""


def photos_512(n: int) -> list[tuple[Case, np.ndarray]]:
    """``n`` PAD photos (spread over the dataset), resized to 512 x 512."""
    cases = load_pad_ufes_20(DATA).cases
    step = max(1, len(cases) // n)
    out = []
    for case in cases[::step][:n]:
        img = load_image(case.images[0])
        interp = cv2.INTER_AREA if max(img.shape[:2]) > 512 else cv2.INTER_CUBIC
        out.append((case, cv2.resize(img, (512, 512), interpolation=interp)))
    return out


def kernel_call(op: Any, img: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """The operator's kernel with fixed parameters: what a user would call by hand."""
    result: np.ndarray = op.apply(img, params)
    return result


def time_operators(
    photos: list[tuple[Case, np.ndarray]], repeats: int
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, cls in sorted(registry().items()):
        if cls.kind != "image":
            continue
        op = make_operator(name, 3)
        wrapped, direct = [], []
        for case, img in photos:
            rng_args = (0, case.case_id, f"img={name}", "0:image[0]")
            _, record = op(img, derive_rng(*rng_args), case, "image[0]")
            params = dict(record.params)
            w, d = [], []
            for _ in range(repeats):  # interleaved, so drift hits both alike
                t = time.perf_counter()
                op(img, derive_rng(*rng_args), case, "image[0]")
                w.append(time.perf_counter() - t)
                t = time.perf_counter()
                kernel_call(op, img, params)
                d.append(time.perf_counter() - t)
            wrapped.append(min(w))
            direct.append(min(d))
        results[name] = {"wrapped": statistics.median(wrapped), "direct": statistics.median(direct)}
    return results


def find_old_python() -> str | None:
    candidates = ["python3.10", "python3.9", "python3.8"]
    pyenv = Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir():
        for version in sorted(pyenv.iterdir(), reverse=True):
            if version.name.startswith(("3.10", "3.9", "3.8")):
                candidates.append(str(version / "bin" / "python"))
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if (
            path
            and subprocess.run([path, "-c", "import venv"], capture_output=True).returncode == 0
        ):
            return path
    return None


def imagecorruptions_python() -> str | None:
    python = IC_VENV / "bin" / "python"
    if python.is_file():
        return str(python)
    old = find_old_python()
    if old is None:
        return None
    subprocess.run([old, "-m", "venv", str(IC_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "numpy<2",
            "scikit-image==0.19.3",
            "scipy<1.12",
            "imagecorruptions==1.1.2",
        ],
        check=True,
    )
    return str(python)


def time_imagecorruptions(
    photos: list[tuple[Case, np.ndarray]], repeats: int
) -> dict[str, float] | None:
    python = imagecorruptions_python()
    if python is None:
        print("imagecorruptions: no Python <= 3.10 found, comparison skipped", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "photos.npz"
        np.savez(npz, *[img for _, img in photos])
        out = subprocess.run(
            [python, "-c", IC_SCRIPT, str(npz), str(repeats), *SHARED.values()],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _grid_worker(args: tuple[int, int]) -> int:
    start, stop = args
    config = load_config(preset_path("capture"))
    cases = load_pad_ufes_20(DATA).cases[start:stop]
    count = 0
    for case in cases:
        originals = [load_image(i) for i in case.images]
        for condition in config.conditions:
            build_probe(case, condition, 0, originals)
            count += 1
    return count


def time_grid(workers: int) -> tuple[int, int, float]:
    n_cases = len(load_pad_ufes_20(DATA).cases)
    chunks = [(i, min(n_cases, i + 8)) for i in range(0, n_cases, 8)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        probes = sum(pool.imap_unordered(_grid_worker, chunks))
    return n_cases, probes, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()
    photos = photos_512(args.photos)
    ours = time_operators(photos, args.repeats)
    theirs = time_imagecorruptions(photos, args.repeats) or {}
    print(
        f"{len(photos)} photos at 512x512, severity 3, median over photos of the best of "
        f"{args.repeats} runs\n"
    )
    print(
        "| operator | derm-stress ms | kernel direct ms | wrapper overhead | "
        "imagecorruptions ms | speed-up |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    overheads, speedups = [], []
    for name, t in ours.items():
        overhead = t["wrapped"] / t["direct"] - 1
        overheads.append(overhead)
        ic = theirs.get(SHARED.get(name, ""))
        ic_text, speed_text = "", ""
        if ic is not None:
            speedups.append(ic / t["wrapped"])
            ic_text, speed_text = f"{ic * 1e3:.2f}", f"{ic / t['wrapped']:.1f}x"
        print(
            f"| {name} | {t['wrapped'] * 1e3:.2f} | {t['direct'] * 1e3:.2f} | "
            f"{overhead:+.1%} | {ic_text} | {speed_text} |"
        )
    print(
        f"\nwrapper overhead: median {statistics.median(overheads):+.1%}, max {max(overheads):+.1%}"
    )
    if speedups:
        print(
            f"speed-up over imagecorruptions: median {statistics.median(speedups):.1f}x "
            f"over {len(speedups)} shared corruptions (min {min(speedups):.1f}x)"
        )
    if not args.skip_grid:
        cases, probes, seconds = time_grid(args.workers)
        print(
            f"\ncapture.yaml on {cases} photos ({probes} probes) with {args.workers} "
            f"processes: {seconds:.1f} s, {probes / seconds:.0f} images/s"
        )


if __name__ == "__main__":
    main()
