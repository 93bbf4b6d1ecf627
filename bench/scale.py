"""Scale benchmark (issue 8, target 5): a 100,000-prompt plan (S-Eval full English base set x
the 10 attacks) streamed through generate + judge (rules, or --judge) + store with an instant
scripted model, in a child process whose peak RSS is read back from the kernel (ru_maxrss).

    .venv/bin/python bench/scale.py [--data ../shared/data/s_eval/S-Eval_base_risk_en_full.jsonl.zip]
    .venv/bin/python bench/scale.py --judge embedded     # the benchmark's default judge
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safeval.benchmarks.seval import ATTACK_CATEGORIES  # the 10 S-Eval instruction attacks

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/s_eval/S-Eval_base_risk_en_full.jsonl.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--judge", default="rules")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data}: pass --data (the S-Eval base set, .jsonl or .zip)")
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "safeval", "run", "seval", "--data", str(args.data)]
        cmd += ["--model", "scripted/mixed", "--judge", args.judge, "--concurrency", "64"]
        cmd += ["--no-progress", "--runs-dir", d, "--run-id", "scale"]
        for a in ATTACK_CATEGORIES:
            cmd += ["-a", a]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with sqlite3.connect(Path(d) / "scale" / "run.sqlite") as c:
            items = c.execute("SELECT COUNT(*) FROM items WHERE status='done'").fetchone()[0]
            verdicts = c.execute("SELECT COUNT(*) FROM verdicts WHERE error IS NULL").fetchone()[0]
    print(
        f"| 5. scale, {items:,} items (S-Eval full en base x 10 attacks), {verdicts:,} verdicts "
        f"({args.judge}) "
        f"| {wall:.1f} s | peak RSS {peak_mb:.0f} MB | {items / wall:,.0f} items/s |"
    )


if __name__ == "__main__":
    main()
