"""Pipeline benchmarks (issue 8, targets 1, 2 and 4), printed as Markdown rows.

    .venv/bin/python bench/pipeline.py

1. overhead: 10,000 items through generate + judge (rules) + store, instant scripted model.
2. latency-bound: a loopback OpenAI-compatible server (its own process, as a real endpoint
   would be) answering after 100 ms, 2,000 prompts, concurrency 64; the floor is
   N*L/C = 3.125 s (3.2 s counting whole rounds of 64), the target 1.25 x 3.125 = 3.9 s.
4. resume: re-running the finished 10,000-item run (zero model calls expected).

Timed runs are repeated (fresh run folders) and the median is reported with the range, since
this 2-core machine's disk and scheduler make single runs noisy.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import safeval.models.openai_compat  # noqa: F401  (import cost is not run time)
from safeval.runner.run import RunConfig, RunResult, run_sync

REPEATS = 3


def prompts(path: Path, n: int) -> Path:
    cats = ["violence", "fraud", "privacy", "cybercrime"]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps({"id": f"p{i}", "prompt": f"request {i}", "category": cats[i % 4]})
                + "\n"
            )
    return path


def timed(cfg: RunConfig) -> tuple[float, RunResult]:
    t = time.perf_counter()
    res = run_sync(cfg)
    return time.perf_counter() - t, res


def repeated(make: Callable[[int], RunConfig]) -> tuple[float, str, list[RunResult]]:
    """Median wall time of REPEATS runs, the range as text, and the results."""
    walls, results = [], []
    for i in range(REPEATS):
        wall, res = timed(make(i))
        walls.append(wall)
        results.append(res)
    return statistics.median(walls), f"{min(walls):.2f}-{max(walls):.2f} s", results


def start_server(delay: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "safeval.testing", "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = prompts(tmp / "10k.jsonl", 10_000)

        def overhead(i: int) -> RunConfig:
            return RunConfig(
                benchmark="demo",
                model="scripted/mixed",
                data=data,
                runs_dir=tmp / f"runs{i}",  # own call cache: nothing served from a repeat
                run_id="overhead",
                progress=False,
                concurrency=64,
            )

        wall, spread, results = repeated(overhead)
        calls = {r.model_calls for r in results}
        print(
            f"| 1. overhead, 10,000 items, scripted model | {wall:.2f} s (median of {REPEATS}, "
            f"{spread}) | {10_000 / wall:,.0f} items/s | model calls {calls} |"
        )
        wall, spread, results = repeated(lambda i: overhead(0))
        calls = {r.model_calls for r in results}
        print(
            f"| 4. resume of the finished 10,000-item run | {wall:.2f} s (median of {REPEATS}, "
            f"{spread}) | - | model calls {calls} |"
        )

        data2 = prompts(tmp / "2k.jsonl", 2_000)
        server, url = start_server(0.1)
        try:

            def latency(i: int) -> RunConfig:
                return RunConfig(
                    benchmark="demo",
                    model="openai-compatible/scripted",
                    model_args={"base_url": url, "max_connections": 64},
                    data=data2,
                    runs_dir=tmp / f"latency{i}",
                    run_id="latency",
                    progress=False,
                    concurrency=64,
                )

            wall, spread, results = repeated(latency)
        finally:
            server.terminate()
            server.wait()
        calls = {r.model_calls for r in results}
        gen = statistics.median(r.generation.seconds for r in results)
        print(
            f"| 2. latency-bound, 2,000 x 100 ms at concurrency 64 | {wall:.2f} s (median of "
            f"{REPEATS}, {spread}; generation stage {gen:.2f} s) | {wall / 3.125:.2f} x the "
            f"3.125 s floor | model calls {calls} |"
        )


if __name__ == "__main__":
    main()
