"""Testing helpers.

- ``derm_stress.testing.strategies``: Hypothesis strategies for operators, conditions,
  notes, note corruptions and cases;
- ``derm_stress.testing.properties``: robustness properties as assertions, for any model;
- ``derm_stress.testing.pytest_plugin``: the ``derm_model`` fixture (``--derm-model``);
- ``FakeOpenAIServer``: a local OpenAI-compatible server with fault injection;
- ``derm_stress.testing.tiny_models``: tiny random transformers models (needs torch);
- ``derm_stress.testing.toy_models``: two callables built on the reference model, one that
  never reads the note and one that follows every referral (demos of what the report finds);
- ``derm_stress.testing.browser``: headless Chromium over the DevTools pipe (open a report,
  run JavaScript, read console messages, take screenshots).
"""

from derm_stress.testing.openai_server import FAULTS, FakeOpenAIServer, default_responder

__all__ = ["FAULTS", "FakeOpenAIServer", "default_responder"]
