"""Local Hugging Face models (transformers) behind one batching worker.

Requests from many coroutines land in one queue; a worker takes up to `batch_size` of them and
runs one batched forward in a thread, so the event loop stays free and the CPU stays busy.
torch and transformers are imported here only, when the model is first used.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeval.errors import ModelError
from safeval.models.base import ModelAPI
from safeval.models.local_decode import Unsupported, greedy_generate, left_padded
from safeval.types import GenerateConfig, Generation, Message, Usage

#: torch dtypes `-M dtype=` accepts (checked before torch is imported).
DTYPES = ("float32", "float16", "bfloat16", "float64")


@contextlib.contextmanager
def _quiet_gguf_bar() -> Any:
    """transformers' GGUF de-quantizer draws its own tqdm bar, which ignores its logging
    settings; a run shows one progress display, ours, so silence that bar while loading."""
    try:
        import functools

        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    if original is None:
        yield
        return
    gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def _use_onednn_linears(module: Any) -> None:
    """Run fp32 linear layers through oneDNN rather than the default BLAS: on some CPUs (AMD,
    with MKL) oneDNN's fp32 kernels are markedly faster; results agree to ~1e-5."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return

    class OneDNNLinear(torch.nn.Module):
        def __init__(self, dense: torch.nn.Linear) -> None:
            super().__init__()
            self.register_buffer("dense_weight", dense.weight.detach())
            self.register_buffer("weight", dense.weight.detach().to_mkldnn())
            bias = dense.bias if dense.bias is not None else torch.zeros(dense.out_features)
            self.register_buffer("bias", bias.detach().to_mkldnn())
            self.register_buffer("dense_bias", bias.detach())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.numel() // x.shape[-1] < ONEDNN_MIN_ROWS:  # decoding: converting costs more
                return torch.nn.functional.linear(x, self.dense_weight, self.dense_bias)  # type: ignore[arg-type]
            weight: torch.Tensor = self.weight  # type: ignore[assignment]
            bias: torch.Tensor = self.bias  # type: ignore[assignment]
            y = torch._C._nn.mkldnn_linear(x.contiguous().to_mkldnn(), weight, bias)
            return y.to_dense()

    def swap(mod: Any) -> None:
        for name, child in mod.named_children():
            if isinstance(child, torch.nn.Linear):
                setattr(mod, name, OneDNNLinear(child))
            else:
                swap(child)

    swap(module)


ONEDNN_MIN_ROWS = 64  # below this many token rows, plain BLAS beats oneDNN's conversions
#: Devices a model may be put on (checked when the model is made; CUDA's presence at load).
DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")


@dataclass
class _Job:
    kind: str  # "gen" or "ll"
    messages: list[Message]
    config: GenerateConfig | None
    continuations: list[str] = field(default_factory=list)
    chat_template: bool = True
    future: asyncio.Future[Any] | None = None


class HFLocalModel(ModelAPI):
    """`hf/<path>`: a transformers checkpoint folder (or a GGUF file with `gguf_file`) on CPU or
    GPU. Greedy decoding at temperature 0. Supports log-likelihood of given continuations, after
    the chat-templated prompt or after the raw prompt text."""

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
        onednn: bool = True,
    ) -> None:
        super().__init__(name)
        self.path = path or name
        self.gguf_file = gguf_file
        # Checked now, not at the first call (after the run folder is made, every item an
        # error), nor never (a warm cache answers every call and the weights never load).
        if int(batch_size) < 1:
            raise ModelError(f"{self.full_name}: batch_size must be at least 1, not {batch_size}")
        if not DEVICE.fullmatch(str(device)):
            raise ModelError(
                f"{self.full_name}: device must be cpu, cuda, cuda:N or mps, not '{device}'"
            )
        if threads is not None and int(threads) < 1:
            raise ModelError(f"{self.full_name}: threads must be at least 1, not {threads}")
        if not isinstance(onednn, bool):
            raise ModelError(f"{self.full_name}: onednn must be true or false, not '{onednn}'")
        folder = Path(self.path)
        if gguf_file is None and folder.is_file():
            raise ModelError(f"{self.full_name}: {folder} is a file: give the checkpoint's folder")
        if gguf_file is None and folder.is_dir() and not (folder / "config.json").is_file():
            raise ModelError(f"{self.full_name}: {folder} is not a model folder (no config.json)")
        self.batch_size = int(batch_size)
        self.min_concurrency = 4 * self.batch_size
        if dtype not in DTYPES:
            raise ModelError(
                f"{self.full_name}: dtype must be one of {', '.join(DTYPES)}, not '{dtype}'"
            )
        self.dtype = dtype
        self.device = device
        self.threads = threads
        self.onednn = onednn
        self._fast_decode = True  # greedy_generate until the model shows it cannot take it
        self._tok: Any = None
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # All torch work runs on one thread of our own: the event loop stays free, and the
        # thread's intra-op thread count is set once (a fresh thread would start with 1).
        self._executor: ThreadPoolExecutor | None = None

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
            started = time.monotonic()
            # Loading takes a while (20 s for the embedded model on 2 cores): say so, on stderr.
            print(f"loading model {self.full_name} ...", file=sys.stderr, flush=True)
            kwargs: dict[str, Any] = {}
            if not Path(self.path).exists():  # not a folder here: the local HF cache only, no
                kwargs["local_files_only"] = True  # minutes of download retries to fail
            if self.gguf_file:
                kwargs["gguf_file"] = self.gguf_file
            try:
                with _quiet_gguf_bar():
                    tok = AutoTokenizer.from_pretrained(self.path, **kwargs)
                    model = AutoModelForCausalLM.from_pretrained(
                        self.path, dtype=getattr(torch, self.dtype), **kwargs
                    )
            except (OSError, ValueError) as e:
                raise ModelError(f"cannot load model from '{self.path}': {e}") from None

            model.to(self.device).eval()  # type: ignore[arg-type]
            if self.onednn and self.device == "cpu" and self.dtype == "float32":
                _use_onednn_linears(model)
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self._tok, self._model = tok, model
            print(
                f"loaded {self.full_name} in {time.monotonic() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    async def check(self) -> None:
        """Fail fast, without loading weights, when there is no model where the path points:
        a folder or file here, or a hub id already in the local cache (nothing is downloaded).
        The weights load on the first call, so a run whose answers are all cached never
        loads them."""
        if Path(self.path).exists():
            return
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(self.path, self.gguf_file or "config.json")
        except Exception:  # a malformed repo id is as absent as a missing one
            found = None
        if not isinstance(found, str):
            raise ModelError(
                f"cannot load model from '{self.path}': no such folder or file, and not in the "
                "local Hugging Face cache (safeval downloads nothing)"
            )

    def _init_thread(self) -> None:
        import torch

        torch.set_num_threads(self.threads or len(os.sched_getaffinity(0)))

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, "safeval-hf", initializer=self._init_thread)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        await self._in_thread(self.load)

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

    def _prompt_ids(self, job: _Job) -> list[int]:
        """Token ids of a scoring job's prompt. Raw text is tokenized as a base-model evaluation
        does (the tokenizer's own special tokens, e.g. a BOS, included); a chat-templated
        prompt already holds its special tokens."""
        if job.chat_template:
            ids: list[int] = self._tok(self.render(job.messages), add_special_tokens=False)[
                "input_ids"
            ]
        else:
            raw = "\n".join(m.content for m in job.messages)
            ids = self._tok(raw, add_special_tokens=True)["input_ids"]
        return ids

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
            try:
                await self._in_thread(self.load)
            except Exception as e:  # a model that cannot load fails every waiting caller now
                self._fail_queued(e)
                return  # the next request starts a new worker, which tries again
        while True:
            first = await self._queue.get()
            batch = [first]
            await asyncio.sleep(0)  # let concurrent submitters enqueue
            # Take up to a few batches' worth, so similar lengths can be batched together.
            while len(batch) < 4 * self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            gens = [j for j in batch if j.kind == "gen"]
            lls = [j for j in batch if j.kind == "ll"]
            try:
                # Generation parameters differ rarely; group by them so each batch shares one.
                groups: dict[str, list[_Job]] = {}
                for j in gens:
                    groups.setdefault(j.config.model_dump_json() if j.config else "", []).append(j)
                for group in groups.values():
                    for chunk in self._chunks(group):
                        results = await self._in_thread(self._generate_batch, chunk)
                        for j, r in zip(chunk, results, strict=True):
                            if j.future and not j.future.done():
                                j.future.set_result(r)
                for chunk in self._chunks(lls):
                    scores = await self._in_thread(self._loglikelihood_batch, chunk)
                    for j, sc in zip(chunk, scores, strict=True):
                        if j.future and not j.future.done():
                            j.future.set_result(sc)
            except Exception as e:  # a failed batch fails its jobs, not the worker
                for j in batch:
                    if j.future and not j.future.done():
                        j.future.set_exception(e)

    def _fail_queued(self, error: Exception) -> None:
        assert self._queue is not None
        while not self._queue.empty():
            j = self._queue.get_nowait()
            if j.future and not j.future.done():
                j.future.set_exception(error)

    def _chunks(self, jobs: list[_Job]) -> list[list[_Job]]:
        """Batches of similar prompt length: less padding, less wasted compute."""
        ordered = sorted(jobs, key=lambda j: sum(len(m.content) for m in j.messages))
        return [ordered[i : i + self.batch_size] for i in range(0, len(ordered), self.batch_size)]

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        try:
            result: Generation = await self._submit(_Job("gen", messages, config))
        except ModelError:
            raise
        except Exception as e:
            return Generation(error=f"local generation failed: {type(e).__name__}: {e}")
        return result

    async def loglikelihood(
        self, messages: list[Message], continuations: list[str], chat_template: bool = True
    ) -> list[float]:
        job = _Job("ll", messages, None, continuations, chat_template)
        result: list[float] = await self._submit(job)
        return result

    # -- compute (runs in a worker thread) -----------------------------------------------
    def _generate_batch(self, jobs: list[_Job]) -> list[Generation]:
        cfg = jobs[0].config or GenerateConfig()
        if cfg.temperature <= 0 and self._fast_decode:
            tok = self._tok
            prompts = [
                tok(self.render(j.messages), add_special_tokens=False)["input_ids"] for j in jobs
            ]
            try:
                new = greedy_generate(
                    self._model,
                    prompts,
                    cfg.max_tokens,
                    eos_id=tok.eos_token_id,
                    pad_id=tok.pad_token_id,
                    min_new_tokens=cfg.min_tokens or 0,
                )
            except Unsupported:
                self._fast_decode = False  # this model's cache cannot be joined: generate()
            else:
                return [
                    self._generation(ids, len(p), len(ids) < cfg.max_tokens, cfg)
                    for p, ids in zip(prompts, new, strict=True)
                ]
        return self._hf_generate_batch(jobs, cfg)

    def _generation(
        self, ids: list[int], n_prompt: int, finished: bool, cfg: GenerateConfig
    ) -> Generation:
        """One answer from its new token ids (end-of-sequence token already cut)."""
        text = self._tok.decode(ids, skip_special_tokens=True)
        finish = "stop" if finished else "length"
        for s in cfg.stop or []:
            if s in text:
                text, finish = text[: text.index(s)], "stop"
        usage = Usage(input_tokens=n_prompt, output_tokens=len(ids))
        return Generation(text=text, finish_reason=finish, usage=usage)

    def _hf_generate_batch(self, jobs: list[_Job], cfg: GenerateConfig) -> list[Generation]:
        """`model.generate` over one padded batch: sampling, and models whose cache
        `greedy_generate` cannot join."""
        import torch

        tok, model = self._tok, self._model
        prompts = [self.render(j.messages) for j in jobs]
        tok.padding_side = "left"
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        kwargs: dict[str, Any] = {
            "max_new_tokens": cfg.max_tokens,
            "pad_token_id": tok.pad_token_id,
        }
        if cfg.min_tokens:
            kwargs["min_new_tokens"] = cfg.min_tokens
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
            ids = row[n_in:].tolist()
            finished = eos in ids if eos is not None else False
            if finished:
                ids = ids[: ids.index(eos)]
            results.append(self._generation(ids, int(mask.sum()), finished, cfg))
        return results

    def _loglikelihood_batch(self, jobs: list[_Job]) -> list[list[float]]:
        """Sum of token log-probs of each continuation after its prompt. When every
        continuation of a job is one token (option letters), one forward pass over the prompt
        scores them all, computing logits at the last position only."""
        tok = self._tok
        out: list[list[float]] = [[] for _ in jobs]
        fast: list[tuple[int, list[int], list[int]]] = []  # (job, prompt ids, cont token ids)
        slow: list[tuple[int, int, list[int], list[int]]] = []  # (job, cont, prompt, cont ids)
        for i, j in enumerate(jobs):
            prompt_ids = self._prompt_ids(j)
            conts = [tok(c, add_special_tokens=False)["input_ids"] for c in j.continuations]
            if all(len(c) == 1 for c in conts):
                fast.append((i, prompt_ids, [c[0] for c in conts]))
            else:
                slow += [(i, k, prompt_ids, c) for k, c in enumerate(conts)]
        if fast:
            last = self._last_logprobs([p for _, p, _ in fast])
            for row, (i, _, cont_ids) in enumerate(fast):
                out[i] = [float(last[row, c]) for c in cont_ids]
        if slow:
            for (i, _k, _p, _c), v in zip(slow, self._continuation_logprobs(slow), strict=True):
                out[i].append(v)
        return out

    def _last_logprobs(self, prompts: list[list[int]]) -> Any:
        """Log-probs of the next token after each prompt: one forward pass over the batch,
        left-padded (`left_padded`), logits computed at the last position only."""
        import torch

        ids, mask, positions = left_padded(prompts, self._tok.pad_token_id)
        with torch.inference_mode():
            logits = self._model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=False,
                logits_to_keep=1,
            ).logits[:, -1]
        return torch.log_softmax(logits.float(), dim=-1)

    def _continuation_logprobs(
        self, rows: list[tuple[int, int, list[int], list[int]]]
    ) -> list[float]:
        """Summed log-probs of multi-token continuations (right-padded batch)."""
        import torch

        seqs = [p + c for _, _, p, c in rows]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self._tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, seq in enumerate(seqs):
            ids[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        with torch.inference_mode():
            logits = self._model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        totals = []
        for r, (_, _, p, c) in enumerate(rows):
            totals.append(sum(float(logp[r, len(p) + t - 1, c[t]]) for t in range(len(c))))
        return totals

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
            self._worker = None
        self._queue = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
