"""Image-operator throughput at 512 px on the PAD-UFES-20 photos.

Four comparisons, each side by side in one run:

1. every image operator at severity 3 given its generator (sampling, input check, the
   applied record) against calling its OpenCV/NumPy kernel directly with the same
   parameters: the wrapper's overhead, also shown as fixed microseconds per call; the
   generator's derivation (``operator_rng``) is timed on its own, and the full call as the
   harness makes it (``operator_rng`` + call) is what the next two comparisons use;
2. the operators albumentations 2.0.8 also implements, against albumentations' transform
   with its parameters set to the same strength (fixed ranges, ``p=1``), timed interleaved
   on the same photos; the mean absolute pixel change of both outputs is printed so the
   strengths can be checked to be comparable (needs the ``albumentations`` extra);
3. the corruptions imagecorruptions 1.1.2 also implements, against imagecorruptions itself,
   timed photo by photo right after derm-stress on the same photo, in a worker process
   running in its own virtual environment (it needs numpy<2 and scikit-image 0.19.3, so Python
   3.10 or older; the script creates bench/.venv-imagecorruptions with the first such
   interpreter it finds, or skips this part and says so);
4. the whole capture.yaml grid over all 531 photos on a process pool (images per second).

Usage: python bench/bench_operators.py [--photos 40] [--repeats 5] [--workers 2] [--skip-grid]
       python bench/bench_operators.py --photos 16 --mean-change perspective
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from derm_stress.cases import Case
from derm_stress.datasets import load_pad_ufes_20
from derm_stress.images import load_image
from derm_stress.perturb import make_operator, operator_rng, registry
from derm_stress.perturb.condition import build_probe
from derm_stress.perturb.presets import preset_path
from derm_stress.run import load_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "pad-ufes-20"
IC_VENV = ROOT / "bench" / ".venv-imagecorruptions"
MAX_ROUNDS = 200  # repeats per photo for sub-millisecond operators
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


def _albumentations() -> Any:
    try:
        import albumentations
    except ImportError:
        return None
    return albumentations


def albu_transform(name: str, params: dict[str, Any], img: np.ndarray) -> Any:
    """albumentations' transform doing what operator ``name`` did with ``params`` (its
    random ranges pinned to the same value, always applied), or None if it has none."""
    A = _albumentations()
    if A is None:
        return None
    p = params
    if name == "brightness":
        b = p["offset"] / 255.0
        return A.RandomBrightnessContrast((b, b), (0, 0), brightness_by_max=True, p=1)
    if name == "contrast":  # out = f * in + (1 - f) * mean: contrast about the mean
        f = p["factor"]
        return A.RandomBrightnessContrast(
            (1 - f, 1 - f), (f - 1, f - 1), brightness_by_max=False, p=1
        )
    if name == "gamma":
        g = p["gamma"] * 100
        return A.RandomGamma(gamma_limit=(g, g), p=1)
    if name == "jpeg_compression":
        return A.ImageCompression(quality_range=(p["quality"], p["quality"]), p=1)
    if name == "gaussian_blur":
        return A.GaussianBlur(sigma_limit=(p["sigma"], p["sigma"]), blur_limit=0, p=1)
    if name == "defocus":
        r = round(p["radius"])
        return A.Defocus(radius=(r, r), alias_blur=(0.1, 0.1), p=1)
    if name == "motion_blur":
        k = p["length"] | 1  # albumentations' kernels have odd sizes
        a = p["angle_deg"]
        return A.MotionBlur(
            blur_limit=(k, k), angle_range=(a, a), direction_range=(0, 0), allow_shifted=False, p=1
        )
    if name == "gaussian_noise":
        sd = p["sigma"] / 255.0
        return A.GaussNoise(std_range=(sd, sd), mean_range=(0, 0), p=1)
    if name == "low_resolution":
        return A.Downscale(
            scale_range=(p["scale"], p["scale"]),
            interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR},
            p=1,
        )
    if name == "rotation":
        a = p["angle_deg"]
        return A.Rotate(limit=(a, a), border_mode=cv2.BORDER_REFLECT_101, p=1)
    if name == "perspective":
        # albumentations draws each corner's inward shift as |N(0, scale)| (fractions of the
        # side) and fills the frame from that quadrilateral, as ours does; scale 0.035 gives
        # the mean change of our severity 3 (10.6 grey levels over the 16 photos, averaged
        # over 10 draws per photo: 0.03 gives 10.0, 0.04 11.2, 0.065 13.6)
        return A.Perspective(scale=(0.035, 0.035), border_mode=cv2.BORDER_REFLECT_101, p=1)
    if name == "uneven_illumination":  # a linear gradient, darkening up to 1 - low
        i = min(0.2, (1 - p["low"]) / 2)  # albumentations allows at most 0.2
        a = p["angle_deg"]
        return A.Illumination(
            mode="linear", intensity_range=(i, i), effect_type="darken", angle_range=(a, a), p=1
        )
    if name == "off_center":  # a crop of ``keep`` of each side, resized back
        h, w = img.shape[:2]
        area = p["keep"] ** 2
        return A.RandomResizedCrop(size=(h, w), scale=(area, area), ratio=(1, 1), p=1)
    return None


def mean_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


IC_WORKER = """
import json, sys, time, warnings
import numpy as np
from imagecorruptions import corrupt
warnings.simplefilter("ignore")
images = list(np.load(sys.argv[1]).values())
warmed = set()
for line in sys.stdin:  # "corruption photo-index repeats": the best of the repeats, seconds
    name, index, repeats = line.split()
    img = images[int(index)]
    if name not in warmed:
        corrupt(img, corruption_name=name, severity=3)
        warmed.add(name)
    best = float("inf")
    for _ in range(int(repeats)):
        t = time.perf_counter()
        corrupt(img, corruption_name=name, severity=3)
        best = min(best, time.perf_counter() - t)
    print(best, flush=True)
"""


class ImageCorruptions:
    """imagecorruptions in its own interpreter, timing one corruption on one photo when
    asked: called right after derm-stress's timing of the same photo, so both see the same
    load on a shared machine."""

    def __init__(self, python: str, photos: list[tuple[Case, np.ndarray]]) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        npz = Path(self._tmp.name) / "photos.npz"
        np.savez(npz, *[img for _, img in photos])
        self._proc = subprocess.Popen(
            [python, "-c", IC_WORKER, str(npz)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def best(self, corruption: str, index: int, repeats: int) -> float:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f"{corruption} {index} {repeats}\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the imagecorruptions worker stopped (see its error above)")
        return float(line)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)
        self._tmp.cleanup()


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


def wrapped_call(op: Any, img: np.ndarray, rng_args: tuple[Any, ...], case: Case) -> Any:
    """What the harness does per application (``perturb.condition``): the seeded RNG for it
    (``operator_rng``: derived, or none for an operator that draws nothing), then the
    operator call (input check, sampling, kernel, the applied record)."""
    return op(img, operator_rng(op, *rng_args), case, "image[0]")


def given_call(
    op: Any, img: np.ndarray, generators: Iterator[np.random.Generator], case: Case
) -> Any:
    """The operator call given its generator (taken from ``generators``, derived before)."""
    return op(img, next(generators), case, "image[0]")


def kernel_call(op: Any, img: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """The operator's kernel with fixed parameters: what a user would call by hand."""
    result: np.ndarray = op.apply(img, params)
    return result


def rng_cost(op: Any, case: Case, calls: int = 200, rounds: int = 7) -> float:
    """Seconds per ``operator_rng`` call for ``op`` (best of ``rounds`` loops of ``calls``
    calls, keys varying as the harness's do): the derivation alone."""
    keys = [(0, f"{case.case_id}-{i}", f"img={op.name}", "0:image[0]") for i in range(calls)]
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for key in keys:
            operator_rng(op, *key)
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def time_operators(
    photos: list[tuple[Case, np.ndarray]],
    repeats: int,
    only: list[str] | None = None,
    ic: ImageCorruptions | None = None,
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, cls in sorted(registry().items()):
        if cls.kind != "image" or (only and name not in only):
            continue
        op = make_operator(name, 3)
        wrapped, given, direct, theirs, ratios, ours_change, their_change = ([] for _ in range(7))
        ic_times: list[float] = []
        for index, (case, img) in enumerate(photos):
            rng_args = (0, case.case_id, f"img={name}", "0:image[0]")
            out, record = op(img, operator_rng(op, *rng_args), case, "image[0]")
            params = dict(record.params)
            albu = albu_transform(name, params, img)
            if albu is not None:
                ours_change.append(mean_change(out, img))
                their_change.append(mean_change(albu(image=img)["image"], img))
            w: list[float] = []
            g: list[float] = []
            d: list[float] = []
            a: list[float] = []
            # the call given its generator: a fresh generator of the same key for every
            # repeat, derived before timing, so it draws the parameters the kernel is given
            generators = iter(
                [operator_rng(op, *rng_args) for _ in range(max(repeats, MAX_ROUNDS))]
            )
            calls: list[tuple[list[float], Callable[[], Any]]] = [
                (w, partial(wrapped_call, op, img, rng_args, case)),
                (g, partial(given_call, op, img, generators, case)),
                (d, partial(kernel_call, op, img, params)),
            ]
            if albu is not None:
                calls.append((a, partial(albu, image=img)))
            # sub-millisecond operators get more repeats (at least ~20 ms of calls per photo),
            # so a best-of-N is not one lucky or unlucky scheduler slice
            t = time.perf_counter()
            calls[0][1]()
            rounds = max(repeats, min(MAX_ROUNDS, int(0.02 / max(time.perf_counter() - t, 1e-6))))
            for r in range(rounds):  # interleaved, each first in turn: drift hits all alike
                for times, call in calls[r % len(calls) :] + calls[: r % len(calls)]:
                    t = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - t)
            wrapped.append(min(w))
            given.append(min(g))
            direct.append(min(d))
            if ic is not None and name in SHARED:
                ic_times.append(ic.best(SHARED[name], index, repeats))
            if a:
                theirs.append(min(a))
                ratios.append(min(w) / min(a))
        results[name] = {
            "wrapped": statistics.median(wrapped),
            "given": statistics.median(given),
            "direct": statistics.median(direct),
            "rng": rng_cost(op, photos[0][0]),
        }
        if ic_times:
            results[name]["ic"] = statistics.median(ic_times)
        if theirs:
            results[name].update(
                albu=statistics.median(theirs),
                albu_ratio=statistics.median(ratios),
                ours_change=statistics.median(ours_change),
                albu_change=statistics.median(their_change),
            )
    return results


def mean_changes(photos: list[tuple[Case, np.ndarray]], name: str) -> list[float]:
    """Mean absolute pixel change of operator ``name`` at severities 1-5 over ``photos``,
    seeded as the timing is: how strongly each severity changes a photo (used to calibrate
    a severity table against an earlier kernel, run from both trees)."""
    changes = []
    for severity in range(1, 6):
        op = make_operator(name, severity)
        changes.append(
            statistics.fmean(
                mean_change(
                    op(
                        img,
                        operator_rng(op, 0, case.case_id, f"img={name}", "0:image[0]"),
                        case,
                        "image[0]",
                    )[0],
                    img,
                )
                for case, img in photos
            )
        )
    return changes


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


def start_imagecorruptions(photos: list[tuple[Case, np.ndarray]]) -> ImageCorruptions | None:
    python = imagecorruptions_python()
    if python is None:
        print("imagecorruptions: no Python <= 3.10 found, comparison skipped", file=sys.stderr)
        return None
    return ImageCorruptions(python, photos)


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
    parser.add_argument("--operators", nargs="+", help="time only these operators")
    parser.add_argument("--skip-imagecorruptions", action="store_true")
    parser.add_argument(
        "--mean-change",
        metavar="OPERATOR",
        help="print the operator's mean absolute pixel change at severities 1-5 and stop",
    )
    args = parser.parse_args()
    photos = photos_512(args.photos)
    if args.mean_change:
        changes = mean_changes(photos, args.mean_change)
        print(
            f"{args.mean_change}: mean absolute change at severities 1-5 over {len(photos)} "
            "photos: " + " ".join(f"{c:.2f}" for c in changes)
        )
        return
    ic = None if args.skip_imagecorruptions else start_imagecorruptions(photos)
    try:
        ours = time_operators(photos, args.repeats, args.operators, ic)
    finally:
        if ic is not None:
            ic.close()
    print(
        f"{len(photos)} photos at 512x512, severity 3, median over photos of the best of "
        f"{args.repeats} runs\n"
    )
    if _albumentations() is None:
        print("albumentations not installed (pip install -e '.[albumentations]'): skipped\n")
    print(
        "| operator | full call ms | call given generator ms | kernel ms | wrapper overhead | "
        "fixed us | generator us | albumentations ms | ratio | mean change ours / albu | "
        "imagecorruptions ms | speed-up |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    overheads, full_overheads, speedups, albu_ratios = [], [], [], []
    for name, t in ours.items():
        overhead = t["given"] / t["direct"] - 1
        overheads.append((overhead, name))
        full_overheads.append((t["wrapped"] / t["direct"] - 1, name))
        albu_text = ratio_text = change_text = ""
        if "albu" in t:
            albu_ratios.append((t["albu_ratio"], name))
            albu_text, ratio_text = f"{t['albu'] * 1e3:.2f}", f"{t['albu_ratio']:.2f}"
            change_text = f"{t['ours_change']:.1f} / {t['albu_change']:.1f}"
        ic_text, speed_text = "", ""
        if "ic" in t:
            speedups.append((t["ic"] / t["wrapped"], name))
            ic_text, speed_text = f"{t['ic'] * 1e3:.2f}", f"{t['ic'] / t['wrapped']:.1f}x"
        print(
            f"| {name} | {t['wrapped'] * 1e3:.3f} | {t['given'] * 1e3:.3f} | "
            f"{t['direct'] * 1e3:.3f} | {overhead:+.1%} | {(t['given'] - t['direct']) * 1e6:.0f} | "
            f"{t['rng'] * 1e6:.1f} | {albu_text} | {ratio_text} | {change_text} | "
            f"{ic_text} | {speed_text} |"
        )
    worst = max(overheads)
    print(
        f"\nwrapper overhead (call given its generator / kernel - 1): median "
        f"{statistics.median(o for o, _ in overheads):+.1%}, max {worst[0]:+.1%} ({worst[1]}); "
        f"with the generator's derivation: median "
        f"{statistics.median(o for o, _ in full_overheads):+.1%}, max {max(full_overheads)[0]:+.1%}"
    )
    if albu_ratios:
        worst = max(albu_ratios)
        print(
            f"time ratio derm-stress / albumentations (median over photos of per-photo ratios):"
            f" median {statistics.median(r for r, _ in albu_ratios):.2f}, worst {worst[0]:.2f}"
            f" ({worst[1]}) over {len(albu_ratios)} shared operators"
        )
    if speedups:
        slowest = min(speedups)
        median = statistics.median(s for s, _ in speedups)
        print(
            f"speed-up over imagecorruptions: median {median:.1f}x "
            f"over {len(speedups)} shared corruptions (min {slowest[0]:.1f}x, {slowest[1]})"
        )
    if not args.skip_grid:
        cases, probes, seconds = time_grid(args.workers)
        print(
            f"\ncapture.yaml on {cases} photos ({probes} probes) with {args.workers} "
            f"processes: {seconds:.1f} s, {probes / seconds:.0f} images/s"
        )


if __name__ == "__main__":
    main()
