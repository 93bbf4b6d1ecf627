"""The generic registry: lazy entries, did-you-mean, no double registration."""

import pytest

from safeval.errors import ConfigError
from safeval.registry import Registry


def test_lazy_entry_is_imported_on_get() -> None:
    reg: Registry[object] = Registry("thing", "safeval.test-none")
    reg.add("path", "os.path:join")
    import os.path

    assert reg.get("path") is os.path.join


def test_unknown_name_suggests_close_ones() -> None:
    reg: Registry[object] = Registry("thing", "safeval.test-none")
    reg.add("refusal", object())
    with pytest.raises(ConfigError, match="did you mean 'refusal'"):
        reg.get("refusl")


def test_registering_a_name_twice_is_an_error() -> None:
    reg: Registry[object] = Registry("thing", "safeval.test-none")
    reg.add("a", object())
    with pytest.raises(ConfigError, match="twice"):
        reg.add("a", object())
