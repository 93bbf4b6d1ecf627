"""Bad input and bad options: one clear line naming file, line and field; exit 2; no traceback;
no run left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

GOOD = '{"id": "a", "prompt": "hello"}\n'
CASES = {
    "invalid_json": (GOOD + '{"id": "b", "prompt": }\n', ":2:", "invalid JSON"),
    "missing_prompt": (GOOD + '{"id": "b"}\n', ":2:", "field 'prompt'"),
    "mistyped_prompt": (GOOD + '{"id": "b", "prompt": ["x"]}\n', ":2:", "field 'prompt'"),
    "mistyped_harmful": (
        '{"id": "b", "prompt": "x", "harmful": "yes"}\n',
        ":1:",
        "field 'harmful'",
    ),
    "missing_id": ('{"prompt": "x"}\n', ":1:", "field 'id'"),
    "duplicate_id": (GOOD + GOOD, ":2:", "duplicate id 'a'"),
    "empty": ("", "", "empty file"),
    "not_object": ('["a"]\n', ":1:", "expected a JSON object"),
    "huge_line": (
        GOOD + '{"id": "b", "prompt": "' + "x" * 1_200_000 + '"}\n',
        ":2:",
        "line longer than",
    ),
    "unknown_attack": (
        '{"id": "b", "prompt": "x", "attack": "telepathy"}\n',
        ":1:",
        "field 'attack': unknown attack 'telepathy'",
    ),
    "mistyped_followups": (
        '{"id": "b", "prompt": "x", "followups": "more"}\n',
        ":1:",
        "field 'followups'",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_data_file_gives_clear_error_and_no_run(tmp_path: Path, name: str) -> None:
    content, where, what = CASES[name]
    f = tmp_path / f"{name}.jsonl"
    f.write_text(content)
    runs = tmp_path / "runs"
    r = run_cli(
        "run",
        "demo",
        "--model",
        "scripted/refuse",
        "--data",
        str(f),
        "--runs-dir",
        str(runs),
        "--no-progress",
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{f}{where}" in r.stderr and what in r.stderr, r.stderr
    assert not runs.exists() or not any(runs.iterdir())


def test_binary_and_wrong_encoding_files(tmp_path: Path) -> None:
    for name, blob, what in (
        ("bin.jsonl", b"\x00\x01\x02PK", "binary"),
        ("gbk.jsonl", '{"id": "a", "prompt": "你好"}\n'.encode("gbk"), "UTF-8"),
    ):
        f = tmp_path / name
        f.write_bytes(blob)
        r = run_cli(
            "run",
            "demo",
            "--model",
            "scripted/refuse",
            "--data",
            str(f),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--no-progress",
        )
        assert r.returncode == 2 and what in r.stderr and str(f) in r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "demox"], "did you mean 'demo'"),
        (["run", "demo", "--model", "nope"], "provider/name"),
        (["run", "demo", "--model", "scriptd/refuse"], "did you mean 'scripted'"),
        (["run", "demo", "--judge", "rulez"], "did you mean 'rules'"),
        (["run", "demo", "--attack", "nonee"], "did you mean 'none'"),
        (["run", "demo", "--lang", "fr"], "--lang must be en or zh"),
        (
            ["run", "demo", "--data", "/nonexistent/x.jsonl", "--model", "scripted/refuse"],
            "/nonexistent/x.jsonl: file not found",
        ),
        (["run", "demo", "--model", "local/gpt5"], "unknown local model"),
    ],
)
def test_bad_options_give_clear_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    r = run_cli(*argv, "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()


def test_list_names_every_plugin_kind() -> None:
    r = run_cli("list")
    assert r.returncode == 0
    for word in (
        "benchmarks",
        "demo",
        "attacks",
        "none",
        "judges",
        "rules",
        "openai-compatible",
        "hf",
        "local",
        "scripted",
    ):
        assert word in r.stdout
