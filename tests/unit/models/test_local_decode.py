"""`greedy_generate` against `model.generate` on small randomly initialised transformers models:
real modules, real caches, the same greedy tokens."""

from __future__ import annotations

import pytest

from safeval.models.local_decode import Unsupported, greedy_generate, prefill_groups

torch = pytest.importorskip("torch", reason="the 'local' extra is not installed")
transformers = pytest.importorskip("transformers", reason="the 'local' extra is not installed")

PAD = 0


SIZES = dict(
    vocab_size=300,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    pad_token_id=PAD,
)


def tiny_llama():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = transformers.LlamaConfig(max_position_embeddings=512, **SIZES)
    return transformers.LlamaForCausalLM(config).eval()


def tiny_sliding_window_mistral():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = transformers.MistralConfig(sliding_window=8, **SIZES)
    return transformers.MistralForCausalLM(config).eval()


def prompts(lengths: list[int]) -> list[list[int]]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(3, 300, (n,), generator=g).tolist() for n in lengths]


def plain(model, rows: list[list[int]], new: int, eos: int | None, min_new: int = 0):  # type: ignore[no-untyped-def]
    """`model.generate` on one left-padded batch, cut at the first end-of-sequence token."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=new,
            min_new_tokens=min_new,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=PAD,
        )
    result = []
    for row in out[:, width:].tolist():
        result.append(row[: row.index(eos)] if eos is not None and eos in row else row)
    return result


def test_prefill_groups_cover_every_row_once_within_the_budget() -> None:
    lengths = [5, 300, 40, 41, 2000, 7, 39, 600]
    groups = prefill_groups(lengths, budget=512)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:
        if len(g) > 1:  # a prompt longer than the budget is alone
            assert len(g) * max(lengths[i] for i in g) <= 512
    assert [2000] in [[lengths[i] for i in g] for g in groups]
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(flat)  # similar lengths together


def test_same_tokens_as_generate_across_prompt_lengths_and_prefill_groups() -> None:
    model = tiny_llama()
    rows = prompts([3, 17, 64, 9, 120, 33])
    expected = plain(model, rows, new=12, eos=None)
    # A small budget splits the prefill into several groups, joined for the decode.
    for budget in (4096, 100):
        got = greedy_generate(model, rows, 12, eos_id=None, pad_id=PAD, prefill_tokens=budget)
        assert got == expected
        assert all(len(g) == 12 for g in got)


def test_rows_that_end_leave_the_batch_and_the_others_are_unchanged() -> None:
    model = tiny_llama()
    rows = prompts([5, 80, 20, 50])
    free = greedy_generate(model, rows, 10, eos_id=None, pad_id=PAD)
    eos = free[1][2]  # the third token of the longest prompt's answer ends it there
    expected = plain(model, rows, new=10, eos=eos)
    got = greedy_generate(model, rows, 10, eos_id=eos, pad_id=PAD, prefill_tokens=100)
    assert got == expected
    assert len(got[1]) == 2 and eos not in got[1]
    assert any(len(g) == 10 for g in got)  # some rows run to the limit after others ended


def test_min_new_tokens_holds_back_the_end_token() -> None:
    model = tiny_llama()
    rows = prompts([6, 30])
    free = greedy_generate(model, rows, 8, eos_id=None, pad_id=PAD)
    eos = free[0][0]  # the first token would end row 0 at once
    got = greedy_generate(model, rows, 8, eos_id=eos, pad_id=PAD, min_new_tokens=3)
    assert got == plain(model, rows, new=8, eos=eos, min_new=3)
    assert len(got[0]) >= 3


def test_a_sliding_window_model_is_refused_before_decoding() -> None:
    model = tiny_sliding_window_mistral()
    with pytest.raises(Unsupported):
        greedy_generate(model, prompts([4, 20]), 4, eos_id=None, pad_id=PAD)


def test_nothing_to_do() -> None:
    model = tiny_llama()
    assert greedy_generate(model, [], 5, eos_id=1, pad_id=PAD) == []
    assert greedy_generate(model, prompts([4]), 0, eos_id=1, pad_id=PAD) == [[]]


def checkpoint(folder, model) -> str:  # type: ignore[no-untyped-def]
    """A real `hf/` checkpoint folder: the model's weights and a small word-level tokenizer
    with a chat template, as `save_pretrained` writes them."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<pad>", "<eos>", "<unk>"] + [f"w{i}" for i in range(297)]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    tok.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    model.config.eos_token_id = 1
    model.generation_config.eos_token_id = 1
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("kind", ["llama", "mistral-sliding-window"])
def test_hf_model_answers_through_either_decoder_the_same(tmp_path, kind: str) -> None:  # type: ignore[no-untyped-def]
    """`hf/<folder>`: a plain-cache model takes the fast decoder; a sliding-window one falls
    back to `model.generate` on its first batch; the answers are `generate`'s either way."""
    import asyncio

    from safeval.models.hf_local import HFLocalModel, _Job
    from safeval.types import GenerateConfig, Message

    net = tiny_llama() if kind == "llama" else tiny_sliding_window_mistral()
    model = HFLocalModel("tiny", path=checkpoint(tmp_path / kind, net), batch_size=4)
    model.load()
    cfg = GenerateConfig(max_tokens=6)
    texts = ["w5 w9 w33", "w7 " * 40, "w100 w200", "w3 " * 15]

    async def ask() -> list[str]:
        gens = await asyncio.gather(
            *[model.generate([Message(role="user", content=t)], cfg) for t in texts]
        )
        assert all(g.ok for g in gens), [g.error for g in gens]
        return [g.text for g in gens]

    got = asyncio.run(ask())
    assert model._fast_decode is (kind == "llama")
    jobs = [_Job("gen", [Message(role="user", content=t)], cfg) for t in texts]
    assert got == [g.text for g in model._hf_generate_batch(jobs, cfg)]
    asyncio.run(model.aclose())
