"""Issue 15, bad input: every user mistake, damaged file and bad output path is one clear line
and exit 2, with no traceback and nothing written; secrets never reach a file; CSV cells are
never spreadsheet formulas. Runs the real entry point (`safeval.cli.main`) in-process."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from safeval.cli import main
from safeval.testing import ScriptedOpenAIServer
from tests.conftest import ROOT, hash_responder, run_args, write_prompts


def _too_long(signum: int, frame: object) -> None:
    raise TimeoutError("safeval did not finish within 60 s (a hang)")


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `safeval ARGV`, failing after 60 s instead of hanging."""
    old = signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(60)
    try:
        with pytest.raises(SystemExit) as e:
            main(list(argv))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    out, err = capsys.readouterr()
    code = e.value.code if isinstance(e.value.code, int) else 1
    return code, out, err


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    for n in needles:
        assert n in err, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "demo", "--limt", "5"], "No such option: --limt"),
        (["run", "demo", "--limit", "abc"], "--limit"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["run"], "Missing argument"),
    ],
)
def test_usage_errors_print_usage_not_a_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = cli(capsys, *argv)
    assert_clean_error(code, err, needle, "Usage: safeval")


def test_dash_h_is_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "-h")
    assert code == 0 and "--run-id" in out and "Traceback" not in err


BAD_OPTIONS = {
    "dtype": (["--model", "hf/x", "-M", "dtype=float17"], "dtype must be one of"),
    # Checked when the model is made: these failed every item after the run folder was made
    # (or never, when the cache answered every call).
    "device": (["--model", "local/smollm2", "-M", "device=banana"], "device must be cpu, cuda"),
    "threads": (["--model", "local/smollm2", "-M", "threads=0"], "threads must be at least 1"),
    "batch_size": (["--model", "hf/x", "-M", "batch_size=0"], "batch_size must be at least 1"),
    "onednn": (["--model", "hf/x", "-M", "onednn=maybe"], "option 'onednn' must be bool"),
    "hf_not_a_model": (["--model", "hf//proc"], "/proc is not a model folder (no config.json)"),
    "timeout": (
        ["--model", "openai-compatible/x", "-M", "timeout=abc"],
        "option 'timeout' must be float",
    ),
    "judge_option": (["-J", "foo=1"], "judge 'embedded': unknown option 'foo'"),
    "judge_model_option": (
        ["--judge", "critic", "-J", "model=scripted/refuse", "-J", "tmeout=3"],
        "unknown option 'tmeout'",
    ),
    "limit": (["--limit", "-5"], "--limit must be at least 1"),
    "max_tokens": (["--max-tokens", "-5"], "--max-tokens must be between"),
    "temperature": (["--temperature", "nan"], "--temperature must be"),
    "concurrency": (["--concurrency", "100000000"], "--concurrency must be between 1 and 1024"),
    "run_id_up": (["--run-id", "../../x"], "--run-id '../../x' is not allowed"),
    "run_id_abs": (["--run-id", "/tmp/x"], "is not allowed"),
    "run_id_nested": (["--run-id", "a/b/c"], "is not allowed"),
    "run_id_dot": (["--run-id", "."], "is not allowed"),
    "run_id_dotdot": (["--run-id", ".."], "is not allowed"),
    "run_id_long": (["--run-id", "x" * 300], "is not allowed"),
    "run_id_empty": (["--run-id", ""], "is not allowed"),  # was taken as no id: a new run
    "bench_arg_no_value": (["-B", "novalue"], "option 'novalue' is not key=value"),
    # The cascade hands options it does not take to its escalation judge: say so, not only that
    # "judge 'critic'" refused one.
    "cascade_unknown": (
        ["--judge", "cascade", "-J", "bogus=1"],
        "judge 'cascade' passes the options it does not take on to judge 'critic': unknown option",
    ),
    "lang_filters_all": (["--lang", "zh"], "nothing to run"),
    "api_key_twice": (["--api-key", "k", "--api-key-file", "nofile"], "not both"),
    # Checked before any call, not after the run that a typo here would have paid for.
    "max_errors": (["--max-errors", "abc"], "--max-errors must be a count"),
    "max_errors_share": (["--max-errors", "200%"], "--max-errors must be a count"),
    # 0 or less turned the timeout off, and a silent endpoint hung the run.
    "timeout_zero": (
        [
            "--model",
            "openai-compatible/m",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "-M",
            "timeout=0",
        ],
        "timeout must be a number of seconds > 0",
    ),
    "timeout_negative": (
        [
            "--model",
            "openai-compatible/m",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "-M",
            "timeout=-1",
        ],
        "timeout must be a number of seconds > 0",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_OPTIONS))
def test_bad_options_are_one_line_and_write_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    extra, needle = BAD_OPTIONS[name]
    data = tmp_path / "p.jsonl"
    data.write_text("".join(f'{{"id": "a{i}", "prompt": "p", "lang": "en"}}\n' for i in range(3)))
    runs = tmp_path / "runs"
    argv = run_args("demo", data, runs)
    if "--model" in extra:  # replace the default model
        i = argv.index("--model")
        del argv[i : i + 2]
    code, _, err = cli(capsys, *argv, *extra)
    assert_clean_error(code, err, needle)
    assert len(err.strip().splitlines()) <= 2, err  # the error (and the --api-key warning)
    assert not runs.exists() or not any(runs.iterdir())
    assert not (tmp_path / "x").exists()


def test_runs_dir_that_is_a_file_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 3)
    (tmp_path / "runs").write_text("not a folder")
    code, _, err = cli(capsys, *run_args("demo", data, tmp_path / "runs"))
    assert_clean_error(code, err, "is a file, not a folder")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\n\n  \n", "no records"),
        (b'{"id": "a", "prompt": "q5\\ud800"}\n', ":1: field 'prompt': text holds a lone"),
        (b'{"id": "a", "prompt": "ok", "x": {"y": ["\\udc00"]}}\n', "field 'x.y[0]'"),
        (b'{"id": "a", "prompt": ' + b"[" * 50000 + b"]" * 50000 + b"}\n", "nested too deeply"),
        (b'{"id": "a", "prompt": NaN}\n', ":1: field 'prompt': expected text, got nan"),
        (b'{"id": "a", "prompt": "p"}\n{"id": "b", "prompt": -Infinity}\n', ":2: field 'prompt'"),
    ],
)
def test_bad_data_is_rejected_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, needle: str
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_bytes(content)
    code, _, err = cli(capsys, *run_args("demo", data, tmp_path / "runs"))
    assert_clean_error(code, err, str(data), needle)
    assert not (tmp_path / "runs").exists()


def test_an_encrypted_zip_is_a_data_error_not_a_bug(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "S-Eval_base_risk_en_x.jsonl.zip"
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("p.jsonl", '{"traceid": "a", "risk_type": "x", "prompt": "p"}\n')
    raw = bytearray(data.read_bytes())
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        i = raw.index(sig)
        raw[i + at] |= 1
    data.write_bytes(bytes(raw))
    code, _, err = cli(capsys, *run_args("seval", data, tmp_path / "runs"))
    assert_clean_error(code, err, str(data), "cannot read the zip", "encrypted")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kind", ["folder", "device"])
def test_data_that_is_not_a_file_says_what_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    data = tmp_path if kind == "folder" else Path("/dev/null")
    for bench in ("demo", "seval", "safetybench"):
        code, _, err = cli(capsys, *run_args(bench, data, tmp_path / "runs"))
        assert_clean_error(code, err, "is a folder" if kind == "folder" else "not a regular file")
    assert not (tmp_path / "runs").exists()


def test_u2028_inside_a_json_string_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "d.jsonl"
    rows = [{"id": "a", "prompt": "one\u2028two\x85three\x1cfour"}, {"id": "b", "prompt": "x"}]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    code, _, err = cli(capsys, *run_args("demo", data, tmp_path / "runs", run_id="u"))
    assert code == 0, err
    with sqlite3.connect(tmp_path / "runs" / "u" / "run.sqlite") as c:
        assert c.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2


# -- damaged files -------------------------------------------------------------------------
@pytest.fixture
def finished_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    data = write_prompts(tmp_path / "p.jsonl", 12)
    code, _, err = cli(capsys, *run_args("demo", data, tmp_path / "runs", run_id="r"))
    assert code == 0, err
    return tmp_path / "runs" / "r"


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 2)])


DAMAGE = {
    "empty_run_store": ("run.sqlite", lambda p: p.write_bytes(b"")),
    "garbage_run_store": ("run.sqlite", lambda p: p.write_bytes(b"not sqlite " * 500)),
    "truncated_run_store": ("run.sqlite", _truncate),
    "garbage_summary": ("summary.json", lambda p: p.write_text('{"benchmark": ')),
    "foreign_summary": ("summary.json", lambda p: p.write_text("[1, 2]")),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damaged_files_are_named_and_no_stale_report_is_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, finished_run: Path, name: str
) -> None:
    fname, damage = DAMAGE[name]
    for suffix in ("-wal", "-shm"):
        (finished_run / f"run.sqlite{suffix}").unlink(missing_ok=True)
    damage(finished_run / fname)
    if fname == "summary.json":
        # Scores come from run.sqlite (the one source every view reads); the damaged
        # summary.json is named, with how to write it again.
        code, out, err = cli(capsys, "show", str(finished_run))
        assert code == 0 and "Traceback" not in err, err
        assert "summary.json" in out and "damaged" in out and "safeval judge" in out
        return
    code, _, err = cli(capsys, "report", str(finished_run), "--json", str(tmp_path / "s.json"))
    assert_clean_error(code, err, fname)
    assert not (tmp_path / "s.json").exists()


def test_a_damaged_cache_is_named_with_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, finished_run: Path
) -> None:
    cache = finished_run.parent / "cache.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{cache}{suffix}").unlink(missing_ok=True)
    cache.write_bytes(b"garbage " * 1000)
    data = write_prompts(tmp_path / "q.jsonl", 3)
    code, _, err = cli(capsys, *run_args("demo", data, finished_run.parent, run_id="s"))
    assert_clean_error(code, err, "cache.sqlite", "deleting it")
    assert not (finished_run.parent / "s").exists()  # checked before the run folder is made


def test_a_cache_that_is_a_folder_leaves_no_run_behind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    (runs / "cache.sqlite").mkdir(parents=True)
    data = write_prompts(tmp_path / "q.jsonl", 3)
    code, _, err = cli(capsys, *run_args("demo", data, runs, run_id="s"))
    assert_clean_error(code, err, "cache.sqlite")
    assert sorted(p.name for p in runs.iterdir()) == ["cache.sqlite"]


# -- read-only runs folder -----------------------------------------------------------------
def test_readers_work_on_a_read_only_runs_folder(
    capsys: pytest.CaptureFixture[str], finished_run: Path
) -> None:
    root = Path(tempfile.mkdtemp(prefix="safeval-ro-"))
    try:
        runs = root / "runs"
        shutil.copytree(finished_run.parent, runs)
        out = Path(tempfile.mkdtemp(prefix="safeval-out-"))
        os.chmod(out, 0o777)
        for p in [root, *runs.rglob("*")]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        os.chmod(runs, 0o555)
        prefix: list[str] = []
        if os.geteuid() == 0:  # root ignores permissions: read as nobody
            if not shutil.which("setpriv"):
                pytest.skip("running as root without setpriv: cannot test a read-only folder")
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        run = str(runs / "r")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        for argv in (
            ["show", run],
            ["report", run, "--json", str(out / "r.json")],
        ):
            r = subprocess.run(
                [*prefix, sys.executable, "-m", "safeval", *argv],
                capture_output=True,
                text=True,
                env=env,
                cwd=out,
                timeout=60,
            )
            assert r.returncode == 0, (argv, r.stderr)
        assert (out / "r.json").is_file()
    finally:
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o755)
        shutil.rmtree(root, ignore_errors=True)


# -- output paths --------------------------------------------------------------------------
def test_report_to_a_folder_is_a_clear_error_and_leaves_no_temp_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, finished_run: Path
) -> None:
    target = tmp_path / "somedir"
    target.mkdir()
    code, _, err = cli(capsys, "report", str(finished_run), "--html", str(target))
    assert_clean_error(code, err, "is a folder")
    assert list(tmp_path.glob(".*tmp*")) == [] and list(target.iterdir()) == []


def test_attack_out_to_a_folder_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 3)
    (tmp_path / "somedir").mkdir()
    code, _, err = cli(
        capsys, "attack", "prefix_injection", "--in", str(data), "--out", str(tmp_path / "somedir")
    )
    assert_clean_error(code, err, "is a folder")
    assert list(tmp_path.glob(".*tmp*")) == []


# -- secrets and CSV -----------------------------------------------------------------------
def test_a_password_in_the_base_url_is_sent_as_basic_auth_and_stored_nowhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = write_prompts(tmp_path / "p.jsonl", 6)
    runs = tmp_path / "runs"
    with ScriptedOpenAIServer(hash_responder) as srv:
        url = srv.base_url.replace("http://", "http://user:pa55w0rd-SECRET@")
        argv = run_args("demo", data, runs, model="openai-compatible/m", run_id="a")
        code, out, err = cli(capsys, *argv, "--base-url", url)
        assert code == 0, err
        assert srv.auth_headers and all(h and h.startswith("Basic ") for h in srv.auth_headers)
        key_file = tmp_path / "key.txt"
        key_file.write_text("sk-FILE-KEY-123\n")
        argv = run_args("demo", data, runs, model="openai-compatible/m2", run_id="b")
        code2, out2, err2 = cli(capsys, *argv, "--base-url", url, "--api-key-file", str(key_file))
        assert code2 == 0, err2
        assert srv.auth_headers[-1] == "Bearer sk-FILE-KEY-123"
        code3, _, err3 = cli(
            capsys, *run_args("demo", data, runs, run_id="c"), "--api-key", "sk-visible"
        )
        assert code3 == 0 and "warning: --api-key is visible" in err3
    blobs = [p.read_bytes() for p in runs.rglob("*") if p.is_file()]
    blobs += [(out + err + out2 + err2).encode()]
    assert not any(b"pa55w0rd-SECRET" in b or b"sk-FILE-KEY" in b for b in blobs)


def test_csv_cells_that_look_like_formulas_are_neutralised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "d.jsonl"
    cats = ['=HYPERLINK("http://x","y")', "+1+2", "-3", "@SUM(A1)", "\tx", "plain"]
    data.write_text(
        "".join(
            json.dumps({"id": f"a{i}", "prompt": f"p{i}", "category": c}) + "\n"
            for i, c in enumerate(cats)
        )
    )
    runs = tmp_path / "runs"
    code, _, err = cli(capsys, *run_args("demo", data, runs, run_id="r"))
    assert code == 0, err
    code, _, err = cli(capsys, "report", str(runs / "r"), "--csv", str(tmp_path / "s.csv"))
    assert code == 0, err
    with (tmp_path / "s.csv").open(newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert '\'=HYPERLINK("http://x","y")' in cells and "plain" in cells
