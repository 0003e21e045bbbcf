"""The harness: models x cases x conditions, streamed, each perturbed input computed once
and shared by all models.

Cases are taken one at a time (never the whole grid in memory); the store says which of a
case's results exist; the missing ones are perturbed on the executor and answered in batches
(local models) or as a continuous stream of requests (API models, ``AsyncModel``: a new one
starts as soon as one returns), and what returns is written to the store (one SQLite
transaction for everything that returned meanwhile) at once. So an
interrupted run loses at most the calls in flight, and running it again repeats none of the
others. A case whose input cannot be read or perturbed is stored as an ``input_error`` for
that case, and the run goes on.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import platform
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from derm_stress import __version__
from derm_stress.cases import Case
from derm_stress.datasets import Dataset
from derm_stress.datasets.base import CaseIssue, DatasetDigest, deferred_scan
from derm_stress.errors import NothingToRun
from derm_stress.images import MIN_IMAGE_SIDE
from derm_stress.labels import Vocabulary, load_vocabulary, use_vocabulary, vocabulary
from derm_stress.models import Model
from derm_stress.models.base import Answer
from derm_stress.perturb.condition import Condition, Probe
from derm_stress.run.config import DEFAULT_MAX_RAW_CHARS, RunConfig, load_dataset
from derm_stress.run.executors import CaseProbes, Executor, LocalExecutor
from derm_stress.run.lock import RunLock
from derm_stress.run.progress import RunProgress
from derm_stress.run.store import Store, StoreRow, case_digest, case_keys, is_final
from derm_stress.schema import (
    CASE_META_FIELDS,
    FORMAT_VERSION,
    DatasetEntry,
    ModelEntry,
    ResultStatus,
    RunManifest,
    RunStatus,
)

STORE_NAME = "results.sqlite"
MANIFEST_NAME = "manifest.json"
INTERRUPT_GRACE_S = 2.0  # after Ctrl-C, how long answers in flight are still waited for
LOOKUP_KEYS = 2048  # keys looked up in the store at once, as cases of a resume are read


@dataclass
class RunSummary:
    """What a run did: calls made, results reused, errors, and where things are."""

    out_dir: Path
    cases: int
    conditions: int
    models: int
    calls: int = 0
    reused: int = 0
    input_errors: int = 0
    model_errors: int = 0
    dataset_issues: int = 0
    seconds: float = 0.0
    per_model_calls: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    stopped: str | None = None  # why the run stopped early (budget, interrupted)
    input_warnings: int = 0  # warnings about cases' inputs (multi-frame photos...)
    previous_run: dict[str, Any] | None = None  # set when the previous run ended abnormally

    @property
    def expected(self) -> int:
        return self.cases * self.conditions * self.models


@cache  # once per process: a resume in the same process does not fork git again
def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@cache  # once per process (importlib.metadata scans sys.path)
def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "derm-stress": __version__}
    for package in ("numpy", "opencv-python-headless", "pillow", "pyyaml"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


# per top-level key of the manifest: its value's compact JSON and its text in the file.
# ``indent`` makes ``json`` take its pure-Python encoder, and a run writes the manifest
# twice with the same config, conditions and models (a resume, three times the same):
# the C encoder's compact text tells whether a value is what it was, to the byte.
_INDENTED: dict[str, tuple[str, str]] = {}


def manifest_text(data: Mapping[str, Any]) -> str:
    """``json.dumps(data, indent=1, default=str)``, the same text, with the indented text
    of each top-level value reused while its compact JSON is unchanged."""
    if not data or not all(isinstance(key, str) for key in data):
        return json.dumps(data, indent=1, default=str)
    items = []
    for key, value in data.items():
        compact = json.dumps(value, default=str)
        known = _INDENTED.get(key)
        if known is None or known[0] != compact:
            # a nested value's lines sit one level deeper in the object: one more space
            # (a newline in JSON text is always this indentation: strings escape theirs)
            indented = json.dumps(value, indent=1, default=str).replace("\n", "\n ")
            known = _INDENTED[key] = (compact, indented)
        items.append(f" {json.dumps(key)}: {known[1]}")
    return "{\n" + ",\n".join(items) + "\n}"


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(manifest_text(data), encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Budget:
    """Limits that stop a run cleanly, everything answered so far stored: ``max_calls``
    model calls, ``max_cost`` estimated USD (checked as answers arrive, so the calls in
    flight when it is reached still complete and count)."""

    max_calls: int | None = None
    max_cost: float | None = None


@dataclass
class _Pending:
    case: Case
    fingerprint: str | None  # None: computed by the perturbation worker (fresh store)
    todo: dict[tuple[int, str], str]  # (model index, condition id) -> key
    conditions: list[Condition]
    future: Future[Any]


class _CaseLog:
    """Records each case as the run reaches it (its record goes to the store's ``cases``
    table, its fingerprint into the dataset digest), so nothing per case is held."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.digest = DatasetDigest(name)
        self.count = 0

    def add(self, case: Case, fingerprint: str | None = None) -> str:
        """Record ``case`` (``fingerprint``: its ``Store.fingerprint`` when known)."""
        if fingerprint is None:
            fingerprint = self.store.fingerprint(case)
        self.store.add_case(self.count, case_record_dict(case, fingerprint))
        self.digest.add(case, fingerprint)
        self.count += 1
        return fingerprint


def _input_error(error: str) -> Answer:
    return Answer(raw="", status=ResultStatus.ERROR, error=error, extra={"input_error": True})


class _Pipeline:
    """Streams cases through perturbation and the models, writing results as they arrive.

    Memory does not grow with the dataset: at most ``executor.window`` cases are perturbed
    ahead, a case is only taken while every model's queue holds less than two batches (or twice
    its submissions in flight, for a stream), and
    each case's record goes to the store as it is reached.
    Perturbation results are taken in case order, so batches hold the same probes whatever
    finishes first.
    """

    def __init__(
        self,
        executor: Executor,
        models: Sequence[Model],
        conditions: Sequence[Condition],
        store: Store,
        seed: int,
        summary: RunSummary,
        progress: RunProgress,
        budget: Budget,
        log: _CaseLog,
    ) -> None:
        self.log = log
        self.executor = executor
        self.models = models
        self.conditions = conditions
        self.store = store
        self.seed = seed
        self.summary = summary
        self.progress = progress
        self.budget = budget
        self.queues: list[list[tuple[str, Probe]]] = [[] for _ in models]
        self.inflight: dict[Future[Any], tuple[int, list[tuple[str, Probe]]]] = {}
        self.busy = [0] * len(models)
        # futures report themselves when done (no scan of hundreds in flight per answer)
        self.finished: deque[Future[Any]] = deque()
        self.wake = threading.Event()
        # (probes per submission, submissions in flight, probes queued ahead) per model:
        # batches for local models, a continuous stream for API models (AsyncModel)
        self.feed: list[tuple[int, int, int]] = []
        for m, model in enumerate(models):
            stream = executor.stream(m)
            size, limit = stream or (model.batch_size, executor.batches_in_flight(m))
            self.feed.append((size, limit, 2 * max(size, limit)))
        self.pending: deque[_Pending] = deque()
        # cases read, recorded and looked up in the store, not yet planned: (case,
        # fingerprint, keys (left empty for a case marked complete), case digest, keys
        # found stored)
        self.lookahead: deque[tuple[Case, str, dict[tuple[int, str], str], str, set[str]]] = deque()
        # case id -> [case digest, results still to store, none of them an error]
        self.open_cases: dict[str, list[Any]] = {}
        self.per_case = len(models) * len(conditions)
        self.submitted = 0
        self.cost = 0.0
        self.stop_reason: str | None = None
        self.hashes = [(m.identity_hash(), m.prompt_version) for m in models]
        self.condition_keys = [(c.key_id, c.is_deterministic) for c in conditions]
        self.condition_ids = [c.id for c in conditions]
        self.max_raw_chars: int | None = DEFAULT_MAX_RAW_CHARS
        self.min_image_side = MIN_IMAGE_SIDE
        # a store without results at the start needs no lookups: a key of this run can only
        # be found stored if it was before the run (case ids are distinct within a run)
        self.fresh = not store.has_results()

    # -- the loop ------------------------------------------------------------------------

    def run(self, remaining: Iterator[Case]) -> None:
        """Run the cases ``remaining`` yields; a budget stop leaves the rest in it."""
        exhausted = False
        try:
            while True:
                while (
                    self.stop_reason is None
                    and not exhausted
                    and len(self.pending) < self.executor.window
                    and all(
                        len(q) < ahead
                        for q, (_, _, ahead) in zip(self.queues, self.feed, strict=True)
                    )
                ):
                    exhausted = not self._plan_next(remaining)
                while self.pending and self.pending[0].future.done():
                    self._take(self.pending.popleft())
                last = self.stop_reason is None and exhausted and not self.pending
                self._submit(flush=last)
                if not self.inflight and (
                    self.stop_reason is not None
                    or (exhausted and not self.pending and not any(self.queues))
                ):
                    break
                if self.inflight or self.pending:
                    self.wake.wait()
                    self.wake.clear()
                self._collect()
        except BaseException:  # Ctrl-C (or a bug): keep what is answered, then stop
            self.stop_reason = self.stop_reason or "interrupted"
            self._drain(INTERRUPT_GRACE_S)
            raise
        self._drain(None)

    def _drain(self, grace: float | None) -> None:
        """Store what the calls in flight return: all of it (each call is bounded by its
        model's timeout), or after an interruption what returns within ``grace`` seconds
        (the rest is abandoned and asked again on the next run)."""
        for entry in self.pending:
            entry.future.cancel()
            if entry.fingerprint is None:  # not recorded yet: recorded now, in order
                done = entry.future.done() and not entry.future.cancelled()
                built = entry.future.result() if done and not entry.future.exception() else None
                self._record(entry, built)
        self.pending.clear()
        if self.inflight:
            wait(list(self.inflight), timeout=grace)
            self._collect()

    # -- steps ---------------------------------------------------------------------------

    def _plan_next(self, remaining: Iterator[Case]) -> bool:
        """Plan the next case (``False``: there is none). The store is asked which results
        exist for several cases at once (one query instead of one per case; none at all in
        a fresh store), so a resume costs little more than reading the cases."""
        if self.fresh:  # nothing to look up: every result of the case is to be made
            case = next(remaining, None)
            if case is None:
                return False
            # the worker that reads the photos for the probes hashes them too (the main
            # thread reads no photo); the case is recorded when its probes are taken
            future = self.executor.perturb(
                case, self.conditions, self.seed, self.min_image_side, fingerprint=True
            )
            future.add_done_callback(lambda _: self.wake.set())
            self.pending.append(_Pending(case, None, {}, list(self.conditions), future))
            return True
        if not self.lookahead:
            many = max(1, LOOKUP_KEYS // max(1, self.per_case))
            batch = list(itertools.islice(remaining, many))
            for case, known in zip(batch, self.store.fingerprints(batch), strict=True):
                fingerprint = self.log.add(case, known)
                digest = self._digest(case, fingerprint)
                self.lookahead.append((case, fingerprint, {}, digest, set()))
            if not self.lookahead:
                return False
            self._look_up()
        case, fingerprint, todo, digest, done = self.lookahead.popleft()
        if todo:
            self._plan(case, fingerprint, todo, digest, done)
        else:  # marked complete: every result stored (its keys were never needed)
            self.summary.reused += self.per_case
            self.progress.advance(self.per_case)
        return True

    def _digest(self, case: Case, fingerprint: str) -> str:
        return case_digest(self.hashes, case.case_id, fingerprint, self.condition_keys, self.seed)

    def _keys(self, case: Case, fingerprint: str) -> dict[tuple[int, str], str]:
        """The store key of each (model index, condition id) of ``case``."""
        todo: dict[tuple[int, str], str] = {}
        for m, (model_hash, prompt_version) in enumerate(self.hashes):
            keys = case_keys(
                model_hash, prompt_version, case.case_id, fingerprint, self.condition_keys,
                self.seed,
            )  # fmt: skip
            for condition_id, key in zip(self.condition_ids, keys, strict=True):
                todo[(m, condition_id)] = key
        return todo

    def _record(self, entry: _Pending, built: CaseProbes | None) -> None:
        """Record a case planned without its fingerprint (a fresh store), in case order:
        the worker's fingerprint (else hashed here), its keys, and its open count."""
        if built is not None and built.fingerprint is not None:
            fingerprint = built.fingerprint
            if built.signature is not None:
                self.store.remember_fingerprint(built.signature, fingerprint)
            self.log.add(entry.case, fingerprint)
        else:  # the worker failed (or the task was cancelled): read here
            fingerprint = self.log.add(entry.case)
        entry.fingerprint = fingerprint
        entry.todo = self._keys(entry.case, fingerprint)
        self.open_cases[entry.case.case_id] = [
            self._digest(entry.case, fingerprint),
            len(entry.todo),
            True,
        ]

    def _look_up(self) -> None:
        """Fill in which results of the cases ahead are stored: every one for the cases
        marked complete, else asked key by key."""
        complete = self.store.complete_cases([entry[3] for entry in self.lookahead])
        rest = [entry for entry in self.lookahead if entry[3] not in complete]
        for case, fingerprint, todo, _, _ in rest:
            todo.update(self._keys(case, fingerprint))
        done = self.store.completed(k for entry in rest for k in entry[2].values())
        for _, _, todo, digest, found in rest:
            found.update(k for k in todo.values() if k in done)
            if len(found) == len(todo):  # a store from before the marks: mark it now
                self.store.mark_complete(digest)

    def _plan(
        self,
        case: Case,
        fingerprint: str,
        todo: dict[tuple[int, str], str],
        digest: str,
        done: set[str],
    ) -> None:
        reused = len(done)
        if reused:
            todo = {k: v for k, v in todo.items() if v not in done}
            self.summary.reused += reused
            self.progress.advance(reused)
        if not todo:
            return
        # the case is marked complete once all of these are stored with a final status
        self.open_cases[case.case_id] = [digest, len(todo), True]
        needed = {c for _, c in todo}
        conditions = [
            c
            for c, condition_id in zip(self.conditions, self.condition_ids, strict=True)
            if condition_id in needed
        ]
        future = self.executor.perturb(case, conditions, self.seed, self.min_image_side)
        future.add_done_callback(lambda _: self.wake.set())
        self.pending.append(_Pending(case, fingerprint, todo, conditions, future))

    def _take(self, entry: _Pending) -> None:
        try:
            built: CaseProbes = entry.future.result()
        except Exception as exc:  # a worker died or could not run the task
            built = CaseProbes(
                entry.case.case_id, (), f"perturbation failed: {type(exc).__name__}: {exc}"
            )
        if entry.fingerprint is None:
            self._record(entry, built)
        assert entry.fingerprint is not None
        if built.warnings:
            self.store.add_warnings(entry.case.case_id, entry.fingerprint, built.warnings)
        if built.error is not None:
            self._fail(entry, set(entry.todo), built.error)
            return
        wanted: dict[str, list[tuple[int, str]]] = {}
        for (m, condition_id), key in entry.todo.items():
            wanted.setdefault(condition_id, []).append((m, key))
        for condition, probe in zip(entry.conditions, built.probes, strict=True):
            if isinstance(probe, str):
                self._fail(entry, {(m, condition.id) for m, _ in wanted[condition.id]}, probe)
                continue
            for m, key in wanted[condition.id]:
                self.queues[m].append((key, probe))

    def _fail(self, entry: _Pending, which: set[tuple[int, str]], error: str) -> None:
        rows: list[StoreRow] = [
            (key, self.models[m].name, entry.case.case_id, c, _input_error(error), ())
            for (m, c), key in entry.todo.items()
            if (m, c) in which
        ]
        self.store.put(rows)
        self._settle(rows)
        self.summary.input_errors += len(rows)
        self.progress.advance(len(rows))

    def _settle(self, rows: Sequence[StoreRow]) -> None:
        """Count stored rows against their cases; mark each case whose results are now
        all stored, none an error, complete (written after these rows)."""
        final: dict[int, bool] = {}  # per answer object (a model may return one for many)
        for row in rows:
            entry = self.open_cases.get(row[2])
            if entry is None:
                continue
            entry[1] -= 1
            if entry[2]:
                ok = final.get(id(row[4]))
                if ok is None:
                    ok = final[id(row[4])] = is_final(row[4])
                entry[2] = ok
            if entry[1] == 0:
                del self.open_cases[row[2]]
                if entry[2]:
                    self.store.mark_complete(entry[0])

    def _submit(self, flush: bool) -> None:
        for m, (size, limit, _) in enumerate(self.feed):
            queue = self.queues[m]
            while queue and (len(queue) >= size or flush):
                if self.stop_reason is not None or self.busy[m] >= limit:
                    break
                batch = queue[:size]
                if self.budget.max_calls is not None:
                    allowed = self.budget.max_calls - self.submitted
                    if allowed <= 0:
                        self.stop_reason = f"max_calls reached ({self.budget.max_calls})"
                        break
                    batch = batch[:allowed]
                del queue[: len(batch)]
                future = self.executor.answer(m, [p for _, p in batch])
                self.inflight[future] = (m, batch)
                future.add_done_callback(self._finished)
                self.submitted += len(batch)
                self.busy[m] += 1

    def _finished(self, future: Future[Any]) -> None:
        self.finished.append(future)
        self.wake.set()

    def _collect(self) -> None:
        done = [self.finished.popleft() for _ in range(len(self.finished))]
        rows: list[StoreRow] = []
        settled = []
        for future in done:
            m, batch = self.inflight.pop(future)
            self.busy[m] -= 1
            model = self.models[m]
            try:
                answers: list[Answer] = future.result()
                if len(answers) != len(batch):
                    raise RuntimeError(f"{len(answers)} answers for {len(batch)} probes")
            except Exception as exc:  # the worker or actor died
                answers = [Answer.failed(f"{type(exc).__name__}: {exc}")] * len(batch)
            limit = self.max_raw_chars
            rows += [
                (key, model.name, p.case_id, p.condition_id, a.truncated(limit), p.applied)
                for (key, p), a in zip(batch, answers, strict=True)
            ]
            settled.append((model, batch, answers))
        if rows:  # everything that returned meanwhile, in one transaction
            self.store.put(rows)
            self._settle(rows)
        for model, batch, answers in settled:
            errors = sum(a.status == ResultStatus.ERROR.value for a in answers)
            cost = sum(a.cost_usd or 0.0 for a in answers)
            self.summary.calls += len(batch)
            self.summary.per_model_calls[model.name] = self.summary.per_model_calls.get(
                model.name, 0
            ) + len(batch)
            self.summary.model_errors += errors
            self.cost += cost
            self.progress.advance(len(batch), model.name, errors, cost)
            if self.budget.max_cost is not None and self.cost >= self.budget.max_cost:
                self.stop_reason = self.stop_reason or (
                    f"max_cost reached (${self.cost:,.4f} of ${self.budget.max_cost:,.4f})"
                )


def execute(
    dataset: Dataset,
    conditions: Sequence[Condition],
    executor: Executor,
    models: Sequence[Model],
    store: Store,
    seed: int,
    summary: RunSummary,
    progress: RunProgress | None = None,
    budget: Budget | None = None,
    max_raw_chars: int | None = DEFAULT_MAX_RAW_CHARS,
    min_image_side: int = MIN_IMAGE_SIDE,
) -> str:
    """Run everything not yet in the store, streaming the dataset; record every case (also
    those a budget stop left unreached) in the store. Returns the dataset fingerprint.
    Raw answers and error texts are stored cut to ``max_raw_chars`` (the cut recorded);
    photos with a side under ``min_image_side`` pixels are input errors."""
    progress = progress or RunProgress()
    for model in models:
        model.use_journal(store.batch_journal())
        progress.activity(model.name, model.activity())  # retries shown from the first
    log = _CaseLog(store, dataset.name)
    store.clear_cases()
    pipeline = _Pipeline(
        executor, models, conditions, store, seed, summary, progress, budget or Budget(), log
    )
    pipeline.max_raw_chars = max_raw_chars
    pipeline.min_image_side = min_image_side
    cases = dataset.stream()
    try:
        pipeline.run(cases)
        for case in cases:  # not reached (a budget stopped the run): still recorded
            log.add(case)
        store.end_cases(log.count)
        store.commit()
    finally:
        summary.stopped = pipeline.stop_reason
        summary.cost_usd = pipeline.cost
    return log.digest.hexdigest()


def case_record_dict(case: Case, fingerprint: str | None) -> dict[str, Any]:
    """What the run keeps of a case, enough for metrics and subgroups: the dict of the
    ``CaseRecord`` (``CaseRecord.to_dict``), built directly (a run makes one per case, and a
    frozen record in between was most of its cost). ``meta`` keeps the subgroup attributes
    a loader may set (several datasets in one run; skin tone)."""
    note = case.note
    out: dict[str, Any] = {
        "id": case.case_id,
        "diagnosis": case.diagnosis,
        "diagnoses": list(case.diagnoses),
        "triage": case.triage,
        "triage_source": case.triage_source,
        "fingerprint": fingerprint,
        "fitzpatrick": note.fitzpatrick,
        "body_site": note.body_site,
    }
    meta = case.meta
    for key in CASE_META_FIELDS:
        if meta.get(key):
            out[key] = meta[key]
    out["images"] = [str(i) for i in case.images if not isinstance(i, np.ndarray)]
    out["note"] = note.to_dict()
    return out


def previous_run_state(out: Path) -> dict[str, Any] | None:
    """Check what the last run in ``out`` left (call it holding the run's lock): a
    manifest still ``running`` means that run ended abnormally (killed, power cut, full
    disk). Removes a leftover ``manifest.json.tmp`` and returns what is known of the
    previous run in that case, else ``None``."""
    tmp = out / (MANIFEST_NAME + ".tmp")
    leftover = tmp.exists()
    if leftover:
        tmp.unlink()
    try:
        previous = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        previous = None
    except (OSError, ValueError):  # an unreadable manifest: a write that never finished
        return {"status": "unreadable manifest", "tidied": leftover}
    if isinstance(previous, dict) and previous.get("status") == RunStatus.RUNNING:
        return {
            "started": previous.get("started"),
            "status": RunStatus.RUNNING.value,
            "tidied": leftover,
        }
    return {"status": "left a temporary file", "tidied": True} if leftover else None


def _previous_scan(
    out: Path, config: RunConfig, dataset: Dataset
) -> tuple[int, list[CaseIssue]] | None:
    """The case count and rejected rows that the last run into ``out`` recorded for this
    dataset (same dataset settings and folder), so that a resume reads its manifest once
    instead of checking it first: the run's own pass confirms or corrects them, and the
    final manifest holds what that pass found. ``None`` when there is no such record."""
    try:
        # only the parts needed (``RunManifest.from_dict`` builds every condition and model)
        previous = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        if previous.get("format_version", 1) not in (1, FORMAT_VERSION):
            return None
        recorded = DatasetEntry.from_dict(previous["dataset"] or {})
        issues = [CaseIssue(str(i["source"]), str(i["reason"])) for i in recorded.issues]
        same = (
            (previous.get("config") or {}).get("dataset") == config.raw.get("dataset")
            and recorded.root == (str(dataset.root) if dataset.root else None)
            and recorded.name == dataset.name
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # none, or unreadable: the dataset is checked as usual
    return (recorded.cases, issues) if same and recorded.cases > 0 else None


def run(
    config: RunConfig,
    out_dir: str | Path,
    progress: RunProgress | None = None,
    executor: Executor | None = None,
    budget: Budget | None = None,
) -> RunSummary:
    """Run a configuration into ``out_dir`` (store, manifest); resume what is already there.

    ``executor`` defaults to a ``LocalExecutor``; ``budget`` stops the run early, cleanly.
    The run directory is locked for the run (``RunLocked`` if another process runs there);
    a previous run that ended abnormally is reported in ``summary.previous_run`` and in the
    manifest. Interrupting (Ctrl-C) stores every answer already received (calls still in
    flight after a short grace are abandoned), marks the manifest ``interrupted`` and
    re-raises; running the same config again resumes. 0 cases loaded raises
    ``NothingToRun`` before anything is written. A config's ``vocabulary`` file is active for
    the whole run (its fingerprint goes into the manifest)."""
    vocab = load_vocabulary(config.vocabulary) if config.vocabulary else vocabulary()
    with use_vocabulary(vocab, process_wide=config.vocabulary):
        return _run(config, out_dir, progress, executor, budget, vocab)


def _run(
    config: RunConfig,
    out_dir: str | Path,
    progress: RunProgress | None,
    executor: Executor | None,
    budget: Budget | None,
    vocab: Vocabulary,
) -> RunSummary:
    start = time.perf_counter()
    out = Path(out_dir)
    executor = executor or LocalExecutor()
    interrupted = False
    try:
        with deferred_scan():  # a resume takes the count and issues its last pass found
            dataset = load_dataset(config.dataset, config.base_dir)
        hint = _previous_scan(out, config, dataset)
        if hint is not None:
            dataset.assume_scan(*hint)
        if len(dataset) == 0:
            reasons = "; ".join(f"{i.source}: {i.reason}" for i in dataset.issues[:3])
            raise NothingToRun(
                f"0 cases loaded from dataset {dataset.name!r}"
                + (f" ({len(dataset.issues)} rows rejected: {reasons})" if reasons else "")
            )
        out.mkdir(parents=True, exist_ok=True)
        with RunLock(out):
            previous = previous_run_state(out)
            with Store(out / STORE_NAME) as store:  # a damaged store stops the run here
                summary = _run_locked(
                    config, out, dataset, executor, store, progress or RunProgress(), budget,
                    start, previous, vocab,
                )  # fmt: skip
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        executor.close(wait=not interrupted)
    return summary


def _run_locked(
    config: RunConfig,
    out: Path,
    dataset: Dataset,
    executor: Executor,
    store: Store,
    progress: RunProgress,
    budget: Budget | None,
    start: float,
    previous: dict[str, Any] | None,
    vocab: Vocabulary,
) -> RunSummary:
    models = executor.start(config.models)
    summary = RunSummary(
        out,
        len(dataset),
        len(config.conditions),
        len(models),
        dataset_issues=len(dataset.issues),
        previous_run=previous,
    )
    manifest = RunManifest(
        name=config.name,
        config=config.raw,
        seed=config.seed,
        top_k=config.top_k,
        score_level=config.score_level,
        conditions=tuple(c.spec for c in config.conditions),
        models=tuple(
            ModelEntry(m.name, m.identity(), m.identity_hash(), m.prompt_version, m.timeout_s)
            for m in models
        ),
        dataset=DatasetEntry(
            dataset.name,
            str(dataset.root) if dataset.root else None,
            len(dataset),
            tuple({"source": i.source, "reason": i.reason} for i in dataset.issues),
        ),
        vocabulary={
            "file": str(config.vocabulary) if config.vocabulary else None,
            "fingerprint": vocab.fingerprint,
            "entries": len(vocab),
        },
        executor=executor.name,
        budget=vars(budget) if budget else None,
        max_raw_chars=config.max_raw_chars,
        versions=dict(_versions()),
        git_revision=_git_revision(),
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        status=RunStatus.RUNNING,
        previous_run=previous,
    )
    _write_json(out / MANIFEST_NAME, manifest.to_dict())
    status = RunStatus.INTERRUPTED
    progress.start(summary.expected, [m.name for m in models])
    warnings: list[dict[str, str]] = []
    fingerprint: str | None = None
    try:
        fingerprint = execute(
            dataset, config.conditions, executor, models, store, config.seed, summary,
            progress, budget, config.max_raw_chars, config.min_image_side,
        )  # fmt: skip
        warnings = run_warnings(store)
        summary.input_warnings = len(warnings)
        status = RunStatus.STOPPED if summary.stopped else RunStatus.COMPLETE
    finally:
        progress.stop()
        summary.seconds = time.perf_counter() - start
        # the run's pass over the dataset confirms (or corrects) a count and issues taken
        # from the previous run (``_previous_scan``)
        summary.cases, summary.dataset_issues = len(dataset), len(dataset.issues)
        manifest = dataclasses.replace(
            manifest,
            dataset=dataclasses.replace(
                manifest.dataset,
                cases=len(dataset),
                issues=tuple({"source": i.source, "reason": i.reason} for i in dataset.issues),
                fingerprint=fingerprint,
            ),
            input_warnings=tuple(warnings),
            status=status,
            finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            summary={k: v for k, v in vars(summary).items() if k != "out_dir"},
        )
        _write_json(out / MANIFEST_NAME, manifest.to_dict())
    return summary


def run_warnings(store: Store) -> list[dict[str, str]]:
    """Warnings about the inputs of the cases of the store's last run (multi-frame
    photos...), as ``{"case", "warning"}`` records, in case order."""
    stored = store.warnings()
    if not stored:
        return []
    by_case: dict[tuple[str, str], list[str]] = {}
    for case_id, fingerprint, warning in stored:
        by_case.setdefault((case_id, fingerprint), []).append(warning)
    return [
        {"case": record["id"], "warning": warning}
        for record in store.case_records()
        for warning in by_case.get((record["id"], record["fingerprint"]), ())
    ]
