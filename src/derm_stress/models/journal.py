"""A batch journal (``derm_stress.models.base.BatchJournal``) kept in an SQLite table: the run's
results store holds one (``Store.batch_journal``), and a model used outside a run keeps one in
memory."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

TABLE = """CREATE TABLE IF NOT EXISTS batches (
    request TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    created REAL NOT NULL
)"""


class SqliteBatchJournal:
    """The ``batches`` table of ``db``. Each use of the connection runs inside
    ``session()`` (the owner's lock, as the connection may be shared with another thread,
    and its error handling); ``commit`` makes each change durable before the call returns."""

    def __init__(
        self,
        db: sqlite3.Connection,
        session: Callable[[], AbstractContextManager[object]],
        commit: Callable[[], None],
    ) -> None:
        self._db, self._session, self._commit = db, session, commit

    @classmethod
    def in_memory(cls) -> SqliteBatchJournal:
        """A journal that lasts as long as the object (a model used outside a run)."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute(TABLE)
        lock = threading.RLock()
        return cls(db, lambda: lock, db.commit)

    def lookup(self, requests: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._session():
            for start in range(0, len(requests), 900):  # SQLite's variable limit
                chunk = list(requests[start : start + 900])
                rows = self._db.execute(
                    "SELECT request, batch_id FROM batches "
                    f"WHERE request IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update({str(r): str(b) for r, b in rows})
        return found

    def record(self, model: str, batch_id: str, requests: Sequence[str]) -> None:
        now = time.time()
        with self._session():
            self._db.executemany(
                "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?)",
                [(r, model, batch_id, now) for r in requests],
            )
            self._commit()

    def forget(self, requests: Sequence[str]) -> None:
        with self._session():
            self._db.executemany("DELETE FROM batches WHERE request = ?", [(r,) for r in requests])
            self._commit()
