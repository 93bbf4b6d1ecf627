"""Any OpenAI-compatible endpoint: vLLM, Ollama, llama.cpp server, hosted APIs. Chat messages go
to `/chat/completions`; raw prompts (guard models' published formats) to `/completions`.

Async HTTP (aiohttp: its connection pool keeps up with 64+ requests in flight where httpx's
async pool measured 8x slower here, see BENCHMARKS.md) with pooled connections; retries with exponential backoff and jitter that honour
`Retry-After`; errors come back as a `Generation.error`, never as an answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from safeval.models.base import ModelAPI
from safeval.secrets import split_credentials
from safeval.types import GenerateConfig, Generation, Message, Usage

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
KEY_ENV_VARS = ("SAFEVAL_API_KEY", "OPENAI_API_KEY")


class RetryableError(Exception):
    """A failure worth another try (rate limit, server error, timeout, broken body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(Exception):
    """A failure another try will not fix (bad request, auth, unknown model)."""


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import datetime

        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _top_logprobs(lp: Any) -> list[dict[str, float]] | None:
    """Per generated position, token -> log-probability of the returned alternatives (and the
    chosen token), from either shape of the OpenAI API: chat's `logprobs.content[i].top_logprobs`
    or completions' `logprobs.top_logprobs[i]`. None where the server sent none."""
    if not lp:
        return None
    out: list[dict[str, float]] = []
    if isinstance(lp.get("content"), list):  # chat completions
        for pos in lp["content"]:
            alts = {str(a["token"]): float(a["logprob"]) for a in pos.get("top_logprobs") or []}
            alts.setdefault(str(pos["token"]), float(pos["logprob"]))
            out.append(alts)
    elif isinstance(lp.get("top_logprobs"), list):  # legacy completions
        tokens, chosen = lp.get("tokens") or [], lp.get("token_logprobs") or []
        for i, pos in enumerate(lp["top_logprobs"]):
            alts = {str(t): float(v) for t, v in (pos or {}).items()}
            if i < len(tokens) and i < len(chosen) and chosen[i] is not None:
                alts.setdefault(str(tokens[i]), float(chosen[i]))
            out.append(alts)
    return out or None


class OpenAICompatModel(ModelAPI):
    """`openai-compatible/<model>`. Base URL from `base_url` or `OPENAI_BASE_URL`; the key from
    `api_key` or `SAFEVAL_API_KEY` / `OPENAI_API_KEY`. The key is held in memory only: it is not
    part of `identity()` and so never reaches the store or the cache."""

    provider = "openai-compatible"
    supports_raw_prompt = True

    def __init__(
        self,
        name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_connections: int = 64,
    ) -> None:
        super().__init__(name)
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        # A user:password in the URL is sent as basic auth, never stored or logged with the URL.
        self.base_url, self._basic_auth = split_credentials(url)
        self._api_key = api_key or next(
            (os.environ[v] for v in KEY_ENV_VARS if os.environ.get(v)), None
        )
        if not timeout > 0:  # 0 or less turned the timeout off: a silent endpoint hung the run
            raise ValueError(f"timeout must be a number of seconds > 0, not {timeout}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self.timeout = timeout
        self.max_connections = max_connections
        self._client: aiohttp.ClientSession | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def identity(self) -> dict[str, Any]:
        return {"model": self.full_name, "base_url": self.base_url}

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatModel({self.name!r}, base_url={self.base_url!r})"

    def _http(self) -> aiohttp.ClientSession:
        """One pooled session per event loop, opened on first use (it must live in the loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.closed or self._client_loop is not loop:
            self._client_loop = loop
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            if self._basic_auth and not self._api_key:  # user:password from the URL; a key wins
                pair = ":".join(self._basic_auth).encode()
                headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
            self._client = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0),
                raise_for_status=False,
            )
        return self._client

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": [m.model_dump() for m in messages],
            **self._sampling(config),
        }
        if config.top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = config.top_logprobs
        return await self._with_retries(body, "chat/completions")

    async def complete(self, prompt: str, config: GenerateConfig) -> Generation:
        """The prompt as it is to `/completions`: no chat template is applied by the server, so
        a guard model's published prompt text reaches the model unchanged."""
        body: dict[str, Any] = {"model": self.name, "prompt": prompt, **self._sampling(config)}
        if config.top_logprobs is not None:
            body["logprobs"] = config.top_logprobs
        return await self._with_retries(body, "completions")

    @staticmethod
    def _sampling(config: GenerateConfig) -> dict[str, Any]:
        out: dict[str, Any] = {"temperature": config.temperature, "max_tokens": config.max_tokens}
        if config.seed is not None:
            out["seed"] = config.seed
        if config.stop:
            out["stop"] = config.stop
        if config.top_p is not None:
            out["top_p"] = config.top_p
        return out

    async def _with_retries(self, body: dict[str, Any], endpoint: str) -> Generation:
        """One attempt; a failure says whether another is worth it. The retries themselves are
        the retry wrapper's (models/retrying.py), the same for every provider."""
        try:
            return await self._post_chat(body, endpoint)
        except RetryableError as e:
            return Generation(error=self._redact(str(e)), retryable=True, retry_after=e.retry_after)
        except FatalError as e:
            return Generation(error=self._redact(str(e)))

    def _redact(self, text: str) -> str:
        """Error text with the key (and URL credentials) replaced by ***: an endpoint may echo
        the request's Authorization header in an error body, which is stored and printed."""
        secrets = [self._api_key]
        if self._basic_auth:
            pair = ":".join(self._basic_auth)
            secrets += [self._basic_auth[1], base64.b64encode(pair.encode()).decode()]
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    async def _post_chat(
        self, body: dict[str, Any], endpoint: str = "chat/completions"
    ) -> Generation:
        url = f"{self.base_url}/{endpoint}"
        try:
            async with self._http().post(url, json=body) as resp:
                status, raw = resp.status, await resp.read()
                retry_after = resp.headers.get("retry-after")
        except TimeoutError as e:
            raise RetryableError(f"timeout after {self.timeout}s ({type(e).__name__})") from None
        except aiohttp.ClientError as e:
            raise RetryableError(f"connection error: {type(e).__name__}: {e}") from None
        if status == 429 or status >= 500:
            raise RetryableError(
                f"HTTP {status} from {url}", retry_after=_retry_after_seconds(retry_after)
            )
        if status >= 400:  # the key is taken out before the cut, so none of it is left
            text = self._redact(raw[:4096].decode("utf-8", "replace"))[:300]
            raise FatalError(f"HTTP {status} from {url}: {text}")
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            text = choice["message"]["content"] if endpoint.startswith("chat") else choice["text"]
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise TypeError("the answer text is not a string")
            top = _top_logprobs(choice.get("logprobs"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            raise RetryableError(f"malformed response body ({type(e).__name__}: {e})") from None
        finish = choice.get("finish_reason")
        return Generation(
            text=text,
            finish_reason=None if finish is None else str(finish),
            usage=_usage(data.get("usage")),
            top_logprobs=top,
        )

    async def check(self) -> None:
        """One cheap request (GET /models) before a run: an endpoint that is down or refuses
        the key stops the run with one clear line, before anything is written."""
        from safeval.errors import ConfigError

        where = self.base_url.split("@")[-1]
        try:
            async with self._http().get(
                f"{self.base_url}/models",
                timeout=aiohttp.ClientTimeout(total=min(10.0, self.timeout)),
            ) as resp:
                if resp.status in (401, 403):
                    raise ConfigError(
                        f"endpoint {where} refused the API key (HTTP {resp.status}): set "
                        "SAFEVAL_API_KEY or OPENAI_API_KEY"
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise ConfigError(
                f"cannot reach the endpoint {where} ({type(e).__name__}: {e}): is the server "
                "running, and is --base-url right?"
            ) from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _usage(raw: Any) -> Usage:
    """Token counts as the server reported them; a count that is not a whole number (some
    servers send strings or nothing) is 0: usage is informational, never worth failing an
    answer over."""

    def count(key: str) -> int:
        v = raw.get(key) if isinstance(raw, dict) else None
        if isinstance(v, bool):
            return 0
        if isinstance(v, int):
            return max(v, 0)
        if isinstance(v, str) and v.strip().isdigit():
            return int(v)
        return 0

    return Usage(input_tokens=count("prompt_tokens"), output_tokens=count("completion_tokens"))
