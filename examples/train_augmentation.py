"""Train with derm-stress's clinic degradations as augmentations.

A torch ``Dataset`` over the bundled PAD-UFES-20 sample whose photos pass through an
``A.Compose`` of derm-stress transforms: hair, surgical ink, a ruler, dermoscope corners,
specular glare, uneven light, messaging-app recompression and a tilted camera, each with
its own probability and a severity range, so a model learns from exactly what derm-stress
later measures. A tiny linear classifier trains on it for a few steps to show the loop.

    python examples/train_augmentation.py --epochs 1 --preview augmented.png

Needs the extras: pip install 'derm-stress[albumentations,hf]' (torch comes with [hf]).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from derm_stress import augment
from derm_stress.datasets import load_sample
from derm_stress.images import load_image

SIZE = 64  # tiny, so the example trains in seconds on a CPU


def training_pipeline(seed: int | None = 0) -> A.Compose:
    """derm-stress transforms first (on the full photo, as the clinic degrades it), then
    the usual resize and normalisation."""
    return A.Compose(
        [
            augment.Hair(severity=(1, 3), p=0.3),
            augment.InkMarking(severity=(1, 4), p=0.15),
            augment.Ruler(severity=(1, 3), p=0.15),
            augment.DermoscopeCorners(severity=(1, 5), p=0.15),
            augment.SpecularGlare(severity=(1, 3), p=0.2),
            augment.UnevenIllumination(severity=(1, 4), p=0.3),
            augment.MessagingApp(severity=(1, 5), p=0.3),
            augment.Perspective(severity=(1, 2), p=0.2),
            A.Resize(SIZE, SIZE),
            A.Normalize(),
        ],
        seed=seed,
    )


class SkinLesions(Dataset[tuple[torch.Tensor, int]]):
    """The sample's photos as (C x H x W float tensor, class index) pairs."""

    def __init__(self, transform: A.Compose, limit: int | None = None) -> None:
        cases = load_sample().cases[:limit]
        self.classes = sorted({c.diagnosis for c in cases})
        self.items = [(c.images[0], self.classes.index(c.diagnosis)) for c in cases]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        source, label = self.items[index]
        image = self.transform(image=load_image(source))["image"]
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), label


def train(epochs: int = 1, batch_size: int = 8, limit: int | None = None, seed: int = 0) -> float:
    """Train a linear classifier on augmented photos; return the last batch's loss."""
    torch.manual_seed(seed)
    data = SkinLesions(training_pipeline(seed), limit)
    # one process: the Compose's own generator then gives the same augmentations every run
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=0)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(3 * SIZE * SIZE, len(data.classes))
    )
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = torch.tensor(float("nan"))
    for epoch in range(epochs):
        for images, labels in loader:
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimiser.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}")
    return float(loss.item())


def preview(path: Path, count: int = 8, seed: int = 0) -> Path:
    """Save originals (top row) above their augmented versions (bottom row)."""
    from PIL import Image

    pipeline = A.Compose(training_pipeline(seed).transforms[:-2], seed=seed)  # no normalising
    cases = load_sample().cases[:count]
    top, bottom = [], []
    for case in cases:
        photo = load_image(case.images[0])
        augmented = pipeline(image=photo)["image"]
        top.append(np.asarray(Image.fromarray(photo).resize((128, 128))))
        bottom.append(np.asarray(Image.fromarray(augmented).resize((128, 128))))
    sheet = np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)
    Image.fromarray(sheet).save(path)
    return path


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N cases.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preview", type=Path, default=None, help="Also save a before/after PNG.")
    args = parser.parse_args(argv)
    if args.preview is not None:
        print(f"wrote {preview(args.preview, seed=args.seed)}")
    return train(args.epochs, args.batch_size, args.limit, args.seed)


if __name__ == "__main__":
    main()
