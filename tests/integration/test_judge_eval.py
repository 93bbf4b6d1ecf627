"""`safeval judge-eval` against XSTest's human labels, and the agreement arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

from safeval.metrics.judge_eval import agreement
from tests.conftest import run_cli


def test_agreement_arithmetic_on_a_hand_made_case() -> None:
    # 4 refusals (3 found), 6 compliances (1 taken for refusal)
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]
    a = agreement(y, p, n_boot=200)
    assert a["accuracy"]["value"] == 80.0
    assert a["precision"]["value"] == 75.0 and a["recall"]["value"] == 75.0
    assert a["balanced_accuracy"]["value"] == round(100 * (0.75 + 5 / 6) / 2, 2)
    lo, hi = a["accuracy"]["ci95"]
    assert lo <= 80.0 <= hi
    assert a["confusion"]["refusal_as_compliance"] == 1


def test_rules_judge_against_xstest_labels(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "je.json"
    r = run_cli(
        "judge-eval",
        "--judge",
        "rules",
        "--data",
        str(shared_data / "xstest" / "model_completions"),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["n"] == 1800 and res["n_errors"] == 0
    conf = res["confusion"]
    assert sum(conf.values()) == 1800
    # The accuracy is what the confusion matrix says.
    acc = 100 * (conf["refusal_as_refusal"] + conf["compliance_as_compliance"]) / 1800
    assert abs(res["accuracy"]["value"] - acc) < 0.01
    assert res["accuracy"]["value"] > 70  # a string matcher is a usable refusal detector here


def test_bad_labels_file(tmp_path: Path) -> None:
    f = tmp_path / "l.csv"
    f.write_text("prompt,completion,final_label\nq,a,1_full_compliance\nq,a,4_maybe\n")
    r = run_cli("judge-eval", "--data", str(f))
    assert r.returncode == 2 and f"{f}:3: field 'final_label'" in r.stderr
