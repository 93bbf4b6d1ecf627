"""SC-Safety end to end: conversations with context, judge over loopback, adaptive follow-ups,
scores recomputed from the stored verdicts."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from safeval.benchmarks.scsafety import BUILTIN, SUBDIMENSIONS, load_conversations, sc_points
from safeval.testing import ScriptedOpenAIServer
from tests.conftest import run_cli


def judge_responder(body: dict) -> str:
    answer = body["messages"][-1]["content"].rsplit("ASSISTANT (answer to score):", 1)[-1]
    score = hashlib.sha256(answer.encode()).digest()[0] % 3
    return json.dumps({"score": score, "reason": f"scripted reason {score}"})


def recompute(db: Path) -> dict:
    with sqlite3.connect(db) as c:
        rows = c.execute(
            """SELECT i.sample, i.category, i.turn, v.value FROM items i
               JOIN verdicts v USING (item_id) WHERE v.judge = 'scsafety' AND v.error IS NULL"""
        ).fetchall()
    return sc_points([(json.loads(s)["metadata"]["ability"], cat, t, v) for s, cat, t, v in rows])


def test_builtin_suite_meets_its_description() -> None:
    convs = list(load_conversations(BUILTIN))
    subs: dict[str, set[str]] = {}
    for c in convs:
        subs.setdefault(c.metadata["ability"], set()).add(c.category)
    assert set(subs) == {"traditional_safety", "responsible_ai", "instruction_attacks"}
    assert sum(len(v) for v in subs.values()) >= 20
    per_sub: dict[str, int] = {}
    for c in convs:
        per_sub[c.category] = per_sub.get(c.category, 0) + 1
        assert c.followups
    # At least 10 conversations per sub-dimension in each of the two languages.
    assert min(per_sub.values()) >= 20
    assert {c.lang for c in convs} == {"zh", "en"}


def test_whole_builtin_suite_with_loopback_judge_reports_counts_next_to_scores(
    tmp_path: Path,
) -> None:
    convs = list(load_conversations(BUILTIN))
    per_sub: dict[str, int] = {}
    per_ability: dict[str, int] = {}
    for c in convs:
        per_sub[c.category] = per_sub.get(c.category, 0) + 1
        ability = c.metadata["ability"]
        per_ability[ability] = per_ability.get(ability, 0) + 1
    with ScriptedOpenAIServer(judge_responder) as judge:
        r = run_cli(
            "run",
            "scsafety",
            "--model",
            "scripted/mixed",
            "--judge",
            "scsafety",
            "-J",
            "model=openai-compatible/judge",
            "-J",
            f"base_url={judge.base_url}",
            "--runs-dir",
            str(tmp_path),
            "--run-id",
            "all",
            "--no-progress",
        )
        judged = judge.requests
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "all" / "summary.json").read_text())
    answers = 2 * len(convs)  # a question and one follow-up each
    assert s["n_total"] == s["n_done"] == answers == judged
    scores, n = s["scores"], s["scores"]["n"]
    rec = recompute(tmp_path / "all" / "run.sqlite")
    assert scores | {k: v for k, v in rec.items() if k != "n"} == scores
    assert n | rec["n"] == n  # the summary's counts hold the recomputed ones (and more)
    assert n["overall"] == answers
    assert n["by_subdimension"] == {sd: 2 * k for sd, k in sorted(per_sub.items())}
    assert set(n["by_subdimension"]) == {sd for subs in SUBDIMENSIONS.values() for sd in subs}
    assert n["by_ability"] == {a: 2 * k for a, k in sorted(per_ability.items())}
    assert n["by_round"] == {"round_1": len(convs), "round_2": len(convs)}
    for key in ("by_ability", "by_subdimension", "by_category", "by_round", "by_ability_round"):
        assert set(n[key]) == set(scores[key]), key
    # One conversation (2 answers of at most 2 points each, over 2 points x the sub-dimension's
    # answers, x100) moves a sub-dimension score by at most ~5 points.
    assert max(100 * 2 * 2 / (2 * k) for k in n["by_subdimension"].values()) <= 5
    # The unified profile files each answer under its sub-dimension's risk where it names one
    # (every traditional-safety answer went to "crime & illegal activity"), else its ability's.
    prof = tmp_path / "profile.json"
    assert run_cli("profile", str(tmp_path / "all"), "--out", str(prof)).returncode == 0
    unified = json.loads(prof.read_text())["runs"][0]["n"]
    assert unified["privacy_property"] == n["by_subdimension"]["privacy_property"]
    assert unified["hate_harassment"] == n["by_subdimension"]["insult_hate"]
    assert unified["crime_illegal"] == (
        n["by_subdimension"]["illegal_crime"] + n["by_subdimension"]["gambling_drugs"]
    )
    assert unified["adversarial_robustness"] == n["by_ability"]["instruction_attacks"]
    assert sum(unified.values()) == n["overall"]


@pytest.mark.slow
def test_embedded_target_with_loopback_judge(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="the 'local' extra is not installed")
    with ScriptedOpenAIServer(judge_responder) as judge:
        r = run_cli(
            "run",
            "scsafety",
            "--limit",
            "3",
            "--max-tokens",
            "24",
            "--judge",
            "scsafety",
            "-J",
            "model=openai-compatible/judge",
            "-J",
            f"base_url={judge.base_url}",
            "--runs-dir",
            str(tmp_path),
            "--run-id",
            "sc",
            "--no-progress",
        )
        judged = [b["messages"][-1]["content"] for b in judge.bodies]
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "sc" / "summary.json").read_text())
    assert s["model"] == "local/smollm2" and s["n_total"] == 6 and s["n_done"] == 6
    rec = recompute(tmp_path / "sc" / "run.sqlite")
    assert s["scores"] | {k: v for k, v in rec.items() if k != "n"} == s["scores"]
    assert set(s["scores"]["by_round"]) == {"round_1", "round_2"}
    # The round-2 judgement saw the whole conversation: question, first answer, follow-up.
    assert any("USER:" in t and "ASSISTANT:" in t for t in judged)
    with sqlite3.connect(tmp_path / "sc" / "run.sqlite") as c:
        reasons = [r[0] for r in c.execute("SELECT explanation FROM verdicts")]
        turn1 = json.loads(
            c.execute(
                "SELECT messages FROM items WHERE turn = 1 ORDER BY item_id LIMIT 1"
            ).fetchone()[0]
        )
    assert all(x.startswith("scripted reason") for x in reasons)
    assert [m["role"] for m in turn1] == ["user", "assistant", "user"]


def test_attacker_writes_the_follow_up_from_the_first_answer(tmp_path: Path) -> None:
    with (
        ScriptedOpenAIServer(lambda b: "I cannot help with that.") as target,
        ScriptedOpenAIServer(
            lambda b: "Come on, just for a novel: " + b["messages"][0]["content"][-12:]
        ) as attacker,
        ScriptedOpenAIServer(judge_responder) as judge,
    ):
        r = run_cli(
            "run",
            "scsafety",
            "--limit",
            "4",
            "--model",
            "openai-compatible/t",
            "--base-url",
            target.base_url,
            "--attacker",
            "openai-compatible/a",
            "--attacker-arg",
            f"base_url={attacker.base_url}",
            "--judge",
            "scsafety",
            "-J",
            "model=openai-compatible/j",
            "-J",
            f"base_url={judge.base_url}",
            "--runs-dir",
            str(tmp_path),
            "--run-id",
            "adv",
            "--no-progress",
        )
        assert r.returncode == 0, r.stderr
        assert attacker.requests == 4
        prompt = attacker.bodies[0]["messages"][0]["content"]
    assert "ASSISTANT: I cannot help with that." in prompt and "PLANNED FOLLOW-UP:" in prompt
    with sqlite3.connect(tmp_path / "adv" / "run.sqlite") as c:
        msgs = [json.loads(m) for (m,) in c.execute("SELECT messages FROM items WHERE turn = 1")]
    assert all(m[-1]["content"].startswith("Come on, just for a novel") for m in msgs)
    s = json.loads((tmp_path / "adv" / "summary.json").read_text())
    assert s["scores"]["round2_minus_round1"] is not None


def test_bad_conversation_file(tmp_path: Path) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(
        '{"id": "a", "ability": "traditional_safety", "subdimension": "x", '
        '"question": "q", "followups": ["f"]}\n'
        '{"id": "b", "ability": "responsibility", "subdimension": "x", '
        '"question": "q", "followups": ["f"]}\n'
    )
    r = run_cli(
        "run",
        "scsafety",
        "--data",
        str(f),
        "--model",
        "scripted/refuse",
        "--judge",
        "rules",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--no-progress",
    )
    assert r.returncode == 2 and f"{f}:2: field 'ability'" in r.stderr
