"""tests/engine run without Qt: declare pytest-qt's settings where pytest-qt is absent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.runtime.client import EngineClient


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Accept pyproject's pytest-qt settings when pytest-qt is not installed.

    `make test-headless` runs these tests in a virtualenv without PySide6, where pytest-qt
    cannot start and is not installed; ``--strict-config`` would then refuse its settings
    in the shared configuration as unknown keys.
    """
    if pluginmanager.has_plugin("pytest-qt"):
        return
    parser.addini("qt_api", "declared for pytest-qt, which is not installed here")
    parser.addini("qt_log_level_fail", "declared for pytest-qt, which is not installed here")


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    """A real engine client (worker process, real llama.cpp); closed at teardown."""
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()
