"""Exports of stored runs into other tools' formats."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safeval.errors import ConfigError
from safeval.runner.run import benchmark_of
from safeval.runner.store import RunStore


def open_run(run_dir: Path) -> RunStore:
    db = run_dir / "run.sqlite"
    if not db.is_file():
        raise ConfigError(f"{run_dir} is not a safeval run (no run.sqlite)")
    return RunStore(db)


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that it is either whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
        preds, missing, failed = bench.predictions(  # type: ignore[attr-defined]
            store.scored_rows(judge, with_samples=True), "random"
        )
    finally:
        store.close()
    write_atomic(out, json.dumps(preds, indent=2))
    return {"n": len(preds), "unextracted_filled": missing, "failed_missing": failed}
