"""The base install (what `make demo` installs) must work without any optional extra."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

BLOCK = ("torch", "transformers", "tokenizers", "pyarrow", "pandas", "ray")
SCRIPT = f"""
import sys
async def _client(model):
    return model.client()
for name in {BLOCK!r}:
    sys.modules[name] = None  # importing it now raises ImportError
import derm_stress.cli, derm_stress.models, derm_stress.report, derm_stress.run
from derm_stress.models import make_model
from derm_stress.errors import MissingDependency
assert make_model({{"adapter": "reference"}}).name == "reference"
# the openai adapter is core: its SDK client builds with no extra installed
api = make_model({{"adapter": "openai", "model": "m", "api_key_env": None}})
assert type(api.run_coroutine(_client(api)).result()).__name__ == "AsyncOpenAI"
api.close()
for spec, hint in (({{"adapter": "hf", "path": "."}}, "[hf]"),):
    try:
        make_model(spec)
    except MissingDependency as exc:  # an ImportError, and the project's own error
        assert hint in str(exc) and isinstance(exc, ImportError), exc
    else:
        raise AssertionError("expected an install hint")
from derm_stress.run import make_executor, to_dataframe
hints = ((lambda: make_executor("ray"), "[ray]"), (lambda: to_dataframe("x"), "[pandas]"))
for call, hint in hints:
    try:
        call()
    except MissingDependency as exc:  # an ImportError, and the project's own error
        assert hint in str(exc) and isinstance(exc, ImportError), exc
    else:
        raise AssertionError("expected an install hint")
print("ok")
"""


def test_core_imports_and_hints_without_optional_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
