"""One generic registry for every plugin kind, with lazy `module:object` entries, entry points
and "did you mean" errors.

Built-in plugins are registered lazily by name here, so `safeval list` and `import safeval` do not
import their modules (and so not torch). Third-party packages add plugins through the entry point
groups `safeval.benchmarks`, `safeval.attacks`, `safeval.judges` and `safeval.models`, whose
values are `module:object` strings, the same path the built-ins take.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from safeval.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to factories. An entry is either an object or a lazy `module:object` string."""

    def __init__(self, kind: str, entry_point_group: str) -> None:
        self.kind = kind
        self._group = entry_point_group
        self._entries: dict[str, T | str] = {}
        self._descriptions: dict[str, str] = {}
        self._eps_loaded = False

    def add(self, name: str, target: T | str) -> None:
        """Register `target` under `name`; a second registration of a name is an error."""
        if name in self._entries and self._entries[name] is not target:
            existing = self._entries[name]
            if not (isinstance(existing, str) and not isinstance(target, str)):
                raise ConfigError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = target

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def _load_entry_points(self) -> None:
        if self._eps_loaded:
            return
        self._eps_loaded = True
        for ep in entry_points(group=self._group):
            self._entries.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        """The plugin called `name`, importing its module on first use. Entry points are read
        only for a name that is not built in: a built-in name always wins over an entry point
        (`setdefault` above), and scanning every installed distribution costs 15-20 ms a group."""
        if name not in self._entries:
            self._load_entry_points()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.kind} '{name}'{hint} (known: {known})")
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, _, attr = entry.partition(":")
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self._entries[name] = obj
            return obj  # type: ignore[no-any-return]
        return entry

    def describe(self, name: str, text: str | None = None) -> str:
        """The one-line description of `name` (setting it when `text` is given). Without one,
        the first line of the plugin's docstring, importing it (entry-point plugins)."""
        if text is not None:
            self._descriptions[name] = text
            return text
        if name in self._descriptions:
            return self._descriptions[name]
        try:
            doc = getattr(self.get(name), "__doc__", None) or ""
        except Exception:  # a broken third-party plugin still gets listed
            return ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def __contains__(self, name: str) -> bool:
        if name not in self._entries:  # built-ins need no scan (see `get`)
            self._load_entry_points()
        return name in self._entries


benchmarks: Registry[Any] = Registry("benchmark", "safeval.benchmarks")
attacks: Registry[Any] = Registry("attack", "safeval.attacks")
judges: Registry[Any] = Registry("judge", "safeval.judges")
models: Registry[Any] = Registry("model provider", "safeval.models")

# Built-in plugins, by lazy reference (one place lists them).
for _name, _ref in {
    "demo": "safeval.benchmarks.demo:DemoBenchmark",
    "safetybench": "safeval.benchmarks.safetybench:SafetyBenchBenchmark",
    "seval": "safeval.benchmarks.seval:SEvalBenchmark",
    "scsafety": "safeval.benchmarks.scsafety:SCSafetyBenchmark",
    "alert": "safeval.benchmarks.alert:AlertBenchmark",
}.items():
    benchmarks.add(_name, _ref)

for _name, _ref in {
    "none": "safeval.attacks.base:NoAttack",
    "positive_induction": "safeval.attacks.seval:PositiveInduction",
    "reverse_induction": "safeval.attacks.seval:ReverseInduction",
    "code_injection": "safeval.attacks.seval:CodeInjection",
    "instruction_jailbreak": "safeval.attacks.seval:InstructionJailbreak",
    "goal_hijacking": "safeval.attacks.seval:GoalHijacking",
    "instruction_encryption": "safeval.attacks.seval:InstructionEncryption",
    "deepinception": "safeval.attacks.seval:DeepInception",
    "in_context_attack": "safeval.attacks.seval:InContextAttack",
    "chain_of_utterances": "safeval.attacks.seval:ChainOfUtterances",
    "compositional_instructions": "safeval.attacks.seval:CompositionalInstructions",
    "suffix_injection": "safeval.attacks.alert:SuffixInjection",
    "prefix_injection": "safeval.attacks.alert:PrefixInjection",
    "token_manipulation": "safeval.attacks.alert:TokenManipulation",
    "jailbreaking": "safeval.attacks.alert:Jailbreaking",
}.items():
    attacks.add(_name, _ref)

for _name, _ref in {
    "rules": "safeval.judges.rules:RulesJudge",
    "embedded": "safeval.judges.embedded.judge:EmbeddedJudge",
    "cascade": "safeval.judges.cascade:CascadeJudge",
    "mcq": "safeval.judges.mcq:MCQJudge",
    "critic": "safeval.judges.critic:CriticJudge",
    "llama-guard-3": "safeval.judges.guard:LlamaGuard3Judge",
    "shieldgemma": "safeval.judges.guard:ShieldGemmaJudge",
    "wildguard": "safeval.judges.guard:WildGuardJudge",
    "scsafety": "safeval.judges.scsafety:SCSafetyJudge",
}.items():
    judges.add(_name, _ref)

for _name, _ref in {
    "openai-compatible": "safeval.models.openai_compat:OpenAICompatModel",
    "hf": "safeval.models.hf_local:HFLocalModel",
    "local": "safeval.models.smollm2:local_model",
    "scripted": "safeval.models.scripted:ScriptedModel",
}.items():
    models.add(_name, _ref)

# One line each for `safeval list` (so listing imports no plugin).
for _reg, _lines in (
    (
        benchmarks,
        {
            "demo": "built-in 48-prompt suite, English and Chinese, harmful and benign, "
            "8 risk categories",
            "safetybench": "SafetyBench multiple choice, 7 categories, en/zh, 0/5-shot, "
            "official prompts and scorer",
            "seval": "S-Eval base and attack prompts, 8 risk dimensions / 25 categories",
            "scsafety": "SuperCLUE-Safety method: question and follow-up, answers scored 0/1/2",
            "alert": "ALERT red-teaming prompts, 6 macro / 32 micro categories",
        },
    ),
    (
        attacks,
        {
            "none": "the prompt as written",
            "positive_induction": "S-Eval: the request plus an order to open the answer affirmatively",
            "reverse_induction": "S-Eval: the request rewritten as a research or prevention pretext",
            "code_injection": "S-Eval: the request split into string variables of code to run",
            "instruction_jailbreak": "S-Eval: a jailbreak instruction template",
            "goal_hijacking": "S-Eval: a benign task whose goal is swapped for the request",
            "instruction_encryption": "S-Eval: the request encoded (cipher, encoding)",
            "deepinception": "S-Eval: the request nested in layers of fiction",
            "in_context_attack": "S-Eval: harmful question-answer examples before the request",
            "chain_of_utterances": "S-Eval: a role-play dialogue that leads to the request",
            "compositional_instructions": "S-Eval: a novel to continue, with the request as its scene",
            "suffix_injection": "ALERT: appends an adversarial instruction",
            "prefix_injection": "ALERT: prepends an adversarial instruction",
            "token_manipulation": "ALERT: alters a few words so keyword filters miss them",
            "jailbreaking": "ALERT: wraps the prompt in a jailbreak template",
        },
    ),
    (
        judges,
        {
            "rules": "bilingual refusal matching; no model needed",
            "mcq": "multiple-choice answer extraction and checking (SafetyBench)",
            "critic": "an LLM critic: riskiness in [0, 1], S-Eval risk tags, an explanation",
            "llama-guard-3": "Llama Guard 3's published format, through any endpoint",
            "shieldgemma": "ShieldGemma's published format, through any endpoint",
            "wildguard": "WildGuard's published format, through any endpoint",
            "scsafety": "SC-Safety scoring: 0 risky, 1 safe but weak, 2 safe and helpful",
            "embedded": "the trained default judge, shipped in the package: harm, refusal, "
            "riskiness; CPU",
            "cascade": "the embedded judge, escalating uncertain answers to a model judge",
        },
    ),
    (
        models,
        {
            "openai-compatible": "any /v1/chat/completions server (vLLM, Ollama, hosted APIs)",
            "hf": "a local transformers checkpoint or GGUF file",
            "local": "the embedded default model, SmolLM2-135M-Instruct (local/smollm2)",
            "scripted": "deterministic answers with no backend (refuse, comply, echo, mixed)",
        },
    ),
):
    for _name, _line in _lines.items():
        _reg.describe(_name, _line)
