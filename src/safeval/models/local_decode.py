"""Greedy decoding for local models that spends the CPU on real tokens, not on padding.

`model.generate` prefills a whole batch padded to its longest prompt and then decodes every row
until the last one stops. On S-Eval's attack prompts (a few hundred to several thousand
tokens) most of that is waste: the prefill is two thirds of the time and most of it padding,
and a short refusal keeps being decoded, as padding, until the longest answer ends. Here:

- the prefill runs in groups of similar length, each padded only to its own longest prompt and
  capped at `prefill_tokens` padded tokens per forward pass;
- the groups' key/value caches are joined, left-aligned, into one cache for the decode batch
  (rotary positions are in the keys already, so moving a row's keys to other slots is exact);
- a row that emits the end-of-sequence token leaves the batch at once, and cache columns that
  only padding holds any longer are cut.

Position ids count each row's real tokens, so a row computes what it would alone. Only models
whose cache is a plain `DynamicCache` of full-attention layers take this path; the caller falls
back to `model.generate` for others (sliding windows, recurrent state) and for sampling.
"""

from __future__ import annotations

from typing import Any

#: Padded tokens in one prefill forward pass: big enough to keep the matrix products efficient,
#: small enough that a long prompt is not grouped with many short ones.
PREFILL_TOKENS = 4096


def prefill_groups(lengths: list[int], budget: int = PREFILL_TOKENS) -> list[list[int]]:
    """Row indices grouped for prefill: sorted by length, each group's rows x longest length
    within `budget` (a single longer prompt still gets a group of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so this row is the group's longest if it joins.
        if current and (len(current) + 1) * lengths[i] > budget:
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def left_padded(prompts: list[list[int]], pad_id: int) -> tuple[Any, Any, Any]:
    """Token ids, attention mask and position ids of prompts padded on the left to the longest:
    every row ends at the last position, and position ids count its real tokens only, so a
    padded row computes what it would alone."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p) :] = torch.tensor(p)
        mask[r, width - len(p) :] = 1
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def supports_fast_decode(cache: Any) -> bool:
    """True when the cache is a `DynamicCache` of plain full-attention layers only."""
    try:
        from transformers.cache_utils import DynamicCache, DynamicLayer
    except ImportError:
        return False
    layers = getattr(cache, "layers", None) or []
    return (
        type(cache) is DynamicCache
        and bool(layers)
        and all(type(layer) is DynamicLayer and layer.is_initialized for layer in layers)
    )


def cache_keyword(model: Any) -> str:
    """The forward argument that takes the key/value cache: `cache` in transformers 5.x,
    `past_key_values` before (still accepted, with a deprecation warning)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _returned_cache(result: Any) -> Any:
    cache = getattr(result, "cache", None)
    return cache if cache is not None else getattr(result, "past_key_values", None)


class Unsupported(Exception):
    """The model's cache is not one this decoder can join; use `model.generate`."""


def greedy_generate(
    model: Any,
    prompts: list[list[int]],
    max_new_tokens: int,
    eos_id: int | None,
    pad_id: int,
    min_new_tokens: int = 0,
    prefill_tokens: int = PREFILL_TOKENS,
) -> list[list[int]]:
    """The greedy continuation of each prompt (token ids, without the prompt, cut before the
    end-of-sequence token; `max_new_tokens` at most). Raises `Unsupported` before decoding
    anything when the model's cache cannot be joined."""
    import torch

    with torch.inference_mode():
        return _greedy(
            model, prompts, max_new_tokens, eos_id, pad_id, min_new_tokens, prefill_tokens
        )


def _greedy(
    model: Any,
    prompts: list[list[int]],
    max_new_tokens: int,
    eos_id: int | None,
    pad_id: int,
    min_new_tokens: int,
    prefill_tokens: int,
) -> list[list[int]]:
    import torch
    from transformers.cache_utils import DynamicCache

    n = len(prompts)
    out: list[list[int]] = [[] for _ in range(n)]
    cache_arg = cache_keyword(model)
    if n == 0 or max_new_tokens <= 0:
        return out
    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    lengths = torch.tensor([len(p) for p in prompts], dtype=torch.long)

    # -- prefill, group by group; each row's keys/values go to the right end of `width` slots
    layer_keys: list[list[Any]] = []
    layer_values: list[list[Any]] = []
    first = torch.empty(n, dtype=torch.long)
    rows: list[int] = []
    for group in prefill_groups([len(p) for p in prompts], prefill_tokens):
        ids, mask, positions = left_padded([prompts[i] for i in group], pad_id)
        res = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            use_cache=True,
            logits_to_keep=1,
            **{cache_arg: DynamicCache(config=model.config)},  # the model's own layer kinds
        )
        filled = _returned_cache(res)
        if not supports_fast_decode(filled):
            raise Unsupported(type(filled).__name__)
        logits = res.logits[:, -1].float()
        if min_new_tokens > 0 and eos_id is not None:
            logits[:, eos_id] = float("-inf")
        first[group] = logits.argmax(-1).cpu()
        if not layer_keys:
            layer_keys = [[] for _ in filled.layers]
            layer_values = [[] for _ in filled.layers]
        pad = width - ids.shape[1]
        for li, layer in enumerate(filled.layers):
            k, v = layer.keys, layer.values
            if pad:
                k = torch.nn.functional.pad(k, (0, 0, pad, 0))
                v = torch.nn.functional.pad(v, (0, 0, pad, 0))
            layer_keys[li].append(k)
            layer_values[li].append(v)
        rows += group

    # Rows are now in prefill order; `alive` maps batch rows back to prompt indices.
    alive = torch.tensor(rows, dtype=torch.long)
    cache = DynamicCache(
        [
            (torch.cat(ks, dim=0), torch.cat(vs, dim=0))
            for ks, vs in zip(layer_keys, layer_values, strict=True)
        ]
    )
    del layer_keys, layer_values
    lens = lengths[alive]
    mask = (torch.arange(width)[None, :] >= (width - lens)[:, None]).long()
    token = first[alive]

    # -- decode, dropping rows as they end
    for step in range(max_new_tokens):
        ended = torch.zeros(len(alive), dtype=torch.bool)
        for r, (i, t) in enumerate(zip(alive.tolist(), token.tolist(), strict=True)):
            if eos_id is not None and t == eos_id:
                ended[r] = True
            else:
                out[i].append(t)
        if step == max_new_tokens - 1:
            break
        if ended.any():
            keep = (~ended).nonzero().flatten()
            if len(keep) == 0:
                break
            alive, token, lens, mask = alive[keep], token[keep], lens[keep], mask[keep]
            cache.batch_select_indices(keep.to(device))
            # Columns that only padding holds now: cut them from the cache and the mask.
            start = int((mask.shape[1] - mask.sum(-1)).min())
            if start > 0:
                mask = mask[:, start:]
                layers: list[Any] = list(cache.layers)
                for layer in layers:
                    layer.keys = layer.keys[:, :, start:]
                    layer.values = layer.values[:, :, start:]
        mask = torch.cat([mask, torch.ones((len(alive), 1), dtype=torch.long)], dim=1)
        res = model(
            input_ids=token[:, None].to(device),
            attention_mask=mask.to(device),
            position_ids=lens[:, None].to(device),
            use_cache=True,
            logits_to_keep=1,
            **{cache_arg: cache},
        )
        lens = lens + 1
        logits = res.logits[:, -1].float()
        if step + 1 < min_new_tokens and eos_id is not None:
            logits[:, eos_id] = float("-inf")
        token = logits.argmax(-1).cpu()
    return out
