"""What every S-Eval attack shares: the material it draws from (shipped defaults, or mined from a
released S-Eval attack file), the seeded choice among it, and the attacker-model rewrite with a
flagged template fallback."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safeval.attacks.base import Attack, AttackError, attacker_text
from safeval.attacks.text import lang_of
from safeval.types import Sample

if TYPE_CHECKING:
    from safeval.models.base import ModelAPI

# Sample.metadata key a benchmark sets (`-B attack_templates=PATH`) to mine a released file.
TEMPLATES_KEY = "attack_templates"

_SLOT = re.compile(r"\{(q|o|k|payload|title|name)\}")


def fill(template: str, **slots: str) -> str:
    """`template` with its `{q}`-style slots replaced in one pass (never `str.format`: released
    jailbreak templates hold literal braces)."""
    return _SLOT.sub(lambda m: slots.get(m.group(1), m.group(0)), template)


@dataclass
class Materials:
    """Everything the 10 attacks draw from in one language. `mined` names the attacks whose
    material came from a released file (`source`); the others use safeval's own defaults."""

    lang: str
    positive_frames: list[str]
    positive_openings: list[str]
    reverse_templates: list[str]
    reverse_instruction: str
    code_closing: str
    code_var_weights: dict[int, int]
    code_format_share: float
    jailbreak: list[str]
    hijack_decoys: list[str]
    hijack_phrases: list[str]
    hijack_joiner: str
    enc_frames: dict[str, list[str]]
    enc_weights: dict[str, int]
    deepinception: list[str]
    # risk type -> demonstration sets (S-Eval uses one set of 5 per sub-category)
    demos: dict[str, list[list[tuple[str, str]]]]
    demo_roles: tuple[str, str]
    chain: list[str]
    writer_frame: str
    scenario_templates: list[str]
    scenario_instruction: str
    titles: list[str]
    names: list[str]
    examples_header: str
    positive_instruction: str
    reverse_examples: list[str] = field(default_factory=list)
    scenario_examples: list[str] = field(default_factory=list)
    source: str = "default"
    mined: frozenset[str] = frozenset()


@lru_cache(maxsize=4)
def default_materials(lang: str) -> Materials:
    """safeval's own material (data/seval_{lang}.json), written for this package."""
    raw = resources.files("safeval.attacks").joinpath(f"data/seval_{lang}.json").read_text("utf-8")
    d: dict[str, Any] = json.loads(raw)
    d["code_var_weights"] = {int(k): int(v) for k, v in d["code_var_weights"].items()}
    d["demos"] = {k: [[(q, a) for q, a in st] for st in v] for k, v in d["demos"].items()}
    d["demo_roles"] = tuple(d["demo_roles"])
    return Materials(lang=lang, **d)


@lru_cache(maxsize=8)
def _mined(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    from safeval.attacks.seval.mining import mine_file

    return mine_file(Path(path))


def mined(path: str | Path) -> dict[str, dict[str, Any]]:
    """What a released attack file holds, per language; mined once per file and version.
    Raises a DataError (file:line:field) for a file that is not an S-Eval attack file."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        mtime = 0.0  # mine_file reports the missing file
    return _mined(str(p.resolve()), mtime)


def materials(lang: str, templates_from: str | Path | None = None) -> Materials:
    """The material for `lang`: the defaults, with whatever a released attack file holds for
    that language in their place."""
    base = default_materials(lang)
    if templates_from is None:
        return base
    found = mined(templates_from).get(lang)
    return replace(base, **found) if found else base


def weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    """One key of `weights`, drawn in proportion to its weight (keys in sorted order, so the
    draw depends only on the seed)."""
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


class SEvalAttack(Attack):
    """An S-Eval attack built from `Materials`. `use_templates(path)` mines a released attack
    file for this instance; otherwise a sample's `metadata['attack_templates']` may name one."""

    templates_from: str | None = None

    def use_templates(self, path: str | Path) -> None:
        """Draw templates, decoys and demos from a released S-Eval attack file (checked now)."""
        mined(path)
        self.templates_from = str(path)

    def materials_for(self, sample: Sample, prompt: str) -> Materials:
        src = self.templates_from or sample.metadata.get(TEMPLATES_KEY)
        return materials(lang_of(sample, prompt), src)

    def build(self, q: str, sample: Sample, rng: random.Random, m: Materials) -> str:
        """The attack prompt for question `q` from material `m`."""
        raise NotImplementedError

    def transform(self, prompt: str, sample: Sample, rng: random.Random) -> str:
        return self.build(prompt.strip(), sample, rng, self.materials_for(sample, prompt))

    def source_of(self, m: Materials) -> str:
        """Where this attack's material came from, for the stored item."""
        return m.source if self.name in m.mined else "default"

    def _variant(self, sample: Sample, text: str, extra: dict[str, Any]) -> Sample:
        return sample.model_copy(
            update={
                "input": text,
                "attack": self.name,
                "parent_id": sample.parent_id or sample.id,
                "metadata": {**sample.metadata, "base_prompt": sample.prompt_text(), **extra},
            }
        )

    def apply(self, sample: Sample, seed: int = 0) -> Sample:
        m = self.materials_for(sample, sample.prompt_text())
        text = self.build(sample.prompt_text().strip(), sample, self.rng(sample, seed), m)
        return self._variant(sample, text, {"attack_source": self.source_of(m)})


class RewriteAttack(SEvalAttack):
    """An attack whose released form is a per-prompt rewrite by a model. With an attacker it
    asks for that rewrite; without one it uses a template and flags the item
    (`metadata['attack_fallback'] = 'template'`), since the template is a weaker stand-in."""

    def request(self, q: str, m: Materials) -> str:
        """The instruction sent to the attacker model."""
        raise NotImplementedError

    def wrap(self, rewritten: str, q: str, m: Materials) -> str:
        """The attack prompt made from the attacker's text."""
        return rewritten

    def apply(self, sample: Sample, seed: int = 0) -> Sample:
        v = super().apply(sample, seed)
        v.metadata["attack_fallback"] = "template"
        return v

    async def apply_async(
        self, sample: Sample, seed: int = 0, attacker: ModelAPI | None = None
    ) -> Sample:
        if attacker is None:
            return self.apply(sample, seed)
        q = sample.prompt_text().strip()
        m = self.materials_for(sample, q)
        text = await ask_attacker(attacker, self.request(q, m), seed, self.name)
        return self._variant(
            sample,
            self.wrap(text, q, m),
            {"attack_source": self.source_of(m), "rewritten_by": attacker.full_name},
        )


async def ask_attacker(attacker: ModelAPI, request: str, seed: int, attack: str) -> str:
    """The attacker's cleaned answer to `request`; an AttackError when it gives none."""
    from safeval.types import GenerateConfig, Message

    gen = await attacker.generate(
        [Message(role="user", content=request)],
        GenerateConfig(temperature=0.0, seed=seed, max_tokens=768),
    )
    text = clean_rewrite(attacker_text(gen, attacker, f"rewrite for {attack}"))
    if not text:
        raise AttackError(
            f"attacker {attacker.full_name} gave no rewrite for {attack}: quotes only"
        )
    return text


def clean_rewrite(text: str) -> str:
    """The attacker's answer without a leading label or wrapping quotes."""
    t = text.strip()
    t = re.sub(
        r"^(rewritten( question| prompt)?|scenario|改写后?的?(问题)?|场景)\s*[:：]\s*",
        "",
        t,
        flags=re.I,
    )
    if len(t) >= 2 and t[0] + t[-1] in ('""', "“”", "''", "「」"):
        t = t[1:-1].strip()
    return t


def with_examples(instruction: str, examples: list[str], m: Materials) -> str:
    """The attacker instruction, followed by up to 3 examples of the released style (mined
    from a released file; none by default)."""
    if not examples:
        return instruction
    shown = "\n".join(f"- {' '.join(e.split())}" for e in examples[:3])
    return f"{instruction}\n\n{m.examples_header}\n{shown}"
