"""Shared fixtures: the shared data folder, a loopback scripted server, CLI runners."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safeval.models.scripted import COMPLIANCE, REFUSAL
from safeval.testing import ScriptedOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SAFEVAL_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip saying why."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA} (set SAFEVAL_SHARED_DATA)")
    return SHARED_DATA


def hash_responder(body: dict) -> str:
    """Refuses or complies by a hash of the last user message: deterministic across runs."""
    text = body["messages"][-1]["content"]
    return REFUSAL if hashlib.sha256(text.encode()).digest()[0] & 1 else COMPLIANCE


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(hash_responder) as srv:
        yield srv


def write_prompts(path: Path, n: int, *, prefix: str = "p") -> Path:
    """A prompts file in the demo layout with `n` distinct prompts over 4 categories."""
    cats = ["violence", "fraud", "privacy", "cybercrime"]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"{prefix}{i}",
                        "prompt": f"harmful request number {i}",
                        "category": cats[i % 4],
                        "harmful": i % 5 != 0,
                    }
                )
                + "\n"
            )
    return path


def run_args(
    benchmark: str,
    data: Path,
    runs: Path,
    *extra: str,
    model: str = "scripted/refuse",
    srv: ScriptedOpenAIServer | None = None,
    run_id: str | None = None,
) -> list[str]:
    """`safeval run BENCHMARK` arguments: data, model (at `srv` when given), runs folder, no
    progress bar, then `extra`."""
    args = ["run", benchmark, "--data", str(data), "--model", model]
    if srv is not None:
        args += ["--base-url", srv.base_url]
    args += ["--runs-dir", str(runs)]
    if run_id is not None:
        args += ["--run-id", run_id]
    return [*args, "--no-progress", *extra]


def safeval_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "safeval", *args]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        safeval_cmd(*args), capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT
    )
