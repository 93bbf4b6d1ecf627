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
