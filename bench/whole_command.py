"""Issue 19 targets 1 and 2: the wall time of the whole `safeval run seval ...` command against a
latency-bound endpoint, as a ratio to the floor N x L / C, printed as Markdown rows.

    .venv/bin/python bench/whole_command.py                 # 2,000 and 20,000 prompts
    .venv/bin/python bench/whole_command.py --sizes 2000 --repeats 3 --judge rules
    .venv/bin/python bench/whole_command.py --sizes 10000 --judge default --judge rules

The endpoint is the loopback scripted server in its own process (as a real one would be),
answering after L = 100 ms; the command runs as a child process, timed from its start to its
exit: interpreter start-up, imports, reading the S-Eval zip, planning, generation, judging with
the benchmark's default judge (or --judge), and the summary. Prompts are S-Eval base prompts
(English and Chinese full sets, 10,000 each), the first N in file order.

With two or more `--judge`s (`default` is the benchmark's own), their runs alternate within each
repeat, and the ratio of each judge's median wall time to the last one's is printed (target 2:
what judging with the default judge adds, against the cheap `rules` judge). The load average at
the start and the end is printed too: the machine may be shared.

`--before SRC` times another checkout's `src` folder too (PYTHONPATH=SRC, same interpreter and
packages), interleaved with this one in every repeat, so before and after share the machine's
state; the ratio of the medians is printed.

`--bare` adds, for reference, a bare aiohttp client in its own process (no safeval: the same
requests, 64 at a time, answers read and parsed, nothing stored or judged), timed the same way:
what this endpoint and this machine allow a Python client at all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEVAL = ROOT.parent / "shared" / "data" / "s_eval"
LATENCY = 0.1
CONCURRENCY = 64


def seval_prompts(out: Path, n: int) -> Path:
    """The first n S-Eval base prompts (en full, then zh full) as one JSONL file."""
    lines: list[str] = []
    for lang in ("en", "zh"):
        path = SEVAL / f"S-Eval_base_risk_{lang}_full.jsonl.zip"
        with zipfile.ZipFile(path) as z:
            name = next(x for x in z.namelist() if x.endswith(".jsonl"))
            lines += [x for x in z.read(name).decode("utf-8").splitlines() if x.strip()]
    out.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    return out


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "safeval.testing", "--delay", str(LATENCY)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def time_command(
    data: Path, url: str, runs: Path, judge: str, src: str | None = None
) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "safeval", "run", "seval", "--data", str(data), "--model",
           "openai-compatible/bench", "--base-url", url, "--concurrency", str(CONCURRENCY),
           "--runs-dir", str(runs), "--run-id", "r", "--no-progress"]  # fmt: skip
    if judge != "default":
        cmd += ["--judge", judge]
    env = dict(os.environ, PYTHONPATH=src) if src else None
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"run failed ({r.returncode}): {r.stderr[-2000:]}")
    summary = json.loads((runs / "r" / "summary.json").read_text())
    return wall, summary


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bare_client(url: str, data: Path) -> None:
    """The reference client (run in a child process by `--bare`)."""
    import asyncio

    import aiohttp

    prompts = [json.loads(x)["prompt"] for x in data.read_text(encoding="utf-8").splitlines()]

    async def go() -> None:
        todo = iter(prompts)
        conn = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=conn) as session:

            async def worker() -> None:
                for p in todo:
                    body = {"model": "bench", "messages": [{"role": "user", "content": p}],
                            "temperature": 0.0, "max_tokens": 128}  # fmt: skip
                    async with session.post(f"{url}/chat/completions", json=body) as r:
                        json.loads(await r.read())["choices"][0]["message"]["content"]

            await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])

    asyncio.run(go())


def time_bare(data: Path, url: str) -> float:
    cmd = [sys.executable, __file__, "--bare-client", url, str(data)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def main() -> None:
    if sys.argv[1:2] == ["--bare-client"]:
        return bare_client(sys.argv[2], Path(sys.argv[3]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--judge", action="append", default=None,
                    help="repeatable; default: the benchmark's default judge")  # fmt: skip
    ap.add_argument("--bare", action="store_true", help="also time a bare aiohttp client")
    ap.add_argument("--before", help="another checkout's src folder, timed interleaved")
    args = ap.parse_args()
    judges: list[str] = args.judge or ["default"]
    proc, url = start_server()
    ratios: list[str] = []
    try:
        print(f"load average (1, 5, 15 min) at start: {load()}")
        print("| prompts | judge | wall (median, range) | floor N*L/C | ratio |")
        print("|---|---|---|---|---|")
        for n in args.sizes:
            with tempfile.TemporaryDirectory() as d:
                data = seval_prompts(Path(d) / "p.jsonl", n)
                walls: dict[str, list[float]] = {j: [] for j in judges}
                names: dict[str, str] = {}
                bare: list[float] = []
                before: list[float] = []
                for i in range(args.repeats):
                    if args.bare:
                        bare.append(time_bare(data, url))
                    if args.before:
                        runs = Path(d) / f"runs-before-{i}"
                        before.append(time_command(data, url, runs, judges[0], args.before)[0])
                    for j in judges:
                        runs = Path(d) / f"runs-{j}-{i}"
                        wall, summary = time_command(data, url, runs, j)
                        assert summary["n_done"] == n, summary["n_done"]
                        walls[j].append(wall)
                        names[j] = summary["judge"]
                floor = n * LATENCY / CONCURRENCY
                if bare:
                    med = statistics.median(bare)
                    print(f"| {n:,} | bare aiohttp client, no safeval | {med:.2f} s "
                          f"({min(bare):.2f}-{max(bare):.2f}) | {floor:.3f} s | "
                          f"{med / floor:.2f}x |", flush=True)  # fmt: skip
                if before:
                    med = statistics.median(before)
                    print(f"| {n:,} | before ({args.before}), {judges[0]} judge | {med:.2f} s "
                          f"({min(before):.2f}-{max(before):.2f}) | {floor:.3f} s | "
                          f"{med / floor:.2f}x |", flush=True)  # fmt: skip
                for j in judges:
                    w = walls[j]
                    med = statistics.median(w)
                    print(f"| {n:,} | {names[j]} | {med:.2f} s ({min(w):.2f}-{max(w):.2f}) | "
                          f"{floor:.3f} s | {med / floor:.2f}x |", flush=True)  # fmt: skip
                base = statistics.median(walls[judges[-1]])
                for j in judges[:-1]:
                    r = statistics.median(walls[j]) / base
                    ratios.append(f"| {n:,} | {names[j]} | {names[judges[-1]]} | {r:.3f}x |")
        if args.before:
            print("(after / before: the medians of the rows above)")
        if ratios:
            print("\n| prompts | judge | against | wall ratio (medians) |\n|---|---|---|---|")
            print("\n".join(ratios))
        print(f"load average (1, 5, 15 min) at end: {load()}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
