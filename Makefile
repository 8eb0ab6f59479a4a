# The two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lstk-installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[server,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/inpainting/demo.py

lint: $(STAMP)
	$(BIN)/ruff check toolkit tests bench examples
	$(BIN)/ruff format --check toolkit tests bench examples

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/rle_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
