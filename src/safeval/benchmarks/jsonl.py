"""Reading JSON Lines with errors that name the file, line and field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safeval.errors import DataError
from safeval.types.generation import LONE_SURROGATE

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


def not_a_file(path: Path) -> DataError:
    """The error for a data path that is not a readable regular file, saying what it is."""
    if path.is_dir():
        return DataError(path, "is a folder: give the data file itself")
    if path.exists():
        return DataError(path, "not a regular file (a device, a pipe or a socket)")
    return DataError(path, "file not found")


def read_utf8(path: Path, what: str) -> str:
    """A data file's text; DataError when missing, binary or not UTF-8."""
    if not path.is_file():
        raise not_a_file(path)
    return decode_utf8(path, path.read_bytes(), what)


def lone_surrogate_at(value: Any, where: str = "") -> str | None:
    """The field path (e.g. `prompt`, `turns[2]`) of the first string in `value` holding a lone
    UTF-16 surrogate (`"\\ud800"` in JSON): such text cannot be encoded to send or store."""
    if isinstance(value, str):
        return where if LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{where}.{k}" if where else str(k)
            if LONE_SURROGATE.search(str(k)):
                return sub
            found = lone_surrogate_at(v, sub)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = lone_surrogate_at(v, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def loads_checked(path: Path, text: str, line: int | None = None) -> Any:
    """`json.loads` with every failure a DataError: bad JSON, nesting too deep to read, or a
    lone surrogate (named by its field)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        at = line if line is not None else e.lineno
        raise DataError(path, f"invalid JSON ({e.msg} at column {e.colno})", line=at) from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to read", line=line) from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise DataError(path, f"invalid JSON ({e})", line=line) from None
    # Only text with a \uD800-\uDFFF escape can decode to a lone surrogate: skip the walk
    # otherwise (the raw text came from UTF-8, which cannot hold one).
    if _SURROGATE_ESCAPE.search(text):
        try:
            bad = lone_surrogate_at(obj)
        except RecursionError:
            raise DataError(path, "JSON nested too deeply to read", line=line) from None
        if bad is not None:
            where = line if line is not None else _escape_line(text)
            raise DataError(
                path,
                "text holds a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape), "
                "which is not valid Unicode: fix or drop it",
                line=where,
                field=bad or None,
            )
    return obj


def _escape_line(text: str) -> int | None:
    m = _LONE_ESCAPE.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def read_jsonl(path: Path, text: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `text` is the content when it was read
    elsewhere (e.g. from a zip). Lines end at `\\n` only (JSON text may hold U+2028 and other
    characters `str.splitlines` would break at)."""
    if text is None:
        text = read_utf8(path, "JSON Lines")
    seen_any = False
    for n, content in enumerate(text.split("\n"), start=1):
        if not content.strip():
            continue
        if len(content) > MAX_LINE_BYTES:
            raise DataError(path, f"line longer than {MAX_LINE_BYTES} characters", line=n)
        obj = loads_checked(path, content, n)
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
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity: not JSON
        raise DataError(path, f"expected text, got {value}", line=line, field=name)
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
