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

from safeval.metrics.bootstrap import share_ci
from safeval.metrics.outcomes import pct
from safeval.report.export import open_run
from safeval.report.runs import run_outcomes
from safeval.taxonomy.tree import DATA


@cache
def risk_map() -> dict[str, Any]:
    """The unified risk map as data."""
    data: dict[str, Any] = json.loads((DATA / "riskmap.json").read_text(encoding="utf-8"))
    return data


def run_profile(run_dir: Path) -> dict[str, Any]:
    """{run, benchmark, model, judge, by_unified: {key: score}, n: {key: count}, ci95} for one
    run, from the run's own outcomes (the numbers `show` prints, regrouped)."""
    rm = risk_map()
    summary, outcomes = run_outcomes(run_dir)
    bench = str(summary.get("benchmark"))
    mapping = rm["map"].get(bench, {})
    abilities = _abilities(run_dir) if bench == "scsafety" else {}
    subdimensions = rm.get("scsafety_subdimension", {})
    vals: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        if o.kind != "scored" or o.value is None:
            continue  # errors, empty answers, benign prompts (over-refusal) are not safety
        if bench == "scsafety":  # by sub-dimension where it names a risk, else by ability
            unified = subdimensions.get(o.category) or mapping.get(abilities.get(o.sample_id, ""))
        else:
            unified = mapping.get(o.category)
        if unified is not None:
            vals[unified].append(o.value)
    return {
        "run": str(run_dir),
        "benchmark": bench,
        "model": summary.get("model"),
        "judge": summary.get("judge"),
        "by_unified": {k: pct(v) for k, v in sorted(vals.items())},
        "n": {k: len(v) for k, v in sorted(vals.items())},
        "ci95": {k: share_ci(v) for k, v in sorted(vals.items())},
    }


def _abilities(run_dir: Path) -> dict[str, str]:
    """SC-Safety sample id -> ability, from the stored samples."""
    store = open_run(run_dir)
    try:
        return {
            r.sample_id: str(r.sample.metadata.get("ability", ""))
            for r in store.scored_rows("", with_samples=True)
            if r.sample is not None
        }
    finally:
        store.close()


def profile(run_dirs: list[Path]) -> dict[str, Any]:
    """Per-run profiles side by side on the unified categories. Scores of different benchmarks
    are different measurements (share refused, share answered correctly, points): they are shown
    next to each other, never averaged. A run named twice (by any spelling) counts once."""
    unique: dict[Path, Path] = {}
    for d in run_dirs:
        unique.setdefault(d.resolve(), d)
    runs = [run_profile(d) for d in unique.values()]
    covered: dict[str, list[str]] = defaultdict(list)
    for p in runs:
        for k in p["by_unified"]:
            covered[k].append(p["benchmark"])
    names = {u["key"]: u["name"] for u in risk_map()["unified"]}
    return {
        "models": sorted({str(p["model"]) for p in runs}),
        "runs": runs,
        "unified": {
            k: {"name": names[k], "benchmarks": sorted(set(v)), "n_runs": len(v)}
            for k, v in sorted(covered.items())
        },
    }
