"""What the packaging tests share: where the artefacts lie, and skip-or-fail for absent ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
PACKAGING = ROOT / "packaging"
APP_ID = "io.hearth.Hearth"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
#: Set by `make package-test`: a missing artefact or tool is a failure, not a skip.
REQUIRED = os.environ.get("HEARTH_PACKAGE_TEST") == "1"


def absent(reason: str) -> None:
    """Skip the test, or fail it under ``make package-test``."""
    if REQUIRED:
        pytest.fail(f"{reason} (required by make package-test)")
    pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    """The path of the command ``name``, or skip/fail saying which Debian package has it."""
    path = shutil.which(name)
    if path is None:
        absent(f"{name} is not installed (apt-get install {package})")
    assert path is not None
    return path
