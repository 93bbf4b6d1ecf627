"""`python -m safeval.testing`: the scripted server in its own process, as the benchmarks use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli, write_prompts


def test_standalone_server_serves_a_run(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "safeval.testing", "--delay", "0.01"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        data = write_prompts(tmp_path / "p.jsonl", 5)
        r = run_cli(
            "run", "demo", "--model", "openai-compatible/m", "--base-url", url, "--data",
            str(data), "--runs-dir", str(tmp_path / "runs"), "--run-id", "s", "--no-progress",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "5/5 answered, 0 errors" in r.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=10)
