"""A whole run: validate, open or resume the store, generate, judge, summarise."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeval import __version__
from safeval.attacks.base import get_attack
from safeval.benchmarks.base import Benchmark, BenchmarkOptions, get_benchmark
from safeval.errors import ConfigError, Interrupted
from safeval.judges.base import Judge, get_judge
from safeval.models.base import ModelAPI, get_model
from safeval.models.caching import CachingModel
from safeval.models.callcache import CallCache
from safeval.runner.execute import StageStats, generate_stage, judge_stage
from safeval.runner.pipeline import JudgeAlongside
from safeval.runner.plan import count_items, expand
from safeval.runner.progress import Bar
from safeval.runner.ray_executor import check_ray_config, ray_generate_stage
from safeval.runner.store import RunStore
from safeval.runner.validate import check_run_id
from safeval.secrets import redact_url
from safeval.types import GenerateConfig

SECRET_WORDS = ("key", "token", "secret", "password", "auth")
# Model (and judge) options that change how an answer is fetched, not what it is: a resume, or a
# judge given them anew, may change them.
TRANSPORT_ARGS = frozenset(
    {
        "base_url",
        "timeout",
        "max_retries",
        "max_connections",
        "backoff_initial",
        "backoff_max",
        "retry_after_max",
        "concurrency",
        "batch_size",
        "device",
        "threads",
    }
)


def public_args(args: dict[str, Any]) -> dict[str, Any]:
    """Model arguments fit to store: anything that looks like a credential is left out."""
    return {
        k: redact_url(v) if isinstance(v, str) else v
        for k, v in args.items()
        if not any(w in k.lower() for w in SECRET_WORDS)
    }


@dataclass
class RunConfig:
    """Everything `safeval run` was asked to do."""

    benchmark: str
    model: str = "local/smollm2"
    model_args: dict[str, Any] = field(default_factory=dict)
    judge: str | None = None
    judge_args: dict[str, Any] = field(default_factory=dict)
    attacks: list[str] = field(default_factory=lambda: ["none"])
    data: Path | None = None
    lang: str | None = None
    limit: int | None = None
    seed: int = 0
    bench_args: dict[str, Any] = field(default_factory=dict)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    concurrency: int = 8
    runs_dir: Path = Path("runs")
    run_id: str | None = None
    progress: bool = True
    attacker: str | None = None
    attacker_args: dict[str, Any] = field(default_factory=dict)
    executor: str = "local"  # or "ray": generation shards on a Ray cluster
    ray_address: str | None = None
    endpoints: list[str] = field(default_factory=list)  # ray: shards spread over these URLs
    shard_size: int = 200  # ray: units (conversations) per shard
    # Work the caller will need once the run ends (the CLI: importing what prints the summary),
    # done in a worker thread while the first requests are in flight.
    warm_up: Callable[[], None] | None = None


@dataclass
class RunResult:
    """Where the run is and what it did."""

    run_dir: Path
    summary: dict[str, Any]
    generation: StageStats
    judging: StageStats
    model_calls: int
    cache_hits: int


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60]


def new_run_id(benchmark: str, model: str) -> str:
    return f"{_slug(benchmark)}-{_slug(model)}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 1000:03d}"


@contextmanager
def run_lock(run_dir: Path):  # type: ignore[no-untyped-def]
    """One process per run directory at a time."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / ".lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise ConfigError(f"run {run_dir} is in use by another safeval process") from None
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so readers see the old file or the new one, never half of one."""
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise


def summarize(
    store: RunStore, benchmark: Benchmark, judge_name: str, n_total: int
) -> dict[str, Any]:
    """summary.json: what was run, how much of it, and the scores by `judge_name`.

    `n_total` is the plan's item count; `n_done` the items answered; `n_errors` every item that
    ended in an error (no answer, or no verdict); `n_empty` the empty answers, which no score
    counts."""
    meta = store.meta()
    counts = store.counts()
    scores = benchmark.aggregate(
        store.scored_rows(judge_name, with_samples=benchmark.scores_read_samples)
    )
    n_judge_errors = int(scores.get("n_judge_errors", 0))
    n_missing = max(0, n_total - counts.get("done", 0) - counts.get("error", 0))
    return {
        "run_id": meta.get("run_id"),
        "benchmark": benchmark.name,
        "model": meta.get("model"),
        "judge": judge_name,
        "attacks": meta.get("attacks"),
        "n_total": n_total,
        "n_done": counts.get("done", 0),
        "n_errors": counts.get("error", 0) + n_judge_errors,
        "n_generation_errors": counts.get("error", 0),
        "n_judge_errors": n_judge_errors,
        "n_empty": int(scores.get("n_empty", 0)),
        "n_not_asked": n_missing,
        "complete": n_missing == 0 and counts.get("error", 0) == 0 and n_judge_errors == 0,
        "scores": scores,
        # e.g. how a guard model scored (scored_by:logprob|text), items a cascade escalated
        "verdict_tags": store.tag_counts(judge_name),
        "config": meta.get("plan"),
        "settings": meta.get("settings"),
        "safeval_version": __version__,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_summaries(run_dir: Path, summary: dict[str, Any], main_judge: str | None) -> None:
    """One summary per judge in `summaries/<judge>.json`; `summary.json` is the run's own judge
    (the one it was made with), so re-judging with another judge never replaces it."""
    per_judge = run_dir / "summaries"
    per_judge.mkdir(exist_ok=True)
    write_json_atomic(per_judge / f"{_slug(summary['judge'])}.json", summary)
    if main_judge is None or summary["judge"] == main_judge:
        write_json_atomic(run_dir / "summary.json", summary)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def plan_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two plans, as `key: old -> new` lines."""
    a, b = _flat(old), _flat(new)
    return [
        f"{k}: {a.get(k)!r} -> {b.get(k)!r}"
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k) and k not in ("benchmark.data",)
    ]


def _plan_identity(cfg: RunConfig, bench: Benchmark, model: ModelAPI) -> dict[str, Any]:
    """Everything the answers depend on; a resume must match it exactly. The endpoint is left
    out (a server that moved to another port may finish the run), the model's identity and
    answer-changing options are in."""
    identity = {k: v for k, v in model.identity().items() if k not in TRANSPORT_ARGS}
    options = {k: v for k, v in public_args(cfg.model_args).items() if k not in TRANSPORT_ARGS}
    return {
        "benchmark": bench.identity(),
        "model": model.full_name,
        "model_identity": identity,
        "model_options": options,
        "attacks": cfg.attacks,
        "attacker": cfg.attacker,
        "generate": cfg.generate.model_dump(),
    }


def check_judge_scale(bench: Benchmark, judge: Judge) -> None:
    """A judge whose scale the benchmark cannot score is refused before anything runs."""
    if judge.scale not in bench.accepted_scales:
        accepted = ", ".join(sorted(bench.accepted_scales))
        raise ConfigError(
            f"judge '{judge.name}' gives {judge.scale} verdicts, but {bench.name} scores "
            f"{accepted} verdicts: use --judge {bench.default_judge} (its default) or another "
            f"judge of that scale"
        )


async def execute_run(cfg: RunConfig) -> RunResult:
    """Run (or resume) the whole pipeline and write summary.json. SIGTERM stops it like Ctrl-C:
    finished items are written, then `Interrupted` is raised."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_signal, signal.SIGTERM)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return await _execute_run(cfg)
    try:
        return await _execute_run(cfg)
    except asyncio.CancelledError:
        if signals:
            raise Interrupted(signals[0]) from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _start_helpers(judge: Judge, attacker: ModelAPI | None) -> None:
    """Load or reach the judge's and the attacker's models before anything is written, so that
    one that cannot start fails the run at once."""
    for m in (getattr(judge, "model", None), attacker):
        if isinstance(m, ModelAPI):
            await m.start()


async def _warm_up(judge: Judge, extra: Callable[[], None] | None) -> None:
    """Start-up work that no request waits for, done while the first ones are in flight: the
    judge's weights, then the caller's `warm_up`. A failure here is not the run's: it comes
    back where the thing is used (the judge's load fails each judgement as an error).

    Worker threads share the interpreter with the event loop: with the default 5 ms switch
    interval, each time the loop gave the interpreter up for a socket call it would wait up
    to 5 ms to get it back. While warming, the thread hands it back within 0.5 ms."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, 0.0005))
    try:
        with contextlib.suppress(Exception):
            await judge.warm()
        if extra is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(extra)
    finally:
        sys.setswitchinterval(before)


async def _execute_run(cfg: RunConfig) -> RunResult:
    bench = get_benchmark(
        cfg.benchmark,
        BenchmarkOptions(
            data=cfg.data, lang=cfg.lang, limit=cfg.limit, seed=cfg.seed, args=cfg.bench_args
        ),
    )
    attacks = [get_attack(a) for a in cfg.attacks]
    judge_name = cfg.judge or bench.default_judge
    judge: Judge = get_judge(judge_name, **cfg.judge_args)
    inner = get_model(cfg.model, **cfg.model_args)
    if bench.needs_loglikelihood and not inner.supports_loglikelihood:
        raise ConfigError(
            f"{bench.name} in logprob mode needs a model that scores text (hf/..., local/...); "
            f"'{cfg.model}' can only generate: use --mode generate"
        )
    if cfg.executor not in ("local", "ray"):
        raise ConfigError(f"--executor must be local or ray, not '{cfg.executor}'")
    if cfg.executor != "ray" and (cfg.endpoints or cfg.ray_address):
        raise ConfigError("--endpoint and --ray-address go with --executor ray")
    if cfg.shard_size < 1:
        raise ConfigError("--shard-size must be at least 1")
    if cfg.executor == "ray":
        check_ray_config(cfg)
    # Validate all input before anything is written: bad data leaves no run behind.
    n_total = count_items(bench, attacks)
    if n_total == 0:
        raise ConfigError(
            f"nothing to run: {bench.name} has no samples with these options (data, --lang, "
            "--limit, -B filters)"
        )
    check_judge_scale(bench, judge)
    run_id = check_run_id(cfg.run_id or new_run_id(cfg.benchmark, cfg.model))
    run_dir = cfg.runs_dir / run_id
    plan = _plan_identity(cfg, bench, inner)
    existing = (run_dir / "run.sqlite").exists()
    if existing:
        store = RunStore(run_dir / "run.sqlite")
        old = store.meta().get("plan")
        store.close()
        if old is not None and old != plan:
            diff = plan_differences(old, plan)
            raise ConfigError(
                f"run '{run_id}' in {cfg.runs_dir} was made with other settings ("
                + "; ".join(diff[:6])
                + ("; ..." if len(diff) > 6 else "")
                + "): resume it with the same benchmark, data, model and generation options, "
                "or pick a new --run-id"
            )
    if cfg.executor == "local":  # with Ray the workers load or reach the model, not the driver
        # Reach the endpoint, or find the weights, now; local weights load on the first call that
        # the cache cannot answer (a fully cached run never loads them).
        await inner.check()
    attacker_inner = get_model(cfg.attacker, **cfg.attacker_args) if cfg.attacker else None
    await _start_helpers(judge, attacker_inner)
    concurrency = max(cfg.concurrency, inner.min_concurrency)
    with contextlib.ExitStack() as opened:
        cfg.runs_dir.mkdir(parents=True, exist_ok=True)
        # Opened before the run folder is made: a damaged cache leaves no run behind.
        cache = CallCache(cfg.runs_dir / "cache.sqlite")
        opened.callback(cache.close)
        opened.enter_context(run_lock(run_dir))
        store = RunStore(run_dir / "run.sqlite")
        model = CachingModel(inner, cache)
        judge.bind_cache(cache)
        attacker = CachingModel(attacker_inner, cache) if attacker_inner is not None else None
        warming: asyncio.Task[None] | None = None
        try:
            judge_with_options(store, judge_name, cfg.judge_args)  # a resume with new -J
            store.set_meta(
                {
                    "run_id": run_id,
                    "model": inner.full_name,
                    "model_args": public_args(cfg.model_args),
                    "model_identity": inner.identity(),
                    "attacks": cfg.attacks,
                    "benchmark": bench.name,
                    "plan": plan,
                    "n_total": n_total,
                    "judge": judge_name,
                    "settings": {
                        "data": str(cfg.data) if cfg.data else None,
                        "limit": cfg.limit,
                        "lang": cfg.lang,
                        "seed": cfg.seed,
                        "model_options": public_args(cfg.model_args),
                        "judge_options": public_args(cfg.judge_args),
                        "attacks": cfg.attacks,
                        "max_tokens": cfg.generate.max_tokens,
                        "temperature": cfg.generate.temperature,
                    },
                    "created": store.meta().get("created", time.time()),
                }
            )
            early = StageStats()
            warming = asyncio.create_task(_warm_up(judge, cfg.warm_up))  # while requests go
            with Bar("generate", n_total, cfg.progress) as bar:
                if cfg.executor == "ray":
                    cache.flush()
                    stage = await ray_generate_stage(
                        store, cfg, expand(bench, attacks), bar.advance
                    )
                    gen_stats, model.calls, model.hits = stage.stats, stage.calls, stage.hits
                else:
                    # The judge works through the answers as they arrive; what it has not
                    # judged by the end (resumed items, errors to retry) is judged below.
                    async with JudgeAlongside(store, judge, cfg.concurrency, cache) as alongside:
                        gen_stats = await generate_stage(
                            store,
                            model,
                            expand(bench, attacks),
                            cfg.generate,
                            concurrency,
                            cache,
                            bar.advance,
                            attacker,
                            cfg.seed,
                            bar.error,
                            alongside.hand,
                        )
                    early = alongside.stats
            await warming
            to_judge = store.count_to_judge(judge_name)
            judge_stats = StageStats()
            if to_judge:  # nothing left when the judge alongside took every answer
                with Bar(f"judge ({judge_name})", to_judge, cfg.progress) as bar:
                    judge_stats = await judge_stage(
                        store, judge, cfg.concurrency, bar.advance, bar.error
                    )
            if early.done or early.errors:
                judge_stats.done += early.done
                judge_stats.errors += early.errors
                judge_stats.error_examples = (early.error_examples + judge_stats.error_examples)[:5]
            summary = summarize(store, bench, judge_name, n_total)
            write_summaries(run_dir, summary, store.meta().get("judge"))
        finally:
            if warming is not None and not warming.done():
                warming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warming
            await model.aclose()
            if attacker is not None:
                await attacker.aclose()
            await judge.aclose()
            store.close()
    return RunResult(run_dir, summary, gen_stats, judge_stats, model.calls, model.hits)


def judge_with_options(store: RunStore, judge_name: str, options: dict[str, Any]) -> None:
    """Delete the verdicts `judge_name` gave with other options (-J), so every item is judged
    with the options given now: a second `safeval judge` with a new threshold kept the old
    verdicts and scores. The options of each judge are kept in the run's metadata (a run made
    before that record: the run's own judge's settings, else the defaults)."""
    meta = store.meta()
    recorded = dict(meta.get("judge_options") or {})
    before = recorded.get(judge_name)
    if before is None and judge_name == meta.get("judge"):
        before = (meta.get("settings") or {}).get("judge_options")
    now = json.loads(json.dumps(public_args(options), sort_keys=True))

    def verdict_options(opts: dict[str, Any]) -> dict[str, Any]:  # as a resume compares a model's
        return {k: v for k, v in opts.items() if k not in TRANSPORT_ARGS}

    if verdict_options(before or {}) != verdict_options(now):
        store.delete_verdicts(judge_name)
    store.set_meta({"judge_options": {**recorded, judge_name: now}})


async def rejudge_run(
    run_dir: Path,
    judge_name: str,
    judge_args: dict[str, Any],
    concurrency: int = 8,
    progress: bool = True,
) -> tuple[dict[str, Any], StageStats]:
    """Judge a stored run again (e.g. with another judge): no call to the target model. Returns
    the summary and what the judging did (its errors, to print)."""
    db = run_dir / "run.sqlite"
    if not db.exists():
        raise ConfigError(f"{run_dir} is not a safeval run (no run.sqlite)")
    judge = get_judge(judge_name, **judge_args)
    with run_lock(run_dir):
        store = RunStore(db)
        cache = CallCache(run_dir.parent / "cache.sqlite")
        judge.bind_cache(cache)
        try:
            meta = store.meta()
            bench = benchmark_of(meta)
            check_judge_scale(bench, judge)
            judge_with_options(store, judge_name, judge_args)
            with Bar(f"judge ({judge_name})", store.count_to_judge(judge_name), progress) as bar:
                stats = await judge_stage(store, judge, concurrency, bar.advance, bar.error)
            # The plan's size, not what happens to be stored: an interrupted run stays so.
            n_total = meta.get("n_total") or _read_summary(run_dir).get("n_total")
            if not n_total:
                n_total = sum(store.counts().values())
            summary = summarize(store, bench, judge_name, int(n_total))
            write_summaries(
                run_dir, summary, meta.get("judge") or _read_summary(run_dir).get("judge")
            )
        finally:
            await judge.aclose()
            cache.close()
            store.close()
    return summary, stats


def benchmark_of(meta: dict[str, Any]) -> Benchmark:
    """The benchmark a stored run was made with, rebuilt from its metadata."""
    b = meta["plan"]["benchmark"]
    return get_benchmark(
        b["benchmark"],
        BenchmarkOptions(
            data=Path(b["data"]) if b["data"] else None,
            lang=b["lang"],
            limit=b["limit"],
            seed=b["seed"],
            args=b.get("user_args", {}),
        ),
    )


def _read_summary(run_dir: Path) -> dict[str, Any]:
    p = run_dir / "summary.json"
    try:
        old = json.loads(p.read_text()) if p.exists() else {}
    except (ValueError, OSError):  # damaged: it is written again from run.sqlite
        return {}
    return old if isinstance(old, dict) else {}


def run_sync(cfg: RunConfig) -> RunResult:
    """`execute_run` for callers without an event loop."""
    return asyncio.run(execute_run(cfg))
