# Two commands set everything up on a fresh machine with Python 3.11+:
#   make demo   - a virtual environment with JupyterLab, opened on demo_notebooks/
#   make test   - a virtual environment with the test tools, then lint, types and tests
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench,demo]'
	touch $@

.PHONY: install test lint bench demo demo-check
install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check ad_magic tests benchmarks
	$(VENV)/bin/ruff format --check ad_magic tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

bench: install
	$(PY) benchmarks/bench_engine.py

demo: install
	$(VENV)/bin/jupyter lab demo_notebooks
