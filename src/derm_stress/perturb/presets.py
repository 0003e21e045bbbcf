"""Finding the grid presets of ``perturbations/`` in a wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

from derm_stress.errors import did_you_mean

_PACKAGE = Path(__file__).resolve().parents[1]
# A wheel carries them as derm_stress/_presets; an editable install reads the checkout's folder.
CANDIDATES = (_PACKAGE / "_presets", _PACKAGE.parents[1] / "perturbations")


def presets_dir() -> Path:
    for candidate in CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"grid presets not found (looked in {', '.join(str(c) for c in CANDIDATES)})"
    )


def preset_path(name: str) -> Path:
    """The path of a preset by name (``quickstart`` or ``quickstart.yaml``)."""
    folder = presets_dir()
    path = folder / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        raise did_you_mean(name, [p.stem for p in folder.glob("*.yaml")], "grid preset")
    return path
