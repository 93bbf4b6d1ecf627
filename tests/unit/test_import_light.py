"""`import safeval` (and the CLI and runner) must not import torch or transformers."""

import subprocess
import sys


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, safeval, safeval.cli, safeval.runner.run, safeval.models.hf_local;"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_run_sends_its_first_requests_before_loading_numpy_or_rich() -> None:
    """What a run imports before its first request (CLI, runner, S-Eval, the endpoint client,
    the default judge's class) leaves numpy (the judge's weights) and rich (bars, tables) to
    load while the requests are in flight."""
    code = (
        "import sys, safeval.cli, safeval.runner.run, safeval.benchmarks.seval,"
        " safeval.models.openai_compat, safeval.judges.embedded.judge;"
        "from safeval.judges.base import get_judge; get_judge('embedded');"
        "bad = [m for m in ('numpy', 'rich') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
