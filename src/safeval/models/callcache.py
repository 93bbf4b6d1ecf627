"""The call cache: answers of successful model calls by request hash, shared by a runs folder,
and claims on calls in flight, so two processes on one runs folder do not pay twice."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from safeval.db import WriteThread, connect, damaged, write_many
from safeval.types import Generation

#: How long a claim on a call in flight holds without its answer. A process on this host that
#: died loses its claims at once; one on another host after this long.
LEASE_SECONDS = 600.0
#: How often a process looks whether another one has the cache open (it claims calls only then).
SHARE_CHECK_SECONDS = 0.2
#: When another process comes, new calls wait this long once, so that the calls already in
#: flight in every process are claimed before anyone claims anew (the writer's timer, every half
#: second, looks too).
SHARE_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class CacheBatch:
    """Answers on their way to the cache file: `rows` to insert, claims `ended` by them."""

    path: Path
    written: dict[str, Generation]
    rows: list[tuple[str, str]]
    ended: list[tuple[str, str]]


class CallCache:
    """Answers of successful model calls by request hash, shared by the runs of one runs folder,
    so no identical call is paid for twice. Failed calls are not cached; a damaged row is a
    miss (the call is made again and the row replaced)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = connect(path)
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, generation TEXT NOT NULL)"
            )
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS claims "
                "(key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)"
            )
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS users (owner TEXT PRIMARY KEY, since REAL NOT NULL)"
            )
        except sqlite3.DatabaseError as e:
            raise damaged(
                path, e, "the call cache: deleting it only costs repeated calls"
            ) from None
        self._pending: dict[str, Generation] = {}
        self._claimed: set[str] = set()
        self._unclaimed: set[str] = set()  # calls made while no other process used the cache
        self._writing: set[str] = set()  # pending answers in a write under way
        self._shared = False
        self._shared_checked = -SHARE_CHECK_SECONDS
        self._grace_until = 0.0
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.damaged_rows = 0
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?)", (self.owner, time.time())
            )

    def get(self, key: str) -> Generation | None:
        if key in self._pending:
            return self._pending[key]
        row = self.conn.execute("SELECT generation FROM calls WHERE key=?", (key,)).fetchone()
        if not row:
            return None
        try:
            return Generation.model_validate_json(row[0])
        except (ValidationError, ValueError, TypeError):
            self.damaged_rows += 1
            return None

    # -- calls in flight in other processes -----------------------------------------------
    def claim(self, key: str) -> bool:
        """Take the call `key` for this process. False while another live process holds it: it
        is making that call, so wait for its answer in the cache. A claim ends when its answer
        is cached, it is released, its process dies, or after `LEASE_SECONDS`. While no other
        process uses the cache, nothing is written: the call is only remembered, and claimed
        when another process comes."""
        if not self._is_shared():
            self._unclaimed.add(key)
            return True
        if time.monotonic() < self._grace_until:
            return False  # let the other processes claim the calls they have in flight first
        return self._claim(key)

    def _claim(self, key: str) -> bool:
        for _ in range(3):
            now = time.time()
            try:
                cur = self.conn.execute(
                    "INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "owner=excluded.owner, expires=excluded.expires "
                    "WHERE claims.expires < ? OR claims.owner = excluded.owner",
                    (key, self.owner, now + LEASE_SECONDS, now),
                )
                if cur.rowcount == 1:
                    self._claimed.add(key)
                    return True
                row = self.conn.execute("SELECT owner FROM claims WHERE key=?", (key,)).fetchone()
                if row is not None and _owner_alive(row[0]):
                    return False
                if row is not None:  # its process is gone: take the call over
                    self.conn.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, row[0]))
            except sqlite3.Error:
                return True  # no claim to be had: make the call rather than wait
        return True

    def _is_shared(self) -> bool:
        """Whether another live process has this cache open (looked up every few tenths of a
        second). When one comes, the calls this process has in flight are claimed then."""
        now = time.monotonic()
        if now - self._shared_checked < SHARE_CHECK_SECONDS:
            return self._shared
        self._shared_checked = now
        try:
            others = [
                r[0]
                for r in self.conn.execute(
                    "SELECT owner FROM users WHERE owner != ?", (self.owner,)
                )
            ]
            gone = [(o,) for o in others if not _owner_alive(o)]
            if gone:
                self.conn.executemany("DELETE FROM users WHERE owner=?", gone)
        except sqlite3.Error:
            return self._shared
        shared = len(others) > len(gone)
        if shared and not self._shared:
            for key in list(self._unclaimed):
                self._claim(key)
            self._unclaimed.clear()
            self._grace_until = now + SHARE_GRACE_SECONDS
        self._shared = shared
        return shared

    def release(self, key: str) -> None:
        """Give up the claim on `key` (its call failed, so nothing will be cached)."""
        self._unclaimed.discard(key)
        if key in self._claimed:
            self._claimed.discard(key)
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, self.owner))

    def put(self, key: str, gen: Generation) -> None:
        """Remember an answer; it is written at the next `flush`."""
        self._pending[key] = gen

    def forget(self, key: str) -> None:
        """Drop an answer that turned out unusable (a judgement that did not parse), so the
        next attempt asks the model again instead of reading it back."""
        self._pending.pop(key, None)
        self.conn.execute("DELETE FROM calls WHERE key=?", (key,))

    def take_batch(self) -> CacheBatch | None:
        """The pending answers not already being written, as rows for one transaction (in the
        write thread, `write_batch`); `batch_done` once it committed or failed. They stay
        pending (and `get` finds them) until it commits."""
        self._is_shared()  # on the writer's timer too: claims begin soon after another comes
        written = {k: g for k, g in self._pending.items() if k not in self._writing}
        if not written:
            return None
        self._writing.update(written)
        return CacheBatch(
            self.path,
            written,
            [(k, g.model_dump_json()) for k, g in written.items()],
            [(k, self.owner) for k in written if k in self._claimed],
        )

    @staticmethod
    def write_batch(conn: sqlite3.Connection, batch: CacheBatch) -> None:
        """Write a batch's answers and end their claims (a transaction each)."""
        write_many(conn, "INSERT OR REPLACE INTO calls (key, generation)", batch.rows)
        if batch.ended:  # only while another process shares the cache
            conn.executemany("DELETE FROM claims WHERE key=? AND owner=?", batch.ended)

    def batch_done(self, batch: CacheBatch, committed: bool) -> None:
        """A batch from `take_batch` is written (or failed: its answers stay pending)."""
        self._writing.difference_update(batch.written)
        if not committed:
            return
        for k, g in batch.written.items():
            self._claimed.discard(k)
            self._unclaimed.discard(k)
            if self._pending.get(k) is g:
                del self._pending[k]

    def flush(self) -> None:
        """Write the pending answers (and end their claims) in one transaction, now. They stay
        pending until it commits, so a failed write (disk full, a locked file) loses none."""
        batch = self.take_batch()
        if batch is None:
            return
        try:
            self.write_batch(self.conn, batch)
        except BaseException:
            self.batch_done(batch, committed=False)
            raise
        self.batch_done(batch, committed=True)

    def close(self) -> None:
        """Write what is pending and close. A failed write here (the run's own error, such as a
        full disk, is already on its way) is a warning: those answers are asked again later."""
        try:
            try:
                self.flush()
            except (sqlite3.Error, OSError) as e:
                print(
                    f"warning: {len(self._pending)} answers not written to {self.path} ({e})",
                    file=sys.stderr,
                )
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("DELETE FROM claims WHERE owner=?", (self.owner,))
                self.conn.execute("DELETE FROM users WHERE owner=?", (self.owner,))
        finally:
            WriteThread.release(self.path)
            self.conn.close()


def _owner_alive(owner: str) -> bool:
    """Whether the process holding a claim may still run (one on another host: assume so; its
    lease ends the claim)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
