# Two commands set everything up on a fresh machine with Python 3.11+:
#   make demo   - a light virtual environment (ad_magic, JupyterLab) opened on copies of demo_notebooks/
#   make test   - a virtual environment with the test tools, then lint, types and tests
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench,demo]'
	touch $@

.PHONY: install test test-core lint bench demo demo-install demo-check
install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check ad_magic tests benchmarks
	$(VENV)/bin/ruff format --check ad_magic tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

# The suite without the browser tests, as .ci/run runs it on the other Python versions:
#   make test-core PYTHON=python3.13 VENV=.venv-3.13
test-core: install
	$(VENV)/bin/pytest --ignore=tests/browser

bench: install
	$(PY) benchmarks/bench_engine.py

# The demo has its own light environment: the package and JupyterLab (with matplotlib,
# which the notebooks plot with). JupyterLab opens copies of the notebooks in $(DEMO_WORK)/
# (ignored by git), so running them never changes the tracked ones. A copy is replaced
# only when its tracked notebook changed since; the old copy is kept as NAME.ipynb.bak.
DEMO_VENV ?= .venv-demo
DEMO_WORK ?= demo_work
DEMO_COPIES := $(patsubst demo_notebooks/%,$(DEMO_WORK)/%,$(wildcard demo_notebooks/*.ipynb))
# As root (containers, cloud machines) Jupyter needs --allow-root; with no screen
# (Linux without DISPLAY or WAYLAND_DISPLAY) it opens no browser and the URL is the way in.
# More options for `jupyter lab`: make demo JUPYTER_ARGS='--ip=0.0.0.0 --port=8890'
JUPYTER_ARGS ?=
DEMO_ARGS = $(if $(filter 0,$(shell id -u)),--allow-root) \
	$(if $(filter Linux,$(shell uname -s)),$(if $(DISPLAY)$(WAYLAND_DISPLAY),,--no-browser))

$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DEMO_VENV)/bin/python -m pip install --quiet -e '.[demo]'
	touch $@

$(DEMO_WORK)/%.ipynb: demo_notebooks/%.ipynb
	@mkdir -p $(DEMO_WORK)
	@if [ -e $@ ]; then mv -f $@ $@.bak; echo "$< changed: $@ is new, your copy is $@.bak"; fi
	cp $< $@

demo-install: $(DEMO_VENV)/.installed

demo: demo-install $(DEMO_COPIES)
	@echo "make demo: JupyterLab on $(DEMO_WORK)/, copies of demo_notebooks/."
	@echo "make demo: open the http://127.0.0.1:PORT/lab?token=... URL it prints below; Ctrl-C stops it."
	$(DEMO_VENV)/bin/jupyter lab $(DEMO_ARGS) $(JUPYTER_ARGS) $(DEMO_WORK)

# The demo notebooks, executed in the demo's environment without a browser (as CI does):
# proves `make demo` has what it needs.
DEMO_OUT ?= $(or $(TMPDIR),/tmp)/ad_magic-demo-check
demo-check: demo-install
	$(DEMO_VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=120 \
		--output-dir $(DEMO_OUT) demo_notebooks/*.ipynb
