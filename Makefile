# derm-stress: `make demo` and `make test` work on a fresh clone (Python 3.11+, network to PyPI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck reference-model sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Marker files re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

# torch is pinned and installed first: it resolves to the CPU build here, while an unpinned
# torch pulled in by transformers would fetch several GB of CUDA packages.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/derm-stress demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint typecheck

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests tools bench examples
	$(BIN)/ruff format --check src tests tools bench examples

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src
	MYPYPATH=src $(BIN)/mypy --strict examples/derm-stress-plugin-example/src

# Retrain the bundled reference model (deterministic; writes src/derm_stress/models/reference/weights.npz).
reference-model: $(VENV)/.installed
	$(BIN)/derm-stress train-reference --data data/pad-ufes-20

# Rebuild the bundled 90-case sample from data/pad-ufes-20.
sample: $(BIN)/python
	$(BIN)/python tools/make_sample.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
