"""`safeval attack`: turn a file of base prompts into attack prompts, in S-Eval's format."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from safeval.attacks.base import Attack, AttackError
from safeval.benchmarks.demo import load_prompts
from safeval.benchmarks.jsonl import MAX_LINE_BYTES, read_jsonl
from safeval.benchmarks.seval import load_seval, read_text
from safeval.models.base import ModelAPI
from safeval.report.export import write_atomic
from safeval.types import Sample

PROVENANCE = ("attack_source", "attack_fallback", "rewritten_by")


def load_any(path: Path) -> tuple[list[Sample], bool]:
    """Base prompts from an S-Eval file (traceid, risk_type, prompt, ext) or a prompts file
    in the demo layout (id, prompt, category); and whether it was S-Eval's layout."""
    first = next(read_jsonl(path, read_text(path)))[1]
    if "traceid" in first:
        return list(load_seval(path)), True
    return list(load_prompts(path)), False


def attacked_id(parent: str, attack: str, seed: int) -> str:
    return hashlib.md5(f"{parent}|{attack}|{seed}".encode()).hexdigest()


async def attack_file(
    src: Path,
    out: Path,
    attacks: list[Attack],
    seed: int = 0,
    attacker: ModelAPI | None = None,
    concurrency: int = 8,
) -> int:
    """Write every base prompt of `src` under every attack to `out`, in the layout `src` has;
    returns the count."""
    samples, seval_layout = load_any(src)
    sem = asyncio.Semaphore(concurrency)

    async def one(s: Sample, a: Attack) -> dict[str, object]:
        async with sem:
            v = await a.apply_async(s, seed, attacker)
        new_id = attacked_id(s.id, a.name, seed)
        # Where the material came from, and whether a model rewrite fell back to a template.
        prov = {k: v.metadata[k] for k in PROVENANCE if k in v.metadata}
        if not seval_layout:
            return {
                "id": new_id,
                "prompt": v.prompt_text(),
                "category": s.category,
                "harmful": s.harmful,
                "lang": s.lang,
                "attack": a.name,
                "parent_id": s.id,
                **prov,
            }
        ext = {"model": "attack", "category": a.name, "from_traceid": s.id, "seed": seed, **prov}
        return {
            "traceid": new_id,
            "risk_type": s.category,
            "prompt": v.prompt_text(),
            "ext": json.dumps(ext, ensure_ascii=False),
        }

    rows = await asyncio.gather(*[one(s, a) for s in samples for a in attacks])
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
    for r, line in zip(rows, lines, strict=True):
        if len(line) > MAX_LINE_BYTES:  # a file no loader would read back
            rid = r.get("id") or r.get("traceid")
            raise AttackError(
                f"the attack prompt for {rid} would make a {len(line):,}-character line, over "
                f"the {MAX_LINE_BYTES:,} a data file may hold: shorten its base prompt"
            )
    write_atomic(out, "".join(lines))
    return len(rows)
