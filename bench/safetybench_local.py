"""Time SafetyBench's 2,100-question Chinese subset on a local model and print a Markdown row.

    .venv/bin/python bench/safetybench_local.py --mode logprob [--model local/smollm2] [-M dtype=bfloat16]

Runs the real CLI in a fresh runs folder (no cache), so the time is end to end: model load,
data validation, every question, judging and scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SAFEVAL_SHARED_DATA", ROOT.parent / "shared" / "data")) / "safetybench"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="logprob", choices=["logprob", "generate"])
    ap.add_argument("--model", default="local/smollm2")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("-M", dest="model_args", action="append", default=[])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        cmd = [
            sys.executable,
            "-m",
            "safeval",
            "run",
            "safetybench",
            "--data",
            str(DATA / "test_zh_subset.json"),
            "--mode",
            a.mode,
            "--model",
            a.model,
            "--shots",
            str(a.shots),
            "--runs-dir",
            runs,
            "--run-id",
            "bench",
            "--no-progress",
        ]
        for m in a.model_args:
            cmd += ["-M", m]
        if a.limit:
            cmd += ["--limit", str(a.limit)]
        t = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.monotonic() - t
        if r.returncode != 0:
            sys.exit(r.stderr)
        s = json.loads((Path(runs) / "bench" / "summary.json").read_text())
    sc = s["scores"]
    n = sc["n_predictions"]
    cats = " ".join(f"{k} {v:.1f}" for k, v in sc["by_category"].items())
    print(
        f"| {a.model} {' '.join(a.model_args)} | {a.mode} | {a.shots}-shot | {n} | {wall:.0f} s | "
        f"{n / wall:.2f} q/s | {sc['overall']:.2f} | {cats} | {sc['unextracted_share']}% |"
    )


if __name__ == "__main__":
    main()
