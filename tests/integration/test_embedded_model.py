"""Smoke tests on the real embedded model (SmolLM2-135M GGUF, CPU)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from safeval.types import GenerateConfig, Message
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol():  # type: ignore[no-untyped-def]
    pytest.importorskip("transformers", reason="the 'local' extra is not installed")
    from safeval.models.smollm2 import SmolLM2Model

    m = SmolLM2Model()
    m.load()
    return m


def test_batched_generation_is_deterministic(smol) -> None:  # type: ignore[no-untyped-def]
    cfg = GenerateConfig(max_tokens=12)

    async def go() -> list[str]:
        prompts = ["What is 2+2?", "Name a colour.", "What is 2+2?"]
        gens = await asyncio.gather(
            *[smol.generate([Message(role="user", content=p)], cfg) for p in prompts]
        )
        assert all(g.ok and g.text.strip() for g in gens)
        assert all(g.usage.output_tokens <= 12 for g in gens)
        return [g.text for g in gens]

    first = asyncio.run(go())
    assert first[0] == first[2]  # same prompt in one batch, same answer
    assert asyncio.run(go()) == first


def test_greedy_decoder_answers_as_model_generate_does(smol) -> None:  # type: ignore[no-untyped-def]
    """The fast decoder (prefill in length groups, rows leave as they end) against the model's
    own `generate` on one padded batch: the same answers, usage and finish reasons."""
    from safeval.models.hf_local import _Job

    cfg = GenerateConfig(max_tokens=20)
    texts = ["Say hi.", "Explain, in detail, how tides work and why there are two a day.", "2+2?"]
    jobs = [_Job("gen", [Message(role="user", content=t)], cfg) for t in texts]
    assert smol._fast_decode
    fast = smol._generate_batch(jobs)
    assert smol._fast_decode  # the embedded model's cache was joined, no fallback
    slow = smol._hf_generate_batch(jobs, cfg)
    assert [g.text for g in fast] == [g.text for g in slow]
    assert [g.finish_reason for g in fast] == [g.finish_reason for g in slow]
    assert [g.usage for g in fast] == [g.usage for g in slow]


def test_loglikelihood_prefers_the_plausible_continuation(smol) -> None:  # type: ignore[no-untyped-def]
    msgs = [Message(role="user", content="What is the capital of France? Answer in one word.")]

    async def go() -> tuple[list[float], list[float]]:
        fast = await smol.loglikelihood(msgs, ["Paris", "Banana"])
        # A continuation of several tokens forces the one-row-per-continuation path.
        slow = await smol.loglikelihood(msgs, ["Paris", "Banana", "The capital city is Paris"])
        return fast, slow

    fast, slow = asyncio.run(go())
    assert fast[0] > fast[1]
    ids = smol._tok("Paris", add_special_tokens=False)["input_ids"]
    if len(ids) == 1:  # both paths must agree on the same quantity
        assert fast[0] == pytest.approx(slow[0], abs=1e-3)


def test_cli_runs_demo_on_embedded_model(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="the 'local' extra is not installed")
    r = run_cli(
        "run",
        "demo",
        "--limit",
        "6",
        "--max-tokens",
        "24",
        "--runs-dir",
        str(tmp_path),
        "--run-id",
        "smoke",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    assert "overall" in r.stdout and r.stdout.strip().splitlines()[-1].endswith("smoke")
    s = json.loads((tmp_path / "smoke" / "summary.json").read_text())
    assert s["model"] == "local/smollm2" and s["n_total"] == 6 and s["n_done"] == 6
    assert s["scores"]["by_category"]
    # The load is announced; a second run of the same plan, every answer cached, never loads.
    assert "loading model local/smollm2" in r.stderr
    again = run_cli("run", "demo", "--limit", "6", "--max-tokens", "24", "--runs-dir",
                    str(tmp_path), "--run-id", "again", "--no-progress")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "loading model" not in again.stderr and "cache hits 6" in again.stderr


def test_a_missing_local_model_fails_before_anything_is_written(tmp_path: Path) -> None:
    r = run_cli("run", "demo", "--model", "hf/./no-such-checkpoint", "--runs-dir",
                str(tmp_path / "runs"), "--no-progress")  # fmt: skip
    assert r.returncode == 2 and "cannot load model from './no-such-checkpoint'" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "runs").exists()
