"""Reading JSON Lines with errors that name the file, line and field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safeval.errors import DataError

MAX_LINE_BYTES = 1_000_000


def decode_utf8(path: Path, raw: bytes, what: str) -> str:
    """Bytes to text, or a DataError for binary content or a wrong encoding (with its line)."""
    if b"\x00" in raw[:8192]:
        raise DataError(path, f"binary file, expected UTF-8 {what}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = raw[: e.start].count(b"\n") + 1
        raise DataError(path, "not valid UTF-8 text", line=at) from None


def read_utf8(path: Path, what: str) -> str:
    """A data file's text; DataError when missing, binary or not UTF-8."""
    if not path.is_file():
        raise DataError(path, "file not found")
    return decode_utf8(path, path.read_bytes(), what)


def read_jsonl(path: Path, text: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `text` is the content when it was read
    elsewhere (e.g. from a zip)."""
    if text is None:
        text = read_utf8(path, "JSON Lines")
    seen_any = False
    for n, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        if len(content) > MAX_LINE_BYTES:
            raise DataError(path, f"line longer than {MAX_LINE_BYTES} characters", line=n)
        try:
            obj = json.loads(content)
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON ({e.msg} at column {e.colno})", line=n) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=n)
        seen_any = True
        yield n, obj
    if not seen_any:
        raise DataError(path, "no records (empty file)")


def field_str(
    path: Path,
    line: int,
    obj: dict[str, Any],
    name: str,
    *,
    required: bool = True,
    default: str | None = None,
) -> str | None:
    """A string field, or a DataError naming it."""
    if name not in obj or obj[name] is None:
        if required:
            raise DataError(path, "missing", line=line, field=name)
        return default
    value = obj[name]
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(path, f"expected text, got {type(value).__name__}", line=line, field=name)
    if required and not value.strip():
        raise DataError(path, "empty", line=line, field=name)
    return value


class IdChecker:
    """Rejects a second record with an id already seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, int] = {}

    def check(self, sid: str, line: int, field: str = "id") -> None:
        if sid in self.seen:
            raise DataError(
                self.path,
                f"duplicate id '{sid}' (first on line {self.seen[sid]})",
                line=line,
                field=field,
            )
        self.seen[sid] = line
