"""Perturbation operators, conditions, grids and probes."""

from derm_stress.perturb import albumentations_bridge as albumentations_bridge  # (lazy import)
from derm_stress.perturb import image_ops as image_ops  # registers the image operators
from derm_stress.perturb import note_ops as note_ops  # registers the note operators
from derm_stress.perturb.base import (
    NO_DRAWS,
    RNG_VERSION,
    Applied,
    Operator,
    derive_rng,
    derive_seed,
    describe,
    get_operator,
    make_operator,
    operator_rng,
    register,
    registry,
    replay,
)
from derm_stress.perturb.condition import BASELINE, Condition, Probe, build_probe, build_probes
from derm_stress.perturb.grid import expand_grid, load_grid

__all__ = [
    "BASELINE",
    "NO_DRAWS",
    "RNG_VERSION",
    "Applied",
    "Condition",
    "Operator",
    "Probe",
    "build_probe",
    "build_probes",
    "derive_rng",
    "derive_seed",
    "describe",
    "expand_grid",
    "get_operator",
    "load_grid",
    "make_operator",
    "operator_rng",
    "register",
    "registry",
    "replay",
]
