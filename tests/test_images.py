from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derm_stress.errors import CaseInputError
from derm_stress.images import load_image


def _save(tmp_path: Path, img: Image.Image, name: str) -> Path:
    path = tmp_path / name
    img.save(path)
    return path


def test_real_photo_loads_as_rgb_uint8(pad) -> None:  # type: ignore[no-untyped-def]
    arr = load_image(pad.cases[0].images[0])
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3


def test_grayscale_rgba_and_16_bit_are_converted(tmp_path: Path) -> None:
    gray = load_image(_save(tmp_path, Image.new("L", (5, 4), 77), "g.png"))
    assert gray.shape == (4, 5, 3) and (gray == 77).all()
    rgba = Image.new("RGBA", (3, 3), (255, 0, 0, 0))
    assert (load_image(_save(tmp_path, rgba, "t.png")) == 255).all()  # transparent -> white
    deep = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    assert (load_image(_save(tmp_path, deep, "d.png")) == 255).all()


def test_arrays_are_validated() -> None:
    assert load_image(np.zeros((3, 3), np.uint8)).shape == (3, 3, 3)
    with pytest.raises(CaseInputError, match="must be uint8"):
        load_image(np.zeros((3, 3, 3), np.float32))
    with pytest.raises(CaseInputError, match="shape"):
        load_image(np.zeros((3, 3, 2), np.uint8))


def test_missing_and_corrupt_files_are_case_errors(tmp_path: Path, pad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CaseInputError, match="not found"):
        load_image(tmp_path / "nope.jpg")
    real = Path(pad.cases[0].images[0]).read_bytes()
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(real[: len(real) // 3])
    with pytest.raises(CaseInputError, match="cannot decode image"):
        load_image(truncated)
    garbage = tmp_path / "junk.jpg"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(CaseInputError, match="cannot decode image"):
        load_image(garbage)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (4, 2), (10, 20, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    path = tmp_path / "rot.jpg"
    path.write_bytes(buf.getvalue())
    assert load_image(path).shape == (4, 2, 3)
