"""Run configuration: one YAML file with a grid and, optionally, dataset, models, seed, k."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derm_stress.datasets import Dataset, load_manifest, load_sample
from derm_stress.datasets.benchmarks import LAYOUTS, load_benchmark
from derm_stress.datasets.combined import check_name, check_names, combine
from derm_stress.errors import InvalidArgument, shorten
from derm_stress.images import MIN_IMAGE_SIDE
from derm_stress.labels import load_vocabulary
from derm_stress.perturb.condition import Condition
from derm_stress.perturb.grid import expand_grid
from derm_stress.safe_yaml import load_yaml_file

TOP_LEVEL_KEYS = (
    "name", "image", "context", "dataset", "models", "seed", "top_k", "max_raw_chars",
    "score_level", "vocabulary",
)  # fmt: skip
# a dataset is one source: a manifest, a folder in a published layout (named, or `folder` to
# detect it), or the bundled sample
# (layouts come from the registry, plugins included: read when a config is checked)
DATASET_OPTIONS = ("where", "limit", "cases", "encoding", "min_image_side")


def source_keys() -> tuple[str, ...]:
    """The keys naming a dataset's source: manifest, folder, every layout, sample."""
    return ("manifest", "folder", *LAYOUTS.names(), "sample")


def dataset_keys() -> tuple[str, ...]:
    return (*source_keys(), *DATASET_OPTIONS)


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
    # one dataset's spec, or a list of named specs (several datasets in one run)
    dataset: dict[str, Any] | list[dict[str, Any]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_MODELS))
    seed: int = 0
    top_k: int = 3
    score_level: str = "exact"  # the level headline accuracy uses: exact or group
    base_dir: Path = field(default_factory=Path.cwd)
    raw: dict[str, Any] = field(default_factory=dict)
    max_raw_chars: int | None = DEFAULT_MAX_RAW_CHARS
    min_image_side: int = MIN_IMAGE_SIDE
    vocabulary: Path | None = None  # a vocabulary file adding to / overriding the packaged one


def _check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" did you mean {close[0]!r}?" if close else ""
            raise InvalidArgument(
                f"{where}: unknown key {shorten(key)};{hint} allowed: {', '.join(allowed)}"
            )


def _check_dataset(dataset: object, named: bool) -> None:
    """One dataset entry: a mapping with one source (and, in a list, a ``name``)."""
    if not isinstance(dataset, Mapping):
        example = "{name: clinic, manifest: cases.csv}" if named else "{manifest: cases.csv}"
        raise InvalidArgument(f"dataset: expected a mapping such as {example}, got {dataset!r}")
    keys = dataset_keys()
    _check_keys(dataset, (*keys, "name") if named else keys, "dataset")
    sources = [k for k in source_keys() if k in dataset]
    if len(sources) > 1:
        raise InvalidArgument(
            f"dataset: give one of {', '.join(source_keys())}, not {', '.join(sources)}"
        )
    if named:
        if "name" not in dataset:
            raise InvalidArgument(
                f"dataset: each dataset of a list needs a name, e.g. {{name: clinic, "
                f"{sources[0] if sources else 'manifest'}: ...}}; got {dict(dataset)!r}"
            )
        check_name(dataset["name"])


def parse_config(spec: Mapping[str, Any], base_dir: Path, name: str) -> RunConfig:
    """Validate a config mapping (paths in it are relative to ``base_dir``)."""
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"config {name}: expected a mapping at the top level")
    _check_keys(spec, TOP_LEVEL_KEYS, f"config {name}")
    dataset = spec.get("dataset")
    dataset = {} if dataset is None else dataset
    if isinstance(dataset, list):
        if not dataset:
            raise InvalidArgument("dataset: an empty list; give at least one dataset")
        for entry in dataset:
            _check_dataset(entry, named=True)
        check_names([e["name"] for e in dataset])
    else:
        _check_dataset(dataset, named=False)
    entries = dataset if isinstance(dataset, list) else [dataset]
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
    score_level = spec.get("score_level", "exact")
    if score_level not in ("exact", "group"):
        raise InvalidArgument(
            f"score_level: expected one of exact, group, got {shorten(score_level)}"
        )
    vocabulary = spec.get("vocabulary")
    if vocabulary is not None and (not isinstance(vocabulary, str) or not vocabulary.strip()):
        raise InvalidArgument(f"vocabulary: expected a file name, got {shorten(vocabulary)}")
    vocabulary_path = (base_dir / vocabulary).resolve() if vocabulary else None
    if vocabulary_path is not None:
        load_vocabulary(vocabulary_path)  # errors now, naming the entry and the field
    max_raw = spec.get("max_raw_chars", DEFAULT_MAX_RAW_CHARS)
    if max_raw is not None and (
        isinstance(max_raw, bool) or not isinstance(max_raw, int) or max_raw < 1
    ):
        raise InvalidArgument(
            f"max_raw_chars: expected a positive integer (or null: no cap), got {shorten(max_raw)}"
        )
    sides = {e.get("min_image_side", MIN_IMAGE_SIDE) for e in entries}
    if len(sides) > 1:
        raise InvalidArgument(
            "dataset.min_image_side: a run has one minimum photo size; the datasets give "
            f"{', '.join(sorted(map(str, sides)))}"
        )
    (min_side,) = sides
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
        dataset=[dict(d) for d in dataset] if isinstance(dataset, list) else dict(dataset),
        models=model_specs,
        seed=seed,
        top_k=top_k,
        score_level=str(score_level),
        base_dir=base_dir,
        raw=dict(spec),
        vocabulary=vocabulary_path,
        max_raw_chars=max_raw,
        min_image_side=min_side,
    )


def _where(dataset: Dataset, where: object) -> Dataset:
    """The cases whose metadata matches every ``column: value`` (or ``[values]``) of
    ``where`` (metadata: a manifest's extra columns, a loader's fields such as PAD-UFES-20's
    ``biopsed``); values compare as text, case-insensitively."""
    if not isinstance(where, Mapping) or not where:
        raise InvalidArgument(
            f"dataset.where: expected a mapping of metadata column to value(s), got {where!r}"
        )
    wanted = {
        str(k): {str(v).lower() for v in (vs if isinstance(vs, list) else [vs])}
        for k, vs in where.items()
    }
    cases = [
        c
        for c in dataset.stream()
        if all(str(c.meta.get(k, "")).lower() in vs for k, vs in wanted.items())
    ]
    return Dataset(dataset.name, cases, list(dataset.issues), dataset.root)


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


def load_dataset(spec: Mapping[str, Any] | Sequence[Mapping[str, Any]], base_dir: Path) -> Dataset:
    """Load the dataset a config names (the bundled sample when it names none); a list of
    named datasets becomes one dataset whose case ids carry the dataset's name."""
    if not isinstance(spec, Mapping):
        return combine([(str(s["name"]), _load_one(s, base_dir)) for s in spec])
    return _load_one(spec, base_dir)


def _load_one(spec: Mapping[str, Any], base_dir: Path) -> Dataset:
    layout = next((k for k in LAYOUTS.names() if k in spec), None)
    if "manifest" in spec:
        encoding = spec.get("encoding")
        if encoding is not None and not isinstance(encoding, str):
            raise InvalidArgument(f"dataset.encoding: expected a name, got {shorten(encoding)}")
        dataset = load_manifest(base_dir / str(spec["manifest"]), encoding=encoding)
    elif "folder" in spec:
        dataset = load_benchmark(base_dir / str(spec["folder"]))
    elif layout is not None:
        dataset = load_benchmark(base_dir / str(spec[layout]), layout)
    else:
        sample = spec.get("sample", "pad_ufes_20")
        if sample != "pad_ufes_20":
            raise InvalidArgument(
                f"dataset.sample: the bundled sample is 'pad_ufes_20', got {shorten(sample)}"
            )
        dataset = load_sample()
    if "where" in spec:
        dataset = _where(dataset, spec["where"])
    ids, limit = spec.get("cases"), spec.get("limit")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise InvalidArgument(f"dataset.cases: expected a list of case ids, got {shorten(ids)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgument(f"dataset.limit: expected a positive integer, got {shorten(limit)}")
    return dataset.select(ids, limit) if ids is not None or limit is not None else dataset
