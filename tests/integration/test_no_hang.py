"""Issue 15, hangs and loss: a failing worker, flush, cache row or model load ends the run with
a clear error within seconds; answers reach the store on a timer; SIGTERM keeps everything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from safeval.attacks.base import get_attack
from safeval.errors import ModelError, RunAborted
from safeval.models import callcache as cache_module
from safeval.models.base import ModelAPI
from safeval.models.callcache import CallCache
from safeval.models.scripted import REFUSAL, ScriptedModel
from safeval.runner.execute import generate_stage
from safeval.runner.plan import Unit
from safeval.runner.store import RunStore
from safeval.testing import ScriptedOpenAIServer
from safeval.types import GenerateConfig, Generation, Message, Sample
from tests.conftest import ROOT, run_args, run_cli, safeval_cmd, write_prompts


def units(n: int) -> list[Unit]:
    none = get_attack("none")
    return [
        Unit(sample=Sample(id=f"s{i}", input=f"prompt {i}", category="c"), attack=none)
        for i in range(n)
    ]


class Raising(ModelAPI):
    """A model that breaks its contract: `generate` raises."""

    provider = "test"

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        await asyncio.sleep(0.001)
        raise RuntimeError("backend exploded")


def test_a_model_that_raises_ends_the_run_with_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")

    async def go() -> None:
        await asyncio.wait_for(
            generate_stage(store, Raising("r"), units(100), GenerateConfig(), 4), timeout=20
        )

    with pytest.raises(RunAborted, match="backend exploded"):
        asyncio.run(go())
    store.close()


def test_a_store_that_cannot_be_written_ends_the_run_and_keeps_rows(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    # Every write of an answer now fails inside SQLite, through any connection (the run writes
    # through the write thread's own).
    store.conn.execute(
        "CREATE TRIGGER full BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )

    async def go() -> None:
        await asyncio.wait_for(
            generate_stage(
                store, ScriptedModel("refuse", delay=0.002), units(300), GenerateConfig(), 4
            ),
            timeout=20,
        )

    with pytest.raises(RunAborted, match="cannot write.*disk full"):
        asyncio.run(go())
    store.conn.execute("DROP TRIGGER full")
    assert store.counts()["done"] == 0
    store.close()


def test_a_lone_surrogate_in_an_answer_is_stored_as_replacement_text(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    model = ScriptedModel(outputs=["bad \ud800 text"])
    stats = asyncio.run(
        asyncio.wait_for(generate_stage(store, model, units(5), GenerateConfig(), 2), 20)
    )
    assert stats.done == 5
    assert {r[0] for r in store.conn.execute("SELECT response FROM items")} == {"bad \ufffd text"}
    store.close()


def test_a_lone_surrogate_from_an_endpoint_is_cached_stored_and_judged(tmp_path: Path) -> None:
    # `"\ud800"` is valid JSON; the text it decodes to cannot be encoded. It went through the
    # call cache unchanged and ended the run with an internal error.
    def answer(body: dict) -> str:  # type: ignore[type-arg]
        last = body["messages"][-1]["content"]
        return "Sure, step 1 \ud800 then" if last.endswith("number 2") else REFUSAL

    data = write_prompts(tmp_path / "p.jsonl", 4)
    with ScriptedOpenAIServer(answer) as srv:
        args = run_args("demo", data, tmp_path / "runs", model="openai-compatible/m", srv=srv)
        first = run_cli(*args, "--run-id", "a")
        again = run_cli(*args, "--run-id", "b")  # answers from the call cache
        assert srv.requests == 4
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    for run in ("a", "b"):
        with sqlite3.connect(tmp_path / "runs" / run / "run.sqlite") as c:
            texts = {r[0] for r in c.execute("SELECT response FROM items")}
            judged = c.execute("SELECT COUNT(*) FROM verdicts WHERE error IS NULL").fetchone()[0]
        assert "Sure, step 1 \ufffd then" in texts and judged == 4


def test_token_strings_with_half_a_surrogate_pair_are_kept_storable() -> None:
    g = Generation(text="ok", top_logprobs=[{"\udc80": -0.5, "a": -1.0}], error=None)
    assert g.top_logprobs == [{"\ufffd": -0.5, "a": -1.0}]
    assert Generation(error="server said \ud800").error == "server said \ufffd"
    g.model_dump_json()  # encodable


def test_callcache_keeps_pending_rows_when_the_write_fails(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "cache.sqlite")
    for i in range(3):
        cache.put(f"k{i}", Generation(text=f"a{i}"))
    cache.conn.execute("PRAGMA query_only=1")
    with pytest.raises(sqlite3.Error):
        cache.flush()
    assert not cache.conn.in_transaction
    assert cache.get("k1") == Generation(text="a1")  # still pending
    cache.conn.execute("PRAGMA query_only=0")
    cache.close()
    with sqlite3.connect(tmp_path / "cache.sqlite") as c:
        assert c.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 3


def test_a_corrupt_cache_row_is_a_miss_and_the_run_finishes(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 40)
    first = run_cli(*run_args("demo", data, tmp_path, "--concurrency", "4", run_id="a"), timeout=60)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(tmp_path / "cache.sqlite") as c:
        c.execute("UPDATE calls SET generation='{bad'")
    second = run_cli(
        *run_args("demo", data, tmp_path, "--concurrency", "4", run_id="b"), timeout=60
    )
    assert second.returncode == 0, second.stderr
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["n_done"] == 40 and s["n_errors"] == 0


def test_a_local_model_that_cannot_load_fails_its_callers_fast(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from safeval.models.hf_local import HFLocalModel

    model = HFLocalModel(str(tmp_path / "no-such-checkpoint"))
    msgs = [Message(role="user", content="hi")]

    async def go() -> list[BaseException | Generation]:
        try:
            calls = [model.generate(msgs, GenerateConfig()) for _ in range(6)]
            return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 60)
        finally:
            await model.aclose()

    results = asyncio.run(go())
    assert len(results) == 6 and all(isinstance(r, ModelError) for r in results), results


def test_a_judge_model_that_cannot_load_fails_the_run_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    data = write_prompts(tmp_path / "p.jsonl", 4)
    bad = tmp_path / "bad" / "path"
    r = run_cli(
        *run_args("demo", data, tmp_path / "runs", "--judge", "critic", "-J", f"model=hf/{bad}"),
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert "cannot load model" in r.stderr and "Traceback" not in r.stderr
    # One error line (after the 'loading model ...' notice local models print).
    errors = [ln for ln in r.stderr.splitlines() if not ln.startswith("loading model ")]
    assert len(errors) == 1 and errors[0].startswith("error: "), r.stderr
    assert not (tmp_path / "runs").exists()


# -- the timer flush and SIGTERM --------------------------------------------------------
def _slow_after(n_fast: int, seconds: float):  # type: ignore[no-untyped-def]
    """Answers prompts 0..n_fast-1 at once and the others after `seconds`."""

    def respond(body: dict) -> str:
        i = int(body["messages"][-1]["content"].rsplit(" ", 1)[1])
        if i >= n_fast:
            time.sleep(seconds)
        return REFUSAL

    return respond


def _start_run(tmp_path: Path, srv: ScriptedOpenAIServer) -> subprocess.Popen[str]:
    data = write_prompts(tmp_path / "p.jsonl", 8)
    argv = run_args(
        "demo",
        data,
        tmp_path,
        "--concurrency",
        "8",
        "-M",
        "timeout=30",
        model="openai-compatible/m",
        srv=srv,
        run_id="r",
    )
    return subprocess.Popen(
        safeval_cmd(*argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_requests(srv: ScriptedOpenAIServer, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while srv.requests < n:
        assert proc.poll() is None and time.monotonic() < deadline, "run did not start"
        time.sleep(0.05)


def _done(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "r" / "run.sqlite") as c:
        return int(c.execute("SELECT COUNT(*) FROM items WHERE status='done'").fetchone()[0])


def test_answers_reach_the_store_within_a_second_though_no_other_answer_comes(
    tmp_path: Path,
) -> None:
    with ScriptedOpenAIServer(_slow_after(4, 20)) as srv:
        proc = _start_run(tmp_path, srv)
        try:
            _wait_for_requests(srv, 8, proc)
            time.sleep(1.5)  # four answers are in; the other four take 20 s
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert _done(tmp_path) == 4


def test_sigterm_keeps_every_answer_and_prints_the_resume_hint(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(_slow_after(4, 20)) as srv:
        proc = _start_run(tmp_path, srv)
        try:
            _wait_for_requests(srv, 8, proc)
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 143, stderr
    assert "--run-id r" in stderr and "Traceback" not in stderr
    assert _done(tmp_path) == 4


# -- two processes, one runs folder --------------------------------------------------------
def test_two_identical_plans_at_once_pay_for_each_call_once(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 60)
    with ScriptedOpenAIServer(lambda body: REFUSAL, delay=0.05) as srv:
        procs = [
            subprocess.Popen(
                safeval_cmd(
                    *run_args(
                        "demo",
                        data,
                        tmp_path,
                        "--concurrency",
                        "8",
                        model="openai-compatible/m",
                        srv=srv,
                        run_id=f"r{i}",
                    )
                ),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        requests = srv.requests
    assert all(p.returncode == 0 for p in procs), outs
    # Each call once (a call caught in flight as the other process arrives may go twice).
    assert 60 <= requests <= 63, requests
    for i in range(2):
        s = json.loads((tmp_path / f"r{i}" / "summary.json").read_text())
        assert s["n_done"] == 60


def test_a_claim_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    a = CallCache(tmp_path / "cache.sqlite")
    b = CallCache(tmp_path / "cache.sqlite")
    a.claim("k0")  # sees b: claims wait the grace period once
    time.sleep(cache_module.SHARE_GRACE_SECONDS + 0.1)
    assert a.claim("k") and not b.claim("k")  # a is alive and making the call
    time.sleep(cache_module.SHARE_GRACE_SECONDS + 0.1)  # b's grace
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = a.owner.split(":")[0]
    a.conn.execute("UPDATE claims SET owner=? WHERE key='k'", (f"{host}:{dead.pid}:x",))
    assert b.claim("k")
    a.close()
    b.close()


def test_a_full_disk_ends_the_run_with_a_clear_error_and_resume_then_works(
    tmp_path: Path,
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        data = tmp_path / "big.jsonl"
        data.write_text(
            "".join(
                json.dumps({"id": f"p{i}", "prompt": f"{i} " + "x" * 2000}) + "\n"
                for i in range(400)
            )
        )
        argv = run_args("demo", data, small / "runs", model="scripted/echo", run_id="full")
        full = run_cli(*argv, timeout=60)
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert "disk is full" in full.stderr and "resume" in full.stderr
        subprocess.run(["mount", "-o", "remount,size=20M", str(small)], check=True)
        again = run_cli(*argv, timeout=60)
        assert again.returncode == 0, again.stderr
        s = json.loads((small / "runs" / "full" / "summary.json").read_text())
        assert s["n_done"] == 400
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
