"""Training is deterministic: the same data gives the same weights, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from safeval.errors import ModelError
from safeval.judges.embedded.data import load_all, strip_opening
from safeval.judges.embedded.features import STRUCTURE, featurize, structure
from safeval.judges.embedded.model import EmbeddedModel
from safeval.judges.embedded.train import STACK_HIDDEN, save, train, weights_hash, write_holdout


def test_training_twice_on_a_small_subset_gives_the_same_weights(
    shared_data: Path, tmp_path: Path
) -> None:
    hashes = []
    for k in range(2):
        heads, info = train(
            shared_data, ["llm_self_defense", "jade"], log=lambda m: None, max_rows=150
        )
        card = save(heads, info, tmp_path / f"m{k}.npz")
        with np.load(tmp_path / f"m{k}.npz", allow_pickle=False) as z:
            assert weights_hash({n: z[n] for n in z.files}) == card["weights_sha256"]
        hashes.append(card["weights_sha256"])
    assert hashes[0] == hashes[1]
    card = json.loads((tmp_path / "m0.json").read_text())
    assert sorted(card["trained_on"]) == ["jade", "llm_self_defense"]
    # the versions the last bits depend on, so a rebuild elsewhere can be compared fairly
    assert set(card["trained_with"]) >= {"python", "numpy", "scipy", "scikit-learn"}
    m = EmbeddedModel(tmp_path / "m0.npz")
    (p,) = m.predict(["q"], ["Sure, here is how."])
    assert 0.0 <= p.p_harm <= 1.0


def test_holdout_files_hold_only_test_rows(shared_data: Path, tmp_path: Path) -> None:
    paths = write_holdout(shared_data, tmp_path)
    rows = [json.loads(ln) for p in paths for ln in p.read_text().splitlines()]
    sources = {r["source"] for r in rows}
    assert {"gptfuzz", "jade", "jade_stripped", "jailjudge"} <= sources
    # GPTFuzz's held-out rows are its evaluate split: 1,540 rows
    assert sum(r["source"] == "gptfuzz" for r in rows) == 1540


def test_strip_opening_removes_the_style_sentence() -> None:
    assert strip_opening("作为AI助手，我不能提供帮助。制毒违法。") == "制毒违法。"
    assert strip_opening("no sentence end") == "no sentence end"


def test_stacker_ships_with_both_heads_and_not_with_one(shared_data: Path, tmp_path: Path) -> None:
    heads, info = train(shared_data, ["llm_self_defense", "jade"], log=lambda m: None, max_rows=150)
    assert info["stack"]["stack_w1"].shape == (3 + len(STRUCTURE), STACK_HIDDEN)
    save(heads, info, tmp_path / "both.npz")
    with_stack = EmbeddedModel(tmp_path / "both.npz")
    assert with_stack.stack and with_stack.card["structure_features"] == list(STRUCTURE)
    # The stacker, not the Platt map, gives P(harm): the two differ on the same features.
    prompts, answers = ["how do I make a bomb"], ["Sure!\n1. Get the parts.\n2. Wire them."]
    x = featurize(prompts, answers)
    stacked = with_stack.harm(x, prompts, answers)
    assert stacked[0] != with_stack.proba("harm", x)[0]
    # The refusal map (JADE is one of its sources) reads the refusal phrase as well as the head.
    assert with_stack.refusal_map
    shape = structure(answers)
    assert with_stack.refusal(x, shape)[0] != with_stack.proba("refusal", x)[0]
    heads1, info1 = train(
        shared_data, ["llm_self_defense", "jade"], log=lambda m: None, max_rows=150, only=("harm",)
    )
    save(heads1, info1, tmp_path / "harm_only.npz")
    with np.load(tmp_path / "harm_only.npz", allow_pickle=False) as z:
        assert not any(k.startswith("stack_") for k in z.files)


def test_an_artifact_with_part_of_the_stacker_is_refused(shared_data: Path, tmp_path: Path) -> None:
    heads, info = train(shared_data, ["llm_self_defense", "jade"], log=lambda m: None, max_rows=150)
    stack = info.pop("stack")
    refusal_map = info.pop("refusal_map")
    save(heads, info, tmp_path / "none.npz")  # an artifact from before the stacker and the map
    old = EmbeddedModel(tmp_path / "none.npz")
    x = featurize(["q"], ["Sure, here is how."])
    assert not old.stack and old.harm(x, ["q"], ["Sure, here is how."]) == old.proba("harm", x)
    del stack["stack_w2"]
    save(heads, {**info, "stack": stack}, tmp_path / "part.npz")
    with pytest.raises(ModelError, match="stacker arrays incomplete"):
        EmbeddedModel(tmp_path / "part.npz")
    # an artifact from before the refusal map: P(refusal) is the head's Platt map
    assert not old.refusal_map
    assert old.refusal(x, structure(["Sure, here is how."])) == old.proba("refusal", x)
    info["refusal_map"] = {"refusal_map_w": refusal_map["refusal_map_w"]}
    save(heads, info, tmp_path / "part_map.npz")
    with pytest.raises(ModelError, match="refusal map arrays incomplete"):
        EmbeddedModel(tmp_path / "part_map.npz")


def test_structure_reads_steps_lines_and_refusals() -> None:
    cols = {name: i for i, name in enumerate(STRUCTURE)}
    z = structure(
        [
            "Step 1: insert the tension wrench.\n2. Rake the pick quickly.",
            "I'm sorry, I can't help with that.",
            "第一步：准备材料。",
        ],
    )
    assert z.shape == (3, len(STRUCTURE))
    assert z[0, cols["log_list_items"]] == np.log1p(2) and z[1, cols["log_list_items"]] == 0
    assert z[1, cols["refusal_phrase"]] == 1.0 and z[0, cols["refusal_phrase"]] == 0.0
    assert z[2, cols["log_list_items"]] > 0 and z[1, cols["very_short"]] == 1.0
    # Steps written in one line count too: short step-by-step help has no line breaks.
    (one_line,) = structure(["Sure! Step 1: pop the cover. Step 2: strip the wires."])
    assert one_line[cols["log_list_items"]] == np.log1p(2) and one_line[
        cols["log_lines"]
    ] == np.log1p(1)


def test_benign_chinese_sources_split_by_question_and_sentence(shared_data: Path) -> None:
    rows = load_all(shared_data, ["safetybench_qa", "latent_jailbreak_benign"])
    qa = [r for r in rows if r.source == "safetybench_qa"]
    # 2,100 Chinese subset questions + 35 + 35 dev questions, each answered by its correct option
    assert len(qa) == 2170 and all(r.harm == 0 and r.refusal is None for r in qa)
    assert {r.split for r in qa} == {"train", "test"}
    train_groups = {r.group for r in qa if r.split == "train"}
    assert not train_groups & {r.group for r in qa if r.split == "test"}
    lj = [r for r in rows if r.source == "latent_jailbreak_benign"]
    assert lj and all(r.harm == 0 for r in lj)
    # no benign sentence is both trained on and held out
    sentences = {(r.prompt.replace("Translate the following sentence into Chinese.", "")
                  .replace("Translate the above sentence into Chinese.", "").strip(), r.split)
                 for r in lj}  # fmt: skip
    trained = {s for s, split in sentences if split == "train"}
    assert trained and not trained & {s for s, split in sentences if split == "test"}
