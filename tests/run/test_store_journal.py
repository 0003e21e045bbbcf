"""The results store's batch journal: Batch API ids kept in the store, written from a model's
thread while the harness writes results."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from derm_stress.models.base import Answer
from derm_stress.run.store import LEGACY_BATCH_JOURNAL, Store


def _rows(n: int, start: int = 0) -> list[tuple[str, str, str, str, Answer, tuple[()]]]:
    return [
        (f"k{i}", "m", f"c{i}", "img=none|ctx=image_only", Answer.from_text("melanoma"), ())
        for i in range(start, start + n)
    ]


def _other_connection(path: Path) -> dict[str, str]:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {str(r): str(b) for r, b in db.execute("SELECT request, batch_id FROM batches")}
    finally:
        db.close()


def test_a_recorded_batch_is_durable_at_once_while_puts_are_uncommitted(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = Store(path)
    store.put(_rows(10))  # uncommitted: below COMMIT_ROWS and within COMMIT_SECONDS
    journal = store.batch_journal()
    recorder = threading.Thread(target=journal.record, args=("api", "batch_1", ["r1", "r2"]))
    recorder.start()
    recorder.join(timeout=30)
    assert not recorder.is_alive()  # no deadlock on the harness's open transaction
    # another process sees the batch (and the results committed with it)
    assert _other_connection(path) == {"r1": "batch_1", "r2": "batch_1"}
    assert journal.lookup(["r1", "r3"]) == {"r1": "batch_1"}
    journal.forget(["r1"])
    assert _other_connection(path) == {"r2": "batch_1"}
    store.close()
    with Store(path) as again:  # it outlives the process that wrote it
        assert again.batch_journal().lookup(["r1", "r2"]) == {"r2": "batch_1"}
        assert again.count() == 10


def test_journal_writes_from_threads_interleaved_with_puts_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = Store(path)
    journal = store.batch_journal()

    def record(worker: int) -> None:
        for i in range(50):
            journal.record("api", f"b{worker}-{i}", [f"w{worker}-{i}"])

    threads = [threading.Thread(target=record, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for batch in range(40):
        store.put(_rows(25, start=batch * 25))
    for thread in threads:
        thread.join(timeout=60)
    store.close()
    with Store(path) as again:
        assert again.count() == 1000
        requests = [f"w{w}-{i}" for w in range(3) for i in range(50)]
        assert len(again.batch_journal().lookup(requests)) == 150


def test_batch_ids_kept_beside_the_store_by_an_earlier_version_are_taken_in(
    tmp_path: Path,
) -> None:
    legacy = sqlite3.connect(tmp_path / LEGACY_BATCH_JOURNAL)
    with legacy:
        legacy.execute(
            "CREATE TABLE openai_batches (request TEXT PRIMARY KEY, model TEXT NOT NULL, "
            "batch_id TEXT NOT NULL, created REAL NOT NULL)"
        )
        legacy.execute("INSERT INTO openai_batches VALUES ('r9', 'api', 'batch_old', 0)")
    legacy.close()
    before = (tmp_path / LEGACY_BATCH_JOURNAL).read_bytes()
    with Store(tmp_path / "results.sqlite") as store:
        assert store.batch_journal().lookup(["r9"]) == {"r9": "batch_old"}
    assert (tmp_path / LEGACY_BATCH_JOURNAL).read_bytes() == before  # left as it was
