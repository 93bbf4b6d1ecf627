"""Helpers shared by attack templates: language of a prompt, encodings."""

from __future__ import annotations

import base64
import re
import urllib.parse

from safeval.types import Sample

_CJK = re.compile(r"[\u4e00-\u9fff]")


def lang_of(sample: Sample, prompt: str) -> str:
    """'zh' or 'en': the sample's language, else whether the prompt is mostly Chinese."""
    if sample.lang in ("en", "zh"):
        return sample.lang
    cjk = len(_CJK.findall(prompt))
    return "zh" if cjk * 3 >= max(1, len(prompt.strip())) else "en"


def caesar(text: str, shift: int) -> str:
    """Shift Latin letters by `shift`; other characters stay."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - 97 + shift) % 26 + 97))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - 65 + shift) % 26 + 65))
        else:
            out.append(ch)
    return "".join(out)


ENCODINGS = {
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
    "url": lambda t: urllib.parse.quote(t),
    "caesar": lambda t: caesar(t, 3),
    "reverse": lambda t: t[::-1],
    "hex": lambda t: t.encode().hex(),
}
