"""SQLite connections: one place that sets the pragmas every safeval database uses."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from safeval.errors import DataError


def connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for one writer per file and crash safety."""
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
    except BaseException:
        conn.close()
        raise
    return conn


def file_uri(path: Path) -> str:
    """The SQLite URI of a file (no query): every character of the path that a URI reads
    otherwise is escaped. Escaping only `?` and `#` read `runs/x%41` as `runs/xA`, another
    run's store."""
    return "file:" + pathname2url(str(path.resolve()))


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes, for readers (show, report, export, compare): it works on
    a read-only runs folder and on a run another process is writing. Raises DataError when the
    file is missing or is not an SQLite database."""
    if not path.is_file():
        raise DataError(path, "file not found")
    url = file_uri(path)
    conn = sqlite3.connect(url + "?mode=ro", uri=True, timeout=30.0, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database in a folder we cannot write (no shared-memory file can be made): read
        # it as it stands on disk.
        conn.close()
        conn = sqlite3.connect(url + "?immutable=1", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        conn.close()
        raise damaged(path, e) from None
    return conn


def damaged(path: Path, error: BaseException, advice: str = "") -> DataError:
    """The error for an SQLite file that cannot be read: which file, and what to do."""
    what = advice or "move it away (or restore a copy) and run again"
    return DataError(path, f"damaged or not an SQLite database ({error}): {what}")


def write_many(conn: sqlite3.Connection, insert: str, params: Sequence[Sequence[Any]]) -> None:
    """`insert` ("INSERT OR REPLACE INTO t (a, b)") for every row of `params`, in one
    transaction (rolled back if any row fails).

    The rows go in as one JSON array read by one statement, so SQLite does the whole batch with
    the interpreter released; `executemany` takes it back for every row, and in the write thread
    each of those cost the event loop a switch (a CPU-bound run of 10,000 items took 2.10 s
    instead of 1.76 s). A batch that this cannot carry goes row by row: a non-finite float (no
    JSON form), or a NUL character (SQLite's JSON text ends at it; model output is untrusted)."""
    try:
        payload: str | None = json.dumps(params, ensure_ascii=False, allow_nan=False)
    except ValueError:
        payload = None
    if payload is not None and "\\u0000" in payload:
        payload = None
    width = len(params[0]) if params else 0
    conn.execute("BEGIN")
    try:
        if payload is None:
            conn.executemany(f"{insert} VALUES ({', '.join('?' * width)})", params)
        elif params:
            cols = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(width))
            conn.execute(f"{insert} SELECT {cols} FROM json_each(?)", (payload,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


ConnectionOf = Callable[[Path], sqlite3.Connection]


class WriteThread:
    """SQLite transactions in one thread of their own, on connections opened there, so that a
    run's event loop never stops for a commit while requests are in flight (SQLite works with
    the interpreter released; WAL lets the loop's own connections read meanwhile). One per
    process: jobs run in the order given, so an answer's cache write handed over before its
    store write commits first, whichever writer handed them over."""

    _shared: WriteThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="safeval-writes")
        self._conns: dict[str, sqlite3.Connection] = {}  # used in the thread only

    @classmethod
    def shared(cls) -> WriteThread:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def submit(self, job: Callable[[ConnectionOf], None]) -> Future[None]:
        """Run `job(connection_of)` in the thread; `connection_of(path)` is the thread's own
        connection to that file."""
        return self._pool.submit(job, self._connection)

    def _connection(self, path: Path) -> sqlite3.Connection:
        conn = self._conns.get(str(path))
        if conn is None:
            conn = self._conns[str(path)] = connect(path)
        return conn

    @classmethod
    def release(cls, path: Path) -> None:
        """Close the thread's connection to `path` (its store or cache is closing), once the
        writes handed over before are done."""
        thread = cls._shared
        if thread is None:
            return

        def close(_: ConnectionOf) -> None:
            conn = thread._conns.pop(str(path), None)
            if conn is not None:
                conn.close()

        thread.submit(close).result()
