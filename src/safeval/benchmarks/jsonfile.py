"""Reading whole-JSON data files with errors that name the file and the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safeval.errors import DataError


def read_json(path: Path) -> Any:
    """The parsed file; a DataError naming file, line and column on bad JSON or encoding."""
    if not path.is_file():
        raise DataError(path, "file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(path, "empty file")
    if b"\x00" in raw[:8192]:
        raise DataError(path, "binary file, expected UTF-8 JSON")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = raw[: e.start].count(b"\n") + 1
        raise DataError(path, "not valid UTF-8 text", line=at) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            path, f"invalid JSON ({e.msg} at column {e.colno})", line=e.lineno
        ) from None
