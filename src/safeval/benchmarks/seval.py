"""S-Eval: open-ended base risk prompts and attack prompts over an 8-dimension risk taxonomy.

Reads the released files as they are (`.jsonl` or `.jsonl.zip`; fields traceid, risk_type,
prompt, and ext, a JSON string). `--limit N` takes an even spread over attacks and risk types
(round robin in file order), since the released files are sorted by attack.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safeval import registry
from safeval.benchmarks.base import Benchmark, limited
from safeval.benchmarks.jsonl import (
    IdChecker,
    decode_utf8,
    field_str,
    not_a_file,
    read_jsonl,
    read_utf8,
)
from safeval.errors import ConfigError, DataError
from safeval.taxonomy import load_taxonomy
from safeval.types import Sample

ATTACK_CATEGORIES = (
    "positive_induction",
    "reverse_induction",
    "code_injection",
    "instruction_jailbreak",
    "goal_hijacking",
    "instruction_encryption",
    "deepinception",
    "in_context_attack",
    "chain_of_utterances",
    "compositional_instructions",
)


def read_text(path: Path) -> str:
    """The JSONL text of a `.jsonl` file or of the one `.jsonl` inside a `.zip`."""
    if path.suffix != ".zip":
        return read_utf8(path, "JSON Lines")
    if not path.is_file():
        raise not_a_file(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = [
                n for n in z.namelist() if n.endswith(".jsonl") and not n.startswith("__MACOSX")
            ]
            if len(names) != 1:
                raise DataError(path, f"expected one .jsonl inside the zip, found {len(names)}")
            raw = z.read(names[0])
    except zipfile.BadZipFile:
        raise DataError(path, "not a valid zip file") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted, or an unknown compression
        raise DataError(path, f"cannot read the zip ({e})") from None
    return decode_utf8(path, raw, "JSON Lines")


def load_seval(path: Path, lang: str | None = None) -> Iterator[Sample]:
    """Samples from an S-Eval file, validated field by field."""
    tax = load_taxonomy("seval")
    dims = {n.key: n for n in tax.roots}
    ids = IdChecker(path)
    for n, obj in read_jsonl(path, read_text(path)):
        tid = field_str(path, n, obj, "traceid")
        assert tid is not None
        ids.check(tid, n, field="traceid")
        risk = field_str(path, n, obj, "risk_type")
        if risk not in dims:
            raise DataError(
                path,
                f"unknown risk type '{risk}' (known: {', '.join(dims)})",
                line=n,
                field="risk_type",
            )
        prompt = field_str(path, n, obj, "prompt")
        ext_raw = obj.get("ext", "{}")
        try:
            ext = json.loads(ext_raw) if isinstance(ext_raw, str) else ext_raw
        except (ValueError, RecursionError):  # bad JSON, or nested too deeply to read
            raise DataError(path, "not a JSON string", line=n, field="ext") from None
        if not isinstance(ext, dict):
            raise DataError(path, "expected a JSON object", line=n, field="ext")
        attack = "none"
        if ext.get("model") == "attack":
            attack = ext.get("category", "")
            if (
                not isinstance(attack, str)
                or attack not in ATTACK_CATEGORIES
                and attack not in registry.attacks
            ):
                raise DataError(
                    path, f"unknown attack category '{attack}'", line=n, field="ext.category"
                )
        elif ext.get("model", "base_risk") not in ("base_risk", "generated"):
            raise DataError(
                path, f"unknown ext.model '{ext.get('model')}'", line=n, field="ext.model"
            )
        dim = dims[risk]  # type: ignore[index]
        path_ = ext.get("taxonomy")  # generated prompts name their node
        taxonomy = [str(x) for x in path_] if isinstance(path_, list) and path_ else list(dim.path)
        yield Sample(
            id=tid,
            input=prompt or "",
            category=risk or "",
            taxonomy=taxonomy,
            harmful=True,
            lang=lang,
            attack=attack,
            metadata={k: v for k, v in ext.items() if k in ("from_traceid", "model", "generator")},
        )


class SEvalBenchmark(Benchmark):
    """S-Eval base risk and attack prompts (`--data S-Eval_*.jsonl[.zip]`), any size, en/zh.
    Apply more attacks on the fly with `--attack NAME`."""

    name = "seval"
    description = "S-Eval open-ended risk prompts, 8 risk dimensions, 10 instruction attacks"
    default_judge = "embedded"
    # The rules judge reads an answer's opening; 128 tokens keep CPU runs affordable.
    default_max_tokens = 128
    # attack_templates=PATH: a released S-Eval attack file the attacks mine (see attacks/seval).
    known_args = frozenset({"attack_templates"})

    def lang(self) -> str | None:
        if self.options.lang:
            return self.options.lang
        if self.options.data is None:
            return None
        m = re.search(r"_(en|zh)[_.]", self.options.data.name)
        return m.group(1) if m else None

    def samples(self) -> Iterator[Sample]:
        if self.options.data is None:
            raise ConfigError(
                "seval needs --data: an S-Eval file such as "
                "../shared/data/s_eval/S-Eval_base_risk_en_small.jsonl.zip"
            )
        items = load_seval(self.options.data, self.lang())
        if self.options.args.get("attack_templates"):
            path = str(Path(str(self.options.args["attack_templates"])).resolve())
            items = self._with_attack_templates(items, path)
        return limited(items, self.options.limit)

    def _with_attack_templates(self, items: Iterator[Sample], path: str) -> Iterator[Sample]:
        """`-B attack_templates=PATH`: the S-Eval attacks mine that released attack file (checked
        here, before anything runs); the samples carry its path for them."""
        from safeval.attacks.seval import TEMPLATES_KEY
        from safeval.attacks.seval.common import mined

        mined(path)
        for s in items:
            yield s.model_copy(update={"metadata": {**s.metadata, TEMPLATES_KEY: path}})

    def aggregate(self, rows: Any) -> dict[str, Any]:
        scores = super().aggregate(rows)
        tax = load_taxonomy("seval")
        scores["by_dimension"] = {
            tax.get(k).code: v for k, v in scores["by_category"].items() if k in tax
        }
        return scores
