"""The results store's key index (schema 2): a 64-bit hash of each key, every lookup exact
even when hashes collide, and version 1 stores migrated when written, read as they are
otherwise."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from derm_stress.errors import InvalidArgument
from derm_stress.models.base import Answer
from derm_stress.run import store as store_module
from derm_stress.run.store import SCHEMA_VERSION, Store, StoreRow, key_hash

FIXTURE = Path(__file__).parents[1] / "data" / "schema_v1" / "run" / "results.sqlite"
OK = Answer(raw="MEL", differential=("MEL",), confidences=(1.0,))
ERROR = Answer(raw="", status="error", error="timeout")
ANSWER = json.dumps(OK.to_dict())


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def rows(keys: list[str], answer: Answer = OK) -> list[StoreRow]:
    return [(k, "m", f"case{i}", "none", answer, ()) for i, k in enumerate(keys)]


# the schema of the last version 1 store (derm-stress 59440d3)
V1_SCHEMA = """
CREATE TABLE results (key TEXT PRIMARY KEY, model TEXT NOT NULL, case_id TEXT NOT NULL,
    condition TEXT NOT NULL, status TEXT NOT NULL, answer TEXT NOT NULL, applied TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cases (position INTEGER PRIMARY KEY, case_id TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE complete_cases (digest TEXT PRIMARY KEY);
CREATE TRIGGER results_deleted AFTER DELETE ON results BEGIN DELETE FROM complete_cases; END;
CREATE TRIGGER results_updated AFTER UPDATE ON results BEGIN DELETE FROM complete_cases; END;
INSERT INTO meta VALUES ('schema_version', '1');
"""


def make_v1_store(path: Path, n: int) -> None:
    """A version 1 store of ``n`` results (every seventh an error), rows inserted in an
    order other than their keys', and one complete mark."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    status = ["error" if i % 7 == 0 else "ok" for i in range(n)]
    db.executemany(
        "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(key(i), "m", f"c{i}", "none", status[i], ANSWER, "[]", i) for i in reversed(range(n))],
    )
    db.execute("INSERT INTO complete_cases VALUES ('marked')")
    db.commit()
    db.close()


def table(path: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_key_hash_is_the_keys_first_64_bits_or_a_digest_of_other_text() -> None:
    k = "ff" * 32
    assert key_hash(k) == -1  # 0xffffffffffffffff as a signed 64-bit integer
    assert key_hash("7f" + "ff" * 7 + "00" * 24) == (1 << 63) - 1
    assert key_hash(key(1)) == int.from_bytes(bytes.fromhex(key(1)[:16]), "big", signed=True)
    short = key_hash("k1")
    digest = hashlib.blake2b(b"k1", digest_size=8).digest()
    assert short == int.from_bytes(digest, "big", signed=True)
    assert -(1 << 63) <= short < 1 << 63
    assert key_hash("z" * 64) != key_hash("y" * 64)  # 64 characters that are not hex


def test_lookups_use_the_key_index(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.put(rows([key(i) for i in range(10)]))
        store.commit()
        ((_, _, _, plan),) = store._db.execute(
            "EXPLAIN QUERY PLAN SELECT key FROM results WHERE key_hash IN (?, ?) AND key IN (?, ?)",
            (1, 2, "a", "b"),
        ).fetchall()
    assert "USING INDEX results_key_hash" in plan


def test_every_lookup_is_exact_when_all_keys_share_one_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "key_hash", lambda text: 7)
    keys = [key(i) for i in range(2000)]  # several chunks of lookups, all on one hash
    with Store(tmp_path / "s.sqlite") as store:
        store.put(rows(keys[:1500]))
        store.put(rows(keys[1500:1600], ERROR))
        assert store.completed(keys) == set(keys[:1500])
        assert store.completed(keys[1400:1700]) == set(keys[1400:1500])
        got = {r.key: r for r in store.get([keys[3], keys[1550], keys[1999]])}
        assert set(got) == {keys[3], keys[1550]}
        assert got[keys[1550]].status == "error" and got[keys[3]].case_id == "case3"
        # a retried error replaces its row and no other
        store.put([(keys[1550], "m", "again", "none", OK, ())])
        assert store.count() == 1600
        assert [r.case_id for r in store.get([keys[1550]])] == ["again"]
        assert keys[1550] in store.completed([keys[1550]])


def test_a_put_replaces_the_row_of_its_key_and_the_last_row_of_a_key_wins(tmp_path: Path) -> None:
    keys = [key(i) for i in range(5)]
    with Store(tmp_path / "s.sqlite") as store:
        store.put(rows(keys))
        store.put([(keys[0], "m", "x", "none", OK, ()), (keys[0], "m", "y", "none", OK, ())])
        store.commit()
        assert store.count() == 5
        assert [r.case_id for r in store.get([keys[0]])] == ["y"]


def test_replacing_a_retried_error_keeps_the_complete_marks_and_replacing_a_final_result_drops_them(
    tmp_path: Path,
) -> None:
    keys = [key(i) for i in range(4)]
    with Store(tmp_path / "s.sqlite") as store:
        store.put(rows(keys[:2]) + rows(keys[2:], ERROR))
        store.mark_complete("case-a")
        store.commit()
        store.put([(keys[2], "m", "c", "none", OK, ())])  # the error, retried
        store.commit()
        assert store.complete_cases(["case-a"]) == {"case-a"}
        store.put([(keys[0], "m", "c", "none", OK, ())])  # a final result replaced
        store.commit()
        assert store.complete_cases(["case-a"]) == set()


COLUMNS = "rowid, key, model, case_id, condition, status, answer, applied, created"


def test_a_version_1_store_is_migrated_when_a_run_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    make_v1_store(path, 3000)
    before = table(path, f"SELECT {COLUMNS} FROM results ORDER BY rowid")
    keys = [str(r[1]) for r in before]
    with Store(path) as store:
        assert store.completed(keys) == {str(r[1]) for r in before if r[5] == "ok"}
        assert {r.key for r in store.get(keys[:10])} == set(keys[:10])
        assert store.complete_cases(["marked"]) == {"marked"}  # the marks are kept
        store.put(rows([key(-1)]))
    after = table(path, f"SELECT {COLUMNS} FROM results ORDER BY rowid")
    assert after[:-1] == before and after[-1][1] == key(-1)  # same rows, ids and order
    assert table(path, "SELECT value FROM meta WHERE name = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert table(path, "SELECT count(*) FROM results WHERE key_hash IS NULL") == [(0,)]
    indexes = {n for (n,) in table(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "results_key_hash" in indexes and "sqlite_autoindex_results_1" not in indexes
    triggers = {n for (n,) in table(path, "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers == {"results_deleted", "results_updated"}
    assert table(path, "PRAGMA integrity_check") == [("ok",)]


def test_the_oldest_version_1_store_is_migrated_too(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    shutil.copy(FIXTURE, path)  # written before fingerprints and complete marks existed
    before = table(path, f"SELECT {COLUMNS} FROM results ORDER BY rowid")
    with Store(path) as store:
        assert store.completed([str(r[1]) for r in before]) == {str(r[1]) for r in before}
    assert table(path, f"SELECT {COLUMNS} FROM results ORDER BY rowid") == before


def test_a_version_1_store_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    shutil.copy(FIXTURE, path)
    data = path.read_bytes()
    keys = [str(k) for (k,) in table(path, "SELECT key FROM results")]
    store = Store(path, read_only=True)
    try:
        assert {r.key for r in store.get(keys)} == set(keys)
        assert store.completed(keys[:3]) <= set(keys[:3])
    finally:
        store.close()
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


def test_a_store_of_a_newer_schema_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    newer = SCHEMA_VERSION + 1
    db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(newer),))
    db.commit()
    db.close()
    data = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(InvalidArgument, match=rf"schema version {newer}, written by a newer"):
            Store(path, read_only=read_only)
    assert path.read_bytes() == data


def test_a_failed_migration_leaves_the_version_1_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.sqlite"
    make_v1_store(path, 100)
    before = table(path, "SELECT rowid, * FROM results ORDER BY rowid")

    def broken(text: str) -> int:
        raise RuntimeError("killed")

    monkeypatch.setattr(store_module, "key_hash", broken)
    with pytest.raises(sqlite3.OperationalError):
        Store(path)
    assert table(path, "SELECT rowid, * FROM results ORDER BY rowid") == before
    assert table(path, "SELECT value FROM meta WHERE name = 'schema_version'") == [("1",)]
    assert table(path, "SELECT * FROM complete_cases") == [("marked",)]


def test_opening_an_unchanged_store_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        store.put(rows([key(1)]))
    data = path.read_bytes()
    Store(path).close()
    assert path.read_bytes() == data
