"""Checks of what a user asked for, made before anything is written: option ranges, the run id,
the runs folder, and plugin options (`-M`, `-J`, `--attacker-arg`) against what each plugin
takes. Each failure is a ConfigError saying which option, what was wrong and what is allowed."""

from __future__ import annotations

import inspect
import math
import re
import sys
from pathlib import Path
from typing import Any

from safeval import registry
from safeval.errors import ConfigError

RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_CONCURRENCY = 1024
MAX_TOKENS = 1_000_000


def check_run_id(run_id: str) -> str:
    """A run id names one folder inside the runs folder: letters, digits, `.`, `_`, `-`, at most
    128 characters, and not `.` or `..` (no way out of the runs folder)."""
    if not RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
        raise ConfigError(
            f"--run-id {run_id[:140]!r} is not allowed: use 1 to 128 letters, digits, '.', '_' "
            "or '-' (no '/', not '.' or '..')"
        )
    return run_id


def check_runs_dir(runs_dir: Path) -> None:
    """The runs folder is a folder (or does not exist yet)."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise ConfigError(f"--runs-dir {runs_dir} is a file, not a folder")


def check_run_options(
    *,
    limit: int | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    concurrency: int | None = None,
    shard_size: int | None = None,
) -> None:
    """Ranges of `safeval run`'s numeric options."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")
    if max_tokens is not None and not 1 <= max_tokens <= MAX_TOKENS:
        raise ConfigError(f"--max-tokens must be between 1 and {MAX_TOKENS:,}, not {max_tokens}")
    if temperature is not None and not (math.isfinite(temperature) and temperature >= 0):
        raise ConfigError(f"--temperature must be a number of 0 or more, not {temperature}")
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ConfigError(
            f"--concurrency must be between 1 and {MAX_CONCURRENCY}, not {concurrency}"
        )
    if shard_size is not None and shard_size < 1:
        raise ConfigError(f"--shard-size must be at least 1, not {shard_size}")


# -- plugin options ------------------------------------------------------------------------
_SCALARS = {"int", "float", "bool", "str", "None", "Path"}


def _named_params(factory: Any) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword parameters `factory` takes (following `**kwargs` up a class's __init__
    chain), and whether it still takes any other keyword at the end."""
    params: dict[str, inspect.Parameter] = {}
    if inspect.isclass(factory):
        inits = [c.__dict__["__init__"] for c in factory.__mro__ if "__init__" in c.__dict__]
        inits = [f for f in inits if f is not object.__init__]
    else:
        inits = [factory]
    for fn in inits:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return params, True
        more = False
        for i, p in enumerate(sig.parameters.values()):
            if i == 0 and inspect.isclass(factory) and p.name == "self":
                continue
            if p.kind is p.VAR_KEYWORD:
                more = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                params.setdefault(p.name, p)
        if not more:
            return params, False
    return params, bool(inits) and not inspect.isclass(factory)


def _check_value(what: str, key: str, value: Any, annotation: Any) -> Any:
    """`value` checked against a simple annotation ('float', 'int | None', ...); returns it
    (numbers given to a text option become text). Other annotations are not checked."""
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", str(annotation))
    parts = {p.strip() for p in annotation.split("|")}
    if not parts or not parts <= _SCALARS:
        return value
    if value is None and "None" in parts:
        return value
    if isinstance(value, bool):
        if "bool" in parts:
            return value
    elif isinstance(value, int):
        if "int" in parts or "float" in parts:
            return value
    elif isinstance(value, float):
        if "float" in parts:
            if not math.isfinite(value):
                raise ConfigError(f"{what}: option '{key}' must be a finite number, not {value}")
            return value
    elif isinstance(value, str) and ("str" in parts or "Path" in parts):
        return value
    if ("str" in parts or "Path" in parts) and isinstance(value, int | float):
        return str(value)
    expected = " or ".join(
        sorted(parts - {"None", "Path"} | ({"str"} if "Path" in parts else set()))
    )
    raise ConfigError(f"{what}: option '{key}' must be {expected}, not {value!r}")


def check_plugin_args(
    what: str, factory: Any, args: dict[str, Any], exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`args` checked against the parameters `factory` takes: unknown names and values of the
    wrong type are ConfigErrors naming the option. A judge backed by a model passes the options
    it does not take itself to that model, so they are checked against the model."""
    params, open_ended = _named_params(factory)
    params = {k: v for k, v in params.items() if k not in exclude}
    out: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in args.items():
        if key in params:
            out[key] = _check_value(what, key, value, params[key].annotation)
        else:
            rest[key] = value
    if rest and "escalate" in params:  # a cascade: the rest is the escalation judge's
        escalate = str(args.get("escalate") or params["escalate"].default)
        try:
            out.update(check_judge_args(escalate, rest))
        except ConfigError as e:
            raise ConfigError(f"{what} passes the options it does not take on to {e}") from None
    elif rest and "model" in params and isinstance(args.get("model"), str):
        out.update(check_model_args(args["model"], rest, f"{what} model"))
    elif rest and not open_ended:
        known = ", ".join(sorted(params))
        takes = f"(it takes: {known})" if known else "(it takes no options)"
        raise ConfigError(f"{what}: unknown option '{next(iter(rest))}' {takes}")
    else:
        out.update(rest)
    return out


def check_model_args(spec: str, args: dict[str, Any], what: str | None = None) -> dict[str, Any]:
    """Options for the model `spec` (provider/name), checked against its adapter."""
    provider, sep, _ = spec.partition("/")
    if not sep:
        return args  # the model factory reports the malformed name
    from safeval.models.retrying import RETRY_OPTIONS, RetryingModel

    factory = registry.models.get(provider)
    what = what or f"model '{spec}'"
    # The retry options belong to the retry wrapper every provider gets, not to the adapter.
    retry = {k: v for k, v in args.items() if k in RETRY_OPTIONS}
    own = {k: v for k, v in args.items() if k not in RETRY_OPTIONS}
    out = check_plugin_args(what, factory, own, frozenset({"name"}))
    out.update(check_plugin_args(what, RetryingModel, retry, frozenset({"inner"})))
    return out


def check_judge_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Options for the judge `name` (-J), checked against the judge (and its model)."""
    return check_plugin_args(f"judge '{name}'", registry.judges.get(name), args)


def api_key_from(api_key: str | None, api_key_file: Path | None) -> str | None:
    """The API key from `--api-key-file` (first line), or from `--api-key` with a warning: a
    key on the command line is visible to every user of the machine for the whole run."""
    if api_key is not None and api_key_file is not None:
        raise ConfigError("give --api-key or --api-key-file, not both")
    if api_key is not None:
        print(
            "warning: --api-key is visible in the process list while the run lasts; prefer "
            "--api-key-file FILE or SAFEVAL_API_KEY",
            file=sys.stderr,
        )
        return api_key
    if api_key_file is None:
        return None
    try:
        lines = api_key_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--api-key-file {api_key_file}: cannot read it ({e})") from None
    key = lines[0].strip() if lines else ""
    if not key:
        raise ConfigError(f"--api-key-file {api_key_file}: the first line is empty")
    return key
