# Everything a person runs: `make demo`, `make test`, `make dist`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench dist clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/evsh demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run_all.py

# One executable file, dist/evsh, that runs every command with no venv and no install step
# (needs python3 >= 3.11 on the machine that runs it). Built in a temporary file, smoke-checked,
# then moved into place; docs/dist.md. DIST_PYTHONS=3.11 narrows the target Pythons.
dist:
	$(PYTHON) scripts/build_dist.py $(if $(DIST_PYTHONS),--pythons '$(DIST_PYTHONS)')

clean:
	rm -rf $(VENV) build dist *.egg-info
