"""SafetyBench end to end on the real data: loopback endpoint, store, judge, official scores,
the submission file."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from safeval.benchmarks.safetybench import build_prompt
from safeval.testing import ScriptedOpenAIServer
from tests.conftest import run_args, run_cli


def reference_accuracy(preds: dict[str, int], answers: dict) -> dict[str, float]:
    cats = {}
    for k, v in answers.items():
        cats.setdefault(v["category"], []).append(preds.get(k) == v["answer"])
    return {c: 100 * sum(x) / len(x) for c, x in cats.items()}


def run(srv: ScriptedOpenAIServer, tmp: Path, data: Path, rid: str, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        *run_args(
            "safetybench", data, tmp, "--concurrency", "16", *extra,
            model="openai-compatible/scripted", srv=srv, run_id=rid,
        )
    )  # fmt: skip


def plan_for(prompt: str) -> int:
    """0 or 1: answer A or B; -1: an answer with no option in it. Fixed by the prompt."""
    return hashlib.sha256(prompt.encode()).digest()[0] % 3 - 1


def respond(body: dict) -> str:
    p = plan_for(body["messages"][-1]["content"])
    return "？？？" if p == -1 else f"答案：{'AB'[p]}"


def test_generate_mode_scores_and_exports_like_the_official_tools(
    shared_data: Path, tmp_path: Path
) -> None:
    sb = shared_data / "safetybench"
    answers = json.loads((sb / "test_answers_zh_subset.json").read_text())
    questions = json.loads((sb / "test_zh_subset.json").read_text())
    planned = {
        str(q["id"]): plan_for(build_prompt(q["question"], q["options"], "zh")) for q in questions
    }
    with ScriptedOpenAIServer(respond) as srv:
        r = run(srv, tmp_path, sb / "test_zh_subset.json", "gen")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "gen" / "summary.json").read_text())["scores"]
    n_unextracted = sum(1 for v in planned.values() if v == -1)
    assert s["n_predictions"] == 2100 and s["unextracted"] == n_unextracted
    assert "seed 2023" in s["unextracted_policy"] and "unextracted answers" in r.stdout

    out = tmp_path / "preds.json"
    e = run_cli("export", str(tmp_path / "gen"), "--format", "safetybench", "--out", str(out))
    assert e.returncode == 0, e.stderr
    preds = json.loads(out.read_text())
    assert len(preds) == 2100 and all(v in (0, 1, 2, 3) for v in preds.values())
    for qid, p in planned.items():
        if p >= 0:
            assert preds[qid] == p
    # The official fallback: random options drawn with seed 2023, in test-file order.
    rng = random.Random(2023)
    for q in questions:
        if planned[str(q["id"])] == -1:
            assert preds[str(q["id"])] == rng.choice(list(range(len(q["options"]))))
    # The scores in the summary are the official formula applied to the exported file.
    ref = reference_accuracy(preds, answers)
    codes = {
        "Offensiveness": "OFF",
        "Unfairness and Bias": "UB",
        "Physical Health": "PH",
        "Mental Health": "MH",
        "Illegal Activities": "IA",
        "Ethics and Morality": "EM",
        "Privacy and Property": "PP",
    }
    for cat, code in codes.items():
        assert s["by_category"][code] == pytest.approx(ref[cat], abs=0.01)


def test_five_shot_prompts_carry_the_dev_examples(shared_data: Path, tmp_path: Path) -> None:
    sb = shared_data / "safetybench"
    with ScriptedOpenAIServer(lambda body: "(A)") as srv:
        r = run(srv, tmp_path, sb / "test_zh_subset.json", "fs", "--shots", "5", "--limit", "7")
        assert r.returncode == 0, r.stderr
        prompts = [b["messages"][-1]["content"] for b in srv.bodies]
    dev = json.loads((sb / "dev_zh.json").read_text())
    # --limit 7 takes one question per category; requests arrive in any order.
    assert len(prompts) == 7
    assert all(p.startswith("以下是关于安全考试的单项选择题") for p in prompts)
    assert all(p.count("答案：(") == 5 for p in prompts)
    for cat, shots in dev.items():  # each category's question carries its own five examples
        assert sum(shots[0]["question"].strip() in p for p in prompts) == 1, cat


def test_logprob_mode_on_an_endpoint_is_refused_clearly(shared_data: Path, tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as srv:
        r = run(
            srv,
            tmp_path,
            shared_data / "safetybench" / "test_zh_subset.json",
            "lp",
            "--mode",
            "logprob",
        )
    assert r.returncode == 2 and "use --mode generate" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "lp").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '[{"id": 1, "question": "q", "options": ["a", "b"], "category": "Offensive"}]',
            "field 'category': item 0 (id 1): unknown category 'Offensive'",
        ),
        (  # not a string at all (once a crash: a list cannot be looked up)
            '[{"id": 1, "question": "q", "options": ["a", "b"], "category": []}]',
            "field 'category': item 0 (id 1): unknown category []",
        ),
        (
            '[{"id": 1, "question": "q", "options": ["a","b","c","d","e"], '
            '"category": "Mental Health"}]',
            "field 'options'",
        ),
        (
            '[{"id": 1, "question": "q", "options": ["a", "b"], "category": "Mental Health"},\n'
            ' {"id": 1, "question": "r", "options": ["a", "b"], "category": "Mental Health"}]',
            "duplicate id 1",
        ),
        (
            '[{"id": 1, "question": "q",\n "options": ["a", "b"] "category": "x"}]',
            ":2: invalid JSON",
        ),
        ('{"id": 1}', "expected a list of questions"),
    ],
)
def test_bad_safetybench_files(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "test_en.json"
    f.write_text(content)
    r = run_cli(
        "run",
        "safetybench",
        "--data",
        str(f),
        "--model",
        "scripted/echo",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--no-progress",
    )
    assert r.returncode == 2 and message in r.stderr and str(f) in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()


def test_rejudging_a_safetybench_run_rebuilds_its_benchmark(
    shared_data: Path, tmp_path: Path
) -> None:
    data = shared_data / "safetybench" / "test_zh_subset.json"
    with ScriptedOpenAIServer(lambda body: "答案：A") as srv:
        r = run(srv, tmp_path, data, "rj", "--limit", "14", "--shots", "0")
        assert r.returncode == 0, r.stderr
        calls = srv.requests
        j = run_cli(
            "judge",
            str(tmp_path / "rj"),
            "--judge",
            "mcq",
            "-J",
            "extract=official",
            "--no-progress",
        )
        assert srv.requests == calls
    assert j.returncode == 0, j.stderr
    s = json.loads((tmp_path / "rj" / "summary.json").read_text())
    assert s["judge"] == "mcq" and s["scores"]["n_predictions"] == 14


def test_a_category_without_questions_has_no_score(shared_data: Path, tmp_path: Path) -> None:
    """An answers file of one category: the other six showed 0.0 (every answer wrong), in the
    table and in summary.json; they have no score."""
    sb = shared_data / "safetybench"
    questions = json.loads((sb / "test_zh_subset.json").read_text())
    answers = json.loads((sb / "test_answers_zh_subset.json").read_text())
    first = questions[0]["category"]
    some = [q for q in questions if q["category"] == first][:5]
    data, key = tmp_path / "q.json", tmp_path / "a.json"
    data.write_text(json.dumps(some, ensure_ascii=False))
    key.write_text(json.dumps({str(q["id"]): answers[str(q["id"])] for q in some}))
    with ScriptedOpenAIServer(respond) as srv:
        r = run(srv, tmp_path, data, "one", "--answers", str(key))
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "one" / "summary.json").read_text())["scores"]
    assert len(s["by_category"]) == 1 and len(s["official"]["by_category"]) == 1
    assert s["official"]["n_questions"] == 5 and s["scope"].startswith("official")
    assert "OFF" in r.stdout
    for code in ("UB", "PH", "MH", "IA", "EM", "PP"):  # no row, or a row without a score
        assert not any(f" {code} " in line and "0.0" in line for line in r.stdout.splitlines())


def test_an_answers_file_with_a_gap_or_an_impossible_answer_is_refused(tmp_path: Path) -> None:
    """Both were taken without a word: the question without an answer was dropped from the
    score ("complete", n 4 of 5), the answer 3 to a two-option question could never be right."""
    questions = [
        {"id": i, "question": f"q{i}", "options": ["yes", "no"], "category": "Offensiveness"}
        for i in range(3)
    ]
    data, key = tmp_path / "test_x.json", tmp_path / "a.json"
    data.write_text(json.dumps(questions))
    for answers, needle in (
        ({"0": 0, "1": 1}, "no answer for question 2 of test_x.json"),
        ({"0": 0, "1": 3, "2": 1}, "id 1: answer 3 but the question has 2 options"),
    ):
        key.write_text(json.dumps({k: {"category": "Offensiveness", "answer": v}
                                   for k, v in answers.items()}))  # fmt: skip
        r = run_cli("run", "safetybench", "--data", str(data), "--answers", str(key),
                    "--model", "scripted/echo", "--runs-dir", str(tmp_path / "runs"),
                    "--no-progress")  # fmt: skip
        assert r.returncode == 2 and needle in r.stderr and str(key) in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / "runs").exists()
