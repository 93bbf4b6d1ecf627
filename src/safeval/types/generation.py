"""Generation parameters and a model's answer (or its failure)."""

import re

from pydantic import BaseModel, ConfigDict, field_validator

#: A lone UTF-16 surrogate: text holding one cannot be encoded as UTF-8.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with each lone UTF-16 surrogate (a server may send `"\\ud800"` in its JSON) turned
    into U+FFFD: such text can be neither encoded to store or cache nor sent on."""
    if LONE_SURROGATE.search(text):
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class GenerateConfig(BaseModel):
    """Parameters that change an answer; all of them enter the cache key."""

    model_config = ConfigDict(frozen=True)

    temperature: float = 0.0
    max_tokens: int = 256
    # Fewest new tokens before the end of text may be produced (local models; None: no floor).
    min_tokens: int | None = None
    seed: int | None = 0
    stop: list[str] | None = None
    top_p: float | None = None
    # Ask for the log-probabilities of this many most likely tokens at each generated position
    # (OpenAI `top_logprobs` on chat, `logprobs` on completions): judges that score by token
    # probability (ShieldGemma's P(Yes)) need them. None asks for none.
    top_logprobs: int | None = None


class Usage(BaseModel):
    """Token counts as reported by the backend."""

    input_tokens: int = 0
    output_tokens: int = 0


class Generation(BaseModel):
    """A model's answer. `error` is set when no answer could be had; `text` is then empty and
    the item must never be judged."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    error: str | None = None
    # Set by an adapter on a failure worth another try (rate limit, server error, timeout);
    # the retry wrapper (models/retrying.py) reads them. Never set on a stored answer.
    retryable: bool = False
    retry_after: float | None = None
    attempts: int = 1
    # Log-likelihood of each choice, where the answer was chosen by scoring (no free text).
    logprobs: list[float] | None = None
    # Per generated position, the most likely tokens and their log-probabilities, as the backend
    # returned them when `GenerateConfig.top_logprobs` asked; None where it returned none.
    top_logprobs: list[dict[str, float]] | None = None

    @field_validator("text", "finish_reason", "error")
    @classmethod
    def _storable_text(cls, v: str | None) -> str | None:
        """Model output is untrusted text: whatever a backend sent, what is kept can be stored."""
        return v if v is None else storable(v)

    @field_validator("top_logprobs")
    @classmethod
    def _storable_tokens(cls, v: list[dict[str, float]] | None) -> list[dict[str, float]] | None:
        # Token strings are often pieces of a character: a backend may send half a pair.
        return v if v is None else [{storable(t): lp for t, lp in d.items()} for d in v]

    @property
    def ok(self) -> bool:
        return self.error is None
