"""Run configuration: one YAML file with a grid and, optionally, dataset, models, seed, k."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derm_stress.datasets import Dataset, load_manifest, load_pad_ufes_20, load_sample
from derm_stress.errors import InvalidArgument, shorten
from derm_stress.images import MIN_IMAGE_SIDE
from derm_stress.perturb.condition import Condition
from derm_stress.perturb.grid import expand_grid
from derm_stress.safe_yaml import load_yaml_file

TOP_LEVEL_KEYS = (
    "name", "image", "context", "dataset", "models", "seed", "top_k", "max_raw_chars"
)  # fmt: skip
DATASET_KEYS = (
    "manifest", "pad_ufes_20", "sample", "limit", "cases", "encoding", "min_image_side"
)  # fmt: skip
DEFAULT_MODELS: list[dict[str, Any]] = [{"name": "reference", "adapter": "reference"}]
DEFAULT_MAX_RAW_CHARS = 20_000  # a differential is a few hundred characters
# run names become folder names under runs/: no separators, no "..", nothing hidden
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_run_name(name: str, where: str = "name") -> str:
    """A run name: letters, digits, ``.``, ``_`` and ``-`` (not first), at most 100
    characters, no ``..``; so ``runs/<name>`` stays inside ``runs/``."""
    if not RUN_NAME.fullmatch(name) or ".." in name:
        raise InvalidArgument(
            f"{where}: run name {shorten(name)} is not allowed: use letters, digits, '.', '_' "
            "and '-' (starting with a letter or digit, no '..', at most 100 characters)"
        )
    return name


@dataclass
class RunConfig:
    """A parsed run configuration. ``raw`` is the snapshot written to the run manifest."""

    name: str
    conditions: list[Condition]
    dataset: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_MODELS))
    seed: int = 0
    top_k: int = 3
    base_dir: Path = field(default_factory=Path.cwd)
    raw: dict[str, Any] = field(default_factory=dict)
    max_raw_chars: int | None = DEFAULT_MAX_RAW_CHARS
    min_image_side: int = MIN_IMAGE_SIDE


def _check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" did you mean {close[0]!r}?" if close else ""
            raise InvalidArgument(
                f"{where}: unknown key {shorten(key)};{hint} allowed: {', '.join(allowed)}"
            )


def parse_config(spec: Mapping[str, Any], base_dir: Path, name: str) -> RunConfig:
    """Validate a config mapping (paths in it are relative to ``base_dir``)."""
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"config {name}: expected a mapping at the top level")
    _check_keys(spec, TOP_LEVEL_KEYS, f"config {name}")
    dataset = spec.get("dataset") or {}
    if not isinstance(dataset, Mapping):
        raise InvalidArgument(
            f"dataset: expected a mapping such as {{manifest: cases.csv}}, got {shorten(dataset)}"
        )
    _check_keys(dataset, DATASET_KEYS, "dataset")
    sources = [k for k in ("manifest", "pad_ufes_20", "sample") if k in dataset]
    if len(sources) > 1:
        raise InvalidArgument(
            f"dataset: give one of manifest, pad_ufes_20 or sample, not {', '.join(sources)}"
        )
    models = spec.get("models") or DEFAULT_MODELS
    if not isinstance(models, list) or not all(isinstance(m, Mapping) for m in models):
        raise InvalidArgument(f"models: expected a list of mappings, got {shorten(models)}")
    for m in models:
        if not isinstance(m.get("name", ""), str):
            raise InvalidArgument(f"models: a model name must be text, got {shorten(m['name'])}")
    names = [str(m.get("name", m.get("adapter", "reference"))) for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidArgument(f"models: duplicate model name(s) {', '.join(duplicates)}")
    seed, top_k = spec.get("seed", 0), spec.get("top_k", 3)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgument(f"seed: expected a non-negative integer, got {shorten(seed)}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidArgument(f"top_k: expected a positive integer, got {shorten(top_k)}")
    max_raw = spec.get("max_raw_chars", DEFAULT_MAX_RAW_CHARS)
    if max_raw is not None and (
        isinstance(max_raw, bool) or not isinstance(max_raw, int) or max_raw < 1
    ):
        raise InvalidArgument(
            f"max_raw_chars: expected a positive integer (or null: no cap), got {shorten(max_raw)}"
        )
    min_side = dataset.get("min_image_side", MIN_IMAGE_SIDE)
    if isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 1:
        raise InvalidArgument(
            f"dataset.min_image_side: expected a positive number of pixels, got {shorten(min_side)}"
        )
    if "name" in spec:
        if not isinstance(spec["name"], str):
            raise InvalidArgument(f"name: expected text, got {shorten(spec['name'])}")
        run_name = check_run_name(spec["name"])
    else:
        run_name = check_run_name(name, f"config {name}: no name: set, and the file name")
    model_specs = [dict(m) for m in models]
    for m in model_specs:  # a callable's file target is relative to the config
        if m.get("adapter") == "callable" and "base_dir" not in m:
            m["base_dir"] = str(base_dir)
    return RunConfig(
        name=run_name,
        conditions=expand_grid(spec),
        dataset=dict(dataset),
        models=model_specs,
        seed=seed,
        top_k=top_k,
        base_dir=base_dir,
        raw=dict(spec),
        max_raw_chars=max_raw,
        min_image_side=min_side,
    )


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run configuration."""
    path = Path(path)
    if not path.is_file():
        raise InvalidArgument(f"config file not found: {path}")
    spec = load_yaml_file(path)
    if spec is None:
        raise InvalidArgument(
            f"{path}: the config is empty; give at least a grid (image: and/or context:), "
            "e.g. perturbations/quickstart.yaml, or run 'derm-stress demo'"
        )
    return parse_config(spec, path.resolve().parent, path.stem)


def load_dataset(spec: Mapping[str, Any], base_dir: Path) -> Dataset:
    """Load the dataset a config names (the bundled sample when it names none)."""
    if "manifest" in spec:
        encoding = spec.get("encoding")
        if encoding is not None and not isinstance(encoding, str):
            raise InvalidArgument(f"dataset.encoding: expected a name, got {shorten(encoding)}")
        dataset = load_manifest(base_dir / str(spec["manifest"]), encoding=encoding)
    elif "pad_ufes_20" in spec:
        dataset = load_pad_ufes_20(base_dir / str(spec["pad_ufes_20"]))
    else:
        sample = spec.get("sample", "pad_ufes_20")
        if sample != "pad_ufes_20":
            raise InvalidArgument(
                f"dataset.sample: the bundled sample is 'pad_ufes_20', got {shorten(sample)}"
            )
        dataset = load_sample()
    ids, limit = spec.get("cases"), spec.get("limit")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise InvalidArgument(f"dataset.cases: expected a list of case ids, got {shorten(ids)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgument(f"dataset.limit: expected a positive integer, got {shorten(limit)}")
    return dataset.select(ids, limit) if ids is not None or limit is not None else dataset
