"""Judging alongside generation: each answer goes to the judge as it arrives, so a run against a
latency-bound endpoint spends the waits on judging instead of judging after the last answer.

The hand-over queue is bounded (a judge slower than the model slows generation down instead of
filling memory), and a judge that stops, by failure or otherwise, never leaves generation
blocked on a full queue: its error surfaces when the run collects it.

Answers reach the judge in bursts (all that wait, once `GATHER_ITEMS` do or `GATHER_SECONDS`
after the first came): a judge that scores what it is given at once as one batch (the embedded
judge) then scores about 16 per batch instead of one or two, at a third of the CPU per answer,
and so holds the event loop, which the requests in flight share, for less. Bigger bursts (64)
cost less CPU still but stalled the loop long enough at a time to slow the requests down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from safeval.judges.base import Judge
from safeval.models.callcache import CallCache
from safeval.runner.execute import StageStats, judge_stage
from safeval.runner.store import RunStore
from safeval.types.record import ItemRow

_DONE = object()
#: A burst is handed to the judge once this many answers wait, or this long after the first.
GATHER_ITEMS = 16
GATHER_SECONDS = 0.1


class JudgeAlongside:
    """`async with JudgeAlongside(...) as judge_along:` then pass `judge_along.hand` as the
    generate stage's `on_answer`; leaving the block waits for the judge to finish what it got
    (and raises its error, if it failed)."""

    def __init__(
        self,
        store: RunStore,
        judge: Judge,
        concurrency: int,
        cache: CallCache | None = None,
        on_error: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=max(4 * concurrency, 64))
        self._args = (store, judge, concurrency)
        self._cache = cache
        self._on_error = on_error
        self._task: asyncio.Task[StageStats] | None = None
        self._burst = asyncio.Event()  # set when a burst is due: enough answers, or the end
        self.handed = 0

    async def _answers(self) -> AsyncIterator[ItemRow]:
        while True:
            row = await self._queue.get()
            if row is not _DONE and self._queue.qsize() < GATHER_ITEMS - 1:
                self._burst.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._burst.wait(), GATHER_SECONDS)
            while True:  # the burst: yielded without a pause, so the judge sees it at once
                if row is _DONE:
                    return
                yield row  # type: ignore[misc]
                if self._queue.empty():
                    break
                row = self._queue.get_nowait()

    async def __aenter__(self) -> JudgeAlongside:
        store, judge, concurrency = self._args
        self._task = asyncio.create_task(
            judge_stage(
                store,
                judge,
                concurrency,
                on_error=self._on_error,
                items=self._answers(),
                cache=self._cache,
            )
        )
        return self

    async def hand(self, row: ItemRow) -> None:
        """Give one answer to the judge; waits while the judge is behind, never once it has
        stopped (what it did not judge is judged after generation)."""
        assert self._task is not None
        if self._task.done():
            return
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            put = asyncio.ensure_future(self._queue.put(row))
            await asyncio.wait([put, self._task], return_when=asyncio.FIRST_COMPLETED)
            if not put.done():
                put.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await put
                return
        self.handed += 1
        if self._queue.qsize() >= GATHER_ITEMS - 1:  # with the one `_answers` holds
            self._burst.set()

    async def __aexit__(self, et: object, e: object, tb: object) -> None:
        assert self._task is not None
        if et is not None:  # generation failed or was interrupted: stop judging too
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            return
        if not self._task.done():
            await self._queue.put(_DONE)
            self._burst.set()
        self.stats = await self._task
