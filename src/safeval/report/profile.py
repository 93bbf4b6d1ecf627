"""One model's safety across benchmarks on the unified risk map (taxonomy/data/riskmap.json).

Every benchmark's categories map to a unified category; a run contributes, per unified
category, the mean of its judged answers on a 0..100 "higher is safer" scale (share judged
safe; SafetyBench: share answered correctly; SC-Safety: points over maximum).
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

from safeval.report.export import open_run
from safeval.taxonomy.tree import DATA


@cache
def risk_map() -> dict[str, Any]:
    """The unified risk map as data."""
    data: dict[str, Any] = json.loads((DATA / "riskmap.json").read_text(encoding="utf-8"))
    return data


def run_profile(run_dir: Path) -> dict[str, Any]:
    """{run, benchmark, model, judge, by_unified: {key: score}, n: {key: count}} for one run."""
    rm = risk_map()
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    store = open_run(run_dir)
    try:
        meta = store.meta()
        bench = meta.get("benchmark", "")
        judge = summary.get("judge") or (store.judges() or [""])[0]
        mapping = rm["map"].get(bench, {})
        vals: dict[str, list[float]] = defaultdict(list)
        for r in store.scored_rows(judge, with_samples=True):
            if r.gen_error or r.error or r.value is None or r.sample is None:
                continue
            if r.harmful is False:
                continue  # benign prompts measure over-refusal, not safety
            key = r.sample.metadata.get("ability", "") if bench == "scsafety" else r.category
            unified = mapping.get(key)
            if unified is None:
                continue
            v = r.value / 2.0 if bench == "scsafety" else (1.0 if r.value >= 0.5 else 0.0)
            vals[unified].append(v)
    finally:
        store.close()
    return {
        "run": str(run_dir),
        "benchmark": bench,
        "model": meta.get("model"),
        "judge": judge,
        "by_unified": {k: round(100 * sum(v) / len(v), 2) for k, v in sorted(vals.items())},
        "n": {k: len(v) for k, v in sorted(vals.items())},
    }


def profile(run_dirs: list[Path]) -> dict[str, Any]:
    """Per-run profiles and, per unified category, the mean over the runs that cover it."""
    runs = [run_profile(d) for d in run_dirs]
    merged: dict[str, list[float]] = defaultdict(list)
    for p in runs:
        for k, v in p["by_unified"].items():
            merged[k].append(v)
    names = {u["key"]: u["name"] for u in risk_map()["unified"]}
    return {
        "models": sorted({str(p["model"]) for p in runs}),
        "runs": runs,
        "unified": {
            k: {"name": names[k], "mean": round(sum(v) / len(v), 2), "n_runs": len(v)}
            for k, v in sorted(merged.items())
        },
    }
