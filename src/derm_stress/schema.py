"""The records a run writes and everything after the store reads: one typed, versioned schema.

The harness writes a ``RunManifest`` (``manifest.json``) and a ``CaseRecord`` per case (the
store's ``cases`` table); ``run.results``, the metrics, the report, the export and the
comparison read them back as attributes, never as string keys. Each condition is a
``ConditionSpec``: its operators (name, severity, options, capabilities declared by the
operator class), context mode, labels and RNG keys, so nothing downstream parses a condition
id. A result's status is a ``ResultStatus``; ``SCORED`` is the one set of statuses accuracy
counts.

Format versions: 1 is what runs wrote before this module (no ``format_version`` field,
conditions as ``Condition.describe()`` gave them); 2 adds ``format_version``, the labels,
keys and capabilities of each condition. Version 1 manifests are upgraded on reading
(``RunManifest.from_dict``), so old run directories load, report and export as before.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from derm_stress.errors import InvalidArgument

FORMAT_VERSION = 2  # what the harness writes now


class ResultStatus(StrEnum):
    """The status of one model x case x condition result (its value is what the store and
    the export hold)."""

    MISSING = "missing"  # not run (yet)
    OK = "ok"  # answered and parsed
    UNPARSEABLE = "unparseable"  # answered, no diagnosis could be read (counts as wrong)
    ERROR = "error"  # the model call failed
    INPUT_ERROR = "input_error"  # the case's input could not be read or perturbed

    @property
    def code(self) -> int:
        """The status's small integer in result tables (its position in ``STATUSES``)."""
        return STATUSES.index(self)


STATUSES: tuple[ResultStatus, ...] = tuple(ResultStatus)
# the statuses accuracy counts: the model answered (an unparseable answer is wrong)
SCORED: frozenset[ResultStatus] = frozenset({ResultStatus.OK, ResultStatus.UNPARSEABLE})


class RunStatus(StrEnum):
    """How a run stands, as its manifest says (``ENDED_ABNORMALLY`` is never written: it is
    what ``load_run`` reports for a manifest still ``running`` whose process is gone)."""

    RUNNING = "running"
    COMPLETE = "complete"
    STOPPED = "stopped"  # by its budget
    INTERRUPTED = "interrupted"  # Ctrl-C
    ENDED_ABNORMALLY = "ended abnormally"


class Capability(StrEnum):
    """What an operator does, declared by its class (``Operator.capabilities``); metrics
    select conditions by capability, never by operator name."""

    PLANTS_DIAGNOSIS = "plants_diagnosis"  # names a (wrong) diagnosis: params["diagnosis"]
    CHANGES_GEOMETRY = "changes_geometry"  # moves pixels (angle, scale, crop)
    CHANGES_COLOUR = "changes_colour"  # lighting, white balance, exposure
    DEGRADES_DETAIL = "degrades_detail"  # blur, noise, compression, resolution
    OCCLUDES = "occludes"  # covers part of the lesion (hair, ink, rulers, glare)
    REMOVES_INFORMATION = "removes_information"  # drops note fields or text
    CORRUPTS_FACTS = "corrupts_facts"  # changes facts of the note (age, site, history)
    REWORDS = "rewords"  # same facts, messier text (typos, shorthand, order)


def _capabilities(values: Sequence[str]) -> frozenset[Capability]:
    known = {c.value: c for c in Capability}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidArgument(
            f"unknown capability {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    return frozenset(known[v] for v in values)


@dataclass(frozen=True)
class OperatorSpec:
    """One operator of a condition: name, severity, options, and its class's family and
    capabilities."""

    name: str
    severity: int
    config: Mapping[str, Any] = field(default_factory=dict)
    capabilities: frozenset[Capability] = frozenset()
    label: str = ""  # as in the condition id (v1 manifests: empty)
    family: str = ""  # the operator class's family (lighting, focus, misleading...)

    def to_dict(self) -> dict[str, Any]:
        # the v1 layout ({"op", "severity", **config}) plus the label and capabilities
        return {
            "op": self.name,
            "severity": self.severity,
            **self.config,
            "label": self.label,
            "family": self.family,
            "capabilities": sorted(c.value for c in self.capabilities),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatorSpec:
        config = {k: v for k, v in data.items() if k not in _OPERATOR_KEYS}
        return cls(
            str(data["op"]),
            int(data["severity"]),
            config,
            _capabilities(data.get("capabilities", ())),
            str(data.get("label", "")),
            str(data.get("family", "")),
        )


_OPERATOR_KEYS = ("op", "severity", "label", "family", "capabilities")


@dataclass(frozen=True)
class ConditionSpec:
    """A condition, structured: what ``Condition.spec`` gives and the manifest stores.

    ``id``: the display id (``img=...|ctx=...``); ``key``: the id as it enters store keys;
    ``image_label`` / ``context_label``: its two halves; ``image_key`` / ``context_key``: the
    RNG key parts (labels without severities, built from the operators);
    ``single_image_op``: (operator label without severity, severity) when the photo gets one
    graded operator, else None (the unit of severity curves).
    """

    id: str
    key: str
    context: str  # "image_only" or "full"
    image_label: str
    context_label: str
    image_key: str
    context_key: str
    image: tuple[OperatorSpec, ...] = ()
    note: tuple[OperatorSpec, ...] = ()
    deterministic: bool = True
    single_image_op: tuple[str, int] | None = None

    @property
    def is_baseline(self) -> bool:
        """Clean image-only: no effective image operator, no note."""
        return self.context == "image_only" and all(op.severity == 0 for op in self.image)

    @property
    def clean_image(self) -> bool:
        """The photo as given (no image operator at all)."""
        return self.image_label == "none"

    @property
    def is_full(self) -> bool:
        """The clean photo with the note as given."""
        return self.clean_image and self.context == "full" and not self.note

    @property
    def image_only(self) -> bool:
        return self.context == "image_only"

    @property
    def note_perturbed(self) -> bool:
        """The note is sent, after note operators."""
        return self.context == "full" and bool(self.note)

    @property
    def families(self) -> tuple[str, ...]:
        """The families of the condition's operators, image first, each once."""
        return tuple(dict.fromkeys(op.family for op in (*self.image, *self.note) if op.family))

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the condition's operators do, together."""
        return frozenset(c for op in (*self.image, *self.note) for c in op.capabilities)

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def shape(self, drop: Capability | None = None) -> str:
        """A comparable description of the condition's operators; with ``drop``, without
        its note operators that have that capability (two conditions of equal shapes then
        differ only in those operators)."""

        def ops(specs: Sequence[OperatorSpec]) -> list[tuple[str, int, str]]:
            return [
                (o.name, o.severity, json.dumps(o.config, sort_keys=True, default=str))
                for o in specs
            ]

        kept = [op for op in self.note if drop is None or drop not in op.capabilities]
        return repr((ops(self.image), self.context, ops(kept)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "deterministic": self.deterministic,
            "image": [op.to_dict() for op in self.image],
            "context": self.context,
            "note": [op.to_dict() for op in self.note],
        }
        if self.key != self.id:
            out["key"] = self.key
        out.update(
            image_label=self.image_label,
            context_label=self.context_label,
            image_key=self.image_key,
            context_key=self.context_key,
            single_image_op=list(self.single_image_op) if self.single_image_op else None,
        )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConditionSpec:
        """A condition of a format-2 manifest (``upgrade_v1_condition`` reads format 1)."""
        single = data.get("single_image_op")
        return cls(
            id=str(data["id"]),
            key=str(data.get("key", data["id"])),
            context=str(data["context"]),
            image=tuple(OperatorSpec.from_dict(o) for o in data.get("image", ())),
            note=tuple(OperatorSpec.from_dict(o) for o in data.get("note", ())),
            deterministic=bool(data["deterministic"]),
            image_label=str(data["image_label"]),
            context_label=str(data["context_label"]),
            image_key=str(data["image_key"]),
            context_key=str(data["context_key"]),
            single_image_op=(str(single[0]), int(single[1])) if single else None,
        )


@dataclass(frozen=True)
class ModelEntry:
    """A model of the run: display name, identity (what defines its answers) and its hash,
    prompt version (both enter store keys), call timeout."""

    name: str
    identity: Mapping[str, Any]
    hash: str
    prompt_version: str
    timeout_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identity": dict(self.identity),
            "hash": self.hash,
            "prompt_version": self.prompt_version,
            "timeout_s": self.timeout_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelEntry:
        timeout = data.get("timeout_s")
        return cls(
            str(data["name"]),
            dict(data.get("identity") or {}),
            str(data["hash"]),
            str(data["prompt_version"]),
            None if timeout is None else float(timeout),
        )


@dataclass(frozen=True)
class DatasetEntry:
    """The dataset of the run: name, root folder, case count, rejected rows (``issues``:
    ``{"source", "reason"}``), and the fingerprint of its cases (set when the run ends)."""

    name: str
    root: str | None = None
    cases: int = 0
    issues: tuple[Mapping[str, str], ...] = ()
    fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "root": self.root,
            "cases": self.cases,
            "issues": [dict(i) for i in self.issues],
        }
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetEntry:
        return cls(
            str(data.get("name") or ""),
            data.get("root"),
            int(data.get("cases") or 0),
            tuple(dict(i) for i in data.get("issues") or ()),
            data.get("fingerprint"),
        )


CASE_META_FIELDS = ("dataset", "monk_skin_tone", "fitzpatrick_group")


@dataclass(frozen=True)
class CaseRecord:
    """What a run keeps of a case (the store's ``cases`` table): enough for metrics and
    subgroups. ``meta``: the subgroup attributes a loader set (``CASE_META_FIELDS``)."""

    id: str
    diagnosis: str
    diagnoses: tuple[str, ...] = ()
    triage: str | None = None
    triage_source: str | None = None
    fingerprint: str | None = None
    fitzpatrick: Any = None
    body_site: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    note: Mapping[str, Any] = field(default_factory=dict)

    @property
    def references(self) -> tuple[str, ...]:
        """Every accepted reference diagnosis (records before several diagnoses: the one)."""
        return self.diagnoses or (self.diagnosis,)

    @property
    def dataset(self) -> str | None:
        value = self.meta.get("dataset")
        return None if value is None else str(value)

    def get(self, name: str, default: Any = None) -> Any:
        """A field or subgroup attribute by name (subgroup tables choose them by name)."""
        if name in self.meta:
            return self.meta[name]
        if name in _CASE_FIELDS and name != "meta":
            return getattr(self, name)
        return default

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "diagnosis": self.diagnosis,
            "diagnoses": list(self.diagnoses),
            "triage": self.triage,
            "triage_source": self.triage_source,
            "fingerprint": self.fingerprint,
            "fitzpatrick": self.fitzpatrick,
            "body_site": self.body_site,
            **{k: self.meta[k] for k in CASE_META_FIELDS if self.meta.get(k)},
            "images": list(self.images),
            "note": dict(self.note),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        return cls(
            id=str(data["id"]),
            diagnosis=str(data["diagnosis"]),
            diagnoses=tuple(data.get("diagnoses") or ()),
            triage=data.get("triage"),
            triage_source=data.get("triage_source", "diagnosis"),
            fingerprint=data.get("fingerprint"),
            fitzpatrick=data.get("fitzpatrick"),
            body_site=data.get("body_site"),
            meta={k: data[k] for k in CASE_META_FIELDS if data.get(k)},
            images=tuple(str(i) for i in data.get("images") or ()),
            note=dict(data.get("note") or {}),
        )


_CASE_FIELDS = {f.name for f in dataclasses.fields(CaseRecord)}


@dataclass(frozen=True)
class RunManifest:
    """``manifest.json``: what was run, with what, and how it ended.

    ``status``: running, complete, stopped, interrupted (``load_run`` reports a ``running``
    manifest whose process is gone as ``ended abnormally``). ``cases`` is None when the case
    records are in the store (every run since they moved there). Keys this version does not
    know are kept in ``extra`` and written back unchanged.
    """

    name: str
    seed: int
    conditions: tuple[ConditionSpec, ...]
    models: tuple[ModelEntry, ...]
    dataset: DatasetEntry
    format_version: int = FORMAT_VERSION
    config: Mapping[str, Any] = field(default_factory=dict)
    top_k: int = 3
    score_level: str = "exact"
    vocabulary: Mapping[str, Any] | None = None
    executor: str | None = None
    budget: Mapping[str, Any] | None = None
    max_raw_chars: int | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    git_revision: str | None = None
    started: str | None = None
    status: str = RunStatus.RUNNING  # a RunStatus (text: a newer version may add some)
    finished: str | None = None
    summary: Mapping[str, Any] | None = None
    previous_run: Mapping[str, Any] | None = None
    input_warnings: tuple[Mapping[str, str], ...] = ()
    cases: tuple[CaseRecord, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def condition(self, condition_id: str) -> ConditionSpec:
        """The spec of a condition of this run, by id."""
        for spec in self.conditions:
            if spec.id == condition_id:
                return spec
        raise InvalidArgument(f"condition {condition_id!r} is not in run {self.name!r}")

    @property
    def baseline(self) -> ConditionSpec | None:
        """The run's baseline condition (clean photo, no note), if it has one."""
        return next((c for c in self.conditions if c.is_baseline), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "name": self.name,
            "config": dict(self.config),
            "seed": self.seed,
            "top_k": self.top_k,
            "score_level": self.score_level,
            "conditions": [c.to_dict() for c in self.conditions],
            "models": [m.to_dict() for m in self.models],
            "dataset": self.dataset.to_dict(),
            "vocabulary": None if self.vocabulary is None else dict(self.vocabulary),
            "executor": self.executor,
            "budget": None if self.budget is None else dict(self.budget),
            "max_raw_chars": self.max_raw_chars,
            "versions": dict(self.versions),
            "git_revision": self.git_revision,
            "started": self.started,
            "status": self.status,
        }
        if self.previous_run is not None:
            out["previous_run"] = dict(self.previous_run)
        if self.input_warnings:
            out["input_warnings"] = [dict(w) for w in self.input_warnings]
        if self.finished is not None:
            out["finished"] = self.finished
        if self.summary is not None:
            out["summary"] = dict(self.summary)
        if self.cases is not None:
            out["cases"] = [c.to_dict() for c in self.cases]
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunManifest:
        """Read a manifest of any known format version (1: no ``format_version``)."""
        if not isinstance(data, Mapping):
            raise InvalidArgument(f"a run manifest is a JSON object, got {type(data).__name__}")
        version = data.get("format_version", 1)
        if version not in (1, FORMAT_VERSION):
            raise InvalidArgument(
                f"manifest format_version {version!r} is not one this derm-stress reads "
                f"(1-{FORMAT_VERSION}); upgrade derm-stress"
            )
        missing = [k for k in ("name", "seed", "conditions", "models", "dataset") if k not in data]
        if missing:
            raise InvalidArgument(f"the run manifest lacks {', '.join(missing)}")
        if version == 1:
            from derm_stress.perturb.condition import upgrade_v1_condition

            conditions = tuple(upgrade_v1_condition(c) for c in data["conditions"])
        else:
            conditions = tuple(ConditionSpec.from_dict(c) for c in data["conditions"])
        known = {f.name for f in dataclasses.fields(cls)}
        cases = data.get("cases")
        return cls(
            name=str(data["name"]),
            seed=int(data["seed"]),
            conditions=conditions,
            models=tuple(ModelEntry.from_dict(m) for m in data["models"]),
            dataset=DatasetEntry.from_dict(data["dataset"] or {}),
            format_version=int(version),
            config=dict(data.get("config") or {}),
            top_k=int(data.get("top_k", 3)),
            score_level=str(data.get("score_level", "exact")),
            vocabulary=data.get("vocabulary"),
            executor=data.get("executor"),
            budget=data.get("budget"),
            max_raw_chars=data.get("max_raw_chars"),
            versions=dict(data.get("versions") or {}),
            git_revision=data.get("git_revision"),
            started=data.get("started"),
            status=str(data.get("status", "unknown")),
            finished=data.get("finished"),
            summary=data.get("summary"),
            previous_run=data.get("previous_run"),
            input_warnings=tuple(data.get("input_warnings") or ()),
            cases=None if cases is None else tuple(CaseRecord.from_dict(c) for c in cases),
            extra={k: v for k, v in data.items() if k not in known},
        )
