"""`safeval select`: drop near-duplicates, then keep the K most useful prompts by riskiness
(share of reference models judged unsafe on the prompt), diversity (round robin over taxonomy
nodes), or both (round robin, riskiest first in each node)."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

from safeval.benchmarks.jsonl import read_jsonl
from safeval.benchmarks.seval import read_text
from safeval.errors import ConfigError, DataError
from safeval.report.export import open_run
from safeval.testgen.dedupe import DEFAULT_THRESHOLD, NearDuplicateIndex

STRATEGIES = ("riskiness", "diversity", "both")


def load_candidates(path: Path) -> list[dict[str, Any]]:
    """Records with at least traceid (or id) and prompt."""
    rows = []
    for n, obj in read_jsonl(path, read_text(path)):
        pid = obj.get("traceid", obj.get("id"))
        if not isinstance(pid, str | int) or isinstance(pid, bool):
            raise DataError(path, "missing", line=n, field="traceid")
        if not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
            raise DataError(path, "missing or empty", line=n, field="prompt")
        rows.append({**obj, "_id": str(pid)})
    return rows


def node_of(row: dict[str, Any]) -> str:
    """The most specific taxonomy node a record names."""
    ext = row.get("ext")
    if isinstance(ext, str):
        try:
            ext = json.loads(ext)
        except json.JSONDecodeError:
            ext = {}
    if isinstance(ext, dict) and isinstance(ext.get("taxonomy"), list) and ext["taxonomy"]:
        return " > ".join(ext["taxonomy"])
    return str(row.get("risk_type") or row.get("category") or "uncategorized")


def riskiness_from_runs(run_dirs: list[Path]) -> dict[str, float]:
    """Per prompt id: the share of the runs (reference models) whose answer was judged
    unsafe. Ids are the runs' sample ids (traceid for S-Eval files)."""
    unsafe: dict[str, list[float]] = {}
    for d in run_dirs:
        store = open_run(d)
        try:
            summary = (
                json.loads((d / "summary.json").read_text())
                if (d / "summary.json").is_file()
                else {}
            )
            judges = store.judges()
            judge = summary.get("judge") or (judges[0] if judges else None)
            if judge is None:
                raise ConfigError(f"{d} has no verdicts")
            for r in store.scored_rows(judge):
                if r.gen_error or r.error or r.value is None or r.turn != 0:
                    continue
                unsafe.setdefault(r.sample_id, []).append(1.0 if r.value < 0.5 else 0.0)
        finally:
            store.close()
    return {k: sum(v) / len(v) for k, v in unsafe.items()}


def select(
    candidates: list[dict[str, Any]],
    k: int,
    strategy: str,
    existing: list[str] | None = None,
    riskiness: dict[str, float] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The selected records (with `riskiness` added where known) and what was dropped."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy '{strategy}' (known: {', '.join(STRATEGIES)})")
    if strategy in ("riskiness", "both") and not riskiness:
        raise ConfigError(
            f"strategy '{strategy}' needs --runs of reference models on these prompts"
        )
    index = NearDuplicateIndex(threshold)
    for text in existing or []:
        index.add(text)
    n_existing = len(existing or [])
    kept: list[dict[str, Any]] = []
    dropped = {"near_duplicate_of_existing": 0, "near_duplicate_of_candidate": 0}
    for row in candidates:
        hit = index.closest(row["prompt"])
        if hit is not None:
            key = (
                "near_duplicate_of_existing"
                if hit[0] < n_existing
                else "near_duplicate_of_candidate"
            )
            dropped[key] += 1
            continue
        index.add(row["prompt"])
        r = (riskiness or {}).get(row["_id"])
        kept.append({**row, "riskiness": r})

    def risk_key(row: dict[str, Any]) -> float:
        return -(row["riskiness"] if row["riskiness"] is not None else -1.0)

    if strategy == "riskiness":
        chosen = sorted(kept, key=risk_key)[:k]
    else:
        groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        for row in kept:
            groups.setdefault(node_of(row), []).append(row)
        if strategy == "both":
            for g in groups.values():
                g.sort(key=risk_key)
        chosen = []
        depth = 0
        while len(chosen) < k and any(depth < len(g) for g in groups.values()):
            for g in groups.values():
                if depth < len(g) and len(chosen) < k:
                    chosen.append(g[depth])
            depth += 1
    return [{k2: v for k2, v in row.items() if k2 != "_id"} for row in chosen], dropped
