"""The model interface, the `provider/name` factory and the cache key of a call."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any

from safeval import registry
from safeval.errors import ConfigError
from safeval.types import GenerateConfig, Generation, Message


class ModelAPI(ABC):
    """A model that answers chat messages. Adapters never raise for a failed call: they return a
    `Generation` with `error` set, after their own retries."""

    provider: str = ""
    supports_loglikelihood: bool = False
    # Can take a raw prompt with no chat template applied (`complete`): guard models whose
    # published format is the whole prompt text need it.
    supports_raw_prompt: bool = False
    # Requests a run keeps in flight at least: a batching local model needs several queued.
    min_concurrency: int = 1

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def full_name(self) -> str:
        return f"{self.provider}/{self.name}"

    def identity(self) -> dict[str, Any]:
        """What makes this model's answers what they are; enters the cache key. Never holds
        secrets."""
        return {"model": self.full_name}

    @abstractmethod
    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        """Answer the conversation."""

    async def complete(self, prompt: str, config: GenerateConfig) -> Generation:
        """Continue `prompt` exactly as given, with no chat template around it (the OpenAI
        `/v1/completions` call). Backends that cannot return an error, like any failed call."""
        return Generation(
            error=f"model '{self.full_name}' cannot take a raw prompt (no chat template); use an "
            "openai-compatible endpoint that serves /v1/completions (vLLM, llama.cpp, TGI)"
        )

    async def loglikelihood(
        self, messages: list[Message], continuations: list[str], chat_template: bool = True
    ) -> list[float]:
        """Log-probability of each continuation after the prompt that `messages` make: through
        the chat template with the assistant turn opened, or, with `chat_template=False`, the
        messages' text as it is (joined by newlines), as base-model evaluations score it
        (SafetyBench's CLP). Only for backends that can score text."""
        raise ConfigError(f"model '{self.full_name}' cannot compute log-likelihoods")

    async def start(self) -> None:
        """Get ready (load weights, check the endpoint) before a run writes anything."""

    async def check(self) -> None:
        """Raise `ConfigError` when the model cannot answer at all (an endpoint that is down),
        so a run fails before it starts rather than with every item in error."""

    async def aclose(self) -> None:
        """Release connections, threads and memory."""


def call_key(
    model: ModelAPI,
    messages: list[Message],
    config: GenerateConfig,
    kind: str = "gen",
    continuations: list[str] | None = None,
) -> str:
    """A hash of everything that changes an answer: adapter identity, messages, parameters
    (and the scored continuations, for log-likelihood calls)."""
    cfg = config.model_dump()
    if cfg.get("top_logprobs") is None:
        # Added later: left out when unused so the keys of earlier calls (and caches) hold.
        cfg.pop("top_logprobs", None)
    if not cfg.get("min_tokens"):
        cfg.pop("min_tokens", None)  # likewise
    head = {
        "kind": kind,
        "continuations": continuations,
        "model": model.identity(),
        "config": cfg,
    }
    h = hashlib.sha256(json.dumps(head, sort_keys=True, separators=(",", ":")).encode())
    # Messages are the bulk of the key: hashed as length-prefixed (role, content) pairs, so no
    # two conversations share a byte stream, without dumping models to JSON.
    for m in messages:
        content = m.content.encode("utf-8", "surrogatepass")
        h.update(f"{m.role}:{len(content)}:".encode() + content)
    return h.hexdigest()


def parse_model_args(pairs: list[str] | None) -> dict[str, Any]:
    """`key=value` strings from the command line to keyword arguments; values are read as JSON
    where they parse (numbers, booleans), else kept as text."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"option '{pair}' is not key=value")
        try:
            out[key.replace("-", "_")] = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON (or too deep / long to read): text
            out[key.replace("-", "_")] = raw
    return out


def get_model(spec: str, **args: Any) -> ModelAPI:
    """Build the model named `provider/name` (e.g. `openai-compatible/gpt-4o-mini`,
    `hf/./my-model`, `local/smollm2`, `scripted/refuse`)."""
    provider, sep, name = spec.partition("/")
    if not sep or not name:
        raise ConfigError(
            f"model '{spec}' must be named provider/name, e.g. local/smollm2 or "
            "openai-compatible/gpt-4o-mini"
        )
    from safeval.models.retrying import RETRY_OPTIONS, RetryingModel

    factory = registry.models.get(provider)
    retry = {k: args.pop(k) for k in RETRY_OPTIONS if k in args}
    try:
        model: ModelAPI = factory(name, **args)
        return RetryingModel(model, **retry)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model '{spec}': bad model argument ({e})") from None
