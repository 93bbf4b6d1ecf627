"""Pipeline benchmarks (issue 8, targets 1, 2 and 4), printed as Markdown rows.

    .venv/bin/python bench/pipeline.py

1. overhead: 10,000 items through generate + judge (rules) + store, instant scripted model.
2. latency-bound: a loopback OpenAI-compatible server answering after 100 ms, 2,000 prompts,
   concurrency 64; the floor is N*L/C = 3.125 s.
4. resume: re-running the finished 10,000-item run (zero model calls expected).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from safeval.runner.run import RunConfig, run_sync
from safeval.testing import ScriptedOpenAIServer


def prompts(path: Path, n: int) -> Path:
    cats = ["violence", "fraud", "privacy", "cybercrime"]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps({"id": f"p{i}", "prompt": f"request {i}", "category": cats[i % 4]})
                + "\n"
            )
    return path


def timed(cfg: RunConfig):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    res = run_sync(cfg)
    return time.perf_counter() - t, res


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = prompts(tmp / "10k.jsonl", 10_000)
        cfg = RunConfig(
            benchmark="demo",
            model="scripted/mixed",
            data=data,
            runs_dir=tmp / "runs",
            run_id="overhead",
            progress=False,
            concurrency=64,
        )
        wall, res = timed(cfg)
        print(
            f"| 1. overhead, 10,000 items, scripted model | {wall:.2f} s | "
            f"{10_000 / wall:,.0f} items/s | model calls {res.model_calls} |"
        )
        wall, res = timed(cfg)
        print(
            f"| 4. resume of the finished 10,000-item run | {wall:.2f} s | - | "
            f"model calls {res.model_calls} |"
        )
        data2 = prompts(tmp / "2k.jsonl", 2_000)
        with ScriptedOpenAIServer(delay=0.1) as srv:
            cfg2 = RunConfig(
                benchmark="demo",
                model="openai-compatible/scripted",
                model_args={"base_url": srv.base_url, "max_connections": 64},
                data=data2,
                runs_dir=tmp / "runs2",
                run_id="latency",
                progress=False,
                concurrency=64,
            )
            wall, res = timed(cfg2)
        print(
            f"| 2. latency-bound, 2,000 x 100 ms at concurrency 64 | {wall:.2f} s | "
            f"{wall / 3.125:.2f} x the 3.125 s floor | requests {srv.requests} |"
        )


if __name__ == "__main__":
    main()
