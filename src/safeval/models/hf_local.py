"""Local Hugging Face models (transformers) behind one batching worker.

Requests from many coroutines land in one queue; a worker takes up to `batch_size` of them and
runs one batched forward in a thread, so the event loop stays free and the CPU stays busy.
torch and transformers are imported here only, when the model is first used.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from safeval.errors import ModelError
from safeval.models.base import ModelAPI
from safeval.types import GenerateConfig, Generation, Message, Usage


@dataclass
class _Job:
    kind: str  # "gen" or "ll"
    messages: list[Message]
    config: GenerateConfig | None
    continuations: list[str] = field(default_factory=list)
    future: asyncio.Future[Any] | None = None


class HFLocalModel(ModelAPI):
    """`hf/<path>`: a transformers checkpoint folder (or a GGUF file with `gguf_file`) on CPU or
    GPU. Greedy decoding at temperature 0. Supports log-likelihood of given continuations."""

    provider = "hf"
    supports_loglikelihood = True

    def __init__(
        self,
        name: str,
        path: str | None = None,
        gguf_file: str | None = None,
        batch_size: int = 8,
        dtype: str = "float32",
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        super().__init__(name)
        self.path = path or name
        self.gguf_file = gguf_file
        self.batch_size = max(1, int(batch_size))
        self.dtype = dtype
        self.device = device
        self.threads = threads
        self._tok: Any = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def identity(self) -> dict[str, Any]:
        return {
            "model": self.full_name,
            "path": self.path,
            "gguf_file": self.gguf_file,
            "dtype": self.dtype,
        }

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        """Load tokenizer and weights (once; thread-safe)."""
        with self._load_lock:
            if self._model is not None:
                return
            try:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as e:
                raise ModelError(
                    f"local models need the 'local' extra (torch, transformers): {e}. "
                    "Run: bash install.sh"
                ) from None
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # ours is the only bar a run shows
            hf_logging.set_verbosity_error()
            if self.threads:
                torch.set_num_threads(self.threads)
            kwargs: dict[str, Any] = {}
            if self.gguf_file:
                kwargs["gguf_file"] = self.gguf_file
            try:
                tok = AutoTokenizer.from_pretrained(self.path, **kwargs)
                model = AutoModelForCausalLM.from_pretrained(
                    self.path, dtype=getattr(torch, self.dtype), **kwargs
                )
            except (OSError, ValueError) as e:
                raise ModelError(f"cannot load model from '{self.path}': {e}") from None
            model.to(self.device).eval()  # type: ignore[arg-type]
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self._tok, self._model = tok, model

    async def start(self) -> None:
        await asyncio.to_thread(self.load)

    # -- prompt building -----------------------------------------------------------------
    def render(self, messages: list[Message]) -> str:
        """The prompt text, through the model's chat template when it has one."""
        tok = self._tok
        msgs = [m.model_dump() for m in messages]
        if getattr(tok, "chat_template", None):
            text: str = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
            return text
        parts = [f"{m['role']}: {m['content']}" for m in msgs]
        return "\n".join(parts) + "\nassistant:"

    # -- batching worker ---------------------------------------------------------------
    async def _submit(self, job: _Job) -> Any:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:  # a new event loop needs a new worker
            self._queue, self._loop, self._worker = asyncio.Queue(), loop, None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())
        job.future = loop.create_future()
        await self._queue.put(job)
        return await job.future

    async def _work(self) -> None:
        assert self._queue is not None
        if self._model is None:
            await asyncio.to_thread(self.load)
        while True:
            first = await self._queue.get()
            batch = [first]
            await asyncio.sleep(0)  # let concurrent submitters enqueue
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            gens = [j for j in batch if j.kind == "gen"]
            lls = [j for j in batch if j.kind == "ll"]
            try:
                # Generation parameters differ rarely; group by them so each batch shares one.
                groups: dict[str, list[_Job]] = {}
                for j in gens:
                    groups.setdefault(j.config.model_dump_json() if j.config else "", []).append(j)
                for group in groups.values():
                    results = await asyncio.to_thread(self._generate_batch, group)
                    for j, r in zip(group, results, strict=True):
                        if j.future and not j.future.done():
                            j.future.set_result(r)
                if lls:
                    scores = await asyncio.to_thread(self._loglikelihood_batch, lls)
                    for j, s in zip(lls, scores, strict=True):
                        if j.future and not j.future.done():
                            j.future.set_result(s)
            except Exception as e:  # a failed batch fails its jobs, not the worker
                for j in batch:
                    if j.future and not j.future.done():
                        j.future.set_exception(e)

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        try:
            result: Generation = await self._submit(_Job("gen", messages, config))
        except ModelError:
            raise
        except Exception as e:
            return Generation(error=f"local generation failed: {type(e).__name__}: {e}")
        return result

    async def loglikelihood(self, messages: list[Message], continuations: list[str]) -> list[float]:
        result: list[float] = await self._submit(_Job("ll", messages, None, continuations))
        return result

    # -- compute (runs in a worker thread) -----------------------------------------------
    def _generate_batch(self, jobs: list[_Job]) -> list[Generation]:
        import torch

        tok, model = self._tok, self._model
        cfg = jobs[0].config or GenerateConfig()
        prompts = [self.render(j.messages) for j in jobs]
        tok.padding_side = "left"
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        kwargs: dict[str, Any] = {
            "max_new_tokens": cfg.max_tokens,
            "pad_token_id": tok.pad_token_id,
        }
        if cfg.temperature > 0:
            kwargs.update(do_sample=True, temperature=cfg.temperature)
            if cfg.top_p is not None:
                kwargs["top_p"] = cfg.top_p
            if cfg.seed is not None:
                torch.manual_seed(cfg.seed)
        else:
            kwargs["do_sample"] = False
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        n_in = enc["input_ids"].shape[1]
        results = []
        eos = tok.eos_token_id
        for row, mask in zip(out, enc["attention_mask"], strict=True):
            new = row[n_in:]
            ids = new.tolist()
            finished = eos in ids if eos is not None else False
            if finished:
                ids = ids[: ids.index(eos)]
            text = tok.decode(ids, skip_special_tokens=True)
            finish = "stop" if finished else "length"
            for s in cfg.stop or []:
                if s in text:
                    text, finish = text[: text.index(s)], "stop"
            usage = Usage(input_tokens=int(mask.sum()), output_tokens=len(ids))
            results.append(Generation(text=text, finish_reason=finish, usage=usage))
        return results

    def _loglikelihood_batch(self, jobs: list[_Job]) -> list[list[float]]:
        """Sum of token log-probs of each continuation after its prompt. When every
        continuation of a job is one token, one forward pass over the prompt scores them all."""
        import torch

        tok, model = self._tok, self._model
        tok.padding_side = "right"
        seqs: list[tuple[int, list[int], list[list[int]]]] = []  # (job index, prompt, conts)
        for i, j in enumerate(jobs):
            prompt_ids = tok(self.render(j.messages), add_special_tokens=False)["input_ids"]
            cont_ids = [tok(c, add_special_tokens=False)["input_ids"] for c in j.continuations]
            seqs.append((i, prompt_ids, cont_ids))
        out: list[list[float]] = [[] for _ in jobs]
        # Rows to run: either the prompt alone (single-token continuations) or prompt+cont.
        rows: list[tuple[int, int | None, list[int]]] = []
        for i, p, conts in seqs:
            if all(len(c) == 1 for c in conts):
                rows.append((i, None, p))
            else:
                for k, c in enumerate(conts):
                    rows.append((i, k, p + c))
        width = max(len(r[2]) for r in rows)
        pad = tok.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (_, _, seq) in enumerate(rows):
            ids[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        with torch.inference_mode():
            logits = model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        partial: dict[tuple[int, int], float] = {}
        for r, (i, which, seq) in enumerate(rows):
            _, p, conts = seqs[i]
            if which is None:
                last = logp[r, len(seq) - 1]
                out[i] = [float(last[c[0]]) for c in conts]
            else:
                c = conts[which]
                start = len(p)
                total = sum(float(logp[r, start + t - 1, c[t]]) for t in range(len(c)))
                partial[(i, which)] = total
        for (i, _which), v in sorted(partial.items()):
            out[i].append(v)
        return out

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
            self._worker = None
        self._queue = None
