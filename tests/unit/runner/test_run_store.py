"""Runs through the real store and the real HTTP adapter: caching, resume, re-judging."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from safeval.runner.run import RunConfig, rejudge_run, run_sync
from safeval.testing import ScriptedOpenAIServer
from safeval.types import GenerateConfig
from tests.conftest import write_prompts


def cfg(srv: ScriptedOpenAIServer, runs: Path, data: Path, run_id: str, **kw) -> RunConfig:  # type: ignore[no-untyped-def]
    return RunConfig(
        benchmark="demo",
        model="openai-compatible/scripted",
        model_args={"base_url": srv.base_url, "backoff_initial": 0.01, "backoff_max": 0.05},
        data=data,
        runs_dir=runs,
        run_id=run_id,
        progress=False,
        concurrency=4,
        **kw,
    )


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT item_id, status, response FROM items ORDER BY item_id").fetchall()


def test_run_writes_summary_with_required_fields(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_prompts(tmp_path / "p.jsonl", 40)
    res = run_sync(cfg(server, tmp_path / "runs", data, "r1"))
    s = json.loads((res.run_dir / "summary.json").read_text())
    for k in ("benchmark", "model", "judge", "n_total", "n_done", "n_errors", "scores"):
        assert k in s
    assert s["n_total"] == 40 and s["n_done"] == 40 and s["n_errors"] == 0
    assert set(s["scores"]["by_category"]) == {"violence", "fraud", "privacy", "cybercrime"}
    assert s["scores"]["by_attack"].keys() == {"none"}
    assert 0 <= s["scores"]["overall"] <= 100


def test_identical_calls_are_not_made_twice_across_runs(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_prompts(tmp_path / "p.jsonl", 30)
    runs = tmp_path / "runs"
    run_sync(cfg(server, runs, data, "first"))
    assert server.requests == 30
    second = run_sync(cfg(server, runs, data, "second"))  # a new run: answers come from the cache
    assert server.requests == 30 and second.model_calls == 0 and second.cache_hits == 30
    assert rows(runs / "first" / "run.sqlite") == rows(runs / "second" / "run.sqlite")
    # Changing a generation parameter changes the key: new calls.
    run_sync(cfg(server, runs, data, "third", generate=GenerateConfig(max_tokens=99)))
    assert server.requests == 60


def test_duplicate_prompts_in_one_run_share_one_call(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "dup.jsonl"
    p.write_text(
        "".join(json.dumps({"id": f"d{i}", "prompt": "same question"}) + "\n" for i in range(10))
    )
    res = run_sync(cfg(server, tmp_path / "runs", p, "dup"))
    assert server.requests == 1 and res.summary["n_done"] == 10


def test_rerun_same_id_resumes_without_calls(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = write_prompts(tmp_path / "p.jsonl", 20)
    runs = tmp_path / "runs"
    a = run_sync(cfg(server, runs, data, "same"))
    (runs / "cache.sqlite").unlink()  # even without the cache, done items are not asked again
    b = run_sync(cfg(server, runs, data, "same"))
    assert server.requests == 20 and b.model_calls == 0 and b.generation.skipped == 20
    assert a.summary["scores"] == b.summary["scores"]


def test_failed_items_are_errors_not_verdicts_and_are_retried_on_resume(tmp_path: Path) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 10)
    runs = tmp_path / "runs"
    from safeval.testing.openai_server import fail_first
    from tests.conftest import hash_responder

    with ScriptedOpenAIServer(hash_responder, faults=fail_first(10**6, "500")) as bad:
        c = cfg(bad, runs, data, "flaky")
        c.model_args["max_retries"] = 1
        res = run_sync(c)
        s = res.summary
        assert s["n_done"] == 0 and s["n_errors"] == 10
        assert s["scores"]["overall"] is None and s["scores"]["n_judged"] == 0
        with sqlite3.connect(runs / "flaky" / "run.sqlite") as conn:
            assert conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 0
    with ScriptedOpenAIServer(hash_responder) as good:
        res = run_sync(cfg(good, runs, data, "flaky"))
        assert res.summary["n_done"] == 10 and res.summary["n_errors"] == 0
        assert good.requests == 10


def test_rejudging_makes_no_target_call(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    data = write_prompts(tmp_path / "p.jsonl", 12)
    res = run_sync(cfg(server, tmp_path / "runs", data, "rj"))
    before = server.requests
    summary, stats = asyncio.run(rejudge_run(res.run_dir, "rules", {}, progress=False))
    assert stats.errors == 0 and stats.error_examples == []
    assert server.requests == before
    assert summary["scores"] == res.summary["scores"]


def test_resume_with_other_settings_is_refused(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from safeval.errors import ConfigError

    data = write_prompts(tmp_path / "p.jsonl", 5)
    run_sync(cfg(server, tmp_path / "runs", data, "x"))
    with pytest.raises(ConfigError, match="other settings"):
        run_sync(cfg(server, tmp_path / "runs", data, "x", generate=GenerateConfig(max_tokens=3)))


def test_items_to_judge_pages_by_key_while_verdicts_are_written(tmp_path: Path) -> None:
    """Judging streams the store a page at a time; writing verdicts between pages neither skips
    nor repeats an item, and items already judged (without error) are left out."""
    from safeval.runner.store import RunStore
    from safeval.types import Generation, Message, Sample, Score

    store = RunStore(tmp_path / "run.sqlite")
    msgs = [Message(role="user", content="q")]
    rows_in = [
        (f"s{i:02d}|none|0", Sample(id=f"s{i:02d}", input="q"), 0, msgs, None, Generation(text="a"))
        for i in range(25)
    ]
    rows_in.append(
        ("bad|none|0", Sample(id="bad", input="q"), 0, msgs, None, Generation(error="x"))
    )
    store.put_items(rows_in)
    store.put_verdicts([("s03|none|0", Score(value=1.0, judge="rules"))])
    store.put_verdicts([("s04|none|0", Score(error="judge down", judge="rules"))])
    seen = []
    for item in store.items_to_judge("rules", page=4):
        seen.append(item.item_id)
        store.put_verdicts([(item.item_id, Score(value=0.0, judge="rules"))])
    expected = [f"s{i:02d}|none|0" for i in range(25) if i != 3]
    assert seen == expected  # s04 (a judge error) is judged again; the failed generation is not
    assert list(store.items_to_judge("rules", page=4)) == []
    store.close()


def test_scored_rows_read_harmful_and_lang_without_parsing_samples(tmp_path: Path) -> None:
    """Rows read without their samples carry the same `harmful` and `lang` as the parsed
    samples (True, False or None; a language or none), and the same verdict fields."""
    from safeval.runner.store import RunStore
    from safeval.types import Generation, Message, Sample, Score

    store = RunStore(tmp_path / "run.sqlite")
    msgs = [Message(role="user", content="q")]
    samples = [
        Sample(id="a", input="q", harmful=True, lang="en"),
        Sample(id="b", input="q", harmful=False, lang="zh"),
        Sample(id="c", input="q", harmful=None),
        Sample(id="d", input="q", harmful=False),
    ]
    store.put_items([(f"{s.id}|none|0", s, 0, msgs, None, Generation(text="x")) for s in samples])
    store.put_verdicts([("a|none|0", Score(value=1.0, judge="rules", tags=["t"]))])
    store.put_verdicts([("b|none|0", Score(value=0.0, judge="rules", refused=True))])
    # A sample stored without the field reads as the model's default, as parsing it does.
    store.conn.execute(
        "UPDATE items SET sample = json_remove(sample, '$.harmful') WHERE item_id = 'c|none|0'"
    )
    # Not a JSON bool or null (written by hand): read as parsing the sample reads it.
    store.conn.execute(
        "UPDATE items SET sample = json_set(sample, '$.harmful', 'false') "
        "WHERE item_id = 'd|none|0'"
    )
    store.conn.commit()
    full = list(store.scored_rows("rules", with_samples=True))
    lean = list(store.scored_rows("rules"))
    assert [r.sample for r in lean] == [None, None, None, None]
    assert [(r.harmful, r.lang) for r in lean] == [
        (True, "en"),
        (False, "zh"),
        (True, None),
        (False, None),
    ]
    assert [(r.harmful, r.lang) for r in full] == [(r.sample.harmful, r.sample.lang) for r in full]  # type: ignore[union-attr]
    assert [dataclasses.replace(r, sample=None) for r in full] == lean
    store.close()
