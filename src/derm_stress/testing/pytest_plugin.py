"""pytest plugin (registered through the ``pytest11`` entry point): a ``derm_model`` fixture
built once per session from a run config, so a team points its robustness tests at the
model it evaluates without editing them.

    pytest --derm-model my_models.yaml:gpt41        # the model named gpt41 in that config
    pytest --derm-model my_models.yaml              # the config's first model
    (nothing)                                       # the bundled reference model

The same can be set in ``pytest.ini`` / ``pyproject.toml`` as ``derm_stress_model``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from derm_stress.datasets import Dataset, load_sample
from derm_stress.models import Model, ReferenceModel, make_model


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("derm-stress")
    group.addoption(
        "--derm-model",
        default=None,
        metavar="CONFIG[:NAME]",
        help="run config whose model the derm_model fixture builds",
    )
    parser.addini("derm_stress_model", "run config [and :model name] for derm_model", default="")


def load_model(spec: str) -> Model:
    """Build the model ``CONFIG.yaml[:NAME]`` names (empty: the reference model)."""
    if not spec:
        return ReferenceModel()
    from derm_stress.errors import did_you_mean
    from derm_stress.run import load_config

    path, _, name = spec.partition(":") if not Path(spec).is_file() else (spec, "", "")
    config = load_config(path)
    models = {m.get("name", m.get("adapter", "reference")): m for m in config.models}
    if name and name not in models:
        raise did_you_mean(name, models, "model")
    return make_model(models[name] if name else config.models[0])


@pytest.fixture(scope="session")
def derm_model(pytestconfig: pytest.Config) -> Iterator[Model]:
    """The model under test, built once per session (see the module docstring)."""
    spec = pytestconfig.getoption("--derm-model") or pytestconfig.getini("derm_stress_model")
    model = load_model(str(spec or ""))
    yield model
    model.close()


@pytest.fixture(scope="session")
def derm_sample() -> Dataset:
    """The bundled 90-case PAD-UFES-20 sample."""
    return load_sample()
