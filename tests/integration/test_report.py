"""`safeval report` and `safeval compare` on real runs made over loopback, the HTML page opened
in a real headless Chromium, hostile model answers included."""

from __future__ import annotations

import csv
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from safeval.models.scripted import COMPLIANCE, REFUSAL
from safeval.testing import ScriptedOpenAIServer
from tests.conftest import run_cli

PAYLOAD = (
    "<script>document.title='PWNED'</script>"
    "<img src=x onerror=\"document.title='PWNED-IMG'\"> and {{ 7*7 }}"
)
CATEGORIES = ["violence", "fraud", "<b>privacy</b>", "cyber $crime$"]


def hostile_prompts(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            row = {"id": f"p{i}", "prompt": f"request {i} <i>x</i>", "category": CATEGORIES[i % 4]}
            fh.write(json.dumps(row) + "\n")
    return path


def make_run(runs: Path, run_id: str, data: Path, answer: str) -> Path:
    with ScriptedOpenAIServer(lambda body: answer) as srv:
        r = run_cli(
            "run", "demo", "--model", f"openai-compatible/{run_id}", "--base-url", srv.base_url,
            "--data", str(data), "--runs-dir", str(runs), "--run-id", run_id, "--no-progress",
            "-a", "none", "-a", "prefix_injection",
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return runs / run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("report")
    data = hostile_prompts(tmp / "p.jsonl", 24)
    return {
        "safe": make_run(tmp / "runs", "safe", data, REFUSAL),
        "unsafe": make_run(tmp / "runs", "unsafe", data, f"{COMPLIANCE} {PAYLOAD}"),
        "tmp": tmp,
    }


def test_report_writes_escaped_self_contained_html_csv_and_json(runs: dict[str, Path]) -> None:
    out = runs["tmp"] / "out"
    r = run_cli(
        "report", str(runs["safe"]), str(runs["unsafe"]),
        "--html", str(out / "r.html"), "--csv", str(out / "r.csv"), "--json", str(out / "r.json"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    html = (out / "r.html").read_text()
    # Nothing runs and nothing is fetched: no script element, every image inline.
    assert "<script" not in html.lower() and "<img src=x" not in html
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in html
    assert "&lt;b&gt;privacy&lt;/b&gt;" in html and "<b>privacy</b>" not in html
    assert "{{ 7*7 }}" in html  # model text is data, not template
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) >= 4 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    assert "default-src 'none'" in html
    for section in ("Leaderboard", "By category", "Attack × category", "Worst answers"):
        assert section in html
    # CSV: every run's overall, categories, attacks and cells, with the scores of summary.json.
    rows = list(csv.DictReader((out / "r.csv").open()))
    overall = {r["run_id"]: float(r["score"]) for r in rows if r["group"] == "overall"}
    assert overall == {"safe": 100.0, "unsafe": 0.0}
    cells = [r for r in rows if r["run_id"] == "unsafe" and r["group"] == "attack x category"]
    assert len(cells) == 2 * 4 and all(int(r["n"]) == 6 for r in cells)
    doc = json.loads((out / "r.json").read_text())
    assert [r["run_id"] for r in doc["leaderboard"]] == ["safe", "unsafe"]
    assert doc["worst"]["safe"] == [] and len(doc["worst"]["unsafe"]) == 10
    assert PAYLOAD in doc["worst"]["unsafe"][0]["response"]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_report_renders_in_headless_chromium_without_running_answers(
    runs: dict[str, Path],
) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (Debian: apt-get install chromium)")
    out = runs["tmp"] / "browser"
    page = out / "r.html"
    r = run_cli("report", str(runs["safe"]), str(runs["unsafe"]), "--html", str(page))
    assert r.returncode == 0, r.stderr
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any request would fail
        f"--user-data-dir={out / 'profile'}", "--virtual-time-budget=3000",
    ]  # fmt: skip
    shot = out / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file(), "chromium took no screenshot"
    assert png_size(shot) == (1280, 2400)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "<title>safeval report" in dom and "PWNED" not in dom.split("</title>")[0]
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom  # shown as text
    assert '<img src="x"' not in dom


def test_compare_finds_the_regression_and_gates_on_it(runs: dict[str, Path]) -> None:
    out = runs["tmp"] / "cmp.json"
    worse = run_cli(
        "compare", str(runs["safe"]), str(runs["unsafe"]), "--fail-if-worse", "5",
        "--json", str(out),
    )  # fmt: skip
    assert worse.returncode == 1, worse.stderr
    assert "regression" in worse.stderr and "overall -100.0" in worse.stderr
    doc = json.loads(out.read_text())
    assert doc["shared"] == 48 and doc["overall"]["only_a_safe"] == 48
    assert doc["overall"]["p_value"] < 1e-10
    assert {c["name"] for c in doc["categories"]} == set(CATEGORIES)
    better = run_cli("compare", str(runs["unsafe"]), str(runs["safe"]), "--fail-if-worse", "5")
    assert better.returncode == 0, better.stderr
    same = run_cli("compare", str(runs["safe"]), str(runs["safe"]), "--fail-if-worse", "0")
    assert same.returncode == 0 and "+0.0" in same.stdout
    # A gate that could never fail is refused, not passed: NaN compares false with everything.
    for gate in (["nan"], ["inf"], ["-5"], ["2", "--alpha", "nan"], ["2", "--alpha", "-1"],
                 ["2", "--alpha", "2"]):  # fmt: skip
        r = run_cli("compare", str(runs["safe"]), str(runs["unsafe"]), "--fail-if-worse", *gate)
        assert r.returncode == 2 and "must be" in r.stderr and "Traceback" not in r.stderr, gate


def test_report_and_compare_refuse_what_is_not_a_finished_run(tmp_path: Path) -> None:
    r = run_cli("report", str(tmp_path), "--html", str(tmp_path / "r.html"))
    assert r.returncode == 2 and "is not a safeval run" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "r.html").exists()
    (tmp_path / "run.sqlite").write_bytes(b"")
    r = run_cli("compare", str(tmp_path), str(tmp_path))
    assert (
        r.returncode == 2 and "not a safeval run store" in r.stderr and "Traceback" not in r.stderr
    )
