# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# The virtualenv is created once and reinstalled only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
POLICIES ?= 5000

.PHONY: demo test lint bench clean-workspace help

help:
	@echo "make demo   generate the sample estate and run data-mash on it"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff check, ruff format --check, import contracts (layers, no cycles), mypy"
	@echo "make bench  the benchmarks (slow: 350k-policy runs)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned, so the CPU wheel on these machines is used (not a CUDA download).
# constraints.txt pins every package to the versions the test suite passed with.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/data-mash demo --policies $(POLICIES)
	@echo "Open the console: $(VENV)/bin/data-mash serve api   then http://127.0.0.1:8000/"

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q --benchmark-only -p no:randomly benchmarks || true
	for script in benchmarks/bench_*.py; do $(PY) $$script; done

clean-workspace:
	rm -rf .data-mash
