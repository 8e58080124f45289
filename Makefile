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

# The demo notebooks, executed without a browser (as CI does): proves `make demo` has what it needs.
DEMO_OUT ?= $(or $(TMPDIR),/tmp)/ad_magic-demo-check
demo-check: install
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=120 \
		--output-dir $(DEMO_OUT) demo_notebooks/*.ipynb
