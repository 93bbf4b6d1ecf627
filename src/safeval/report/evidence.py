"""What a report shows beside the scores: a run's settings, the benign prompts it refused,
and intervals for counts the summary does not carry (heat-map cells). Stores are read-only."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

from safeval.db import file_uri


def wilson(safe: int, n: int) -> tuple[float, float] | None:
    """A 95% Wilson score interval for safe/n, x100; None when n is 0."""
    if n <= 0:
        return None
    z, p = 1.959964, safe / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (round(100 * max(0.0, mid - half), 2), round(100 * min(1.0, mid + half), 2))


def connect_ro(db: Path) -> sqlite3.Connection:
    """A read-only connection: viewing a run never writes to it (nor creates an index)."""
    uri = file_uri(db) + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def run_meta(run_dir: Path) -> dict[str, Any]:
    conn = connect_ro(run_dir / "run.sqlite")
    try:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    finally:
        conn.close()


def settings_of(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """A run's settings as (name, value) rows, from its stored plan and meta."""
    plan = meta.get("plan") or {}
    bench = plan.get("benchmark") or {}
    gen = plan.get("generate") or {}
    model_args = meta.get("model_args") or {}
    rows = [
        ("benchmark", str(bench.get("benchmark") or meta.get("benchmark") or "–")),
        ("data file", str(bench.get("data") or "built-in")),
        ("limit", "none" if bench.get("limit") is None else str(bench.get("limit"))),
        ("language", str(bench.get("lang") or "all")),
        ("model", str(meta.get("model") or plan.get("model") or "–")),
        ("model options", ", ".join(f"{k}={v}" for k, v in model_args.items()) or "none"),
        ("attacks", ", ".join(plan.get("attacks") or meta.get("attacks") or []) or "none"),
        ("attacker", str(plan.get("attacker") or "none")),
        ("seed", str(bench.get("seed", gen.get("seed", "–")))),
        ("temperature", str(gen.get("temperature", "–"))),
        ("max tokens", str(gen.get("max_tokens", "–"))),
    ]
    extra = {**(bench.get("args") or {}), **(bench.get("user_args") or {})}
    if extra:
        rows.append(("benchmark options", ", ".join(f"{k}={v}" for k, v in extra.items())))
    return rows


def refused_sql(conn: sqlite3.Connection, schema: str = "main") -> str:
    """The SQL for "the judge said the answer refused" on verdicts `v`: the store's own
    `refused` column where it has one, else read from the label (refusal, over_refusal)."""
    cols = {r[1] for r in conn.execute(f"PRAGMA {schema}.table_info(verdicts)")}
    if "refused" in cols:
        return "v.refused"
    return (
        "CASE WHEN v.label IS NULL THEN NULL WHEN lower(v.label) LIKE '%refus%' THEN 1 ELSE 0 END"
    )


def over_refusals(run_dir: Path, judge: str, limit: int) -> tuple[int, int, list[dict[str, Any]]]:
    """(benign prompts refused, benign prompts judged, up to `limit` examples)."""
    conn = connect_ro(run_dir / "run.sqlite")
    try:
        refused = refused_sql(conn)
        base = """FROM items i JOIN verdicts v ON v.item_id = i.item_id AND v.judge = ?
                   WHERE i.status = 'done' AND v.error IS NULL
                     AND json_extract(i.sample, '$.harmful') = 0"""
        n_refused, n = conn.execute(
            f"SELECT coalesce(SUM({refused} = 1), 0), COUNT(*) {base}", (judge,)
        ).fetchone()
        rows = conn.execute(
            f"""SELECT i.item_id, i.category, i.attack, i.messages, i.response, v.label,
                       v.explanation {base} AND {refused} = 1 ORDER BY i.item_id LIMIT ?""",
            (judge, limit),
        ).fetchall()
    finally:
        conn.close()
    examples = []
    for r in rows:
        messages = json.loads(r[3])
        examples.append(
            {
                "item_id": r[0],
                "category": r[1],
                "attack": r[2],
                "prompt": messages[-1]["content"] if messages else "",
                "response": r[4] or "",
                "label": r[5] or "",
                "explanation": r[6] or "",
            }
        )
    return int(n_refused), int(n), examples
