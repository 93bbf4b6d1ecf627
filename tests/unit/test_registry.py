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


class _EntryPoint:
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value


def test_entry_points_are_read_only_for_a_name_not_built_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import safeval.registry as registry

    scans: list[str] = []

    def fake_entry_points(group: str) -> list[_EntryPoint]:
        scans.append(group)
        return [_EntryPoint("plugin", "os.path:join"), _EntryPoint("builtin", "os.path:split")]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    reg: Registry[object] = Registry("thing", "safeval.test-group")
    builtin = object()
    reg.add("builtin", builtin)
    assert reg.get("builtin") is builtin and "builtin" in reg
    assert scans == []  # a built-in name needs no scan of installed distributions
    import os.path

    assert reg.get("plugin") is os.path.join
    assert "plugin" in reg
    assert reg.get("builtin") is builtin  # the built-in still wins over the entry point
    assert scans == ["safeval.test-group"]  # scanned once
    assert reg.names() == ["builtin", "plugin"]
