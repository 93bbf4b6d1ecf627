"""A real `safeval run` process killed with SIGKILL (or interrupted with SIGINT) mid-way, then
resumed, ends with exactly the uninterrupted run's rows and scores."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from safeval.testing import ScriptedOpenAIServer
from tests.conftest import ROOT, hash_responder, run_cli, safeval_cmd, write_prompts

N = 300


def args(srv: ScriptedOpenAIServer, data: Path, runs: Path, run_id: str) -> list[str]:
    return [
        "run",
        "demo",
        "--model",
        "openai-compatible/scripted",
        "--base-url",
        srv.base_url,
        "--data",
        str(data),
        "--runs-dir",
        str(runs),
        "--run-id",
        run_id,
        "--concurrency",
        "4",
        "--no-progress",
    ]


def stored_rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def table(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(
            """SELECT i.item_id, i.status, i.response, v.judge, v.value, v.label
               FROM items i LEFT JOIN verdicts v USING (item_id) ORDER BY i.item_id"""
        ).fetchall()


def interrupt_when(db: Path, proc: subprocess.Popen, min_rows: int, sig: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        n = stored_rows(db)
        if n >= min_rows:
            proc.send_signal(sig)
            proc.wait(timeout=30)
            return n
        time.sleep(0.02)
    raise AssertionError("the run finished or stalled before it could be interrupted")


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", N)
    with ScriptedOpenAIServer(hash_responder) as ref_srv:
        ref = run_cli(*args(ref_srv, data, tmp_path / "ref", "r"))
        assert ref.returncode == 0, ref.stderr
    with ScriptedOpenAIServer(hash_responder, delay=0.02) as srv:
        runs = tmp_path / "runs"
        db = runs / "k" / "run.sqlite"
        for min_rows in (40, 150):  # killed twice, at different depths
            proc = subprocess.Popen(
                safeval_cmd(*args(srv, data, runs, "k")),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            interrupt_when(db, proc, min_rows, signal.SIGKILL)
            assert proc.returncode == -signal.SIGKILL
            assert stored_rows(db) < N
        done = run_cli(*args(srv, data, runs, "k"))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1].endswith("k")
        # Only answers lost with the last unflushed batch are asked again.
        assert srv.requests < N + 100, srv.requests
    assert table(db) == table(tmp_path / "ref" / "r" / "run.sqlite")
    assert len(table(db)) == N  # none missing, none duplicated
    s1 = json.loads((tmp_path / "ref" / "r" / "summary.json").read_text())
    s2 = json.loads((runs / "k" / "summary.json").read_text())
    assert s1["scores"] == s2["scores"] and s2["n_done"] == N and s2["n_errors"] == 0


def test_ctrl_c_leaves_a_run_that_resumes(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", N)
    with ScriptedOpenAIServer(hash_responder, delay=0.02) as srv:
        runs = tmp_path / "runs"
        db = runs / "c" / "run.sqlite"
        proc = subprocess.Popen(
            safeval_cmd(*args(srv, data, runs, "c")),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: a test runner started as a background job (`cmd &` in a
            # script) hands its children an ignored SIGINT, and the CLI rightly keeps ignoring it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        interrupt_when(db, proc, 30, signal.SIGINT)
        err = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == 130, err
        assert "--run-id c" in err and "Traceback" not in err
        kept = stored_rows(db)
        assert 30 <= kept < N
        before = srv.requests
        done = run_cli(*args(srv, data, runs, "c"))
        assert done.returncode == 0, done.stderr
        assert srv.requests - before == N - kept  # only what was missing is asked
        assert stored_rows(db) == N
