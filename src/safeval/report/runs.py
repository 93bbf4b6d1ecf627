"""A run as every view sees it: its scores come from one function (`run_summary`, which is the
run's own `summarize` over the stored verdicts), so `show`, `report`, `profile`, `compare` and
the exports never disagree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeval.benchmarks.base import Benchmark
from safeval.errors import ConfigError, SafevalError
from safeval.metrics.outcomes import Outcome
from safeval.report.export import open_run
from safeval.runner.run import benchmark_of, summarize
from safeval.runner.store import RunStore


@dataclass
class RunView:
    """What one run contributes to a report or a comparison."""

    run_dir: Path
    summary: dict[str, Any]
    # (attack, category) -> [judged safe, judged]; from the run's scores unless given
    cells: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.cells:
            self.cells = cells_of(self.summary.get("scores") or {})

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id") or self.run_dir.name)

    @property
    def label(self) -> str:
        return f"{self.summary.get('model')} · {self.run_id}"

    @property
    def scores(self) -> dict[str, Any]:
        return dict(self.summary.get("scores") or {})

    @property
    def comparable_key(self) -> tuple[str, str, str]:
        """Runs rank against each other only when benchmark, data and judge are the same."""
        return comparable_key(self.summary)

    def n_by(self, index: int) -> dict[str, int]:
        """Judged items per category (index 1) or per attack (index 0)."""
        n = self.scores.get("n") or {}
        return dict(n.get("by_category" if index == 1 else "by_attack") or {})


def cells_of(scores: dict[str, Any]) -> dict[tuple[str, str], list[int]]:
    """(attack, category) -> [judged safe, judged], from a summary's scores."""
    n = (scores.get("n") or {}).get("by_attack_category", {})
    out: dict[tuple[str, str], list[int]] = {}
    for key, score in (scores.get("by_attack_category") or {}).items():
        attack, _, cat = key.partition("|")
        k = int(n.get(key, 0))
        out[(attack, cat)] = [round((score or 0.0) * k / 100.0), k]
    return out


def comparable_key(summary: dict[str, Any]) -> tuple[str, str, str]:
    """(benchmark, data identity, judge) of a summary."""
    bench = ((summary.get("config") or {}).get("benchmark")) or {}
    data = bench.get("data_sha256") or bench.get("data") or "built-in"
    limit = bench.get("limit")
    return (
        str(summary.get("benchmark")),
        f"{data}" + (f" (limit {limit})" if limit else ""),
        str(summary.get("judge")),
    )


def read_summary(run_dir: Path, judge: str | None = None) -> dict[str, Any]:
    """A run's saved summary (`summaries/<judge>.json` or `summary.json`), checked."""
    paths = [run_dir / "summaries" / f"{judge}.json"] if judge else []
    paths.append(run_dir / "summary.json")
    summary_path = next((p for p in paths if p.is_file()), None)
    if summary_path is None:
        raise ConfigError(
            f"{run_dir} has no summary.json: the run did not finish; resume it with "
            "`safeval run` and the same --run-id first"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{summary_path}: damaged (not valid JSON: {e}); `safeval judge {run_dir}` "
            "writes it again from run.sqlite"
        ) from None
    if not isinstance(summary, dict) or not isinstance(summary.get("judge"), str):
        raise ConfigError(f"{summary_path}: field 'judge' is missing")
    return summary


def _bench_and_judge(
    store: RunStore, run_dir: Path, judge: str | None
) -> tuple[Benchmark, str, int]:
    meta = store.meta()
    if "plan" not in meta:
        raise ConfigError(f"{run_dir}/run.sqlite holds no run (no plan): it is empty or damaged")
    use = judge or meta.get("judge") or read_summary(run_dir)["judge"]
    if use not in store.judges():
        raise ConfigError(f"{run_dir} has no verdicts from judge '{use}'")
    bench = benchmark_of(meta)
    n_total = meta.get("n_total") or sum(store.counts().values())
    return bench, str(use), int(n_total)


def run_summary(run_dir: Path, judge: str | None = None) -> dict[str, Any]:
    """The run's summary recomputed from its store by the run's own `summarize` (the one
    function behind every number). Where the data files the scores need are gone, the saved
    summary is used and says so."""
    store = open_run(run_dir)
    try:
        try:
            bench, use, n_total = _bench_and_judge(store, run_dir, judge)
        except SafevalError:
            if not (run_dir / "summary.json").is_file() or "plan" not in store.meta():
                raise
            saved = read_summary(run_dir, judge)
            saved["note"] = "saved summary: the run's data files could not be read again"
            return saved
        summary = summarize(store, bench, use, n_total)
    finally:
        store.close()
    saved_path = run_dir / "summary.json"
    if saved_path.is_file():
        try:
            ok = isinstance(json.loads(saved_path.read_text(encoding="utf-8")), dict)
        except (json.JSONDecodeError, UnicodeDecodeError):
            ok = False
        if not ok:
            summary["note"] = (
                f"{saved_path} is damaged; these scores are recomputed from run.sqlite. "
                f"`safeval judge {run_dir} --judge {use}` writes it again"
            )
    return summary


def run_outcomes(run_dir: Path, judge: str | None = None) -> tuple[dict[str, Any], list[Outcome]]:
    """The run's summary and its per-item outcomes (the rows behind every score)."""
    store = open_run(run_dir)
    try:
        bench, use, n_total = _bench_and_judge(store, run_dir, judge)
        summary = summarize(store, bench, use, n_total)
        outcomes = list(
            bench.outcomes(store.scored_rows(use, with_samples=bench.scores_read_samples))
        )
    finally:
        store.close()
    return summary, outcomes


def load_run(run_dir: Path, worst: int = 10, judge: str | None = None) -> RunView:
    """A run's view: its recomputed summary and its `worst` unsafe answers."""
    summary = run_summary(run_dir, judge)
    store = open_run(run_dir)
    try:
        view = RunView(run_dir, summary)
        view.worst = store.worst_items(summary["judge"], worst)
    finally:
        store.close()
    return view


def judged_outcomes(outcomes: list[Outcome]) -> Iterator[Outcome]:
    """Outcomes with a safe/unsafe verdict (harmful prompts, judged, non-empty)."""
    return (o for o in outcomes if o.safe is not None)
