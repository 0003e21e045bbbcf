"""The base install (what `make demo` installs) must work without any optional extra."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

BLOCK = (
    "httpx", "certifi", "sniffio", "torch", "transformers", "tokenizers", "pyarrow", "pandas",
    "ray",
)  # fmt: skip
SCRIPT = f"""
import sys
for name in {BLOCK!r}:
    sys.modules[name] = None  # importing it now raises ImportError
import derm_stress.cli, derm_stress.models, derm_stress.report, derm_stress.run
from derm_stress.models import make_model
from derm_stress.errors import InvalidArgument
assert make_model({{"adapter": "reference"}}).name == "reference"
for spec, hint in (({{"adapter": "openai", "model": "m", "api_key_env": None}}, "[openai]"),
                   ({{"adapter": "hf", "path": "."}}, "[hf]")):
    try:
        make_model(spec)
    except InvalidArgument as exc:
        assert hint in str(exc), exc
    else:
        raise AssertionError("expected an install hint")
from derm_stress.run import make_executor, to_dataframe
hints = ((lambda: make_executor("ray"), "[ray]"), (lambda: to_dataframe("x"), "[pandas]"))
for call, hint in hints:
    try:
        call()
    except InvalidArgument as exc:
        assert hint in str(exc), exc
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
