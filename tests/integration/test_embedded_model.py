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
