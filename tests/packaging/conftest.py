"""Packaging test fixtures: the artefacts of ``make package`` and the validators.

Tests of built artefacts skip, with the reason, when ``make package`` has not been run
or a validator is not installed. ``make package-test`` sets ``HEARTH_PACKAGE_TEST=1``,
which turns those skips into failures: there, everything must be present.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from engine.models.starter import STARTER_ENV
from tests.packaging.helpers import DIST, absent


@pytest.fixture(autouse=True)
def _bundled_starter(
    request: pytest.FixtureRequest, hearth_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built artefacts are tested with the starter model they carry, not the suite's own."""
    if request.node.get_closest_marker("package"):
        monkeypatch.delenv(STARTER_ENV)


@pytest.fixture(scope="session")
def version() -> str:
    """Hearth's version, as the packages are named after it."""
    return importlib.metadata.version("hearth")


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The PyInstaller bundle, ``dist/hearth``."""
    folder = DIST / "hearth"
    if not (folder / "hearth").is_file():
        absent(f"no bundle in {folder}: run make package")
    return folder


@pytest.fixture(scope="session")
def deb(version: str) -> Path:
    """The built ``.deb``."""
    path = DIST / f"hearth_{version}_amd64.deb"
    if not path.is_file():
        absent(f"{path} is missing: run make package")
    return path


@pytest.fixture(scope="session")
def tarball(version: str) -> Path:
    """The built per-user ``.tar.gz``."""
    path = DIST / f"hearth-{version}-linux-x86_64.tar.gz"
    if not path.is_file():
        absent(f"{path} is missing: run make package")
    return path
