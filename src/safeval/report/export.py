"""Exports of stored runs into other tools' formats."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from safeval.errors import ConfigError
from safeval.report.csvsafe import safe_cell
from safeval.report.evidence import connect_ro
from safeval.runner.run import benchmark_of
from safeval.runner.store import RunStore


def open_run(run_dir: Path) -> RunStore:
    db = run_dir / "run.sqlite"
    if not db.is_file():
        raise ConfigError(f"{run_dir} is not a safeval run (no run.sqlite)")
    return RunStore(db, readonly=True)


#: The files of a run folder (and of a runs folder) that no export or report may replace.
RUN_FILES = frozenset({"run.sqlite", "cache.sqlite", "summary.json", ".lock"})


def check_output(path: Path, inputs: Iterable[Path] = ()) -> None:
    """Refuse an output path that would replace a run's own files, any SQLite database (an
    `--out` pointed at a run's store destroyed the run, exit 0) or one of the command's own
    `inputs` (`select --in X --out X` kept 3 of 30 candidates and lost the rest)."""
    if path.is_dir():
        raise ConfigError(f"{path} is a folder: give a file name to write")
    for src in inputs:
        try:
            same = os.path.samefile(path, src)
        except OSError:  # one of them does not exist (yet)
            same = path.resolve() == src.resolve()
        if same:
            raise ConfigError(f"{path} is an input of this command: write the output elsewhere")
    name = path.name.removesuffix("-wal").removesuffix("-shm")
    in_run = name in RUN_FILES and (path.parent / "run.sqlite").exists()
    in_summaries = path.parent.name == "summaries" and (path.parent.parent / "run.sqlite").exists()
    if in_run or in_summaries or name == "cache.sqlite":
        raise ConfigError(f"{path} belongs to a safeval run: write the output somewhere else")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return  # absent (or unreadable: the write itself will say why)
    if head == b"SQLite format 3\x00":
        raise ConfigError(f"{path} is an SQLite database: refusing to write over it")


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that it is either whole or absent."""
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write (disk full) leaves no temp file behind
        raise


def export_safetybench(run_dir: Path, out: Path, judge: str = "mcq") -> dict[str, Any]:
    """The official submission file {"id": 0..3}. Unextracted answers get the official fallback
    (a random option, seed 2023); how many did is returned, to be reported."""
    store = open_run(run_dir)
    try:
        bench = benchmark_of(store.meta())
        if bench.name != "safetybench":
            raise ConfigError(f"{run_dir} is a {bench.name} run, not safetybench")
        if judge not in store.judges():
            raise ConfigError(f"{run_dir} has no verdicts from judge '{judge}'")
        preds, missing, by_id = bench.predictions(  # type: ignore[attr-defined]
            store.scored_rows(judge, with_samples=True), "random"
        )
        failed = sum(1 for r in by_id.values() if r.gen_error is not None or r.error is not None)
    finally:
        store.close()
    write_atomic(out, json.dumps(preds, indent=2))
    return {"n": len(preds), "unextracted_filled": missing, "failed_missing": failed}


def _saved_judge(run_dir: Path) -> str | None:
    p = run_dir / "summary.json"
    return json.loads(p.read_text()).get("judge") if p.is_file() else None


def export_dpo(run_dirs: list[Path], out: Path, judge: str | None = None) -> dict[str, Any]:
    """(prompt, chosen, rejected, category) records: for each prompt asked in several runs,
    one record per pair of runs where one answer was judged safe and the other unsafe."""
    answers: dict[str, list[tuple[str, bool, str, str]]] = {}  # key -> (run, safe, text, cat)
    prompts: dict[str, str] = {}
    for d in run_dirs:
        store = open_run(d)
        try:
            meta = store.meta()
            use = judge or meta.get("judge") or _saved_judge(d)
            if use is None or use not in store.judges():
                raise ConfigError(f"{d} has no verdicts from judge '{use}'")
            bench = benchmark_of(meta)
            for row in bench.outcomes(
                store.scored_rows(use, with_samples=bench.scores_read_samples)
            ):
                if row.safe is None:
                    continue  # errors, empty answers, benign prompts: no safe/unsafe verdict
                stored, response = store.conversation_of(row.item_id)
                prompt = next((m.content for m in reversed(stored) if m.role == "user"), "")
                key = f"{row.item_id}\u0000{prompt}"
                prompts[key] = prompt
                answers.setdefault(key, []).append((str(d), row.safe, response, row.category))
        finally:
            store.close()
    records = []
    for key, group in answers.items():
        safe = [a for a in group if a[1]]
        unsafe = [a for a in group if not a[1]]
        for s in safe:
            for u in unsafe:
                records.append(
                    {
                        "prompt": prompts[key],
                        "chosen": s[2],
                        "rejected": u[2],
                        "category": s[3],
                        "chosen_run": s[0],
                        "rejected_run": u[0],
                    }
                )
    write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return {"n": len(records), "prompts": len(answers)}


ITEM_FIELDS = [
    "run",
    "item_id",
    "sample_id",
    "category",
    "attack",
    "lang",
    "turn",
    "harmful",
    "prompt",
    "base_prompt",
    "answer",
    "status",
    "error",
]
VERDICT_FIELDS = ["value", "label", "riskiness", "refused", "explanation", "tags", "error"]


def neutralise_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (see `report.csvsafe`)."""
    return safe_cell(value)


def _last_user(messages: list[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def iter_items(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Every stored item of a run, with its prompt, base prompt, answer and every judge's
    verdict, in item order; the store is read, never written."""
    db = run_dir / "run.sqlite"
    if not db.is_file():
        raise ConfigError(f"{run_dir} is not a safeval run (no run.sqlite)")
    conn = connect_ro(db)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        run = json.loads(meta["run_id"]) if "run_id" in meta else run_dir.name
        vcols = {r[1] for r in conn.execute("PRAGMA table_info(verdicts)")}
        refused = "refused" if "refused" in vcols else "NULL"
        verdicts = conn.execute(
            f"""SELECT item_id, judge, value, label, riskiness, {refused}, explanation, tags,
                       error FROM verdicts ORDER BY item_id, judge"""
        )
        pending = verdicts.fetchone()
        items = conn.execute(
            """SELECT i.item_id, i.sample_id, i.category, i.attack, i.turn, i.sample,
                      i.messages, i.response, i.status, i.error, b.messages
               FROM items i LEFT JOIN items b
                 ON b.sample_id = i.sample_id AND b.attack = 'none' AND b.turn = i.turn
                    AND i.attack != 'none'
               ORDER BY i.item_id"""
        )
        for r in items:
            sample = json.loads(r[5])
            meta_s = sample.get("metadata") or {}
            base = meta_s.get("base_prompt") if isinstance(meta_s, dict) else None
            if base is None and r[10] is not None:
                base = _last_user(json.loads(r[10]))
            row: dict[str, Any] = {
                "run": run,
                "item_id": r[0],
                "sample_id": r[1],
                "category": r[2],
                "attack": r[3],
                "lang": sample.get("lang"),
                "turn": r[4],
                "harmful": sample.get("harmful"),
                "prompt": _last_user(json.loads(r[6])),
                "base_prompt": base if r[3] != "none" else None,
                "answer": r[7] if r[8] == "done" else None,
                "status": r[8],
                "error": r[9],
                "verdicts": {},
            }
            while pending is not None and pending[0] < r[0]:
                pending = verdicts.fetchone()
            while pending is not None and pending[0] == r[0]:
                v = dict(zip(VERDICT_FIELDS, pending[2:], strict=True))
                v["refused"] = None if v["refused"] is None else bool(v["refused"])
                v["tags"] = json.loads(v["tags"]) if v["tags"] else []
                row["verdicts"][pending[1]] = v
                pending = verdicts.fetchone()
            yield row
    except sqlite3.DatabaseError as e:
        raise ConfigError(f"{db}: not a readable safeval store ({e})") from None
    finally:
        conn.close()


def export_items(run_dirs: list[Path], out: Path, fmt: str) -> dict[str, Any]:
    """One row per stored item of every run, as JSON Lines (verdicts nested by judge) or CSV
    (one `judge.field` column per judge and field; cells neutralised against formulas)."""
    if fmt not in ("jsonl", "csv"):
        raise ConfigError(f"unknown item format '{fmt}' (known: jsonl, csv)")
    check_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    n = 0
    try:
        if fmt == "jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for d in run_dirs:
                    for row in iter_items(d):
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                        n += 1
        else:
            judges: list[str] = []
            for d in run_dirs:  # the columns: every judge of every run
                for row in iter_items(d):
                    judges.extend(j for j in row["verdicts"] if j not in judges)
            fields = ITEM_FIELDS + [f"{j}.{f}" for j in judges for f in VERDICT_FIELDS]
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=fields)
                w.writeheader()
                for d in run_dirs:
                    for row in iter_items(d):
                        flat = {k: row[k] for k in ITEM_FIELDS}
                        for j, v in row["verdicts"].items():
                            for f in VERDICT_FIELDS:
                                val = v[f]
                                flat[f"{j}.{f}"] = ", ".join(val) if f == "tags" else val
                        w.writerow({k: neutralise_cell(v) for k, v in flat.items()})
                        n += 1
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"n": n, "runs": len(run_dirs)}
