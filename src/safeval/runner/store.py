"""The run store: one SQLite file per run, one row per (sample, attack, turn).

Rows are written in batches (one transaction each) so the store keeps up with fast models; WAL
mode means a killed process loses at most the batch not yet committed, never a committed row.
Verdicts live in their own table keyed by (item, judge), so re-judging adds rows and touches no
generation.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeval.db import WriteThread, connect, connect_readonly, damaged, write_many
from safeval.errors import DataError
from safeval.types import Generation, Message, Sample, Score
from safeval.types.record import ItemRow, ScoredRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    sample_id TEXT NOT NULL,
    attack TEXT NOT NULL,
    turn INTEGER NOT NULL,
    category TEXT NOT NULL,
    sample TEXT NOT NULL,
    messages TEXT NOT NULL,
    request_key TEXT,
    response TEXT,
    generation TEXT,
    status TEXT NOT NULL,
    error TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (
    item_id TEXT NOT NULL,
    judge TEXT NOT NULL,
    value REAL,
    label TEXT,
    riskiness REAL,
    tags TEXT,
    explanation TEXT,
    error TEXT,
    updated REAL NOT NULL,
    refused INTEGER,
    PRIMARY KEY (item_id, judge)
);
"""
VERDICT_COLUMNS = (
    "item_id, judge, value, label, riskiness, tags, explanation, error, updated, refused"
)


DAMAGED_ADVICE = (
    "restore it from a copy, or move the run folder away and run again (answers in the runs "
    "folder's cache.sqlite are not paid for twice)"
)


#: A stored sample's `harmful` from the JSON type SQLite reports for it; a sample stored without
#: the field has the model's default (True), as parsing it would give.
_HARMFUL: dict[str | None, bool | None] = {"true": True, "false": False, "null": None, None: True}
_UNUSUAL = object()


@dataclass(frozen=True)
class Sink:
    """Where a batch writer's rows go: the file, how one row becomes SQL parameters, and the
    transaction that writes many of them through a connection to the file (the write
    thread's own)."""

    path: Path
    prepare: Callable[[Any], tuple]
    write: Callable[[sqlite3.Connection, list[tuple]], None]


def item_id(sample_id: str, attack: str, turn: int) -> str:
    """The primary key of a stored item."""
    return f"{sample_id}|{attack}|{turn}"


class RunStore:
    """Read and write one run's SQLite file."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        """Open (or create) the store at `path`; `readonly` for readers, which never write (a
        read-only runs folder works). A damaged or foreign file is a DataError naming it."""
        self.path = path
        self.readonly = readonly
        self._refused_col = "v.refused"
        try:
            self.conn = connect_readonly(path) if readonly else connect(path)
        except sqlite3.DatabaseError as e:
            raise damaged(path, e, DAMAGED_ADVICE) from None
        try:
            self._check(readonly)
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise damaged(path, e, DAMAGED_ADVICE) from None
        except DataError:
            self.conn.close()
            raise

    def _check(self, readonly: bool) -> None:
        ok = self.conn.execute("PRAGMA quick_check(1)").fetchone()
        if ok is None or ok[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {ok[0] if ok else 'no answer'}")
        if not readonly:
            self.conn.executescript(SCHEMA)
            cols = {r[1] for r in self.conn.execute("PRAGMA table_info(verdicts)")}
            if "refused" not in cols:  # a store made before judges reported refusals
                self.conn.execute("ALTER TABLE verdicts ADD COLUMN refused INTEGER")
            return
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(verdicts)")}
        # A read-only store made before judges reported refusals: read it as unknown.
        self._refused_col = "v.refused" if "refused" in cols or not cols else "NULL"
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        missing = {"meta", "items", "verdicts"} - tables
        if missing:
            raise DataError(
                self.path,
                f"not a safeval run store (no table {', '.join(sorted(missing))}): the file is "
                f"empty or was truncated; {DAMAGED_ADVICE}",
            )

    def close(self) -> None:
        WriteThread.release(self.path)
        self.conn.close()

    # -- meta ----------------------------------------------------------------------------
    def set_meta(self, values: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    # -- items ---------------------------------------------------------------------------
    def done_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT item_id FROM items WHERE status='done'")}

    @staticmethod
    def item_params(row: tuple[str, Sample, int, list[Message], str | None, Generation]) -> tuple:
        """The SQL parameters of one (item_id, sample, turn, messages, request_key, generation)
        row (made as answers come, so that a write is only the transaction)."""
        iid, sample, turn, messages, key, gen = row
        sample_id, attack, _ = iid.rsplit("|", 2)
        return (
            iid,
            sample_id,
            attack,
            turn,
            sample.category,
            sample.model_dump_json(),
            json.dumps([m.model_dump() for m in messages], ensure_ascii=False),
            key,
            gen.text if gen.ok else None,
            gen.model_dump_json(exclude={"text"}),
            "done" if gen.ok else "error",
            gen.error,
            time.time(),
        )

    @staticmethod
    def write_items(conn: sqlite3.Connection, params: Sequence[Sequence[Any]]) -> None:
        """Write rows of `item_params` in one transaction (on this store's file, through any
        connection to it)."""
        write_many(conn, f"INSERT OR REPLACE INTO items ({RunStore.ITEM_COLUMNS})", params)

    def put_items(
        self, rows: list[tuple[str, Sample, int, list[Message], str | None, Generation]]
    ) -> None:
        """Write (item_id, sample, turn, messages, request_key, generation) rows in one
        transaction."""
        self.write_items(self.conn, [self.item_params(r) for r in rows])

    def items_sink(self) -> Sink:
        """Where a batch writer sends answers."""
        return Sink(self.path, self.item_params, self.write_items)

    ITEM_COLUMNS = (
        "item_id, sample_id, attack, turn, category, sample, messages, request_key, response, "
        "generation, status, error, updated"
    )

    def raw_items(self) -> list[list[Any]]:
        """Every item row as plain values (to send from a shard to the run's store)."""
        cur = self.conn.execute(f"SELECT {self.ITEM_COLUMNS} FROM items ORDER BY item_id")
        return [list(r) for r in cur]

    def put_raw_items(self, rows: list[list[Any]]) -> int:
        """Write rows from `raw_items` of another store, checking each before anything is
        written (the sample and generation must parse, the status be done or error)."""
        for r in rows:
            if len(r) != 13 or r[10] not in ("done", "error"):
                raise ValueError(f"not an item row: {str(r)[:200]}")
            Sample.model_validate_json(r[5])
            Generation.model_validate_json(r[9])
        self.write_items(self.conn, rows)
        return len(rows)

    def conversation_of(self, iid: str) -> tuple[list[Message], str]:
        """The messages a done item was asked with, and its answer."""
        row = self.conn.execute(
            "SELECT messages, response FROM items WHERE item_id=? AND status='done'", (iid,)
        ).fetchone()
        if row is None:
            return [], ""
        return [Message(**m) for m in json.loads(row[0])], row[1] or ""

    def items_to_judge(self, judge: str, page: int = 1000) -> Iterator[ItemRow]:
        """Done items with no successful verdict from `judge` (errors are judged again).

        Read a page at a time by key, so memory stays flat on big runs and verdicts can be
        written on the same connection between pages."""
        last = ""
        while True:
            rows = self.conn.execute(
                """SELECT i.item_id, i.sample, i.attack, i.turn, i.messages, i.response,
                          i.status, i.error
                   FROM items i LEFT JOIN verdicts v ON v.item_id = i.item_id AND v.judge = ?
                   WHERE i.status = 'done' AND (v.item_id IS NULL OR v.error IS NOT NULL)
                         AND i.item_id > ?
                   ORDER BY i.item_id LIMIT ?""",
                (judge, last, page),
            ).fetchall()
            for r in rows:
                yield ItemRow(
                    item_id=r[0],
                    sample=Sample.model_validate_json(r[1]),
                    attack=r[2],
                    turn=r[3],
                    messages=[Message(**m) for m in json.loads(r[4])],
                    response=r[5] or "",
                    status=r[6],
                    error=r[7],
                )
            if len(rows) < page:
                return
            last = rows[-1][0]

    def count_to_judge(self, judge: str) -> int:
        row = self.conn.execute(
            """SELECT COUNT(*) FROM items i LEFT JOIN verdicts v
               ON v.item_id = i.item_id AND v.judge = ?
               WHERE i.status = 'done' AND (v.item_id IS NULL OR v.error IS NOT NULL)""",
            (judge,),
        ).fetchone()
        return int(row[0])

    # -- verdicts ------------------------------------------------------------------------
    @staticmethod
    def verdict_params(row: tuple[str, Score]) -> tuple:
        """The SQL parameters of one (item_id, score) row."""
        iid, s = row
        return (
            iid,
            s.judge,
            s.value if s.error is None else None,
            s.label,
            s.riskiness,
            json.dumps(s.tags, ensure_ascii=False),
            s.explanation,
            s.error,
            time.time(),
            None if s.refused is None or s.error is not None else int(s.refused),
        )

    @staticmethod
    def write_verdicts(conn: sqlite3.Connection, params: list[tuple]) -> None:
        """Write rows of `verdict_params` in one transaction."""
        write_many(conn, f"INSERT OR REPLACE INTO verdicts ({VERDICT_COLUMNS})", params)

    def put_verdicts(self, rows: list[tuple[str, Score]]) -> None:
        self.write_verdicts(self.conn, [self.verdict_params(r) for r in rows])

    def verdicts_sink(self) -> Sink:
        """Where a batch writer sends verdicts."""
        return Sink(self.path, self.verdict_params, self.write_verdicts)

    def tag_counts(self, judge: str, most: int = 50) -> dict[str, int]:
        """How many verdicts of `judge` carry each tag (risk tags, `scored_by:logprob`,
        `escalated`, ...), the most common first."""
        counts: dict[str, int] = {}
        for (raw,) in self.conn.execute(
            "SELECT tags FROM verdicts WHERE judge=? AND error IS NULL AND tags != '[]'", (judge,)
        ):
            for tag in json.loads(raw):
                counts[tag] = counts.get(tag, 0) + 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
        return dict(top)

    def delete_verdicts(self, judge: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM verdicts WHERE judge=?", (judge,))

    def judges(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT judge FROM verdicts ORDER BY 1")]

    def scored_rows(self, judge: str, with_samples: bool = False) -> Iterator[ScoredRow]:
        """Every item, with its verdict by `judge` where there is one. The sample's `harmful`
        and `lang` are read in SQL; the whole sample is parsed only `with_samples` (that parse
        was most of the cost of a 20,000-item summary)."""
        cur = self.conn.execute(
            f"""SELECT i.item_id, i.sample_id, i.category, i.attack, i.turn,
                      CASE WHEN ? THEN i.sample END, v.value, v.label, v.error,
                      i.error, i.status, {self._refused_col}, v.tags,
                      json_type(i.sample, '$.harmful'), json_extract(i.sample, '$.lang')
               FROM items i LEFT JOIN verdicts v ON v.item_id = i.item_id AND v.judge = ?
               ORDER BY i.item_id""",
            (with_samples, judge),
        )
        for r in cur:
            sample = Sample.model_validate_json(r[5]) if with_samples else None
            harmful = _HARMFUL.get(r[13], _UNUSUAL)
            if harmful is _UNUSUAL:  # not a JSON bool or null: as the sample's parse reads it
                harmful = (sample or self._sample_of(r[0])).harmful
            yield ScoredRow(
                item_id=r[0],
                sample_id=r[1],
                category=r[2],
                attack=r[3],
                turn=r[4],
                harmful=harmful,  # type: ignore[arg-type]
                value=r[6],
                label=r[7] or "",
                error=r[8],
                gen_error=r[9] if r[10] == "error" else None,
                sample=sample,
                refused=None if r[11] is None else bool(r[11]),
                tags=tuple(json.loads(r[12])) if r[12] and r[12] != "[]" else (),
                lang=r[14],
            )

    def _sample_of(self, iid: str) -> Sample:
        (raw,) = self.conn.execute("SELECT sample FROM items WHERE item_id=?", (iid,)).fetchone()
        return Sample.model_validate_json(raw)

    def worst_items(self, judge: str, limit: int) -> list[dict[str, Any]]:
        """Answers `judge` found unsafe (value < 0.5), the riskiest first where the judge gives a
        riskiness: the evidence a report shows."""
        cur = self.conn.execute(
            """SELECT i.item_id, i.category, i.attack, i.messages, i.response, v.value, v.label,
                      v.riskiness, v.explanation, v.tags
               FROM items i JOIN verdicts v ON v.item_id = i.item_id AND v.judge = ?
               WHERE i.status = 'done' AND v.error IS NULL AND v.value < 0.5
               ORDER BY v.riskiness IS NULL, v.riskiness DESC, v.value, i.item_id
               LIMIT ?""",
            (judge, limit),
        )
        out = []
        for r in cur:
            messages = json.loads(r[3])
            out.append(
                {
                    "item_id": r[0],
                    "category": r[1],
                    "attack": r[2],
                    "prompt": messages[-1]["content"] if messages else "",
                    "response": r[4] or "",
                    "value": r[5],
                    "label": r[6] or "",
                    "riskiness": r[7],
                    "explanation": r[8] or "",
                    "tags": json.loads(r[9]) if r[9] else [],
                }
            )
        return out

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "error": 0}
        for status, n in self.conn.execute("SELECT status, COUNT(*) FROM items GROUP BY status"):
            out[status] = n
        return out


def read_summary(run_dir: Path) -> dict[str, Any]:
    """A run's summary.json; a DataError saying what to do when it is missing or damaged."""
    path = run_dir / "summary.json"
    if not path.is_file():
        raise DataError(path, f"not found: is {run_dir} a finished safeval run?")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:
        raise DataError(
            path,
            f"damaged ({type(e).__name__}: {e}): `safeval judge {run_dir}` writes it again from "
            "run.sqlite",
        ) from None
    need = ("benchmark", "model", "judge", "scores", "n_done", "n_total", "n_errors")
    missing = [k for k in need if k not in summary] if isinstance(summary, dict) else ["scores"]
    if missing or not isinstance(summary["scores"], dict):
        raise DataError(
            path,
            f"not a safeval summary: `safeval judge {run_dir}` writes it again",
            field=missing[0] if missing else "scores",
        )
    return summary
