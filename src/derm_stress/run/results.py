"""Reading a finished (or interrupted) run back: its manifest joined with the store.

``load_run`` builds a dense, columnar ``ResultTable`` (models x conditions x cases numpy
arrays of what the metrics need), reading the store in one scan with the answer fields
extracted by SQLite; a million results fit in a few hundred MB. The full rows (raw
answers, perturbation records) stay in the store and are read on demand, streaming.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Container, Iterator, Mapping, Sequence
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


class _Filler:
    """Collects results column by column and writes them into a ``ResultTable`` at once
    (shared by the store loader and ``RunData.from_rows``, so both read answers alike)."""

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
        self.levels: dict[tuple[str, ...], dict[str, str | None]] = {}
        self.ranks: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[int, int]] = {}
        self.columns: dict[str, list[Any]] = {
            name: [] for name in ("at", "status", "rank_exact", "rank_group", "top1", "triage",
                                  "confidence", "latency", "tokens", "cost")
        }  # fmt: skip
        self.adopted: tuple[list[int], list[int]] = ([], [])
        self.planted: tuple[list[int], list[int]] = ([], [])
        self.ranked: tuple[list[int], list[int]] = ([], [])  # cells, RANK_DEPTH codes each
        self.triage_level: dict[str | None, int] = {t: i for i, t in enumerate(TRIAGE_LEVELS)}
        self.status_code = {status.value: status.code for status in STATUSES}

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
        col = self.columns
        n_cases = len(self.table.cases)
        references = self.references[at % n_cases]
        # answers repeat (a model's differentials for one diagnosis are few): rank each
        # distinct (references, differential) once
        key = (references, tuple(differential))
        ranks = self.ranks.get(key)
        if ranks is None:
            cache = self.levels.get(references)
            if cache is None:
                cache = self.levels[references] = {}
            ranks = self.ranks[key] = match_ranks(differential, references, cache, self.vocab)
        exact, group = ranks
        if differential:
            self.table.named[at // (n_cases * len(self.table.conditions))].update(differential)
        codes = [self._code(c) for c in differential[:RANK_DEPTH]]
        top = codes[0] if codes else -1
        if codes:
            self.ranked[0].append(at)
            self.ranked[1].extend(codes)
            self.ranked[1].extend([-1] * (RANK_DEPTH - len(codes)))
        col["at"].append(at)
        col["status"].append(self.status_code[status])
        col["rank_exact"].append(exact)
        col["rank_group"].append(group)
        col["top1"].append(top)
        level = _triage(stated_triage, differential, self.vocab)
        col["triage"].append(self.triage_level.get(level, -1))
        col["confidence"].append(
            confidences[0] if confidences and confidences[0] is not None else np.nan
        )
        col["latency"].append(np.nan if latency is None else latency)
        col["tokens"].append(-1 if tokens is None else tokens)
        col["cost"].append(np.nan if cost is None else cost)
        if referral is not None and status in SCORED:
            self.adopted[0].append(at)
            self.adopted[1].append(int(bool(differential) and differential[0] == referral))
            self.planted[0].append(at)
            self.planted[1].append(self._code(referral))

    def _code(self, code: str) -> int:
        """``code``'s index into the table's ``answers`` (added on first sight)."""
        index = self.answer_index.get(code)
        if index is None:
            index = self.answer_index[code] = len(self.table.answers)
            self.table.answers.append(code)
        return index

    def finish(self) -> ResultTable:
        t = self.table
        t.rank_group = np.zeros_like(t.rank)
        at = np.asarray(self.columns.pop("at"), dtype=np.intp)
        for name, values in self.columns.items():
            target = t.rank if name == "rank_exact" else getattr(t, name)
            target.flat[at] = np.asarray(values, dtype=target.dtype)
        t.rank_exact = t.rank
        t.adopted.flat[np.asarray(self.adopted[0], dtype=np.intp)] = self.adopted[1]
        t.planted.flat[np.asarray(self.planted[0], dtype=np.intp)] = self.planted[1]
        if self.ranked[0]:
            flat = t.ranked.reshape(-1, RANK_DEPTH)
            flat[np.asarray(self.ranked[0], dtype=np.intp)] = np.asarray(
                self.ranked[1], dtype=np.int16
            ).reshape(-1, RANK_DEPTH)
        t.statuses_changed()
        return t.with_score_level(self.score_level)


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


# SQLite pulls out just the fields the table needs, so Python never parses raw answers or
# prompts (only the differential's short JSON list); perturbation records only where an
# operator that plants a diagnosis was applied.
_SCAN = """
SELECT key, status, json_extract(answer, '$.differential'),
    json_extract(answer, '$.confidences[0]'), json_extract(answer, '$.triage'),
    json_extract(answer, '$.latency_s'), json_extract(answer, '$.prompt_tokens'),
    json_extract(answer, '$.completion_tokens'), json_extract(answer, '$.cost_usd'),
    {applied}
FROM results
"""


def _scan_query(planting: Sequence[str]) -> str:
    """``_SCAN`` returning the perturbation records of results where one of ``planting``
    (operator names) was applied, else NULL."""
    if not planting:
        return _SCAN.format(applied="NULL")
    tests = " OR ".join(
        "instr(applied, '{}')".format(json.dumps(name).replace("'", "''")) for name in planting
    )
    return _SCAN.format(applied=f"CASE WHEN {tests} THEN applied END")


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
    # differentials repeat (a few hundred distinct lists in a million answers): each text is
    # parsed once (the cache is emptied when it grows large, so memory stays bounded)
    parsed: dict[str, list[str]] = {}
    with Store(store_path, read_only=True) as store:
        for row in store.scan(_scan_query(sorted(planting))):
            key, status, differential, confidence, triage, latency, prompt, completion, cost = row[
                :9
            ]
            at = wanted.get(key)
            if at is None:  # a result of another configuration sharing the store
                continue
            answer: Sequence[str] = ()
            if differential:
                answer = parsed.get(differential) or []
                if not answer:
                    if len(parsed) >= 100_000:
                        parsed.clear()
                    answer = parsed[differential] = json.loads(differential)
            filler.add(
                at,
                status,
                answer,
                (confidence,),
                triage,
                latency,
                _tokens(prompt, completion),
                cost,
                _referral(json.loads(row[9]), planting) if row[9] else None,
            )
    return RunData(path, manifest, filler.finish(), vocabulary=vocab)
