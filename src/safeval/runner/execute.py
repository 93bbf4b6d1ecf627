"""The two stages that cost: generation (target model) and judging. Both are async, bounded by a
concurrency limit, skip what the store already has, and write in batches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

from safeval.attacks.followup import adaptive_followup
from safeval.db import ConnectionOf, WriteThread
from safeval.errors import RunAborted, SafevalError
from safeval.judges.base import Judge
from safeval.models.base import ModelAPI, call_key
from safeval.models.callcache import CacheBatch, CallCache
from safeval.runner.plan import Unit
from safeval.runner.store import RunStore, Sink, item_id
from safeval.types import GenerateConfig, Generation, Message, Sample, Score
from safeval.types.record import ItemRow

FLUSH_EVERY_ROWS = 500
FLUSH_EVERY_SECONDS = 0.5


@dataclass
class StageStats:
    """What a stage did."""

    done: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    error_examples: list[str] = field(default_factory=list)


class BatchWriter:
    """Buffers rows (made into SQL parameters as they come) and writes them in one transaction
    every few hundred rows or half second (a timer flushes too, so a quiet stretch never holds
    answers in memory for long). The call cache's new answers are written first, so an answer
    that reached the store is always cached.

    Each transaction runs in the write thread (`db.WriteThread`) while the event loop goes on
    with the requests: written in the loop, the transactions of a 20,000-prompt run stalled it
    for about a second in all. A failed write keeps its rows buffered, and the next `add` or
    `flush` raises `RunAborted`."""

    def __init__(self, sink: Sink, cache: CallCache | None = None):
        self._sink = sink
        self._cache = cache
        self._rows: list[tuple] = []
        self._last = time.monotonic()
        self._inflight: tuple[Future[None], list[tuple], CacheBatch | None] | None = None
        self._failure: BaseException | None = None

    def add(self, row: object) -> None:
        self._rows.append(self._sink.prepare(row))  # kept even when this add raises
        self._raise_failure()
        if len(self._rows) >= FLUSH_EVERY_ROWS or self.due_in() <= 0:
            self.flush_soon()

    def due_in(self) -> float:
        """Seconds until buffered rows are due to be written."""
        return self._last + FLUSH_EVERY_SECONDS - time.monotonic()

    def flush_soon(self) -> None:
        """Start writing what is buffered in the write thread (one write at a time: the next
        starts when the timer or `add` finds this one done)."""
        self._raise_failure()
        if self._inflight is None:
            self._start()

    def _start(self) -> None:
        batch = self._cache.take_batch() if self._cache is not None else None
        rows, self._rows = self._rows, []
        if not rows and batch is None:
            self._last = time.monotonic()
            return
        job = WriteThread.shared().submit(self._job(rows, batch))
        self._inflight = (job, rows, batch)
        asyncio.wrap_future(job).add_done_callback(lambda done: self._written(done, job))

    def _job(self, rows: list[tuple], batch: CacheBatch | None) -> Callable[[ConnectionOf], None]:
        sink = self._sink

        def job(connection_of: ConnectionOf) -> None:
            if batch is not None:
                CallCache.write_batch(connection_of(batch.path), batch)
            if rows:
                sink.write(connection_of(sink.path), rows)

        return job

    def _written(self, done: asyncio.Future[None], job: Future[None]) -> None:
        if not done.cancelled():
            done.exception()  # retrieved here: `_settle` takes the outcome from the job itself
        if self._inflight is not None and self._inflight[0] is job:  # not settled by `flush`
            self._settle()

    def _settle(self) -> None:
        """Take the outcome of the write under way (waiting for it, if it is not done)."""
        if self._inflight is None:
            return
        job, rows, batch = self._inflight
        self._inflight = None
        try:
            job.result()
        except Exception as e:
            if batch is not None and self._cache is not None:
                self._cache.batch_done(batch, committed=False)
            self._rows[:0] = rows  # kept, in order, for the next try
            self._failure = _aborted(e)
            return
        if batch is not None and self._cache is not None:
            self._cache.batch_done(batch, committed=True)
        self._last = time.monotonic()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def flush(self) -> None:
        """Write everything buffered and wait for it: the end of a stage, or on the way out
        after an error (another try at rows whose write failed)."""
        self._settle()
        self._failure = None  # this write is the next try
        self._start()
        self._settle()
        self._raise_failure()


def _aborted(e: BaseException) -> RunAborted:
    err = RunAborted(
        f"cannot write the run's results ({type(e).__name__}: {e}); finished items up to the "
        "last write are saved: fix the cause (e.g. free disk space) and run the same command to "
        "resume"
    )
    err.__cause__ = e
    return err


async def answer(
    model: ModelAPI, sample: Sample, messages: list[Message], config: GenerateConfig
) -> Generation:
    """The model's answer: free text, or, where the sample lists `score_choices`, the choice
    with the highest log-likelihood (no text generated), after the chat-templated prompt or,
    where `score_chat_template` is false, after the prompt's raw text."""
    labels = sample.score_choices
    if not labels:
        return await model.generate(messages, config)
    chat_template = sample.score_chat_template
    try:
        lls = await model.loglikelihood(messages, list(labels), chat_template)
    except SafevalError:
        raise
    except Exception as e:  # a backend failure is an error row, like a failed generation
        return Generation(error=f"log-likelihood failed: {type(e).__name__}: {e}")
    best = max(range(len(lls)), key=lls.__getitem__)
    return Generation(text=labels[best], finish_reason="logprob", logprobs=lls)


async def _run_pool(
    items: Iterable | AsyncIterable,
    worker: Callable,
    concurrency: int,
    writer: BatchWriter | None = None,
) -> None:
    """Feed `items` to `concurrency` workers through a bounded queue (memory stays flat), and
    flush `writer` on a timer. A worker or flush that fails ends the pool at once with that
    error (never a producer blocked on a full queue that nobody takes from any more)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=max(2 * concurrency, 16))
    stop = object()
    failed: asyncio.Future[None] = loop.create_future()

    async def consume() -> None:
        while True:
            item = await queue.get()
            if item is stop:
                return
            await worker(item)

    async def flush_on_timer() -> None:
        assert writer is not None
        while True:
            await asyncio.sleep(max(0.02, writer.due_in()))
            if writer.due_in() <= 0:
                writer.flush_soon()

    def note_crash(t: asyncio.Task) -> None:
        if t.cancelled() or t.exception() is None:
            return
        if not failed.done():
            failed.set_exception(t.exception())  # type: ignore[arg-type]
        # Unblock a producer waiting on a full queue: the run ends, these items stay to do.
        while not queue.empty():
            queue.get_nowait()

    workers = [asyncio.create_task(consume()) for _ in range(max(1, concurrency))]
    helpers = [asyncio.create_task(flush_on_timer())] if writer is not None else []
    for t in [*workers, *helpers]:
        t.add_done_callback(note_crash)

    async def produce() -> None:
        if isinstance(items, AsyncIterable):
            async for item in items:
                await queue.put(item)
        else:
            for item in items:
                await queue.put(item)
        for _ in workers:
            await queue.put(stop)
        await asyncio.gather(*workers)

    producer = asyncio.create_task(produce())
    try:
        await asyncio.wait([producer, failed], return_when=asyncio.FIRST_COMPLETED)
        if failed.done():
            e = failed.exception()
            if isinstance(e, SafevalError):
                raise e
            raise RunAborted(
                f"a worker failed ({type(e).__name__}: {e}); finished items are saved: run the "
                "same command to resume (if it fails again, please report it)"
            ) from e
        await producer
    finally:
        for t in [producer, *workers, *helpers]:
            t.cancel()
        await asyncio.gather(producer, *workers, *helpers, return_exceptions=True)
        if not failed.done():
            failed.cancel()
        elif not failed.cancelled():
            failed.exception()  # retrieved: a late helper failure must not warn at exit


async def generate_stage(
    store: RunStore,
    model: ModelAPI,
    units: Iterable[Unit],
    config: GenerateConfig,
    concurrency: int,
    cache: CallCache | None = None,
    on_item: Callable[[int], None] = lambda n: None,
    attacker: ModelAPI | None = None,
    seed: int = 0,
    on_error: Callable[[int], None] = lambda n: None,
    on_answer: Callable[[ItemRow], Awaitable[None]] | None = None,
) -> StageStats:
    """Ask the model every turn of every unit not yet done. A conversation's turns run in order,
    each with the answers before it as context; a failed turn ends its conversation. Each new
    answer goes to `on_answer` (the judge, when it runs alongside)."""
    stats = StageStats()
    done = store.done_ids()
    writer = BatchWriter(store.items_sink(), cache)
    start = time.monotonic()

    def todo() -> Iterable[Unit]:
        for unit in units:
            n = unit.sample.n_turns
            if all(item_id(unit.base_id, unit.attack_name, t) in done for t in range(n)):
                stats.skipped += n
                on_item(n)
                continue
            yield unit

    def fail_all(
        unit: Unit, sample: Sample, first: int, message: str, history: list[Message]
    ) -> None:
        for t in range(first, sample.n_turns):
            iid = item_id(unit.base_id, unit.attack_name, t)
            writer.add((iid, sample, t, history, None, Generation(error=message)))
        n = sample.n_turns - first
        stats.errors += n
        on_error(n)
        if len(stats.error_examples) < 5:
            stats.error_examples.append(f"{unit.base_id}|{unit.attack_name}: {message}")
        on_item(n)

    async def work(u: Unit) -> None:
        base = u.base_id
        try:
            unit = await u.attack.apply_async(u.sample, seed, attacker)
        except SafevalError as e:
            fail_all(u, u.sample, 0, f"attack failed: {e}", u.sample.first_messages())
            return
        history: list[Message] = unit.first_messages()
        for turn in range(unit.n_turns):
            iid = item_id(base, u.attack_name, turn)
            if iid in done:  # resume: the exact conversation as it was stored
                stored, prior = store.conversation_of(iid)
                history = [*stored, Message(role="assistant", content=prior)]
                stats.skipped += 1
                on_item(1)
                continue
            if turn > 0:
                follow = unit.followups[turn - 1]
                if attacker is not None and unit.adaptive_followup:
                    try:
                        follow = await adaptive_followup(attacker, history, follow, seed)
                    except SafevalError as e:
                        fail_all(u, unit, turn, f"follow-up failed: {e}", history)
                        return
                history = [*history, Message(role="user", content=follow)]
            gen = await answer(model, unit, history, config)
            key = call_key(model, history, config)
            writer.add((iid, unit, turn, history, key, gen))
            on_item(1)
            if not gen.ok:
                stats.errors += 1
                on_error(1)
                if len(stats.error_examples) < 5:
                    stats.error_examples.append(f"{iid}: {gen.error}")
                if turn + 1 < unit.n_turns:
                    fail_all(u, unit, turn + 1, f"not asked: turn {turn} failed", history)
                return
            stats.done += 1
            if on_answer is not None:
                row = ItemRow(iid, unit, u.attack_name, turn, history, gen.text, "done", None)
                await on_answer(row)
            history = [*history, Message(role="assistant", content=gen.text)]

    try:
        await _run_pool(todo(), work, concurrency, writer)
    except BaseException:
        with contextlib.suppress(RunAborted):  # keep the first error; rows stay buffered
            writer.flush()
        raise
    else:
        writer.flush()
    finally:
        stats.seconds = time.monotonic() - start
    return stats


async def judge_stage(
    store: RunStore,
    judge: Judge,
    concurrency: int,
    on_item: Callable[[int], None] = lambda n: None,
    on_error: Callable[[int], None] = lambda n: None,
    items: Iterable[ItemRow] | AsyncIterable[ItemRow] | None = None,
    cache: CallCache | None = None,
) -> StageStats:
    """Give a verdict from `judge` to every done item that lacks one (or to `items`, answers
    handed over as they arrive). Touches no generation."""
    stats = StageStats()
    writer = BatchWriter(store.verdicts_sink(), cache)
    start = time.monotonic()
    if items is None:
        items = store.items_to_judge(judge.name)

    async def work(item: ItemRow) -> None:
        try:
            score = await judge.verdict(item)
        except Exception as e:  # a judge bug or outage is an error row, never a verdict
            score = Score(error=f"{type(e).__name__}: {e}")
        score = score.model_copy(update={"judge": judge.name})
        if not score.ok:
            stats.errors += 1
            on_error(1)
            if score.error is None:
                score = score.model_copy(update={"error": "judge gave no value"})
            if len(stats.error_examples) < 5:
                stats.error_examples.append(f"{item.item_id}: {score.error}")
        else:
            stats.done += 1
        writer.add((item.item_id, score))
        on_item(1)

    try:
        await _run_pool(items, work, concurrency, writer)
    except BaseException:
        with contextlib.suppress(RunAborted):  # keep the first error; rows stay buffered
            writer.flush()
        raise
    else:
        writer.flush()
    finally:
        stats.seconds = time.monotonic() - start
    return stats
