# The two commands of README.md: `make demo` renders the example profiles into out/, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test venv clean

$(BIN)/gen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/gen

venv: $(BIN)/gen

demo: venv
	$(BIN)/gen build profiles -o out

test: venv
	$(BIN)/python -m pytest -q -n auto

clean:
	rm -rf $(VENV) out/*[!.gitkeep]
