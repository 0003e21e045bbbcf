"""Reading a finished (or interrupted) run back: its manifest joined with the store.

``load_run`` builds a dense, columnar ``ResultTable`` (models x conditions x cases numpy
arrays of what the metrics need), reading the store in one scan with the answer fields
extracted by SQLite; a million results fit in a few hundred MB. The full rows (raw
answers, perturbation records) stay in the store and are read on demand, streaming.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import multiprocessing
import threading
from array import array
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from derm_stress.errors import DermStressError, InvalidArgument
from derm_stress.labels import TRIAGE_LEVELS, Vocabulary, load_vocabulary, vocabulary
from derm_stress.perturb.condition import BASELINE_ID
from derm_stress.run.harness import MANIFEST_NAME, STORE_NAME
from derm_stress.run.lock import lock_holder
from derm_stress.run.store import Result, Store, case_keys, result_key
from derm_stress.schema import (
    SCORED,
    STATUSES,
    Capability,
    CaseRecord,
    ConditionSpec,
    ResultStatus,
    RunManifest,
    RunStatus,
)

ENDED_ABNORMALLY = RunStatus.ENDED_ABNORMALLY  # a run found "running" with no process
# a result's status as its code in ``ResultTable.status``
MISSING, OK, UNPARSEABLE, ERROR, INPUT_ERROR = (s.code for s in STATUSES)
_SCORED_CODE = np.zeros(len(STATUSES), bool)  # status code -> counts for accuracy
_SCORED_CODE[[s.code for s in SCORED]] = True
RANK_DEPTH = 5  # differential positions kept per result for rank comparisons
ScoreLevel = Literal["exact", "group"]
SCORE_LEVELS: tuple[ScoreLevel, ...] = ("exact", "group")
_NOT_CACHED = "?"
_NAN = float("nan")
_IMPLIED = -2  # no triage stated: the one the top answer implies


def check_score_level(value: object) -> ScoreLevel:
    """``value`` as a score level, or a one-line error naming the allowed ones."""
    for level in SCORE_LEVELS:
        if value == level:
            return level
    raise InvalidArgument(f"score_level: expected one of {', '.join(SCORE_LEVELS)}, got {value!r}")


def match_level(
    answer: str, references: Sequence[str], vocab: Vocabulary | None = None
) -> ScoreLevel | None:
    """The match level in ``vocab`` (default: the active vocabulary), tolerating codes it
    does not know (a run scored with a user's vocabulary file that is gone): those match
    only the identical code."""
    if answer in references:
        return "exact"
    vocab = vocab or vocabulary()
    known = tuple(r for r in references if r in vocab)
    return vocab.match_level(answer, known) if known else None


def match_ranks(
    differential: Sequence[str],
    references: Sequence[str],
    cache: dict[str, str | None] | None = None,
    vocab: Vocabulary | None = None,
) -> tuple[int, int]:
    """1-based positions of the first answer matching one of ``references`` at the exact
    level and at the group level (an exact match is also a group match); 0 for none.

    ``cache`` (code -> level, for these references only) saves repeated vocabulary
    look-ups when many answers are scored against the same references."""
    exact = group = 0
    for position, code in enumerate(differential, start=1):
        level = _NOT_CACHED if cache is None else cache.get(code, _NOT_CACHED)
        if level == _NOT_CACHED:
            level = match_level(code, references, vocab)
            if cache is not None:
                cache[code] = level
        if level is None:
            continue
        if not group:
            group = position
        if level == "exact":
            exact = position
            break
    return exact, group


@dataclass(frozen=True)
class Row:
    """One model x case x condition outcome, with the reference diagnosis joined in.

    ``status``: ok, unparseable, error (model call failed), input_error, or missing (not
    run yet). Accuracy counts ok and unparseable rows (an unparseable answer is wrong).
    ``diagnosis`` is the case's first accepted diagnosis, ``diagnoses`` all of them
    (empty: just ``diagnosis``).
    """

    model: str
    case_id: str
    condition: str
    diagnosis: str
    status: ResultStatus
    differential: tuple[str, ...]
    confidences: tuple[float | None, ...]
    stated_triage: str | None
    error: str | None
    result: Result | None
    diagnoses: tuple[str, ...] = ()
    # the vocabulary the run was scored with (None: the active one)
    vocabulary: Vocabulary | None = field(default=None, compare=False, repr=False)

    @property
    def references(self) -> tuple[str, ...]:
        """Every accepted reference diagnosis of the case."""
        return self.diagnoses or (self.diagnosis,)

    @property
    def scored(self) -> bool:
        return self.status in SCORED

    @property
    def triage(self) -> str | None:
        """Stated triage, else the triage of the top diagnosis."""
        return _triage(self.stated_triage, self.differential, self.vocabulary)

    @functools.cached_property
    def ranks(self) -> tuple[int, int]:
        """(exact, group) 1-based rank of the first matching answer (0: none)."""
        return match_ranks(self.differential, self.references, vocab=self.vocabulary)

    def correct_at(self, k: int, level: ScoreLevel = "exact") -> bool:
        """Whether one of the top ``k`` answers matches a reference at ``level``."""
        exact, group = self.ranks
        rank = exact if level == "exact" else group
        return 1 <= rank <= k

    def match_level(self, k: int) -> ScoreLevel | None:
        """The level of the best match among the top ``k`` answers (None: no match)."""
        exact, group = self.ranks
        if 1 <= exact <= k:
            return "exact"
        return "group" if 1 <= group <= k else None


def _triage(
    stated: str | None, differential: Sequence[str], vocab: Vocabulary | None = None
) -> str | None:
    if stated:
        return stated
    vocab = vocab or vocabulary()
    if not differential or differential[0] not in vocab:
        return None  # OTHER, or a code of a vocabulary file that is gone
    return vocab.triage(differential[0])


@dataclass
class ResultTable:
    """What the metrics need of every result, as arrays indexed [model, condition, case].

    ``rank_exact`` / ``rank_group``: 1-based position of the first answer matching a
    reference diagnosis at the exact / group level (0: none), so top-k correctness is
    ``1 <= rank <= k``; ``rank`` is the one of the run's headline ``score_level``.
    ``named``: per model, every code it answered anywhere in the run. ``top1``: index
    into ``answers`` (-1: none).
    ``triage``: index into ``TRIAGE_LEVELS`` (stated, else implied by the top answer; -1
    unknown). ``adopted``: whether the top answer is the misleading referral's diagnosis (-1
    where no misleading referral was applied). ``planted``: the misleading referral's diagnosis
    as an index into ``answers`` (-1: none). ``ranked``: the first ``RANK_DEPTH`` codes of the
    differential as indexes into ``answers`` (-1: none), so the metrics can ask where any code
    stands in an answer. Missing numbers are NaN (tokens: -1).
    """

    models: tuple[str, ...]
    conditions: tuple[str, ...]
    cases: tuple[str, ...]
    status: np.ndarray
    rank: np.ndarray
    top1: np.ndarray
    triage: np.ndarray
    confidence: np.ndarray
    adopted: np.ndarray
    planted: np.ndarray
    ranked: np.ndarray
    latency: np.ndarray
    tokens: np.ndarray
    cost: np.ndarray
    answers: list[str] = field(default_factory=list)
    rank_exact: np.ndarray | None = None
    rank_group: np.ndarray | None = None
    score_level: ScoreLevel = "exact"
    named: list[set[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.rank_exact is None:
            self.rank_exact = self.rank
        if self.rank_group is None:
            self.rank_group = np.zeros_like(self.rank)
        if not self.named:
            self.named = [set() for _ in self.models]

    @classmethod
    def empty(
        cls, models: Sequence[str], conditions: Sequence[str], cases: Sequence[str]
    ) -> ResultTable:
        shape = (len(models), len(conditions), len(cases))
        return cls(
            tuple(models),
            tuple(conditions),
            tuple(cases),
            status=np.zeros(shape, np.int8),
            rank=np.zeros(shape, np.int16),
            top1=np.full(shape, -1, np.int32),
            triage=np.full(shape, -1, np.int8),
            confidence=np.full(shape, np.nan, np.float32),
            adopted=np.full(shape, -1, np.int8),
            planted=np.full(shape, -1, np.int16),
            ranked=np.full((*shape, RANK_DEPTH), -1, np.int16),
            latency=np.full(shape, np.nan, np.float64),
            tokens=np.full(shape, -1, np.int64),
            cost=np.full(shape, np.nan, np.float64),
        )

    @property
    def size(self) -> int:
        return int(self.status.size)

    @property
    def scored(self) -> np.ndarray:
        """Where the status is one of ``SCORED`` (read-only; computed once per table: the
        metrics ask for it per model, condition and subgroup, and a gather over the whole
        table each time was most of a large report's time)."""
        cached: np.ndarray | None = self.__dict__.get("_scored")
        if cached is None or cached.shape != self.status.shape:
            cached = _SCORED_CODE[self.status]
            cached.flags.writeable = False
            self.__dict__["_scored"] = cached
        return cached

    def statuses_changed(self) -> None:
        """Forget what was derived from ``status`` (call after writing into it)."""
        self.__dict__.pop("_scored", None)

    def ranks(self, level: ScoreLevel | None = None) -> np.ndarray:
        """The rank array of ``level`` (default: the headline level)."""
        if level is None:
            return self.rank
        rank = self.rank_exact if level == "exact" else self.rank_group
        assert rank is not None  # set in __post_init__
        return rank

    def with_score_level(self, level: ScoreLevel) -> ResultTable:
        """This table with ``rank`` (and so every headline figure) at ``level``; the
        arrays are shared, not copied."""
        return dataclasses.replace(self, rank=self.ranks(level), score_level=level)


class _Columns:
    """One part of a ``_Filler``'s results, a typed array per column (8 bytes or less per
    result, not a Python object); differentials are indexes into the filler's."""

    def __init__(self, filler: _Filler) -> None:
        self.filler = filler
        self.at = array("q")
        self.status = array("b")
        self.differential = array("q")
        self.stated = array("b")  # index into TRIAGE_LEVELS; -1 unknown; _IMPLIED: none stated
        self.confidence = array("d")
        self.latency = array("d")
        self.tokens = array("q")
        self.cost = array("d")
        self.referral_row = array("q")  # results where an operator planted a diagnosis
        self.referral: list[str] = []

    def add(
        self,
        at: int,
        status: str,
        differential: Sequence[str],
        confidences: Sequence[float | None],
        stated_triage: str | None,
        latency: float | None,
        tokens: int | None,
        cost: float | None,
        referral: str | None,
    ) -> None:
        """One result for the table cell with flat index ``at``."""
        source = tuple(differential)
        d = self.filler.differential_id.get(source)
        if d is None:
            d = self.filler.differential_of(source)
        if referral is not None:
            self.referral_row.append(len(self.at))
            self.referral.append(referral)
        self.at.append(at)
        self.status.append(self.filler.status_code[status])
        self.differential.append(d)
        self.stated.append(
            self.filler.triage_level.get(stated_triage, -1) if stated_triage else _IMPLIED
        )
        first = confidences[0] if confidences else None
        self.confidence.append(_NAN if first is None else first)
        self.latency.append(_NAN if latency is None else latency)
        self.tokens.append(-1 if tokens is None else tokens)
        self.cost.append(_NAN if cost is None else cost)

    _ARRAYS = ("at", "status", "differential", "stated", "confidence", "latency", "tokens",
               "cost", "referral_row")  # fmt: skip

    def export(self) -> dict[str, Any]:
        """These columns and the differentials they index, to send to another process."""
        out: dict[str, Any] = {name: getattr(self, name) for name in self._ARRAYS}
        out["referral"] = self.referral
        out["sources"] = self.filler.sources
        return out

    def adopt(self, data: dict[str, Any]) -> None:
        """Take the columns of ``export`` (from another process's filler), with its
        differential indexes mapped to this filler's."""
        for name in self._ARRAYS:
            setattr(self, name, data[name])
        self.referral = data["referral"]
        mapping = np.array([self.filler.differential_of(s) for s in data["sources"]], np.int64)
        remapped = array("q")
        if len(self.differential):
            remapped.frombytes(mapping[np.asarray(self.differential, np.intp)].tobytes())
        self.differential = remapped

    def read(self, rows: Iterable[Sequence[Any]], wanted: Mapping[str, int]) -> None:
        """Results from the store scan (``_scan_query``): ``add`` for each row whose key
        is in ``wanted`` (key -> flat index), with the differential as its JSON text, parsed
        once per distinct text (one loop, local names: it runs a million times)."""
        filler = self.filler
        get, ids, status_code = wanted.get, filler.differential_id, filler.status_code
        levels, nan, implied = filler.triage_level, _NAN, _IMPLIED
        at_, status_, differential_, stated_ = self.at, self.status, self.differential, self.stated
        confidence_, latency_, tokens_, cost_ = (
            self.confidence,
            self.latency,
            self.tokens,
            self.cost,
        )
        referral_row, referral_ = self.referral_row, self.referral
        for (
            key,
            status,
            text,
            confidence,
            triage,
            latency,
            prompt,
            completion,
            cost,
            referral,
        ) in rows:
            at = get(key)
            if at is None:  # a result of another configuration sharing the store
                continue
            d = ids.get(text)
            if d is None:
                d = filler.differential_of(text)
            if referral is not None:
                referral_row.append(len(at_))
                referral_.append(referral)
            at_.append(at)
            status_.append(status_code[status])
            differential_.append(d)
            stated_.append(levels.get(triage, -1) if triage else implied)
            confidence_.append(nan if confidence is None else confidence)
            latency_.append(nan if latency is None else latency)
            if prompt is None and completion is None:
                tokens_.append(-1)
            else:
                tokens_.append((prompt or 0) + (completion or 0))
            cost_.append(nan if cost is None else cost)


class _Filler:
    """Collects results column by column and writes them into a ``ResultTable`` at once
    (shared by the store loader and ``RunData.from_rows``, so both read answers alike).

    A million answers hold a few hundred distinct differentials: each result keeps only the
    index of its differential, and what is derived from one (ranks against the case's
    references, answer codes, the triage its top answer implies) is computed once per
    distinct differential (and references) in ``finish``, then gathered with numpy."""

    def __init__(
        self,
        table: ResultTable,
        references: Sequence[tuple[str, ...]],
        score_level: ScoreLevel = "exact",
        vocab: Vocabulary | None = None,
    ) -> None:
        self.table = table
        self.references = references
        self.score_level = score_level
        self.vocab = vocab or vocabulary()
        self.answer_index: dict[str, int] = {}
        # a differential's JSON text (store) or tuple (rows) -> index into ``differentials``
        self.differential_id: dict[object, int] = {}
        self.differentials: list[tuple[str, ...]] = []
        self.sources: list[str | tuple[str, ...] | None] = []  # the keys, in index order
        self.triage_level: dict[str | None, int] = {t: i for i, t in enumerate(TRIAGE_LEVELS)}
        self.status_code = {status.value: status.code for status in STATUSES}
        self.referral_row = np.zeros(0, np.intp)  # set by ``finish`` from the parts
        self.referral: list[str] = []
        self.lock = threading.Lock()  # new differentials
        self.parts = [_Columns(self)]

    def part(self) -> _Columns:
        """A new, empty set of columns whose rows follow the previous parts' (``finish``
        concatenates the parts in the order they were made)."""
        columns = _Columns(self)
        self.parts.append(columns)
        return columns

    def differential_of(self, source: str | tuple[str, ...] | None) -> int:
        """The index of a differential (``source``: its JSON text as stored, or its
        codes), added on first sight."""
        with self.lock:
            index = self.differential_id.get(source)
            if index is None:
                index = self.differential_id[source] = len(self.differentials)
                codes = json.loads(source) if isinstance(source, str) else source or ()
                self.differentials.append(tuple(codes))
                self.sources.append(source)
        return index

    def add(self, at: int, *result: Any) -> None:
        """One result for the table cell with flat index ``at`` (``_Columns.add``)."""
        self.parts[-1].add(at, *result)

    def _code(self, code: str) -> int:
        """``code``'s index into the table's ``answers`` (added on first sight)."""
        index = self.answer_index.get(code)
        if index is None:
            index = self.answer_index[code] = len(self.table.answers)
            self.table.answers.append(code)
        return index

    def _assign_codes(self, differential: np.ndarray, referrals: np.ndarray) -> None:
        """Answer codes in order of first sight over the results: a result's first
        ``RANK_DEPTH`` differential codes, then its planted diagnosis (``referrals``: the
        rows whose planted diagnosis counts, in order)."""
        events: list[tuple[int, int, str]] = []
        distinct, first = np.unique(differential, return_index=True)
        for d, row in zip(distinct.tolist(), first.tolist(), strict=True):
            events.extend((row, i, c) for i, c in enumerate(self.differentials[d][:RANK_DEPTH]))
        seen: set[str] = set()
        for row in referrals.tolist():
            code = self.referral[row]
            if code not in seen:
                seen.add(code)
                events.append((int(self.referral_row[row]), RANK_DEPTH, code))
        events.sort(key=lambda e: (e[0], e[1]))
        for _, _, code in events:
            self._code(code)

    def _column(self, name: str, dtype: Any) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(p, name), dtype=dtype) for p in self.parts])

    def finish(self) -> ResultTable:
        t = self.table
        at = self._column("at", np.intp)
        status = self._column("status", np.int8)
        differential = self._column("differential", np.intp)
        offsets = np.cumsum([0] + [len(p.at) for p in self.parts[:-1]])
        self.referral_row = np.concatenate(
            [
                np.asarray(p.referral_row, dtype=np.intp) + o
                for p, o in zip(self.parts, offsets, strict=True)
            ]
        )
        self.referral = [r for p in self.parts for r in p.referral]
        # planted diagnoses count where the answer is scored
        scored_referral = np.flatnonzero(_SCORED_CODE[status[self.referral_row]])
        self._assign_codes(differential, scored_referral)
        # per distinct differential: codes, top code, implied triage, whether it names any
        n_distinct = len(self.differentials)
        codes = np.full((n_distinct, RANK_DEPTH), -1, np.int16)
        implied = np.full(n_distinct, -1, np.int8)
        for d, answer in enumerate(self.differentials):
            for i, code in enumerate(answer[:RANK_DEPTH]):
                codes[d, i] = self.answer_index[code]
            implied[d] = self.triage_level.get(_triage(None, answer, self.vocab), -1)
        named = codes[:, 0] >= 0
        t.status.flat[at] = status
        t.top1.flat[at] = codes[differential, 0]
        stated = self._column("stated", np.int8)
        t.triage.flat[at] = np.where(stated == _IMPLIED, implied[differential], stated)
        t.confidence.flat[at] = self._column("confidence", t.confidence.dtype)
        t.latency.flat[at] = self._column("latency", t.latency.dtype)
        t.tokens.flat[at] = self._column("tokens", t.tokens.dtype)
        t.cost.flat[at] = self._column("cost", t.cost.dtype)
        answered = named[differential]
        if answered.any():
            t.ranked.reshape(-1, RANK_DEPTH)[at[answered]] = codes[differential[answered]]
        self._ranks(at, differential)
        self._named(at, differential[answered] if answered.any() else differential[:0], answered)
        rows = self.referral_row[scored_referral]
        if rows.size:
            planted = np.array(
                [self.answer_index[self.referral[i]] for i in scored_referral.tolist()], np.int16
            )
            top = codes[differential[rows], 0]
            t.adopted.flat[at[rows]] = ((top >= 0) & (top == planted)).astype(np.int8)
            t.planted.flat[at[rows]] = planted
        t.statuses_changed()
        return t.with_score_level(self.score_level)

    def _ranks(self, at: np.ndarray, differential: np.ndarray) -> None:
        """(exact, group) ranks, matched once per distinct (references, differential)."""
        t = self.table
        t.rank_group = np.zeros_like(t.rank)
        t.rank_exact = t.rank
        if not at.size:
            return
        reference_id: dict[tuple[str, ...], int] = {}
        per_case = np.array(
            [reference_id.setdefault(r, len(reference_id)) for r in self.references], np.intp
        )
        distinct_references = list(reference_id)
        n_distinct = len(self.differentials)
        pairs, inverse = np.unique(
            per_case[at % len(t.cases)] * n_distinct + differential, return_inverse=True
        )
        exact = np.zeros(pairs.size, t.rank.dtype)
        group = np.zeros(pairs.size, t.rank.dtype)
        levels: dict[tuple[str, ...], dict[str, str | None]] = {}
        for i, pair in enumerate(pairs.tolist()):
            references = distinct_references[pair // n_distinct]
            cache = levels.setdefault(references, {})
            exact[i], group[i] = match_ranks(
                self.differentials[pair % n_distinct], references, cache, self.vocab
            )
        t.rank.flat[at] = exact[inverse]
        t.rank_group.flat[at] = group[inverse]

    def _named(self, at: np.ndarray, differential: np.ndarray, answered: np.ndarray) -> None:
        """Per model, every code it answered anywhere in the run."""
        t = self.table
        per_model = len(t.cases) * len(t.conditions)
        if not differential.size:
            return
        model = at[answered] // per_model
        n_distinct = len(self.differentials)
        for pair in np.unique(model * n_distinct + differential).tolist():
            t.named[pair // n_distinct].update(self.differentials[pair % n_distinct])


def planting_ops(conditions: Sequence[ConditionSpec]) -> frozenset[str]:
    """The names of the run's note operators that plant a diagnosis (capability
    ``plants_diagnosis``; their records name it in ``params["diagnosis"]``)."""
    return frozenset(
        op.name
        for c in conditions
        for op in c.note
        if Capability.PLANTS_DIAGNOSIS in op.capabilities
    )


def _referral(applied: Sequence[dict[str, Any]], planting: Container[str]) -> str | None:
    return next(
        (a.get("params", {}).get("diagnosis") for a in applied if a.get("op") in planting),
        None,
    )


def _tokens(prompt: int | None, completion: int | None) -> int | None:
    if prompt is None and completion is None:
        return None
    return (prompt or 0) + (completion or 0)


@dataclass
class RunData:
    """A run directory, loaded: its manifest and the result table. Full rows (``rows``,
    ``iter_rows``, ``row``) are read from the store when asked for."""

    path: Path
    manifest: RunManifest
    table: ResultTable
    _rows: list[Row] | None = field(default=None, repr=False)
    _index: tuple[dict[str, int], dict[str, int], dict[str, int]] | None = field(
        default=None, repr=False
    )
    _references: list[tuple[str, ...]] | None = field(default=None, repr=False)
    vocabulary: Vocabulary = field(default_factory=vocabulary, repr=False)

    @classmethod
    def from_rows(
        cls, path: Path, manifest: RunManifest | Mapping[str, Any], rows: Sequence[Row]
    ) -> RunData:
        """A ``RunData`` from rows held in memory (tests, other sources). ``manifest`` may
        be a plain mapping holding just ``seed``, ``models`` (names), ``conditions`` (ids)
        and ``cases``; the rest gets defaults."""
        if not isinstance(manifest, RunManifest):
            manifest = RunManifest.from_dict(
                {
                    "name": "",
                    "dataset": {},
                    **manifest,
                    "models": [{"hash": "", "prompt_version": "", **m} for m in manifest["models"]],
                }
            )
        table = _empty_table(manifest)
        vocab = vocabulary()
        planting = planting_ops(manifest.conditions)
        filler = _Filler(table, _references(manifest), score_level_of(manifest), vocab)
        models, conditions, cases = _indexes(table)
        for r in rows:
            answer = r.result.answer if r.result else None
            applied = [a.to_dict() for a in r.result.applied] if r.result else []
            filler.add(
                int(
                    np.ravel_multi_index(
                        (models[r.model], conditions[r.condition], cases[r.case_id]),
                        table.status.shape,
                    )
                ),
                r.status,
                r.differential,
                r.confidences,
                r.stated_triage,
                answer.latency_s if answer else None,
                _tokens(answer.prompt_tokens, answer.completion_tokens) if answer else None,
                answer.cost_usd if answer else None,
                _referral(applied, planting),
            )
        return cls(path, manifest, filler.finish(), list(rows), vocabulary=vocab)

    @property
    def top_k(self) -> int:
        return self.manifest.top_k

    @property
    def seed(self) -> int:
        return self.manifest.seed

    @property
    def models(self) -> list[str]:
        return [m.name for m in self.manifest.models]

    @property
    def conditions(self) -> list[ConditionSpec]:
        return list(self.manifest.conditions)

    @functools.cached_property
    def specs(self) -> dict[str, ConditionSpec]:
        """Condition id -> its spec."""
        return {c.id: c for c in self.manifest.conditions}

    def spec(self, condition_id: str) -> ConditionSpec:
        """The spec of one of the run's conditions."""
        return self.specs[condition_id]

    @property
    def cases(self) -> list[CaseRecord]:
        return list(self.manifest.cases or ())

    @property
    def baseline_id(self) -> str:
        return BASELINE_ID

    @property
    def index(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """Model, condition and case id -> position in the table's axes."""
        if self._index is None:
            self._index = _indexes(self.table)
        return self._index

    @property
    def score_level(self) -> ScoreLevel:
        """The level the headline figures use (the table's ``rank``)."""
        return self.table.score_level

    @property
    def references(self) -> list[tuple[str, ...]]:
        """Each case's accepted reference diagnoses, in the table's case order."""
        if self._references is None:
            self._references = _references(self.manifest)
        return self._references

    @property
    def diagnoses(self) -> list[str]:
        """Each case's (first) reference diagnosis, in the table's case order."""
        return [refs[0] for refs in self.references]

    def key(self, model: str, condition: str, case_id: str) -> str:
        """The store key of one result of this run."""
        models, conditions, cases = self.index
        m = self.manifest.models[models[model]]
        c = self.manifest.conditions[conditions[condition]]
        fingerprint = self.cases[cases[case_id]].fingerprint
        return result_key(
            m.hash,
            m.prompt_version,
            case_id,
            cast(str, fingerprint),
            c.key,
            self.manifest.seed,
            c.deterministic,
        )

    def iter_rows(self, where: np.ndarray | None = None) -> Iterator[Row]:
        """Full rows in (model, condition, case) order, read from the store in chunks;
        ``where`` (a boolean array shaped like the table) keeps a subset."""
        if self._rows is not None:
            models, conditions, cases = self.index
            for r in self._rows:
                if (
                    where is None
                    or where[models[r.model], conditions[r.condition], cases[r.case_id]]
                ):
                    yield r
            return
        cells = (
            zip(*np.nonzero(where), strict=True)
            if where is not None
            else np.ndindex(self.table.status.shape)
        )
        store_path = self.path / STORE_NAME
        with Store(store_path, read_only=True) as store:
            chunk: list[tuple[int, int, int]] = []
            for cell in cells:
                chunk.append((int(cell[0]), int(cell[1]), int(cell[2])))
                if len(chunk) == 900:
                    yield from self._rows_for(store, chunk)
                    chunk = []
            yield from self._rows_for(store, chunk)

    def _rows_for(self, store: Store, cells: list[tuple[int, int, int]]) -> Iterator[Row]:
        t = self.table
        keys = [self.key(t.models[m], t.conditions[c], t.cases[n]) for m, c, n in cells]
        stored = {r.key: r for r in store.get(keys)}
        references = self.references
        for (m, c, n), key in zip(cells, keys, strict=True):
            result = stored.get(key)
            refs = references[n]
            if result is None:
                yield Row(
                    t.models[m], t.cases[n], t.conditions[c], refs[0],
                    ResultStatus.MISSING, (), (), None, "not run", None, refs, self.vocabulary,
                )  # fmt: skip
                continue
            a = result.answer
            yield Row(
                t.models[m], t.cases[n], t.conditions[c], refs[0], ResultStatus(result.status),
                a.differential, a.confidences, a.triage, a.error, result, refs,
                self.vocabulary,
            )  # fmt: skip

    @property
    def rows(self) -> list[Row]:
        """Every row, in memory (for small runs; prefer ``table`` or ``iter_rows``)."""
        if self._rows is None:
            self._rows = list(self.iter_rows())
        return self._rows

    def row(self, model: str, condition: str, case_id: str) -> Row:
        """One full row."""
        models, conditions, cases = self.index
        where = np.zeros(self.table.status.shape, bool)
        where[models[model], conditions[condition], cases[case_id]] = True
        return next(self.iter_rows(where))


def _empty_table(manifest: RunManifest) -> ResultTable:
    return ResultTable.empty(
        [m.name for m in manifest.models],
        [c.id for c in manifest.conditions],
        [c.id for c in manifest.cases or ()],
    )


def _indexes(table: ResultTable) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    return (
        {m: i for i, m in enumerate(table.models)},
        {c: i for i, c in enumerate(table.conditions)},
        {c: i for i, c in enumerate(table.cases)},
    )


def _references(manifest: RunManifest) -> list[tuple[str, ...]]:
    return [c.references for c in manifest.cases or ()]


def run_vocabulary(manifest: RunManifest) -> Vocabulary:
    """The vocabulary a run was scored with: its ``vocabulary:`` file when the manifest
    names one that still loads, else the active vocabulary (whose codes the run's own then
    only match themselves)."""
    recorded = manifest.vocabulary or {}
    file = recorded.get("file") if isinstance(recorded, Mapping) else None
    if file and Path(file).is_file():
        try:
            return load_vocabulary(Path(file))
        except DermStressError:
            pass  # edited into an invalid file since the run: score with the active one
    return vocabulary()


def score_level_of(manifest: RunManifest) -> ScoreLevel:
    """The headline score level a run's manifest records (``exact`` for older runs)."""
    return check_score_level(manifest.score_level)


# SQLite pulls out just the fields the table needs, so Python never parses raw answers,
# prompts or perturbation records (only each distinct differential's short JSON list); the
# planted diagnosis (the first planting operator's ``params.diagnosis``) is read by SQLite
# too, only where such an operator was applied.
_SCAN = """
SELECT key, status, json_extract(answer, '$.differential'),
    json_extract(answer, '$.confidences[0]'), json_extract(answer, '$.triage'),
    json_extract(answer, '$.latency_s'), json_extract(answer, '$.prompt_tokens'),
    json_extract(answer, '$.completion_tokens'), json_extract(answer, '$.cost_usd'),
    {applied}
FROM results
"""


def _sql_text(value: str) -> str:
    return "'{}'".format(value.replace("'", "''"))


def _scan_query(planting: Sequence[str]) -> str:
    """``_SCAN`` returning the diagnosis planted by the first of ``planting`` (operator
    names) applied to a result, else NULL."""
    if not planting:
        return _SCAN.format(applied="NULL")
    tests = " OR ".join(f"instr(applied, {_sql_text(json.dumps(name))})" for name in planting)
    names = ", ".join(_sql_text(name) for name in planting)
    first = (
        "(SELECT json_extract(value, '$.params.diagnosis') FROM json_each(applied) "
        f"WHERE json_extract(value, '$.op') IN ({names}) ORDER BY key LIMIT 1)"
    )
    return _SCAN.format(applied=f"CASE WHEN {tests} THEN {first} END")


SCAN_PROCESSES = 2  # parts of the store scanned at once, each in its own process
# what a forked scan needs (set while the parts are read; inherited, not pickled)
_SCAN_STATE: tuple[_Filler, Mapping[str, int], Path, str] | None = None


def _scan_range(
    path: Path, query: str, bounds: tuple[int, int], part: _Columns, wanted: Mapping[str, int]
) -> None:
    with Store(path, read_only=True) as store:
        part.read(store.scan(f"{query} WHERE rowid BETWEEN {bounds[0]} AND {bounds[1]}"), wanted)


def _scanned_part(bounds: tuple[int, int]) -> dict[str, Any]:
    """(In a forked process) one rowid range of the store, as ``_Columns.export``."""
    assert _SCAN_STATE is not None
    filler, wanted, path, query = _SCAN_STATE
    part = filler.part()
    _scan_range(path, query, bounds, part, wanted)
    return part.export()


def _can_fork() -> bool:
    """Whether a child process can be forked safely: the platform forks, this process is
    not a daemonic child, and no other thread runs (a lock one holds would stay held)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and threading.active_count() == 1
    )


def _read_store(path: Path, query: str, filler: _Filler, wanted: Mapping[str, int]) -> None:
    """Every result of the store into ``filler``, in the store's order. SQLite extracting
    the answer fields is most of the time, and threads do not share it out (the sqlite3
    module takes Python's lock back for every row): the store is read as
    ``SCAN_PROCESSES`` consecutive rowid ranges, the first here and each other one in a
    forked process, which sends back its columns; the parts are concatenated in range
    order, so the table is the same as from one scan. Where a process cannot be forked
    (see ``_can_fork``) or dies, the ranges are read here, one after the other."""
    global _SCAN_STATE
    with Store(path, read_only=True) as store:
        low, high = next(store.scan("SELECT min(rowid), max(rowid) FROM results"))
    if low is None:
        return
    step = (high - low) // SCAN_PROCESSES + 1
    ranges = [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]
    first: _Columns | None = filler.parts[-1]
    exports: list[dict[str, Any] | None] = [None] * (len(ranges) - 1)
    if len(ranges) > 1 and _can_fork():
        _SCAN_STATE = (filler, wanted, path, query)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(len(ranges) - 1, mp_context=context) as pool:
                futures = [pool.submit(_scanned_part, bounds) for bounds in ranges[1:]]
                _scan_range(path, query, ranges[0], filler.parts[0], wanted)
                first = None
                for i, future in enumerate(futures):
                    # a child killed (memory): its range is read here below
                    with contextlib.suppress(BrokenProcessPool):
                        exports[i] = future.result()
        finally:
            _SCAN_STATE = None
    if first is not None:
        _scan_range(path, query, ranges[0], first, wanted)
    for bounds, data in zip(ranges[1:], exports, strict=True):
        part = filler.part()
        if data is None:
            _scan_range(path, query, bounds, part, wanted)
        else:
            part.adopt(data)


def read_manifest(path: Path) -> RunManifest:
    """A run's ``manifest.json`` (any format version), or a one-line error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidArgument(
            f"{path} is not valid JSON ({exc}); the run that wrote it ended "
            "abnormally: run the config again into this directory to rebuild it"
        ) from None
    try:
        return RunManifest.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"{path}: not a run manifest ({type(exc).__name__}: {exc})") from None


def load_run(run_dir: str | Path, score_level: ScoreLevel | None = None) -> RunData:
    """Load a run directory written by ``derm-stress run``, read-only: nothing is written
    in it (archived, read-only runs load too). A run whose manifest still says
    ``running`` while no process holds its lock gets the status ``ended abnormally``.
    ``score_level`` overrides the headline level the run's config chose. Manifests of every
    format version load (``derm_stress.schema``)."""
    path = Path(run_dir)
    manifest_path, store_path = path / MANIFEST_NAME, path / STORE_NAME
    if not manifest_path.is_file() or not store_path.is_file():
        raise InvalidArgument(
            f"{path} is not a run directory (no {MANIFEST_NAME} and "
            f"{STORE_NAME}); create one with 'derm-stress run CONFIG'"
        )
    manifest = read_manifest(manifest_path)
    if manifest.status == RunStatus.RUNNING and lock_holder(path) is None:
        # no process holds the run: it was killed (or the machine stopped) mid-run
        manifest = dataclasses.replace(manifest, status=ENDED_ABNORMALLY)
    if manifest.cases is None:  # written to the store as the run reached them
        with Store(store_path, read_only=True) as store:
            records = tuple(CaseRecord.from_dict(r) for r in store.case_records())
        manifest = dataclasses.replace(manifest, cases=records)
    table = _empty_table(manifest)
    seed = manifest.seed
    conditions = [(c.key, c.deterministic) for c in manifest.conditions]
    n_conditions, n_cases = len(conditions), len(table.cases)
    wanted: dict[str, int] = {}  # store key -> flat index into the table
    for m, model in enumerate(manifest.models):
        for n, case in enumerate(manifest.cases or ()):
            keys = case_keys(
                model.hash,
                model.prompt_version,
                case.id,
                cast(str, case.fingerprint),  # null in keys when a record has none
                conditions,
                seed,
            )
            for c, key in enumerate(keys):
                wanted[key] = (m * n_conditions + c) * n_cases + n
    level = score_level_of(manifest) if score_level is None else check_score_level(score_level)
    manifest = dataclasses.replace(manifest, score_level=level)
    vocab = run_vocabulary(manifest)
    filler = _Filler(table, _references(manifest), level, vocab)
    planting = planting_ops(manifest.conditions)
    _read_store(store_path, _scan_query(sorted(planting)), filler, wanted)
    return RunData(path, manifest, filler.finish(), vocabulary=vocab)
