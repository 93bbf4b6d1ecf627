"""Issue 19 target 4: safeval's local generation path against plain `model.generate`, one run.

    .venv/bin/python bench/local_generate.py [--n 200] [--max-tokens 128] [--batch-sizes 8,16]

Both sides answer the same N S-Eval attack prompts (an even spread over the 10,000 rows of
`S-Eval_attack_en_small.jsonl.zip`, so every attack is in), greedy, up to `--max-tokens` new
tokens, fp32, on the embedded SmolLM2-135M GGUF, each prompt through the model's chat template:

- plain: the GGUF loaded with `AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`, batches
  of 8 in data order, left padding, `model.generate(max_new_tokens=..., do_sample=False)`;
- safeval: `local/smollm2` at each batch size given, every prompt submitted to `generate()` with
  as many in flight as a run keeps (the model's `min_concurrency`).

Model loading is outside the timings. Prints each side's prompts/s and generated tokens/s, the
ratio to plain, and how many answers are the same text as plain's; with `--split`, also the
time safeval's forward passes spend on prefill and on decode steps (the clock itself adds a
little), so one can see what limits it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = Path(os.environ.get("SAFEVAL_SHARED_DATA", ROOT.parent / "shared" / "data")) / "s_eval"

from safeval.models.smollm2 import GGUF_FILE, SmolLM2Model, smollm2_dir  # noqa: E402
from safeval.types import GenerateConfig, Message  # noqa: E402

PLAIN_BATCH = 8


def prompts(n: int) -> list[str]:
    """`n` attack prompts spread evenly over the file (row i * total // n)."""
    with zipfile.ZipFile(DATA / "S-Eval_attack_en_small.jsonl.zip") as z:
        lines = z.read(z.namelist()[0]).decode().splitlines()
    return [json.loads(lines[i * len(lines) // n])["prompt"] for i in range(n)]


def plain_side(texts: list[str], max_tokens: int) -> tuple[list[str], int]:
    """Plain transformers, batch 8 in data order: the answers and the tokens generated."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = str(smollm2_dir())
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=GGUF_FILE, dtype=torch.float32
    ).eval()
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    chats = [
        tok.apply_chat_template(
            [{"role": "user", "content": t}], add_generation_prompt=True, tokenize=False
        )
        for t in texts
    ]
    out: list[str] = []
    n_tokens = 0
    t0 = time.perf_counter()
    for i in range(0, len(chats), PLAIN_BATCH):
        enc = tok(chats[i : i + PLAIN_BATCH], return_tensors="pt", padding=True,
                  add_special_tokens=False)  # fmt: skip
        with torch.inference_mode():
            gen = model.generate(
                **enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id
            )
        for row in gen[:, enc["input_ids"].shape[1] :].tolist():
            if tok.eos_token_id in row:
                row = row[: row.index(tok.eos_token_id)]
            n_tokens += len(row)
            out.append(str(tok.decode(row, skip_special_tokens=True)))
    wall = time.perf_counter() - t0
    print(
        f"plain generate, batch {PLAIN_BATCH}: {len(texts) / wall:.3f} prompts/s, "
        f"{n_tokens / wall:.1f} tokens/s ({wall:.1f} s)",
        flush=True,
    )
    del model
    return out, int(1000 * wall)


class ForwardClock:
    """Wall time of the model's forward passes, prefill (several tokens a row) apart from
    decode steps (one token a row), and the rows a decode step carries on average."""

    def __init__(self, net: Any) -> None:
        self.prefill = self.decode = 0.0
        self.steps = self.rows = 0
        inner = net.forward

        def timed(*args: Any, **kwargs: Any) -> Any:
            ids = kwargs["input_ids"]
            t0 = time.perf_counter()
            out = inner(*args, **kwargs)
            dt = time.perf_counter() - t0
            if ids.shape[1] > 1:
                self.prefill += dt
            else:
                self.decode += dt
                self.steps += 1
                self.rows += ids.shape[0]
            return out

        net.forward = timed

    def line(self) -> str:
        per = self.decode / max(1, self.steps)
        return (
            f"  prefill {self.prefill:.1f} s; decode {self.decode:.1f} s over {self.steps} steps "
            f"({1000 * per:.0f} ms a step, {self.rows / max(1, self.steps):.1f} rows a step)"
        )


async def safeval_side(
    batch_size: int, texts: list[str], max_tokens: int, split: bool = False
) -> tuple[list[str], float, int]:
    model = SmolLM2Model(batch_size=batch_size)
    await model.start()
    clock = ForwardClock(model._model) if split else None
    cfg = GenerateConfig(max_tokens=max_tokens)
    gate = asyncio.Semaphore(model.min_concurrency)

    async def one(t: str) -> tuple[str, int]:
        async with gate:
            g = await model.generate([Message(role="user", content=t)], cfg)
        assert g.ok, g.error
        return g.text, g.usage.output_tokens if g.usage else 0

    t0 = time.perf_counter()
    res = await asyncio.gather(*[one(t) for t in texts])
    wall = time.perf_counter() - t0
    await model.aclose()
    if clock is not None:
        print(clock.line(), flush=True)
    return [r[0] for r in res], wall, sum(r[1] for r in res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-sizes", default="8,16", help="safeval batch sizes to try")
    ap.add_argument(
        "--split", action="store_true", help="also time safeval's prefill apart from decoding"
    )
    ap.add_argument(
        "--skip-plain", action="store_true", help="safeval only (no ratio): for --split runs"
    )
    a = ap.parse_args()
    texts = prompts(a.n)
    plain, plain_ms = ([], 0) if a.skip_plain else plain_side(texts, a.max_tokens)
    for bs in [int(x) for x in a.batch_sizes.split(",")]:
        ours, wall, n_tokens = asyncio.run(safeval_side(bs, texts, a.max_tokens, a.split))
        line = (
            f"safeval local/smollm2, batch {bs}: {len(texts) / wall:.3f} prompts/s, "
            f"{n_tokens / wall:.1f} tokens/s ({wall:.1f} s)"
        )
        if plain:
            same = sum(x == y for x, y in zip(plain, ours, strict=True))
            line += (
                f", ratio to plain {(plain_ms / 1000) / wall:.2f}x, "
                f"same text as plain {same}/{len(texts)}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
