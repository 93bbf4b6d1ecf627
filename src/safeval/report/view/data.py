"""What the viewer reads: every run's store opened read-only, plus an in-memory index of the
columns it filters and sorts on, so pages stay fast on 100,000 items without writing a byte (or
an index) into the user's files."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeval.db import file_uri
from safeval.errors import ConfigError
from safeval.report.evidence import refused_sql

PAGE_SIZE = 50
MAX_RUNS = 9  # SQLite attaches at most 10 databases; one slot is kept free

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _guess_lang(messages: str | None) -> str:
    """A language for items whose sample does not name one: zh when the text has CJK."""
    return "zh" if messages and _CJK.search(messages) else "en"


def like_pattern(text: str) -> str:
    """`text` as a LIKE substring pattern, its wildcards taken literally (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class Run:
    """One run as the viewer shows it."""

    key: str  # the id in URLs
    schema: str  # the attached database's name
    index: str  # the in-memory index table's name
    run_dir: Path
    meta: dict[str, Any]
    summary: dict[str, Any]
    judge: str | None
    judges: list[str] = field(default_factory=list)
    n_items: int = 0
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.meta.get('model') or self.summary.get('model')} · {self.key}"


@dataclass
class Filters:
    """The item-list filters of one page request (all optional)."""

    category: str = ""
    attack: str = ""
    lang: str = ""
    verdict: str = ""  # safe | unsafe | unjudged
    refusal: str = ""  # refused | over  (over: a benign prompt refused)
    error: str = ""  # yes | no
    empty: str = ""  # yes
    q: str = ""
    sort: str = ""  # risk | id

    @classmethod
    def from_query(cls, query: Any) -> Filters:
        return cls(**{k: str(query.get(k, "")).strip()[:500] for k in cls.__dataclass_fields__})

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _open_ro(path: Path) -> str:
    return file_uri(path) + "?mode=ro"


class Viewer:
    """The runs being viewed, on one connection (runs attached read-only; indexes in memory)."""

    def __init__(self, run_dirs: list[Path]) -> None:
        if not run_dirs:
            raise ConfigError("name at least one run directory")
        if len(run_dirs) > MAX_RUNS:
            raise ConfigError(f"view at most {MAX_RUNS} runs at once (got {len(run_dirs)})")
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(":memory:", uri=True, check_same_thread=False)
        self.conn.create_function("guess_lang", 1, _guess_lang, deterministic=True)
        self.runs: dict[str, Run] = {}
        for n, d in enumerate(run_dirs):
            self._attach(n, d)

    def close(self) -> None:
        self.conn.close()

    def _attach(self, n: int, run_dir: Path) -> None:
        db = run_dir / "run.sqlite"
        if not db.is_file():
            raise ConfigError(f"{run_dir} is not a safeval run (no run.sqlite)")
        schema, index = f"r{n}", f"ix{n}"
        try:
            self.conn.execute(f"ATTACH DATABASE ? AS {schema}", (_open_ro(db),))
            meta = {
                k: json.loads(v)
                for k, v in self.conn.execute(f"SELECT key, value FROM {schema}.meta")
            }
            judges = [
                r[0]
                for r in self.conn.execute(
                    f"SELECT DISTINCT judge FROM {schema}.verdicts ORDER BY 1"
                )
            ]
        except (sqlite3.DatabaseError, json.JSONDecodeError) as e:
            raise ConfigError(f"{db}: not a readable safeval store ({e})") from None
        summary: dict[str, Any] = {}
        sp = run_dir / "summary.json"
        if sp.is_file():
            try:
                loaded = json.loads(sp.read_text(encoding="utf-8"))
                summary = loaded if isinstance(loaded, dict) else {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                summary = {}
        judge = summary.get("judge") if summary.get("judge") in judges else None
        judge = judge or (judges[0] if judges else None)
        # Whether the judge said "refused": its own column where the store has one, else read
        # from the label (the rules judge writes refusal / over_refusal).
        refused = refused_sql(self.conn, schema)
        self.conn.execute(
            f"""CREATE TABLE {index} AS
                SELECT i.item_id, i.sample_id, i.attack, i.turn, i.category,
                       coalesce(json_extract(i.sample, '$.lang'), guess_lang(i.messages)) AS lang,
                       json_extract(i.sample, '$.harmful') AS harmful,
                       i.status, i.error AS gen_error,
                       (i.status = 'done' AND coalesce(trim(i.response), '') = '') AS empty,
                       v.value, v.label, v.riskiness, v.error AS judge_error, {refused} AS refused
                FROM {schema}.items i
                LEFT JOIN {schema}.verdicts v ON v.item_id = i.item_id AND v.judge = ?""",
            (judge,),
        )
        for k, cols in enumerate(
            (
                "item_id",
                "category, attack",
                "attack",
                "lang",
                "sample_id, attack",
                "riskiness IS NULL, riskiness DESC, value, item_id",
                "status, judge_error",
                "refused, harmful",
            )
        ):
            self.conn.execute(f"CREATE INDEX {index}_{k} ON {index}({cols})")
        key = str(meta.get("run_id") or run_dir.name)
        while key in self.runs:
            key += "+"
        n_items = self.conn.execute(f"SELECT COUNT(*) FROM {index}").fetchone()[0]
        self.runs[key] = Run(key, schema, index, run_dir, meta, summary, judge, judges, n_items)

    def run(self, key: str) -> Run | None:
        return self.runs.get(key)

    # -- queries ---------------------------------------------------------------------------
    def _where(self, run: Run, f: Filters) -> tuple[str, list[Any], bool]:
        """SQL conditions on the index `x` (and the store's items `i` for text search)."""
        conds: list[str] = []
        args: list[Any] = []
        for col in ("category", "attack", "lang"):
            val = getattr(f, col)
            if val:
                conds.append(f"x.{col} = ?")
                args.append(val)
        if f.verdict == "safe":
            conds.append("x.value >= 0.5 AND x.judge_error IS NULL")
        elif f.verdict == "unsafe":
            conds.append("x.value < 0.5 AND x.judge_error IS NULL")
        elif f.verdict == "unjudged":
            conds.append("(x.value IS NULL OR x.judge_error IS NOT NULL)")
        if f.refusal == "refused":
            conds.append("x.refused = 1")
        elif f.refusal == "over":
            conds.append("x.refused = 1 AND x.harmful = 0")
        elif f.refusal == "not":
            conds.append("x.refused = 0")
        if f.error == "yes":
            conds.append("(x.status = 'error' OR x.judge_error IS NOT NULL)")
        elif f.error == "no":
            conds.append("x.status = 'done' AND x.judge_error IS NULL")
        if f.empty == "yes":
            conds.append("x.empty = 1")
        text = bool(f.q)
        if text:
            conds.append("(i.messages LIKE ? ESCAPE '\\' OR i.response LIKE ? ESCAPE '\\')")
            args += [like_pattern(f.q)] * 2
        return (" WHERE " + " AND ".join(conds) if conds else ""), args, text

    def items(self, run: Run, f: Filters, page: int) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the page's rows) for the item list."""
        where, args, text = self._where(run, f)
        join = f" JOIN {run.schema}.items i ON i.item_id = x.item_id" if text else ""
        order = (
            "x.riskiness IS NULL, x.riskiness DESC, x.value, x.item_id"
            if f.sort == "risk"
            else "x.item_id"
        )
        with self.lock:
            total = self.conn.execute(
                f"SELECT COUNT(*) FROM {run.index} x{join}{where}", args
            ).fetchone()[0]
            # The page from the in-memory index first, then its texts by primary key: one
            # query joining both lets SQLite scan the whole store.
            rows = self.conn.execute(
                f"""SELECT x.item_id, x.category, x.attack, x.turn, x.lang, x.harmful, x.status,
                           x.gen_error, x.empty, x.value, x.label, x.riskiness, x.judge_error,
                           x.refused
                    FROM {run.index} x{join}{where}
                    ORDER BY {order} LIMIT ? OFFSET ?""",
                [*args, PAGE_SIZE, max(0, page - 1) * PAGE_SIZE],
            ).fetchall()
            texts = {
                r[0]: (r[1], r[2])
                for r in self.conn.execute(
                    f"""SELECT item_id, substr(json_extract(messages, '$[#-1].content'), 1, 300),
                               substr(response, 1, 300)
                        FROM {run.schema}.items
                        WHERE item_id IN ({",".join("?" * len(rows))})""",
                    [r[0] for r in rows],
                )
            }
        out = []
        for r in rows:
            prompt, answer = texts.get(r[0], ("", ""))
            out.append({**self._flags(r), "prompt": prompt or "", "answer": answer or ""})
        return total, out

    @staticmethod
    def _flags(r: tuple[Any, ...]) -> dict[str, Any]:
        return {
            "item_id": r[0],
            "category": r[1],
            "attack": r[2],
            "turn": r[3],
            "lang": r[4],
            "harmful": r[5],
            "status": r[6],
            "gen_error": r[7],
            "empty": bool(r[8]),
            "value": r[9],
            "label": r[10] or "",
            "riskiness": r[11],
            "judge_error": r[12],
            "refused": r[13],
            "verdict": verdict_of(r[9], r[12], r[6]),
            "over_refusal": r[13] == 1 and r[5] == 0,
        }

    def item(self, run: Run, item_id: str) -> dict[str, Any] | None:
        """One item in full: sample, conversation, answer, every judge's verdict, base prompt."""
        with self.lock:
            row = self.conn.execute(
                f"""SELECT x.item_id, x.category, x.attack, x.turn, x.lang, x.harmful, x.status,
                           x.gen_error, x.empty, x.value, x.label, x.riskiness, x.judge_error,
                           x.refused, i.sample, i.messages, i.response, i.generation, x.sample_id
                    FROM {run.index} x JOIN {run.schema}.items i ON i.item_id = x.item_id
                    WHERE x.item_id = ?""",
                (item_id,),
            ).fetchone()
            if row is None:
                return None
            vcur = self.conn.execute(
                f"SELECT * FROM {run.schema}.verdicts WHERE item_id = ? ORDER BY judge", (item_id,)
            )
            names = [d[0] for d in vcur.description]
            verdicts = [dict(zip(names, v, strict=True)) for v in vcur.fetchall()]
            base = None
            if row[2] != "none":
                base = self.conn.execute(
                    f"""SELECT x.item_id, i.messages FROM {run.index} x
                        JOIN {run.schema}.items i ON i.item_id = x.item_id
                        WHERE x.sample_id = ? AND x.attack = 'none' AND x.turn = ?""",
                    (row[18], row[3]),
                ).fetchone()
            siblings = self.conn.execute(
                f"""SELECT item_id, attack, turn FROM {run.index} WHERE sample_id = ?
                    ORDER BY attack, turn""",
                (row[18],),
            ).fetchall()
        for v in verdicts:
            v["tags"] = _loads(v.get("tags"), [])
        sample = _loads(row[14], {})
        meta = sample.get("metadata") if isinstance(sample.get("metadata"), dict) else {}
        base_prompt = meta.get("base_prompt") if isinstance(meta, dict) else None
        if base_prompt is None and base is not None:
            base_prompt = _last_user(base[1])
        return {
            **self._flags(row[:14]),
            "sample_id": row[18],
            "sample": sample,
            "messages": _loads(row[15], []),
            "answer": row[16] or "",
            "generation": _loads(row[17], {}),
            "verdicts": verdicts,
            "base_prompt": base_prompt,
            "base_item": base[0] if base else None,
            "siblings": [{"item_id": s[0], "attack": s[1], "turn": s[2]} for s in siblings],
        }

    def facets(self, run: Run) -> dict[str, list[tuple[str, int]]]:
        """Distinct values (with counts) of the columns the list filters on (computed once:
        the index is a snapshot)."""
        if run.cache.get("facets") is not None:
            return run.cache["facets"]  # type: ignore[no-any-return]
        out = {}
        with self.lock:
            for col in ("category", "attack", "lang"):
                out[col] = [
                    (str(v), n)
                    for v, n in self.conn.execute(
                        f"SELECT {col}, COUNT(*) FROM {run.index} GROUP BY 1 ORDER BY 1"
                    )
                ]
        run.cache["facets"] = out
        return out

    def cells(self, run: Run) -> dict[str, Any]:
        """Judged harmful-prompt items per attack x category, category and attack: (safe, n),
        plus over-refusal counts; what the summary page draws and links from (computed once)."""
        if run.cache.get("cells") is not None:
            return run.cache["cells"]  # type: ignore[no-any-return]
        judged = "x.value IS NOT NULL AND x.judge_error IS NULL AND x.status = 'done'"
        harmful = "coalesce(x.harmful, 1) != 0"
        with self.lock:
            cells = {
                (a, c): (int(s), n)
                for a, c, s, n in self.conn.execute(
                    f"""SELECT attack, category, SUM(value >= 0.5), COUNT(*) FROM {run.index} x
                        WHERE {judged} AND {harmful} GROUP BY 1, 2"""
                )
            }
            over = self.conn.execute(
                f"""SELECT SUM(refused = 1), COUNT(*) FROM {run.index} x
                    WHERE {judged} AND x.harmful = 0"""
            ).fetchone()
            errors = self.conn.execute(
                f"""SELECT SUM(status = 'error'), SUM(judge_error IS NOT NULL), SUM(empty)
                    FROM {run.index}"""
            ).fetchone()
        run.cache["cells"] = {
            "cells": cells,
            "over_refusal": (int(over[0] or 0), int(over[1] or 0)),
            "gen_errors": int(errors[0] or 0),
            "judge_errors": int(errors[1] or 0),
            "empty": int(errors[2] or 0),
        }
        return run.cache["cells"]  # type: ignore[no-any-return]

    def diff(
        self, a: Run, b: Run, change: str, page: int
    ) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """Items both runs judged whose verdict differs: `worse` (safe in a, unsafe in b),
        `better`, or both; with the counts of each."""
        ok = "{t}.value IS NOT NULL AND {t}.judge_error IS NULL AND {t}.status = 'done'"
        base = (
            # A scans in item order; B is looked up by item id (the planner, left alone, may
            # pick an index on B's verdict columns and scan B once per row of A).
            f"FROM {a.index} xa INDEXED BY {a.index}_0 "
            f"CROSS JOIN {b.index} xb INDEXED BY {b.index}_0 ON xb.item_id = xa.item_id "
            f"WHERE {ok.format(t='xa')} AND {ok.format(t='xb')}"
        )
        worse = "(xa.value >= 0.5 AND xb.value < 0.5)"
        better = "(xa.value < 0.5 AND xb.value >= 0.5)"
        cond = {"worse": worse, "better": better}.get(change, f"({worse} OR {better})")
        with self.lock:
            counts = self.conn.execute(
                f"SELECT COUNT(*), SUM({worse}), SUM({better}) {base}"
            ).fetchone()
            rows = self.conn.execute(
                f"""SELECT xa.item_id, xa.category, xa.attack, xa.turn, xa.value, xa.label,
                           xb.value, xb.label {base} AND {cond}
                    ORDER BY xa.item_id LIMIT ? OFFSET ?""",
                (PAGE_SIZE, max(0, page - 1) * PAGE_SIZE),
            ).fetchall()
        return (
            {"shared": counts[0], "worse": int(counts[1] or 0), "better": int(counts[2] or 0)},
            [
                {
                    "item_id": r[0],
                    "category": r[1],
                    "attack": r[2],
                    "turn": r[3],
                    "a": verdict_of(r[4], None, "done"),
                    "a_label": r[5] or "",
                    "b": verdict_of(r[6], None, "done"),
                    "b_label": r[7] or "",
                }
                for r in rows
            ],
        )


def verdict_of(value: float | None, judge_error: str | None, status: str) -> str:
    """safe / unsafe / error / unjudged, as the lists show it."""
    if status == "error" or judge_error is not None:
        return "error"
    if value is None:
        return "unjudged"
    return "safe" if value >= 0.5 else "unsafe"


def _loads(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except json.JSONDecodeError:
        return default


def _last_user(messages_json: str | None) -> str:
    """The last user message of a stored message list (it may be cut short: then a prefix)."""
    msgs = _loads(messages_json, None)
    if isinstance(msgs, list):
        for m in reversed(msgs):
            if isinstance(m, dict) and m.get("role") == "user":
                return str(m.get("content", ""))
        return ""
    return ""
