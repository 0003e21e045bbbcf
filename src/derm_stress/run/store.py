"""The result store: embedded SQLite (WAL), one row per result key.

A key hashes everything that changes a model's output (model identity, prompt version, case
id and content fingerprint, condition id, and the seed when the condition is random) and
nothing else, so an interrupted or extended run resumes without repeating a call, and runs
with overlapping grids share results.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from derm_stress.models.base import Answer
from derm_stress.perturb.base import Applied

SCHEMA_VERSION = 1
# ``put`` commits when this many rows or seconds have gone by since the last commit (a
# commit per 64-row batch cost a third of a null-model run); ``close`` commits the rest
COMMIT_ROWS = 4096
COMMIT_SECONDS = 1.0
# statuses: ok / unparseable (the model answered) · error (the call failed; retried on
# resume) · input_error (the case's input is unusable; retried only when the case changes)
RETRIED_STATUSES = ("error",)


# (key, model, case id, condition id, answer, applied records): one row for ``Store.put``
StoreRow = tuple[str, str, str, str, Answer, Sequence[Applied]]


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


class Store:
    """SQLite-backed result store.

    Each ``put`` is atomic (all its rows or none); puts are committed together every
    ``COMMIT_ROWS`` rows or ``COMMIT_SECONDS`` seconds, and on ``commit`` and ``close``,
    so a killed process loses at most the last second of results (a resume redoes them).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS results (
                key TEXT PRIMARY KEY,
                model TEXT NOT NULL,
                case_id TEXT NOT NULL,
                condition TEXT NOT NULL,
                status TEXT NOT NULL,
                answer TEXT NOT NULL,
                applied TEXT NOT NULL,
                created REAL NOT NULL
            );
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS cases (
                position INTEGER PRIMARY KEY,
                case_id TEXT NOT NULL,
                record TEXT NOT NULL
            );
            """
        )
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._db.commit()

    def close(self) -> None:
        self.commit()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def completed(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` (distinct) that is stored with a final status (not to be
        redone).

        Each chunk is counted first: when none or all of its keys are done (a fresh run, a
        resume) no key is read back, which made the lookups of a resume 2x faster."""
        keys = list(keys)
        done: set[str] = set()
        placeholders = ",".join("?" * len(RETRIED_STATUSES))
        for start in range(0, len(keys), 900):  # SQLite's variable limit
            chunk = keys[start : start + 900]
            where = (
                f"FROM results WHERE key IN ({','.join('?' * len(chunk))}) "
                f"AND status NOT IN ({placeholders})"
            )
            args = (*chunk, *RETRIED_STATUSES)
            (count,) = self._db.execute(f"SELECT COUNT(*) {where}", args).fetchone()
            if count == len(chunk):
                done.update(chunk)
            elif count:
                done.update(r[0] for r in self._db.execute(f"SELECT key {where}", args))
        return done

    def put(self, rows: Sequence[StoreRow]) -> None:
        """Insert or replace (key, model, case_id, condition, answer, applied) rows atomically
        (committed with later puts: see the class docstring)."""
        now = time.time()
        encode = _ENCODER.encode
        if not self._db.in_transaction:  # else RELEASE below would commit at once
            self._db.execute("BEGIN")
        self._db.execute("SAVEPOINT put")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        model,
                        case_id,
                        condition,
                        _status(answer),
                        encode(answer.to_dict()),
                        encode([a.to_dict() for a in applied]) if applied else "[]",
                        now,
                    )
                    for key, model, case_id, condition, answer, applied in rows
                ],
            )
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
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            rows = self._db.execute(
                "SELECT key, model, case_id, condition, status, answer, applied FROM results "
                f"WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
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
        """Forget the case records of the previous run in this store (results stay)."""
        with self._db:
            self._db.execute("DELETE FROM cases")

    def add_case(self, position: int, record: dict[str, Any]) -> None:
        """Record the run's case number ``position`` (committed with the next ``put``, or
        ``commit``)."""
        self._db.execute(
            "INSERT OR REPLACE INTO cases VALUES (?, ?, ?)",
            (position, record["id"], json.dumps(record)),
        )

    def commit(self) -> None:
        self._db.commit()
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    def case_records(self) -> list[dict[str, Any]]:
        """The case records of the last run, in dataset order."""
        rows = self._db.execute("SELECT record FROM cases ORDER BY position")
        return [json.loads(record) for (record,) in rows]

    def scan(self, query: str) -> Iterator[tuple[Any, ...]]:
        """Stream the rows of a read-only ``query`` over the results table."""
        cursor = self._db.execute(query)
        while batch := cursor.fetchmany(10_000):
            yield from batch

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


# the same text as ``json.dumps`` with default settings, without its per-call set-up
_ENCODER = json.JSONEncoder()


def _status(answer: Answer) -> str:
    if answer.status == "error" and answer.extra.get("input_error"):
        return "input_error"
    return answer.status
