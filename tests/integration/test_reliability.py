"""Faults, crashes, secrets and concurrency: nothing is lost, nothing leaks, no failure is a
verdict."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from safeval.testing import ScriptedOpenAIServer
from safeval.testing.openai_server import random_faults
from tests.conftest import ROOT, hash_responder, run_cli, safeval_cmd, write_prompts


def args(srv: ScriptedOpenAIServer, data: Path, runs: Path, rid: str, *extra: str) -> list[str]:
    return [
        "run",
        "demo",
        "--model",
        "openai-compatible/m",
        "--base-url",
        srv.base_url,
        "--data",
        str(data),
        "--runs-dir",
        str(runs),
        "--run-id",
        rid,
        "--no-progress",
        *extra,
    ]


def test_twenty_percent_faults_end_in_done_or_error_never_in_a_verdict(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 1000)
    with ScriptedOpenAIServer(
        hash_responder, faults=random_faults(0.2, seed=3), retry_after=0.05, hang_seconds=1.0
    ) as srv:
        r = run_cli(
            *args(
                srv,
                data,
                tmp_path,
                "f",
                "--concurrency",
                "64",
                "-M",
                "timeout=0.4",
                "-M",
                "max_retries=2",
                "-M",
                "backoff_initial=0.01",
                "-M",
                "backoff_max=0.05",
            )
        )
        counts = dict(srv.fault_counts)
    # A few items fail three times in a row: the run ends incomplete (exit 3), and says so.
    assert r.returncode in (0, 3), r.stderr
    assert (r.returncode == 3) == ("run incomplete" in r.stderr)
    assert set(counts) == {"429", "500", "timeout", "reset", "truncated", "nonjson", "malformed"}
    db = tmp_path / "f" / "run.sqlite"
    with sqlite3.connect(db) as c:
        status = dict(c.execute("SELECT status, COUNT(*) FROM items GROUP BY status").fetchall())
        judged_errors = c.execute(
            "SELECT COUNT(*) FROM verdicts v JOIN items i USING (item_id) WHERE i.status='error'"
        ).fetchone()[0]
        bad_done = c.execute(
            "SELECT COUNT(*) FROM items WHERE status='done' AND response IS NULL"
        ).fetchone()[0]
    assert sum(status.values()) == 1000 and set(status) <= {"done", "error"}
    # 0.2^3 of items fail three times in a row: a few errors, all counted, none judged.
    assert status.get("error", 0) > 0 and judged_errors == 0 and bad_done == 0
    s = json.loads((tmp_path / "f" / "summary.json").read_text())
    assert s["n_errors"] == status.get("error", 0) and s["n_done"] == status["done"]
    assert s["scores"]["n_judged"] == status["done"]


def test_ten_sigkills_at_random_moments_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 400)
    with ScriptedOpenAIServer(hash_responder) as ref_srv:
        assert run_cli(*args(ref_srv, data, tmp_path / "ref", "r")).returncode == 0
    rng = random.Random(11)
    with ScriptedOpenAIServer(hash_responder, delay=0.01) as srv:
        runs = tmp_path / "runs"
        for _ in range(10):
            proc = subprocess.Popen(
                safeval_cmd(*args(srv, data, runs, "k", "--concurrency", "8")),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.3, 2.0))  # start-up, validation, generation, or judging
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        done = run_cli(*args(srv, data, runs, "k"))
    assert done.returncode == 0, done.stderr

    def table(db: Path) -> list[tuple]:
        with sqlite3.connect(db) as c:
            return c.execute("""SELECT i.item_id, i.status, i.response, v.value, v.label
                                FROM items i LEFT JOIN verdicts v USING (item_id)
                                ORDER BY i.item_id""").fetchall()

    got, want = table(runs / "k" / "run.sqlite"), table(tmp_path / "ref" / "r" / "run.sqlite")
    assert len(got) == 400 and got == want
    s1 = json.loads((tmp_path / "ref" / "r" / "summary.json").read_text())["scores"]
    s2 = json.loads((runs / "k" / "summary.json").read_text())["scores"]
    assert s1 == s2


def test_api_key_never_reaches_disk_logs_or_summaries(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 20)
    opt_key, env_key = "sk-OPTION-secret-0123456789", "sk-ENV-secret-9876543210"
    outputs = []
    with ScriptedOpenAIServer(hash_responder, api_key=opt_key) as srv:
        r = run_cli(*args(srv, data, tmp_path / "runs", "a", "--api-key", opt_key))
        outputs.append(r.stdout + r.stderr)
        assert r.returncode == 0, r.stderr
        assert set(srv.auth_headers) == {f"Bearer {opt_key}"}
    with ScriptedOpenAIServer(hash_responder, api_key=env_key) as srv:
        r = run_cli(
            *args(srv, data, tmp_path / "runs", "b", "-M", "timeout=5"),
            env={"SAFEVAL_API_KEY": env_key},
        )
        outputs.append(r.stdout + r.stderr)
        assert r.returncode == 0, r.stderr
    with ScriptedOpenAIServer(hash_responder, api_key="other") as srv:  # a failing key
        r = run_cli(*args(srv, data, tmp_path / "runs", "c", "--api-key", opt_key))
        outputs.append(r.stdout + r.stderr)
    # An endpoint that echoes the Authorization header in its error body: the error is stored,
    # printed and exported, the key in it as ***.
    with ScriptedOpenAIServer(hash_responder, faults=lambda n, body: "echo_auth") as srv:
        r = run_cli(*args(srv, data, tmp_path / "runs", "d", "-M", "max_retries=0"),
                    env={"SAFEVAL_API_KEY": env_key})  # fmt: skip
        outputs.append(r.stdout + r.stderr)
        assert r.returncode == 3 and "Authorization: Bearer ***" in r.stdout + r.stderr
        user, password = "alice", "pw-in-the-URL-4321"
        url = srv.base_url.replace("http://", f"http://{user}:{password}@")
        r = run_cli(*args(srv, data, tmp_path / "runs", "e", "-M", "max_retries=0"),
                    "--base-url", url)  # fmt: skip
        outputs.append(r.stdout + r.stderr)
        assert r.returncode == 3 and "Authorization: Basic ***" in r.stdout + r.stderr
    r = run_cli("export", str(tmp_path / "runs" / "d"), "--format", "csv",
                "--out", str(tmp_path / "runs" / "d.csv"))  # fmt: skip
    assert r.returncode == 0 and "Bearer ***" in (tmp_path / "runs" / "d.csv").read_text()
    r = run_cli(
        "export",
        str(tmp_path / "runs" / "a"),
        str(tmp_path / "runs" / "b"),
        "--format",
        "dpo",
        "--out",
        str(tmp_path / "runs" / "pairs.jsonl"),
    )
    outputs.append(r.stdout + r.stderr)
    blobs = [p.read_bytes() for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    blobs += [o.encode() for o in outputs]
    assert len(blobs) > 8
    basic = base64.b64encode(f"{user}:{password}".encode())
    for key in (opt_key.encode(), env_key.encode(), password.encode(), basic):
        assert not any(key in b for b in blobs), key


def test_concurrent_runs_share_a_runs_folder_safely(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 300)
    runs = tmp_path / "runs"
    # 300 x 100 ms at concurrency 8: each run lasts ~4 s, long enough to collide with. c0 asks
    # other calls (another max_tokens): runs with the same calls would share them through the
    # cache's claims and c0 could finish before the clash starts.
    with ScriptedOpenAIServer(hash_responder, delay=0.1) as srv:
        procs = [
            subprocess.Popen(
                safeval_cmd(*args(srv, data, runs, f"c{i}", *(["--max-tokens", "95"] * (i == 0)))),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        # A second process on a run in progress is refused, not interleaved.
        db0 = runs / "c0" / "run.sqlite"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(db0, timeout=5) as c:
                    if c.execute("SELECT COUNT(*) FROM items").fetchone()[0] > 0:
                        break
            except sqlite3.OperationalError:
                pass
            time.sleep(0.02)
        clash = run_cli(*args(srv, data, runs, "c0", "--max-tokens", "95"))
        results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert clash.returncode == 2 and "in use by another safeval process" in clash.stderr
    scores = []
    for i in range(3):
        db = runs / f"c{i}" / "run.sqlite"
        with sqlite3.connect(db) as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert c.execute("SELECT COUNT(*) FROM items WHERE status='done'").fetchone()[0] == 300
        scores.append(json.loads((runs / f"c{i}" / "summary.json").read_text())["scores"])
    assert scores[0] == scores[1] == scores[2]
    with sqlite3.connect(runs / "cache.sqlite") as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not any(os.path.basename(p).startswith(".summary") for p in os.listdir(runs / "c0"))
