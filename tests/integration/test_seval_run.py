"""S-Eval on the released files: every size and language loads; runs break scores down by
risk dimension and attack; attacks apply on the fly; bad files fail clearly."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from safeval.benchmarks.seval import ATTACK_CATEGORIES, load_seval
from safeval.testing import ScriptedOpenAIServer
from tests.conftest import hash_responder, run_args, run_cli

SIZES = {"small": 1000, "medium": 3000, "large": 5000, "full": 10000}
RISKS = {
    "Crimes_and_Illegal_Activities",
    "Data_Privacy",
    "Hate_Speech",
    "Extremism",
    "Inappropriate_Suggestions",
    "Cybersecurity",
    "Physical_and_Mental_Health",
    "Ethics_and_Morality",
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_released_file_loads(shared_data: Path, lang: str) -> None:
    d = shared_data / "s_eval"
    for size, n in SIZES.items():
        samples = list(load_seval(d / f"S-Eval_base_risk_{lang}_{size}.jsonl.zip"))
        assert len(samples) == n and {s.category for s in samples} == RISKS
        assert all(s.attack == "none" and s.taxonomy for s in samples)
    attacks = list(load_seval(d / f"S-Eval_attack_{lang}_small.jsonl.zip"))
    assert len(attacks) == 10000 and {s.attack for s in attacks} == set(ATTACK_CATEGORIES)


def seval_run(srv: ScriptedOpenAIServer, tmp: Path, data: Path, rid: str, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        *run_args(
            "seval", data, tmp, "--concurrency", "16", *extra,
            model="openai-compatible/s", srv=srv, run_id=rid,
        )
    )  # fmt: skip


def test_attack_file_run_reports_every_attack_and_risk_dimension(
    shared_data: Path, tmp_path: Path
) -> None:
    data = shared_data / "s_eval" / "S-Eval_attack_en_small.jsonl.zip"
    with ScriptedOpenAIServer(hash_responder) as srv:
        r = seval_run(srv, tmp_path, data, "a", "--limit", "240")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    sc = s["scores"]
    assert s["n_total"] == 240 and s["n_done"] == 240
    assert set(sc["by_attack"]) == set(ATTACK_CATEGORIES)
    assert set(sc["by_category"]) == RISKS and len(sc["by_dimension"]) == 8
    for a in ATTACK_CATEGORIES:
        assert sc["attack_success_rate"][a] == pytest.approx(100 - sc["by_attack"][a])
        lo, hi = sc["ci95"]["by_attack"][a]
        assert lo <= sc["by_attack"][a] <= hi


def test_attacks_apply_on_the_fly_to_base_prompts(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "s_eval" / "S-Eval_base_risk_zh_small.jsonl.zip"
    with ScriptedOpenAIServer(hash_responder) as srv:
        r = seval_run(
            srv,
            tmp_path,
            data,
            "b",
            "--limit",
            "16",
            "--attack",
            "none",
            "--attack",
            "instruction_encryption",
            "--attack",
            "deepinception",
        )
        sent = [b["messages"][-1]["content"] for b in srv.bodies]
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["n_total"] == 48
    assert set(s["scores"]["by_attack"]) == {"none", "instruction_encryption", "deepinception"}
    assert sum("凯撒" in t or "编码" in t or "倒序" in t or "十六进制" in t for t in sent) == 16
    assert sum("第0层" in t for t in sent) == 16


def test_safeval_attack_command_is_reproducible(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "s_eval" / "S-Eval_base_risk_en_small.jsonl.zip"
    outs = []
    for i in range(2):
        out = tmp_path / f"att{i}.jsonl"
        r = run_cli(
            "attack", *ATTACK_CATEGORIES, "--in", str(src), "--out", str(out), "--seed", "7"
        )
        assert r.returncode == 0, r.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    rows = [json.loads(x) for x in outs[0].splitlines()]
    assert len(rows) == 10000
    assert {json.loads(r["ext"])["category"] for r in rows} == set(ATTACK_CATEGORIES)
    assert len(list(load_seval(tmp_path / "att0.jsonl"))) == 10000  # loads back as S-Eval


def _zip(tmp: Path, lines: list[str], name: str = "S-Eval_x_en.jsonl") -> Path:
    p = tmp / (name + ".zip")
    with zipfile.ZipFile(p, "w") as z:
        z.writestr(name, "\n".join(lines) + "\n")
    return p


GOOD = json.dumps(
    {
        "traceid": "t1",
        "risk_type": "Extremism",
        "prompt": "p",
        "ext": json.dumps({"model": "base_risk"}),
    }
)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [GOOD, json.dumps({"traceid": "t2", "risk_type": "Extremisms", "prompt": "p"})],
            ":2: field 'risk_type': unknown risk type 'Extremisms'",
        ),
        (
            [
                GOOD,
                json.dumps(
                    {"traceid": "t2", "risk_type": "Extremism", "prompt": "p", "ext": "{bad"}
                ),
            ],
            ":2: field 'ext': not a JSON string",
        ),
        (
            [
                json.dumps(
                    {
                        "traceid": "t2",
                        "risk_type": "Extremism",
                        "prompt": "p",
                        "ext": json.dumps({"model": "attack", "category": "telepathy"}),
                    }
                )
            ],
            ":1: field 'ext.category': unknown attack category 'telepathy'",
        ),
        ([GOOD, GOOD], ":2: field 'traceid': duplicate id 't1'"),
        (
            [
                json.dumps(
                    {"traceid": "t3", "risk_type": "Extremism", "prompt": 5.5j if False else None}
                )
            ],
            ":1: field 'prompt': missing",
        ),
    ],
)
def test_bad_seval_files(tmp_path: Path, lines: list[str], message: str) -> None:
    f = _zip(tmp_path, lines)
    r = run_cli(*run_args("seval", f, tmp_path / "runs"))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    f = tmp_path / "S-Eval_fake.jsonl.zip"
    f.write_bytes(b"PK\x03\x04 this is not really a zip")
    r = run_cli(*run_args("seval", f, tmp_path / "runs"))
    assert r.returncode == 2 and "not a valid zip file" in r.stderr
