"""`--executor ray`: the generation stage as shards on a Ray cluster, merged into one run store.

The driver keeps the run: it plans, skips what the store already holds (resume), sends shards
of units to Ray tasks, and writes each shard's rows into the run's SQLite file as it returns.
A shard runs the ordinary generate stage (attacks, follow-ups, retries) against a scratch
store on its worker and sends its rows back as JSON text: no pickled data crosses. Every
model call goes through one call-cache actor on the driver's node, so a call already paid for
(in this run or another in the same runs folder) is not made again. Shards are spread over
`--endpoint` URLs round-robin: several vLLM servers serve one run.

API keys are not sent with the tasks: workers read SAFEVAL_API_KEY / OPENAI_API_KEY from
their own environment (a local instance inherits the driver's).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeval.attacks.base import get_attack
from safeval.errors import ConfigError
from safeval.models.base import get_model
from safeval.models.caching import CachingModel
from safeval.models.callcache import CallCache
from safeval.runner.execute import StageStats, generate_stage
from safeval.runner.plan import Unit
from safeval.runner.store import RunStore, item_id
from safeval.runner.validate import check_model_args
from safeval.types import GenerateConfig, Generation, Sample


@dataclass
class RayStage:
    """What the Ray generation stage did, with the model-call counts of all shards."""

    stats: StageStats
    calls: int = 0
    hits: int = 0


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'safeval[ray]' (or pip install ray)"
        ) from None
    return ray


#: `--ray-address`: a host:port, or the same after ray:// (Ray Client).
RAY_ADDRESS = re.compile(r"(ray://)?[A-Za-z0-9._-]+:\d{1,5}")


def check_ray_config(cfg: Any) -> None:
    """Refuse, before anything is written, what a Ray run cannot do."""
    _ray()
    address = cfg.ray_address
    if address and address not in ("auto", "local") and not RAY_ADDRESS.fullmatch(address):
        raise ConfigError(
            f"--ray-address must be auto, HOST:PORT or ray://HOST:PORT, not '{address}'"
        )
    if address and address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise ConfigError("--ray-address ray://... needs Ray Client: pip install 'ray[client]'")
    for url in cfg.endpoints:
        if not str(url).startswith(("http://", "https://")):
            raise ConfigError(f"--endpoint must be an http:// or https:// URL, not '{url}'")
    if cfg.endpoints:
        if cfg.model_args.get("base_url"):
            raise ConfigError(
                "give --endpoint (shards go round-robin to them) or --base-url, not both"
            )
        try:  # each shard's model gets one endpoint as its base_url
            check_model_args(cfg.model, {"base_url": cfg.endpoints[0]})
        except ConfigError as e:
            raise ConfigError(f"--endpoint: {e}") from None
    if cfg.model_args.get("api_key") or (cfg.attacker_args or {}).get("api_key"):
        raise ConfigError(
            "with --executor ray, API keys are not sent to workers: set SAFEVAL_API_KEY (or "
            "OPENAI_API_KEY) in the workers' environment instead of --api-key"
        )


def shards(
    units: Iterable[Unit], done: set[str], size: int, on_skip: Callable[[int], None]
) -> Iterator[list[Unit]]:
    """Units not yet fully done, in lists of `size`; finished ones are counted as skipped."""
    batch: list[Unit] = []
    for u in units:
        ids = [item_id(u.base_id, u.attack_name, t) for t in range(u.sample.n_turns)]
        if all(i in done for i in ids):
            on_skip(len(ids))
            continue
        batch.append(u)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class RemoteCache:
    """The `CallCache` interface a worker's CachingModel uses, served by the cache actor."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self._ray = _ray()

    def get(self, key: str) -> Generation | None:
        found = self._ray.get(self.actor.get.remote(key))
        return Generation.model_validate_json(found) if found else None

    def put(self, key: str, gen: Generation) -> None:
        self.actor.put.remote(key, gen.model_dump_json())

    def flush(self) -> None:
        self._ray.get(self.actor.flush.remote())


class CacheService:
    """Ray actor around the runs folder's call cache (one writer for every shard)."""

    def __init__(self, path: str) -> None:
        self.cache = CallCache(Path(path))

    def get(self, key: str) -> str | None:
        gen = self.cache.get(key)
        return gen.model_dump_json() if gen else None

    def put(self, key: str, gen_json: str) -> None:
        self.cache.put(key, Generation.model_validate_json(gen_json))

    def flush(self) -> None:
        self.cache.flush()


def run_shard(spec_json: str, cache_actor: Any) -> str:
    """A Ray task: run the generate stage on a shard's units; return the stored rows as JSON."""
    spec = json.loads(spec_json)
    units = [
        Unit(Sample.model_validate_json(u["sample"]), get_attack(u["attack"]))
        for u in spec["units"]
    ]
    cache = RemoteCache(cache_actor)

    async def go() -> dict[str, Any]:
        inner = get_model(spec["model"], **spec["model_args"])
        await inner.start()
        model = CachingModel(inner, cache)  # type: ignore[arg-type]
        attacker = (
            CachingModel(get_model(spec["attacker"], **spec["attacker_args"]), cache)  # type: ignore[arg-type]
            if spec["attacker"]
            else None
        )
        with tempfile.TemporaryDirectory() as d:
            store = RunStore(Path(d) / "shard.sqlite")
            try:
                stats = await generate_stage(
                    store,
                    model,
                    units,
                    GenerateConfig.model_validate(spec["generate"]),
                    spec["concurrency"],
                    None,
                    attacker=attacker,
                    seed=spec["seed"],
                )
                rows = store.raw_items()
            finally:
                store.close()
                await model.aclose()
                if attacker is not None:
                    await attacker.aclose()
        cache.flush()
        return {
            "rows": rows,
            "errors": stats.errors,
            "error_examples": stats.error_examples,
            "calls": model.calls + (attacker.calls if attacker else 0),
            "hits": model.hits + (attacker.hits if attacker else 0),
        }

    return json.dumps(asyncio.run(go()), ensure_ascii=False)


async def ray_generate_stage(
    store: RunStore,
    cfg: Any,  # RunConfig (not imported: run.py imports this module)
    units: Iterable[Unit],
    on_item: Callable[[int], None] = lambda n: None,
) -> RayStage:
    """Generate every missing item of `units` on Ray and write the rows into `store`."""
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        try:
            if cfg.ray_address:
                ray.init(address=cfg.ray_address, log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
        except (ValueError, ConnectionError, RuntimeError, TimeoutError) as e:
            where = cfg.ray_address or "a local cluster"
            raise ConfigError(f"cannot start or reach Ray at {where} ({e})") from None
    stage = RayStage(StageStats())
    loop = asyncio.get_running_loop()
    start = loop.time()
    actor = ray.remote(CacheService).remote(str(cfg.runs_dir.resolve() / "cache.sqlite"))
    task = ray.remote(run_shard)
    capacity = max(2, int(ray.cluster_resources().get("CPU", 2)) * 2)
    endpoints = list(cfg.endpoints) or [None]

    def spec(n: int, batch: list[Unit]) -> str:
        args = dict(cfg.model_args)
        if endpoints[n % len(endpoints)]:
            args["base_url"] = endpoints[n % len(endpoints)]
        return json.dumps(
            {
                "model": cfg.model,
                "model_args": args,
                "attacker": cfg.attacker,
                "attacker_args": cfg.attacker_args,
                "generate": cfg.generate.model_dump(),
                "seed": cfg.seed,
                "concurrency": cfg.concurrency,
                "units": [
                    {"sample": u.sample.model_dump_json(), "attack": u.attack.name} for u in batch
                ],
            },
            ensure_ascii=False,
        )

    def collect(result_json: str) -> None:
        result = json.loads(result_json)
        n = store.put_raw_items(result["rows"])
        stage.stats.errors += result["errors"]
        stage.stats.done += n - result["errors"]
        stage.stats.error_examples = (stage.stats.error_examples + result["error_examples"])[:5]
        stage.calls += result["calls"]
        stage.hits += result["hits"]
        on_item(n)

    def skipped(n: int) -> None:
        stage.stats.skipped += n
        on_item(n)

    done = store.done_ids()
    batches: dict[Any, list[Unit]] = {}

    def fail_shard(batch: list[Unit], message: str) -> None:
        """A shard that died (worker lost, model failed to load) leaves error rows for its
        items, to be retried on resume; never verdicts."""
        no_key: str | None = None
        rows = [
            (iid, u.sample, t, u.sample.first_messages(), no_key, Generation(error=message))
            for u in batch
            for t in range(u.sample.n_turns)
            if (iid := item_id(u.base_id, u.attack_name, t)) not in done
        ]
        store.put_items(rows)
        stage.stats.errors += len(rows)
        if len(stage.stats.error_examples) < 5:
            stage.stats.error_examples.append(message)
        on_item(len(rows))

    async def settle_one(pending: list[Any]) -> list[Any]:
        ready, rest = await asyncio.to_thread(ray.wait, pending, num_returns=1)
        batch = batches.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except Exception as e:  # RayTaskError and friends: the whole shard failed
            first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            fail_shard(batch, f"shard failed: {first[:300]}")
        else:
            collect(result)
        return rest

    pending: list[Any] = []
    try:
        for n, batch in enumerate(shards(units, done, cfg.shard_size, skipped)):
            ref = task.remote(spec(n, batch), actor)
            batches[ref] = batch
            pending.append(ref)
            while len(pending) >= capacity:
                pending = await settle_one(pending)
        while pending:
            pending = await settle_one(pending)
        ray.get(actor.flush.remote())
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        ray.kill(actor)
        if started:
            ray.shutdown()
        stage.stats.seconds = loop.time() - start
    return stage
