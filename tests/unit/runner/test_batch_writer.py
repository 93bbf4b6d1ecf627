"""The batch writer of a run's stages: transactions go to the write thread (its own SQLite
connections) while the event loop goes on; a failed write keeps its rows, says so at the next
add, and the next flush writes them; an answer's cache row is never behind its store row."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from safeval.errors import RunAborted
from safeval.models.callcache import CallCache
from safeval.runner.execute import BatchWriter
from safeval.runner.store import RunStore, item_id
from safeval.types import Generation, Message, Sample


def row(i: int) -> tuple:
    sample = Sample(id=f"s{i}", input=f"prompt {i}", category="c")
    messages = [Message(role="user", content=f"prompt {i}")]
    return (item_id(f"s{i}", "none", 0), sample, 0, messages, f"key{i}", Generation(text=f"a{i}"))


def stored(path: Path, table: str) -> int:
    with sqlite3.connect(path) as c:
        return int(c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_background_writes_reach_the_store_and_cache_before_the_stage_ends(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    cache = CallCache(tmp_path / "cache.sqlite")

    async def go() -> tuple[int, int]:
        writer = BatchWriter(store.items_sink(), cache)
        for i in range(1200):  # more than one batch's worth: writes start on their own
            cache.put(f"key{i}", Generation(text=f"a{i}"))
            writer.add(row(i))
            if i % 100 == 0:
                await asyncio.sleep(0.01)
        seen_before_flush = stored(tmp_path / "run.sqlite", "items")
        writer.flush()
        return seen_before_flush, stored(tmp_path / "run.sqlite", "items")

    before, after = asyncio.run(go())
    assert 0 < before < 1200 and after == 1200
    assert stored(tmp_path / "cache.sqlite", "calls") == 1200
    assert cache.get("key7") == Generation(text="a7")
    cache.close()
    store.close()


def test_a_failed_background_write_keeps_its_rows_and_the_next_flush_writes_them(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    store.conn.execute(
        "CREATE TRIGGER full BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )

    async def go() -> None:
        writer = BatchWriter(store.items_sink(), None)
        for i in range(10):
            writer.add(row(i))
        writer.flush_soon()
        await asyncio.sleep(0.3)  # the write fails in the thread meanwhile
        with pytest.raises(RunAborted, match="cannot write.*disk full"):
            writer.add(row(10))  # the row of the add that raised is kept too
        store.conn.execute("DROP TRIGGER full")
        writer.flush()  # the next try: the kept rows, in order

    asyncio.run(go())
    ids = [r[0] for r in store.conn.execute("SELECT item_id FROM items ORDER BY rowid")]
    assert ids == [item_id(f"s{i}", "none", 0) for i in range(11)]
    store.close()


def test_cache_answers_in_a_failed_write_stay_pending_and_are_written_later(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    cache = CallCache(tmp_path / "cache.sqlite")
    cache.conn.execute(
        "CREATE TRIGGER full BEFORE INSERT ON calls BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )

    async def go() -> None:
        writer = BatchWriter(store.items_sink(), cache)
        cache.put("key1", Generation(text="a1"))
        writer.add(row(1))
        writer.flush_soon()
        await asyncio.sleep(0.3)
        assert stored(tmp_path / "run.sqlite", "items") == 0  # never a row without its answer
        assert cache.get("key1") == Generation(text="a1")  # still pending, still served
        cache.conn.execute("DROP TRIGGER full")
        with pytest.raises(RunAborted):
            writer.add(row(2))
        writer.flush()

    asyncio.run(go())
    assert stored(tmp_path / "cache.sqlite", "calls") == 1
    assert stored(tmp_path / "run.sqlite", "items") == 2
    cache.close()
    store.close()


def test_write_many_keeps_sql_types_and_takes_non_finite_floats_row_by_row(
    tmp_path: Path,
) -> None:
    from safeval.db import connect, write_many

    conn = connect(tmp_path / "t.sqlite")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, i INTEGER, r REAL, n TEXT, s TEXT)")
    rows = [
        ("a", 1, 0.5, None, 'quote " and 中文 and \\ back'),
        ("b", 0, 1.0, None, ""),
    ]
    write_many(conn, "INSERT OR REPLACE INTO t (k, i, r, n, s)", rows)
    got = conn.execute("SELECT k, i, r, n, s, typeof(i), typeof(r) FROM t ORDER BY k").fetchall()
    assert [g[:5] for g in got] == rows
    assert {(g[5], g[6]) for g in got} == {("integer", "real")}
    # NaN has no JSON form: that batch is written row by row, and SQLite stores NaN as NULL.
    write_many(
        conn, "INSERT OR REPLACE INTO t (k, i, r, n, s)", [("c", 2, float("nan"), None, "x")]
    )
    assert conn.execute("SELECT r FROM t WHERE k = 'c'").fetchone() == (None,)
    # A NUL in untrusted text would end SQLite's JSON string: that batch goes row by row too.
    write_many(conn, "INSERT OR REPLACE INTO t (k, i, r, n, s)", [("d", 3, 0.0, None, "a\x00b")])
    assert conn.execute("SELECT s FROM t WHERE k = 'd'").fetchone() == ("a\x00b",)
    conn.close()
