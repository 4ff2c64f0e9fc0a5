# The two commands of README.md: `make demo` renders the example profiles into out/, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test check bench venv clean

$(BIN)/gen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip
	$(BIN)/pip install --quiet --quiet -e '.[test]'
	touch $(BIN)/gen

venv: $(BIN)/gen

demo: venv
	$(BIN)/gen build profiles -o out

test: venv
	$(BIN)/python -m pytest -q -n auto

# the edit-test loop: tests/unit without its slow sweeps (no sandbox rehearsals, no wheel build); make test runs all
check: venv
	$(BIN)/python -m pytest -q -n auto -m "not slow" tests/unit

# speed is measured against a floor taken in the same run, never asserted in a test
bench: venv
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/fleet_build.py

clean:
	rm -rf $(VENV) out
