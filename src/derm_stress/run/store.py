"""The result store: embedded SQLite (WAL), one row per result key.

A key hashes everything that changes a model's output (model identity, prompt version, case
id and content fingerprint, condition id, and the seed when the condition is random) and
nothing else, so an interrupted or extended run resumes without repeating a call, and runs
with overlapping grids share results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from derm_stress.cases import Case
from derm_stress.errors import InvalidArgument, StoreDamaged
from derm_stress.models.base import Answer
from derm_stress.models.journal import TABLE as BATCH_TABLE
from derm_stress.models.journal import SqliteBatchJournal
from derm_stress.perturb.base import Applied
from derm_stress.schema import ResultStatus

# 2: the key index holds a 64-bit hash of each key (``key_hash``) instead of the 64-character
# key itself: about a fifth of the size, so the pages a commit of random keys dirties (each
# written to the WAL and again at the checkpoint) fit SQLite's page cache for longer
# (bench/README.md, "the results store's key index"); a version 1 store is migrated when a
# run opens it for writing, and read as it is otherwise
SCHEMA_VERSION = 2
# ``put`` commits when this many rows or seconds have gone by since the last commit (a
# commit per 64-row batch cost a third of a null-model run); ``close`` commits the rest.
# The keys are random, so each commit writes most of the key index's pages to the WAL
# whatever its size: at 4,096 rows a commit the commits were 40% of a 300,000-row insert
# (bench/README.md); the second, not the row count, bounds a fast run's loss
COMMIT_ROWS = 32768
COMMIT_SECONDS = 1.0
# WAL pages written before SQLite copies them into the database (its default is 1,000: a
# checkpoint, with its two fsyncs, after nearly every commit of random keys). Checkpoints
# coalesce the pages written again and again; the WAL file grows to about 32 MiB
WAL_CHECKPOINT_PAGES = 8192
# the sibling file where runs before the store kept them held Batch API ids (imported once)
LEGACY_BATCH_JOURNAL = "openai-batches.sqlite"
# statuses: ok / unparseable (the model answered) · error (the call failed; retried on
# resume) · input_error (the case's input is unusable; retried only when the case changes)
RETRIED_STATUSES = (ResultStatus.ERROR.value,)


# (key, model, case id, condition id, answer, applied records): one row for ``Store.put``
StoreRow = tuple[str, str, str, str, Answer, Sequence[Applied]]
# the bound parameters of one statement, at most (SQLite's own limit, if lower, counts: it
# was 999 by default before 3.32)
MAX_VARIABLES = 1800
# SQLite's page cache of a writing store: the key index of 2.1 million results (100,000
# cases x 21 conditions) is about 38 MiB, most of it held here; past the cache, a random
# key's page is read back from the operating system on every insert. An upper bound, not
# an allocation
CACHE_KIB = 32768

_RESULTS_TABLE = """
    CREATE TABLE IF NOT EXISTS results (
        key TEXT NOT NULL,
        model TEXT NOT NULL,
        case_id TEXT NOT NULL,
        condition TEXT NOT NULL,
        status TEXT NOT NULL,
        answer TEXT NOT NULL,
        applied TEXT NOT NULL,
        created REAL NOT NULL,
        key_hash INTEGER NOT NULL
    )"""
_SCHEMA = (
    _RESULTS_TABLE,
    "CREATE INDEX IF NOT EXISTS results_key_hash ON results (key_hash)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS cases (
        position INTEGER PRIMARY KEY,
        case_id TEXT NOT NULL,
        record TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS case_warnings (
        case_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        warning TEXT NOT NULL,
        PRIMARY KEY (case_id, fingerprint, warning)
    )""",
    """CREATE TABLE IF NOT EXISTS fingerprints (
        signature TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS complete_cases (digest TEXT PRIMARY KEY)",
    # Deleting or updating a final result forgets every complete mark (``complete_cases``),
    # so a mark never hides a missing result. A retried (error) result, deleted to be
    # replaced, cannot be under a mark: a case is marked only when all its results are final
    f"""CREATE TRIGGER IF NOT EXISTS results_deleted AFTER DELETE ON results
        WHEN old.status NOT IN ({", ".join(repr(s) for s in RETRIED_STATUSES)})
        BEGIN DELETE FROM complete_cases; END""",
    """CREATE TRIGGER IF NOT EXISTS results_updated AFTER UPDATE ON results
        BEGIN DELETE FROM complete_cases; END""",
    BATCH_TABLE,
)


def key_hash(key: str) -> int:
    """The 64-bit signed integer the key index holds for ``key``: its first 16 hex digits
    (keys are SHA-256 hex digests), or for any other text the first 8 bytes of its
    BLAKE2b digest. Different keys may share a hash; every lookup compares the keys too."""
    if len(key) == 64:
        try:
            value = int(key[:16], 16)
        except ValueError:
            pass
        else:
            return value - (1 << 64) if value >= 1 << 63 else value
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def result_key(
    model_hash: str,
    prompt_version: str,
    case_id: str,
    case_fingerprint: str,
    condition_id: str,
    seed: int,
    deterministic: bool,
) -> str:
    """The store key of one result. The seed counts only for conditions with randomness
    (``deterministic`` False): a clean condition's results serve every seed."""
    text = json.dumps(
        [
            model_hash,
            prompt_version,
            case_id,
            case_fingerprint,
            condition_id,
            None if deterministic else seed,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def case_keys(
    model_hash: str,
    prompt_version: str,
    case_id: str,
    case_fingerprint: str,
    conditions: Sequence[tuple[str, bool]],
    seed: int,
) -> list[str]:
    """``result_key`` for one model and case under many (condition id, deterministic)
    pairs, hashing the shared prefix once (the same keys, several times faster)."""
    head = hashlib.sha256(
        ("[" + ", ".join(json.dumps(v) for v in (model_hash, prompt_version, case_id,
                                                 case_fingerprint)) + ", ").encode()
    )  # fmt: skip
    keys = []
    for tail in _key_tails(tuple(conditions), seed):
        h = head.copy()
        h.update(tail)
        keys.append(h.hexdigest())
    return keys


@lru_cache(maxsize=16)
def _key_tails(conditions: tuple[tuple[str, bool], ...], seed: int) -> tuple[bytes, ...]:
    """The part of each key after the case (the same for every case of a run)."""
    return tuple(
        f"{json.dumps(condition_id)}, {'null' if deterministic else seed}]".encode()
        for condition_id, deterministic in conditions
    )


@dataclass(frozen=True)
class Result:
    """One stored row: who answered what for which case under which condition."""

    key: str
    model: str
    case_id: str
    condition: str
    status: str
    answer: Answer
    applied: tuple[Applied, ...]

    @property
    def error(self) -> str | None:
        return self.answer.error


# SQLite's own words for a file that is not (or no longer) a sound database
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def damaged_message(path: Path, detail: str) -> str:
    """What to tell a user whose store is damaged: which file, what, how to recover."""
    return (
        f"the result store {path} is damaged ({detail}); it was left as it is. "
        f"To recover what can be: sqlite3 {path} .recover | sqlite3 {path.with_suffix('')}"
        f"-recovered.sqlite, then replace {path.name} with it (or delete {path.name}) and run "
        "again: missing results are recomputed"
    )


@contextlib.contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Turn SQLite's corruption errors into one ``StoreDamaged`` naming the file."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "").startswith(_DAMAGED):
            raise StoreDamaged(damaged_message(path, str(exc))) from None
        raise


def _open_read_only(path: Path) -> sqlite3.Connection:
    """Open a store for reading without writing anything beside it. A store with a WAL
    file (a run is writing it, or one was killed) is opened ``mode=ro``, which reads the
    WAL through the existing shared-memory file; a closed store (no WAL) is opened
    ``immutable``, which creates no file at all (so an archived, read-only run works)."""
    if not path.is_file():
        raise InvalidArgument(f"no result store at {path}")
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)


class Store:
    """SQLite-backed result store.

    Each ``put`` is atomic (all its rows or none); puts are committed together every
    ``COMMIT_ROWS`` rows or ``COMMIT_SECONDS`` seconds, and on ``commit`` and ``close``,
    so a killed process loses at most the last second of results (a resume redoes them).

    ``read_only`` opens an existing store for reading only: nothing is created or written
    in its folder (reports and exports of archived or running runs). A damaged file raises
    ``StoreDamaged`` and is never overwritten.

    The harness is its only writer, with one exception: ``batch_journal()`` lets a model
    remember remote work (Batch API ids) from its own thread; the connection is shared under
    a lock, and a journal write commits at once (with any puts pending), so it is durable
    before the model waits on the batch."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._lock = threading.RLock()
        # case records, fingerprints and complete marks wait here for the next put or
        # commit (one ``executemany`` instead of a statement per case; under ``_lock``)
        self._cases: list[tuple[int, str, str]] = []
        self._fingerprints: list[tuple[str, str]] = []
        self._complete: list[tuple[str]] = []
        self._fingerprints_known = False  # whether the fingerprints table has rows
        self._compare_cases = False  # between clear_cases and end_cases: see clear_cases
        self._hashed = True  # whether the results table has the key_hash index (schema 2)
        with _guard(self.path):
            if read_only:
                self._db = _open_read_only(self.path)
                try:
                    self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    self._check_version()
                except BaseException:
                    self._db.close()
                    raise
                self._hashed = "key_hash" in self._columns("results")
                self._variables = min(MAX_VARIABLES, self._limit())
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            try:
                self._create()
            except BaseException:
                self._db.close()
                raise
            self._variables = min(MAX_VARIABLES, self._limit())
            self._fingerprints_known = (
                self._db.execute("SELECT 1 FROM fingerprints LIMIT 1").fetchone() is not None
            )

    def _create(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._check_version()
        self._db.execute("BEGIN IMMEDIATE")  # created or migrated whole, by one writer
        try:
            columns = self._columns("results")
            if columns and "key_hash" not in columns:
                self._migrate_v1()
            for statement in _SCHEMA:
                self._db.execute(statement)
            version = (str(SCHEMA_VERSION),)
            # written only when it changes: an open that changes nothing writes nothing
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", version)
            self._db.execute(
                "UPDATE meta SET value = ?1 WHERE name = 'schema_version' AND value != ?1", version
            )
            self._import_legacy_batches()
        except BaseException:
            self._db.rollback()
            raise
        self._db.commit()

    def _limit(self) -> int:
        return int(self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))

    def _columns(self, table: str) -> list[str]:
        return [row[1] for row in self._db.execute(f"PRAGMA table_info({table})")]

    def _check_version(self) -> None:
        """A store written by a newer derm-stress (a later schema) is not read or written."""
        if "meta" not in {name for (name,) in self._db.execute("SELECT name FROM sqlite_master")}:
            return
        row = self._db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        if row is not None and str(row[0]).isdigit() and int(row[0]) > SCHEMA_VERSION:
            raise InvalidArgument(
                f"the result store {self.path} has schema version {row[0]}, written by a newer "
                f"derm-stress (this one reads versions up to {SCHEMA_VERSION}): upgrade "
                "derm-stress, or write this run to another folder"
            )

    def _migrate_v1(self) -> None:
        """Rebuild a version 1 results table (``key TEXT PRIMARY KEY``) with the hashed key
        index, in the caller's transaction: rows, row ids (so their order) and complete
        marks are kept; a migration that fails or is killed leaves the version 1 store."""
        self._db.create_function("derm_stress_key_hash", 1, key_hash, deterministic=True)
        self._db.execute("ALTER TABLE results RENAME TO results_v1")
        self._db.execute("DROP TRIGGER IF EXISTS results_deleted")
        self._db.execute("DROP TRIGGER IF EXISTS results_updated")
        self._db.execute(_RESULTS_TABLE)
        columns = "key, model, case_id, condition, status, answer, applied, created"
        self._db.execute(
            f"INSERT INTO results (rowid, {columns}, key_hash) "
            f"SELECT rowid, {columns}, derm_stress_key_hash(key) FROM results_v1 ORDER BY rowid"
        )
        self._db.execute("DROP TABLE results_v1")

    def _import_legacy_batches(self) -> None:
        """Pending Batch API ids that an earlier version kept beside the store: taken in, so a
        run interrupted then still polls its batches (the old file is left as it is)."""
        legacy = self.path.with_name(LEGACY_BATCH_JOURNAL)
        if not legacy.is_file():
            return
        try:
            old = sqlite3.connect(f"{legacy.resolve().as_uri()}?mode=ro", uri=True)
            try:
                rows = old.execute(
                    "SELECT request, model, batch_id, created FROM openai_batches"
                ).fetchall()
            finally:
                old.close()
        except sqlite3.DatabaseError:  # unreadable: its batches are submitted again
            return
        self._db.executemany("INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        with self._lock:
            try:
                self.commit()
            finally:
                self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_results(self) -> bool:
        """Whether any result is stored (one index probe, not a count)."""
        with self._lock, _guard(self.path):
            return self._db.execute("SELECT 1 FROM results LIMIT 1").fetchone() is not None

    def fingerprint(self, case: Case) -> str:
        """``case.fingerprint()``, read from the store when the case's files are unchanged
        since it was computed (same ``Case.file_signature``): a resume then hashes no photo.
        A fingerprint computed here is kept with the next put or commit."""
        return self.fingerprints([case])[0]

    def fingerprints(self, cases: Sequence[Case]) -> list[str]:
        """``fingerprint`` for several cases, looked up in one query."""
        signatures = [case.file_signature() for case in cases]
        known: dict[str, str] = {}
        wanted = [s for s in signatures if s is not None]
        if wanted and self._fingerprints_known:
            with self._lock, _guard(self.path):
                for start in range(0, len(wanted), 900):
                    chunk = wanted[start : start + 900]
                    known.update(
                        self._db.execute(
                            "SELECT signature, fingerprint FROM fingerprints "
                            f"WHERE signature IN ({','.join('?' * len(chunk))})",
                            chunk,
                        ).fetchall()
                    )
        found = []
        for case, signature in zip(cases, signatures, strict=True):
            fingerprint = known.get(signature) if signature is not None else None
            if fingerprint is None:
                fingerprint = case.fingerprint()
                if signature is not None:
                    with self._lock:
                        self._fingerprints.append((signature, fingerprint))
            found.append(str(fingerprint))
        return found

    def remember_fingerprint(self, signature: str, fingerprint: str) -> None:
        """Keep a fingerprint computed elsewhere (a perturbation worker, from the bytes it
        read) for its ``Case.file_signature``, with the next put or commit."""
        with self._lock:
            self._fingerprints.append((signature, fingerprint))

    def complete_cases(self, digests: Sequence[str]) -> set[str]:
        """Which of these ``case_digest`` values were marked complete (``mark_complete``):
        one lookup per case instead of one per result. Deleting or updating any result (by
        hand: the harness only inserts) forgets every mark, so a mark never hides a
        missing result."""
        found: set[str] = set()
        with self._lock, _guard(self.path):
            for start in range(0, len(digests), 900):
                chunk = digests[start : start + 900]
                found.update(
                    d
                    for (d,) in self._db.execute(
                        "SELECT digest FROM complete_cases "
                        f"WHERE digest IN ({','.join('?' * len(chunk))})",
                        chunk,
                    )
                )
        return found

    def mark_complete(self, digest: str) -> None:
        """Record that every result of a case's keys (``case_digest``) is stored with a
        final status; written with the next put or commit, so after those results."""
        with self._lock:
            self._complete.append((digest,))

    def completed(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` (distinct) that is stored with a final status (not to be
        redone).

        Each chunk is counted first: when none or all of its keys are done (a fresh run, a
        resume) no key is read back, which made the lookups of a resume 2x faster."""
        keys = list(keys)
        done: set[str] = set()
        statuses = ",".join("?" * len(RETRIED_STATUSES))
        with self._lock, _guard(self.path):
            for chunk, where, args in self._key_chunks(keys):
                where = f"FROM results WHERE {where} AND status NOT IN ({statuses})"
                args = (*args, *RETRIED_STATUSES)
                (count,) = self._db.execute(f"SELECT COUNT(*) {where}", args).fetchone()
                if count == len(chunk):
                    done.update(chunk)
                elif count:
                    done.update(r[0] for r in self._db.execute(f"SELECT key {where}", args))
        return done

    def _key_chunks(
        self, keys: Sequence[str], hashes: Sequence[int] | None = None
    ) -> Iterator[tuple[Sequence[str], str, tuple[Any, ...]]]:
        """``keys`` in chunks, each with the condition selecting exactly its rows and the
        condition's arguments: by the key index (the hashes, ``key_hash`` of each key unless
        given) and then the keys themselves, or, in a version 1 store read as it is, by the
        keys."""
        size = self._variables - len(RETRIED_STATUSES)
        if not self._hashed:
            for start in range(0, len(keys), size):
                chunk = keys[start : start + size]
                yield chunk, f"key IN ({','.join('?' * len(chunk))})", tuple(chunk)
            return
        size //= 2
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            marks = ",".join("?" * len(chunk))
            chunk_hashes = map(key_hash, chunk) if hashes is None else hashes[start : start + size]
            yield chunk, f"key_hash IN ({marks}) AND key IN ({marks})", (*chunk_hashes, *chunk)

    def put(self, rows: Sequence[StoreRow]) -> None:
        """Insert or replace (key, model, case_id, condition, answer, applied) rows atomically
        (committed with later puts: see the class docstring)."""
        now = time.time()
        encode = _ENCODER.encode
        with self._lock, _guard(self.path):
            self._put(rows, now, encode)

    def _put(self, rows: Sequence[StoreRow], now: float, encode: Any) -> None:
        # each distinct answer and applied list is encoded once per put: a model that
        # returns one Answer object for many probes, and the probes every model of a run
        # shares, were encoded per row (the objects live as long as ``rows``, so their ids
        # cannot be reused within this call)
        answers: dict[int, tuple[str, str]] = {}  # id -> (status, text)
        applieds: dict[int, str] = {}
        values = []
        for key, model, case_id, condition, answer, applied in rows:
            encoded = answers.get(id(answer))
            if encoded is None:
                encoded = answers[id(answer)] = (_status(answer), encode(answer.to_dict()))
            if applied:
                records = applieds.get(id(applied))
                if records is None:
                    records = applieds[id(applied)] = encode([a.to_dict() for a in applied])
            else:
                records = "[]"
            status, text = encoded
            values.append(
                (key, model, case_id, condition, status, text, records, now, key_hash(key))
            )
        keys = [v[0] for v in values]
        if len(set(keys)) < len(keys):  # the last row of a key replaces the earlier ones
            values = list({v[0]: v for v in values}.values())
            keys = [v[0] for v in values]
        hashes = [v[8] for v in values]
        if not self._db.in_transaction:  # else RELEASE below would commit at once
            self._db.execute("BEGIN")
        self._flush()  # outside the savepoint: a failing put keeps the case records
        self._db.execute("SAVEPOINT put")
        try:
            # a row replaces the stored one of its key (a retried error; by hand, any)
            for _, where, args in self._key_chunks(keys, hashes):
                self._db.execute(f"DELETE FROM results WHERE {where}", args)
            self._db.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        except BaseException:
            self._db.execute("ROLLBACK TO put")
            self._db.execute("RELEASE put")
            raise
        self._db.execute("RELEASE put")
        self._uncommitted += len(rows)
        if (
            self._uncommitted >= COMMIT_ROWS
            or time.monotonic() - self._last_commit >= COMMIT_SECONDS
        ):
            self.commit()

    def get(self, keys: Iterable[str]) -> Iterator[Result]:
        """The stored results for ``keys`` (missing keys are skipped)."""
        keys = list(keys)
        for _, where, args in self._key_chunks(keys):
            with self._lock, _guard(self.path):
                rows = self._db.execute(
                    "SELECT key, model, case_id, condition, status, answer, applied "
                    f"FROM results WHERE {where}",
                    args,
                ).fetchall()
            for key, model, case_id, condition, status, answer, applied in rows:
                yield Result(
                    key,
                    model,
                    case_id,
                    condition,
                    status,
                    Answer.from_dict(json.loads(answer)),
                    tuple(Applied.from_dict(a) for a in json.loads(applied)),
                )

    def clear_cases(self) -> None:
        """Start replacing the case records of the previous run in this store (results
        stay) with this run's (``add_case`` in position order, then ``end_cases``). A record
        equal to the one stored at its position is not written again, so a resume of the
        same dataset writes no record; from the first that differs, every stored record
        from there on is deleted and the rest are written. (A run killed before
        ``end_cases`` leaves, past the point it reached, the previous run's records only
        where everything before them was unchanged.)"""
        with self._lock, _guard(self.path):
            self._flush()
            self._compare_cases = True

    def end_cases(self, count: int) -> None:
        """The run's last record was number ``count - 1``: drop any stored past it."""
        with self._lock, _guard(self.path):
            self._flush()
            self._compare_cases = False
            stale = "FROM cases WHERE position >= ?"
            if self._db.execute(f"SELECT 1 {stale} LIMIT 1", (count,)).fetchone():
                self._db.execute(f"DELETE {stale}", (count,))

    def add_case(self, position: int, record: dict[str, Any]) -> None:
        """Record the run's case number ``position`` (written and committed with the next
        ``put``, or ``commit``)."""
        text = _ENCODER.encode(record)
        with self._lock:
            self._cases.append((position, record["id"], text))

    def _flush(self) -> None:
        """Write the case records, fingerprints and marks waiting since the last put (the
        caller holds ``_lock``)."""
        if self._cases:
            rows, self._cases = self._cases, []
            if self._compare_cases:
                rows = self._changed_cases(rows)
            if rows:
                self._db.executemany("INSERT OR REPLACE INTO cases VALUES (?, ?, ?)", rows)
        if self._fingerprints:
            self._db.executemany(
                "INSERT OR REPLACE INTO fingerprints VALUES (?, ?)", self._fingerprints
            )
            self._fingerprints = []
            self._fingerprints_known = True
        if self._complete:
            self._db.executemany("INSERT OR IGNORE INTO complete_cases VALUES (?)", self._complete)
            self._complete = []

    def _changed_cases(self, rows: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        """Of these records (ascending positions), those to write: none while each equals
        the stored one; at the first that differs, the stored records from its position on
        are deleted and comparing stops."""
        stored = dict(
            self._db.execute(
                "SELECT position, record FROM cases WHERE position BETWEEN ? AND ?",
                (rows[0][0], rows[-1][0]),
            ).fetchall()
        )
        for i, (position, _, text) in enumerate(rows):
            if stored.get(position) != text:
                self._compare_cases = False
                self._db.execute("DELETE FROM cases WHERE position >= ?", (position,))
                return rows[i:]
        return []

    def add_warnings(self, case_id: str, fingerprint: str, warnings: Sequence[str]) -> None:
        """Keep warnings about a case's input (a multi-frame photo...) with the results: they
        hold for this content of the case whichever run computed its probes."""
        with self._lock, _guard(self.path), self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO case_warnings VALUES (?, ?, ?)",
                [(case_id, fingerprint, w) for w in warnings],
            )

    def warnings(self) -> list[tuple[str, str, str]]:
        """Every (case id, fingerprint, warning) stored (none in stores older than them)."""
        with _guard(self.path):
            try:
                rows = self._db.execute(
                    "SELECT case_id, fingerprint, warning FROM case_warnings ORDER BY rowid"
                ).fetchall()
            except sqlite3.OperationalError:  # a store written before warnings existed
                return []
        return [(str(c), str(f), str(w)) for c, f, w in rows]

    def commit(self) -> None:
        with self._lock, _guard(self.path):
            self._flush()
            self._db.commit()
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    def case_records(self) -> list[dict[str, Any]]:
        """The case records of the last run, in dataset order."""
        with self._lock, _guard(self.path):
            self._flush()
            rows = self._db.execute("SELECT record FROM cases ORDER BY position").fetchall()
        return [json.loads(record) for (record,) in rows]

    def scan(self, query: str) -> Iterator[tuple[Any, ...]]:
        """Stream the rows of a read-only ``query`` over the results table."""
        with _guard(self.path):
            cursor = self._db.execute(query)
        while True:
            with _guard(self.path):
                batch = cursor.fetchmany(10_000)
            if not batch:
                return
            yield from batch

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """The store's lock and its damaged-file error, for a user on another thread."""
        with self._lock, _guard(self.path):
            yield

    def batch_journal(self) -> SqliteBatchJournal:
        """Where a model keeps which remote batch holds which of its requests (see
        ``derm_stress.models.base.BatchJournal``)."""
        return SqliteBatchJournal(self._db, self._session, self.commit)

    def count(self) -> int:
        with _guard(self.path):
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


# the same text as ``json.dumps`` with default settings, without its per-call set-up
_ENCODER = json.JSONEncoder()
# a string as ``json.dumps`` writes it (ASCII, quoted)
_quote = json.encoder.encode_basestring_ascii


def case_digest(
    models: Sequence[tuple[str, str]],
    case_id: str,
    case_fingerprint: str,
    conditions: Sequence[tuple[str, bool]],
    seed: int,
) -> str:
    """What ``Store.mark_complete`` records for a case: a hash of everything its result keys
    in a run are made of (each model's hash and prompt version, the case id and
    fingerprint, and each condition's key tail: ``case_keys`` for every model), so equal
    digests mean equal key sets, and another grid or model set is another digest. One hash
    per case, so a resume computes no key of a case marked complete."""
    head, tail = _digest_parts(tuple(models), tuple(conditions), seed)
    # the text of ``json.dumps([case_id, case_fingerprint])``, without encoding a list
    pair = f"[{_quote(case_id)}, {_quote(case_fingerprint)}]"
    return hashlib.sha256(head + pair.encode() + tail).hexdigest()


@lru_cache(maxsize=16)
def _digest_parts(
    models: tuple[tuple[str, str], ...], conditions: tuple[tuple[str, bool], ...], seed: int
) -> tuple[bytes, bytes]:
    """The parts of ``case_digest`` that are the same for every case of a run."""
    head = b"complete-v2" + json.dumps([list(m) for m in models]).encode()
    return head, b"".join(_key_tails(conditions, seed))


def is_final(answer: Answer) -> bool:
    """Whether a stored answer is final (not retried by the next run)."""
    return _status(answer) not in RETRIED_STATUSES


def _status(answer: Answer) -> str:
    if answer.status == ResultStatus.ERROR.value and answer.extra.get("input_error"):
        return ResultStatus.INPUT_ERROR.value
    return ResultStatus(answer.status).value
