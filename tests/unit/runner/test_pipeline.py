"""The judge alongside generation gets answers in bursts, so a judge that scores what it is
given at once as one batch (the embedded judge) sees many per batch; every answer is judged."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from safeval.judges.base import Judge
from safeval.runner.pipeline import GATHER_ITEMS, JudgeAlongside
from safeval.runner.store import RunStore
from safeval.types import Message, Sample, Score
from safeval.types.record import ItemRow


class BatchingJudge(Judge):
    """Scores the judgements asked in one turn of the event loop together, as the embedded
    judge does, and records how many each batch held."""

    name = "batching"

    def __init__(self) -> None:
        self.batches: list[int] = []
        self._pending: list[asyncio.Future[Score]] = []

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self.batches.append(len(batch))
        for f in batch:
            f.set_result(Score(value=1.0, label="safe"))

    async def judge(self, item: ItemRow) -> Score:
        fut: asyncio.Future[Score] = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(fut)
        return await fut


def answer(i: int) -> ItemRow:
    sample = Sample(id=f"s{i}", input=f"question {i}")
    messages = [Message(role="user", content=sample.input)]
    return ItemRow(f"s{i}|none|0", sample, "none", 0, messages, f"answer {i}", "done", None)


def test_answers_trickling_in_reach_the_judge_in_batches_and_all_are_judged(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    judge = BatchingJudge()

    async def go() -> None:
        async with JudgeAlongside(store, judge, concurrency=64) as alongside:
            for i in range(200):
                await alongside.hand(answer(i))
                await asyncio.sleep(0.001)  # one answer per millisecond, as from an endpoint

    asyncio.run(go())
    store.close()
    assert sum(judge.batches) == 200
    # Handed over one by one, they were scored one or two at a time; a burst holds up to
    # GATHER_ITEMS (fewer when 0.1 s passes first, as on a loaded machine).
    assert 4 < max(judge.batches) <= GATHER_ITEMS
    with sqlite3.connect(tmp_path / "run.sqlite") as c:
        n = c.execute("SELECT COUNT(*) FROM verdicts WHERE judge='batching'").fetchone()[0]
    assert n == 200
