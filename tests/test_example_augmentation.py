"""The training-augmentation example runs as documented and augments reproducibly."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from PIL import Image

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "train_augmentation.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_augmentation", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dataset_yields_augmented_tensors_reproducibly() -> None:
    example = _example()
    a = example.SkinLesions(example.training_pipeline(seed=3), limit=12)
    b = example.SkinLesions(example.training_pipeline(seed=3), limit=12)
    plain = example.SkinLesions(
        __import__("albumentations").Compose(example.training_pipeline(3).transforms[-2:]), 12
    )
    items = [a[i] for i in range(12)]
    assert all(
        x.shape == (3, example.SIZE, example.SIZE) and x.dtype == torch.float32 for x, _ in items
    )
    assert all(torch.equal(x, b[i][0]) for i, (x, _) in enumerate(items))
    # some photos were changed by the derm-stress transforms, some were left alone
    changed = [not torch.equal(x, plain[i][0]) for i, (x, _) in enumerate(items)]
    assert any(changed) and not all(changed)
    assert {label for _, label in items} <= set(range(len(a.classes)))


def test_training_loop_and_preview_run(tmp_path: Path) -> None:
    example = _example()
    loss = example.main(
        ["--limit", "16", "--batch-size", "8", "--preview", str(tmp_path / "p.png")]
    )
    assert math.isfinite(loss)
    sheet = np.asarray(Image.open(tmp_path / "p.png"))
    assert sheet.shape == (256, 8 * 128, 3)


def test_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--limit", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "epoch 1: last batch loss" in result.stdout
