"""Testing helpers.

- ``derm_stress.testing.strategies``: Hypothesis strategies for operators, conditions,
  notes, note corruptions and cases;
- ``derm_stress.testing.properties``: robustness properties as assertions, for any model;
- ``derm_stress.testing.pytest_plugin``: the ``derm_model`` fixture (``--derm-model``);
- ``FakeOpenAIServer``: a local OpenAI-compatible server with fault injection;
- ``derm_stress.testing.tiny_models``: tiny random transformers models (needs torch).
"""

from derm_stress.testing.openai_server import FAULTS, FakeOpenAIServer, default_responder

__all__ = ["FAULTS", "FakeOpenAIServer", "default_responder"]
