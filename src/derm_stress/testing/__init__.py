"""Helpers for testing models and derm-stress itself: a local OpenAI-compatible server."""

from derm_stress.testing.openai_server import FAULTS, FakeOpenAIServer, default_responder

__all__ = ["FAULTS", "FakeOpenAIServer", "default_responder"]
