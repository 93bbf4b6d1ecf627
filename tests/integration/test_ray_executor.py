"""`--executor ray` on a local Ray instance: shards over two loopback endpoints, merged into one
run store with the same rows as the local executor; resume and the call cache hold across it."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from safeval.testing import ScriptedOpenAIServer
from tests.conftest import hash_responder, run_cli, write_prompts

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="ray not installed (pip install 'safeval[ray]'; install.sh includes it)",
)


def rows(run: Path) -> list[tuple]:
    with sqlite3.connect(run / "run.sqlite") as c:
        return c.execute(
            "SELECT item_id, status, response, messages FROM items ORDER BY item_id"
        ).fetchall()


def base_args(data: Path, runs: Path, rid: str) -> list[str]:
    return [
        "run", "demo", "--model", "openai-compatible/m", "--data", str(data),
        "--runs-dir", str(runs), "--run-id", rid, "--no-progress",
        "-a", "none", "-a", "prefix_injection",
    ]  # fmt: skip


def test_ray_shards_over_two_endpoints_match_the_local_executor(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 60)
    with (
        ScriptedOpenAIServer(hash_responder) as s1,
        ScriptedOpenAIServer(hash_responder) as s2,
        ScriptedOpenAIServer(hash_responder) as s3,
    ):
        ray_args = ["--executor", "ray", "--shard-size", "10"]
        ray_args += ["--endpoint", s1.base_url, "--endpoint", s2.base_url]
        r = run_cli(*base_args(data, tmp_path / "runs", "ray"), *ray_args)
        assert r.returncode == 0, r.stderr
        assert "model calls: 120" in r.stderr
        # 12 shards, round-robin: both servers did half the work, nothing twice.
        assert s1.requests == 60 and s2.requests == 60
        local = run_cli(*base_args(data, tmp_path / "local", "local"), "--base-url", s3.base_url)
        assert local.returncode == 0, local.stderr
        assert rows(tmp_path / "runs" / "ray") == rows(tmp_path / "local" / "local")
        # Resume of the finished run and a new run in the same folder: no call is paid twice.
        again = run_cli(*base_args(data, tmp_path / "runs", "ray"), *ray_args)
        assert again.returncode == 0 and "model calls: 0" in again.stderr
        fresh = run_cli(*base_args(data, tmp_path / "runs", "ray2"), *ray_args)
        assert fresh.returncode == 0 and "model calls: 0 (cache hits 120)" in fresh.stderr
        assert s1.requests + s2.requests == 120
    assert rows(tmp_path / "runs" / "ray2") == rows(tmp_path / "runs" / "ray")


def test_ray_refuses_an_api_key_on_the_command_line(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 4)
    r = run_cli(
        *base_args(data, tmp_path / "runs", "k"), "--executor", "ray", "--api-key", "sk-secret-1"
    )
    assert r.returncode == 2 and "SAFEVAL_API_KEY" in r.stderr and "sk-secret-1" not in r.stderr
    assert not (tmp_path / "runs" / "k").exists()


def test_endpoint_without_ray_is_a_clear_error(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 4)
    r = run_cli(*base_args(data, tmp_path / "runs", "e"), "--endpoint", "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and "--executor ray" in r.stderr


def test_a_failed_shard_leaves_error_rows_not_verdicts(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 6)
    args = ["run", "demo", "--model", "hf/./no-such-checkpoint", "--data", str(data)]
    args += ["--runs-dir", str(tmp_path / "runs"), "--run-id", "f", "--no-progress"]
    r = run_cli(*args, "--executor", "ray", "--shard-size", "3")
    assert r.returncode == 3, r.stderr  # incomplete: every item failed
    assert "shard failed" in r.stderr and "Traceback" not in r.stderr
    summary = json.loads((tmp_path / "runs" / "f" / "summary.json").read_text())
    assert summary["n_done"] == 0 and summary["n_generation_errors"] == 6
    assert summary["scores"]["n_judged"] == 0


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--ray-address", "nonsense"], "--ray-address must be auto, HOST:PORT"),
        (["--endpoint", "notaurl"], "--endpoint must be an http:// or https:// URL"),
        (
            ["--endpoint", "http://127.0.0.1:9/v1", "--base-url", "http://127.0.0.1:8/v1"],
            "or --base-url, not both",
        ),  # fmt: skip
    ],
)
def test_ray_options_are_checked_before_anything_is_written(
    tmp_path: Path, extra: list[str], needle: str
) -> None:
    """These were an 'internal error' (exit 1), or every item failed (exit 3, a run folder left
    behind), or --base-url was silently dropped."""
    data = write_prompts(tmp_path / "p.jsonl", 4)
    r = run_cli(*base_args(data, tmp_path / "runs", "o"), "--executor", "ray", *extra)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "runs" / "o").exists()


def test_an_endpoint_for_a_model_that_takes_no_url_is_refused(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 4)
    r = run_cli("run", "demo", "--data", str(data), "--model", "scripted/mixed", "--judge", "rules",
                "--runs-dir", str(tmp_path / "runs"), "--run-id", "s", "--no-progress",
                "--executor", "ray", "--endpoint", "http://127.0.0.1:9/v1")  # fmt: skip
    assert r.returncode == 2 and "--endpoint: " in r.stderr and "base_url" in r.stderr, r.stderr
    assert not (tmp_path / "runs" / "s").exists()
