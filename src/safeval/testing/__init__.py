"""Test helpers that ship with the package: a scripted OpenAI-compatible server on loopback."""

from safeval.testing.openai_server import ScriptedOpenAIServer

__all__ = ["ScriptedOpenAIServer"]
