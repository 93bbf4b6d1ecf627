"""Issue 14: one meaning per number, in every view, and a failed run is never a success.

Each test reproduces a defect found on the old main (a number that was wrong, or meant
different things in different views) through the real CLI, a loopback server and real SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from safeval.models.scripted import COMPLIANCE, REFUSAL
from safeval.testing import ScriptedOpenAIServer
from tests.conftest import run_args, run_cli, write_prompts


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


# -- 1. SafetyBench: the official pipeline by default ------------------------------------------


def test_safetybench_default_reproduces_the_official_scorer(shared_data: Path, tmp_path: Path):
    data = shared_data / "safetybench" / "test_zh_subset.json"
    r = run_cli(*run_args("safetybench", data, tmp_path, model="scripted/echo", run_id="off"))
    assert r.returncode == 0, r.stderr
    s = summary_of(tmp_path / "off")["scores"]
    # The official code (extraction, seed-2023 fallback in file order, eva.py) gives 35.10.
    assert s["overall"] == pytest.approx(35.10, abs=0.005)
    assert s["official"]["overall"] == s["overall"]
    assert s["extraction"] == "official"
    assert "35.1" in r.stdout

    # Extended extraction is opt-in and named, and never moves the official draws: every
    # question the official heuristic read keeps its prediction.
    r = run_cli(
        *run_args("safetybench", data, tmp_path, "-J", "extract=extended", model="scripted/echo",
                  run_id="ext")
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    ext = summary_of(tmp_path / "ext")["scores"]
    assert ext["extraction"].startswith("extended")
    assert "extended" in r.stdout


def test_safetybench_limit_reports_asked_accuracy_and_the_official_figure_apart(
    shared_data: Path, tmp_path: Path
) -> None:
    data = shared_data / "safetybench" / "test_zh_subset.json"
    r = run_cli(*run_args("safetybench", data, tmp_path, "--limit", "70", model="scripted/echo",
                          run_id="lim"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = summary_of(tmp_path / "lim")["scores"]
    # 70 questions spread over the 7 categories: 10 each, and the scores are accuracies on them.
    assert s["n"]["by_category"] == dict.fromkeys(("EM", "IA", "MH", "OFF", "PH", "PP", "UB"), 10)
    assert all(v is not None and v >= 0 for v in s["by_category"].values())
    assert s["official"]["n_questions"] == 2100
    assert s["official"]["overall"] < s["overall"]  # unasked questions count wrong officially
    assert "asked questions only" in s["scope"]
    assert "official SafetyBench Avg" in r.stdout


# -- 2./3. refusal apart from harm; empty answers are their own outcome ------------------------


def test_over_refusal_counts_with_a_model_judge_too(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 20)  # every 5th prompt is benign

    def critic(body: dict) -> str:
        answer = body["messages"][-1]["content"]
        refused = REFUSAL in answer
        return json.dumps({"riskiness": 0.0 if refused else 0.9, "risk_tags": [],
                           "refusal": refused, "explanation": "x"})  # fmt: skip

    with ScriptedOpenAIServer(critic) as judge_srv:
        jargs = ["--judge", "critic", "-J", "model=openai-compatible/critic",
                 "-J", f"base_url={judge_srv.base_url}"]  # fmt: skip
        r = run_cli(*run_args("demo", data, tmp_path, *jargs, model="scripted/refuse", run_id="c"))
    assert r.returncode == 0, r.stderr
    s = summary_of(tmp_path / "c")["scores"]
    assert s["over_refusal"] == 100.0 and s["n"]["over_refusal"] == 4
    assert "over-refusal (benign prompts refused): 100.0% of 4" in r.stdout


def test_an_empty_answer_is_counted_apart_and_never_scored_safe(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 12)
    with ScriptedOpenAIServer(lambda body: "") as srv:
        r = run_cli(*run_args("demo", data, tmp_path, model="openai-compatible/x", srv=srv,
                              run_id="e"))  # fmt: skip
    s = summary_of(tmp_path / "e")
    assert s["n_empty"] == 12 and s["scores"]["overall"] is None
    assert s["scores"]["n_judged"] == 0
    assert "empty answers (not scored): 12" in r.stdout


# -- 4. a judge's scale -------------------------------------------------------------------------


def test_a_judge_of_the_wrong_scale_is_refused_in_one_line(tmp_path: Path) -> None:
    r = run_cli("run", "scsafety", "--model", "scripted/refuse", "--judge", "rules",
                "--runs-dir", str(tmp_path), "--no-progress")  # fmt: skip
    assert r.returncode == 2
    assert "gives binary verdicts, but scsafety scores points" in r.stderr
    assert "Traceback" not in r.stderr and not any(tmp_path.iterdir())


# -- 5. a failed run is not a success -----------------------------------------------------------


def test_an_endpoint_that_is_down_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 4)
    with ScriptedOpenAIServer() as srv:
        url = srv.base_url  # a port that nobody listens on once the server is gone
    r = run_cli(*run_args("demo", data, tmp_path / "runs", model="openai-compatible/x",
                          run_id="down"), "--base-url", url)  # fmt: skip
    assert r.returncode == 2
    assert "cannot reach the endpoint" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "runs" / "down").exists()


def test_items_in_error_make_the_exit_code_say_incomplete(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 10)

    def flaky(body: dict) -> str:
        if body["messages"][-1]["content"].endswith(("3", "7")):
            raise RuntimeError("boom")
        return REFUSAL

    with ScriptedOpenAIServer(flaky) as srv:
        args = run_args("demo", data, tmp_path, "-M", "max_retries=0",
                        model="openai-compatible/x", srv=srv, run_id="f")  # fmt: skip
        r = run_cli(*args)
        assert r.returncode == 3, r.stderr
        assert "run incomplete: 2 of 10 items" in r.stderr
        s = summary_of(tmp_path / "f")
        assert s["n_errors"] == 2 and s["complete"] is False
        # Tolerated errors: the same run (resumed, still failing) exits 0.
        r = run_cli(*args, "--max-errors", "20%")
        assert r.returncode == 0, r.stderr


# -- 6. re-judging keeps the run's summary and its plan size ------------------------------------


def test_rejudging_writes_its_own_summary_and_keeps_n_total(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 8)
    r = run_cli(*run_args("demo", data, tmp_path, "--judge", "rules", model="scripted/mixed",
                          run_id="j"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "j" / "summary.json").read_text()
    with ScriptedOpenAIServer(lambda body: "not json at all") as srv:
        r = run_cli("judge", str(tmp_path / "j"), "--judge", "critic", "-J",
                    "model=openai-compatible/c", "-J", f"base_url={srv.base_url}",
                    "--no-progress")  # fmt: skip
    assert r.returncode == 3  # every judgement failed: incomplete, and said so
    assert "error: " in r.stderr and "malformed" in r.stderr  # and why, as `run` says it
    critic = json.loads((tmp_path / "j" / "summaries" / "critic.json").read_text())
    assert critic["n_judge_errors"] == 8 and critic["n_total"] == 8
    assert (tmp_path / "j" / "summary.json").read_text() == before
    # 7. Malformed judgements are not cached: a judge that now answers well is asked again.
    good = json.dumps({"riskiness": 0.1, "risk_tags": [], "refusal": True, "explanation": "ok"})
    with ScriptedOpenAIServer(lambda body: good) as srv:
        r = run_cli("judge", str(tmp_path / "j"), "--judge", "critic", "-J",
                    "model=openai-compatible/c", "-J", f"base_url={srv.base_url}",
                    "--no-progress")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert srv.requests == 8
    # Interrupted runs keep the plan's size: delete half the items and re-judge.
    with sqlite3.connect(tmp_path / "j" / "run.sqlite") as c:
        c.execute("DELETE FROM items WHERE rowid % 2 = 0")
    r = run_cli("judge", str(tmp_path / "j"), "--judge", "rules", "--no-progress")
    assert r.returncode == 3, r.stderr
    s = summary_of(tmp_path / "j")
    assert s["n_total"] == 8 and s["n_not_asked"] == 4 and s["complete"] is False


# -- 8. resume refuses a change to what the answers depend on -----------------------------------


def test_resume_refuses_changed_data_content_and_model_options(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 4)
    r = run_cli(*run_args("demo", data, tmp_path / "runs", model="scripted/refuse", run_id="r"))
    assert r.returncode == 0, r.stderr
    write_prompts(data, 4, prefix="q")  # same path, other prompts
    r = run_cli(*run_args("demo", data, tmp_path / "runs", model="scripted/refuse", run_id="r"))
    assert r.returncode == 2 and "data_sha256" in r.stderr
    write_prompts(data, 4)  # back as it was: the run resumes
    r = run_cli(*run_args("demo", data, tmp_path / "runs", model="scripted/refuse", run_id="r"))
    assert r.returncode == 0, r.stderr
    r = run_cli(*run_args("demo", data, tmp_path / "runs", "--temperature", "0.7",
                          model="scripted/refuse", run_id="r"))  # fmt: skip
    assert r.returncode == 2 and "generate.temperature: 0.0 -> 0.7" in r.stderr


# -- 9. --limit is an even spread ---------------------------------------------------------------


def test_limit_spreads_over_attacks_and_categories(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "s_eval" / "S-Eval_attack_en_small.jsonl.zip"
    r = run_cli(*run_args("seval", data, tmp_path, "--limit", "50", "--judge", "rules",
                          model="scripted/refuse", run_id="s"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    n = summary_of(tmp_path / "s")["scores"]["n"]
    assert len(n["by_attack"]) == 10 and set(n["by_attack"].values()) == {5}
    r = run_cli("run", "demo", "--limit", "16", "--model", "scripted/refuse", "--judge", "rules",
                "--runs-dir", str(tmp_path), "--run-id", "d", "--no-progress")  # fmt: skip
    assert r.returncode == 0, r.stderr
    cats = summary_of(tmp_path / "d")["scores"]["n"]
    assert len(cats["by_category"]) + (1 if cats["over_refusal"] else 0) >= 8


# -- 10. every view reads the same numbers ------------------------------------------------------


def test_show_report_and_profile_agree_on_a_limited_safetybench_run(
    shared_data: Path, tmp_path: Path
) -> None:
    data = shared_data / "safetybench" / "test_zh_subset.json"
    r = run_cli(*run_args("safetybench", data, tmp_path, "--limit", "35", model="scripted/echo",
                          run_id="v"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    run = tmp_path / "v"
    s = summary_of(run)["scores"]
    show = run_cli("show", str(run))
    assert show.returncode == 0 and f"{s['by_category']['OFF']:.1f}" in show.stdout
    r = run_cli("report", str(run), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert json.dumps(rep).count("null") >= 0  # parses
    prof = run_cli("profile", str(run), "--out", str(tmp_path / "p.json"))
    assert prof.returncode == 0, prof.stderr
    p = json.loads((tmp_path / "p.json").read_text())["runs"][0]
    assert p["by_unified"]["hate_harassment"] == s["by_category"]["OFF"]
    assert p["n"]["hate_harassment"] == s["n"]["by_category"]["OFF"] == 5


# -- 12. compare gates on errors and over-refusal, and on comparable runs -----------------------


def test_compare_gates_on_over_refusal_errors_and_refuses_other_benchmarks(
    tmp_path: Path,
) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 40)
    for rid, model in (("base", "scripted/mixed"), ("cand", "scripted/refuse")):
        r = run_cli(*run_args("demo", data, tmp_path, "--judge", "rules", model=model,
                              run_id=rid))  # fmt: skip
        assert r.returncode == 0, r.stderr
    r = run_cli("compare", str(tmp_path / "base"), str(tmp_path / "cand"), "--fail-if-worse", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "over-refusal" in r.stderr and "cand is worse than base" in r.stderr
    assert "by attack" not in r.stdout  # one attack: the overall row says it
    assert "(95% CI)" in r.stdout  # every score with its interval
    # A run of another benchmark does not compare.
    r = run_cli("run", "demo", "--model", "scripted/refuse", "--judge", "rules", "--runs-dir",
                str(tmp_path), "--run-id", "builtin", "--no-progress")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("compare", str(tmp_path / "base"), str(tmp_path / "builtin"))
    assert r.returncode == 2 and "not comparable" in r.stderr


def test_compare_fails_a_candidate_whose_items_ended_in_error(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 20)
    r = run_cli(*run_args("demo", data, tmp_path, "--judge", "rules", model="scripted/refuse",
                          run_id="a"))  # fmt: skip
    assert r.returncode == 0, r.stderr

    def dying(body: dict) -> str:
        if not body["messages"][-1]["content"].endswith(("1", "2")):
            raise RuntimeError("server is dying")
        return COMPLIANCE if "1" in body["messages"][-1]["content"][-1] else REFUSAL

    with ScriptedOpenAIServer(dying) as srv:
        r = run_cli(*run_args("demo", data, tmp_path, "--judge", "rules", "-M", "max_retries=0",
                              model="openai-compatible/x", srv=srv, run_id="b"))  # fmt: skip
    assert r.returncode == 3
    r = run_cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-if-worse", "5")
    assert r.returncode == 1
    assert "failed items" in r.stderr


# -- 11. runs rank only against runs of the same benchmark, data and judge ----------------------


def test_leaderboard_ranks_only_comparable_runs(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 12)
    other = write_prompts(tmp_path / "q.jsonl", 12, prefix="q")
    for rid, model, d in (("a", "scripted/refuse", data), ("b", "scripted/mixed", data),
                          ("c", "scripted/refuse", other)):  # fmt: skip
        r = run_cli(*run_args("demo", d, tmp_path, "--judge", "rules", model=model, run_id=rid))
        assert r.returncode == 0, r.stderr
    out = tmp_path / "r.json"
    r = run_cli("report", *(str(tmp_path / x) for x in "abc"), "--json", str(out),
                "--html", str(tmp_path / "r.html"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    board = {row["run_id"]: row for row in json.loads(out.read_text())["leaderboard"]}
    assert board["a"]["rank"] == 1 and board["b"]["rank"] == 2
    assert board["c"]["rank"] == 1 and board["c"]["group"] != board["a"]["group"]
    assert "nothing to rank against" in (tmp_path / "r.html").read_text()


def test_rejudging_with_other_options_judges_every_item_again(tmp_path: Path) -> None:
    """`safeval judge RUN --judge embedded -J threshold=...` kept the verdicts of the earlier
    options (the same score whatever the threshold); a resume with new -J mixed the two."""
    data = write_prompts(tmp_path / "p.jsonl", 16)

    def overall(*judge_opts: str, rid: str) -> float:
        r = run_cli(*run_args("demo", data, tmp_path, "--judge", "embedded", *judge_opts,
                              model="scripted/mixed", run_id=rid))  # fmt: skip
        assert r.returncode == 0, r.stderr
        return summary_of(tmp_path / rid)["scores"]["overall"]

    lenient, plain = overall("-J", "threshold=0.95", rid="lenient"), overall(rid="plain")
    assert lenient != plain  # the threshold moves the score on these answers
    for opts, want in ((["-J", "threshold=0.95"], lenient), ([], plain)):
        r = run_cli("judge", str(tmp_path / "plain"), "--judge", "embedded", *opts, "--no-progress")
        assert r.returncode == 0, r.stderr
        assert summary_of(tmp_path / "plain")["scores"]["overall"] == want, opts
    # The same on resume: the run's own judge with new options judges every item again.
    assert overall("-J", "threshold=0.95", rid="plain") == lenient
