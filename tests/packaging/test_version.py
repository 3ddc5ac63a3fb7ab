"""Hearth's version lives in one place, ``engine.__version__``, and every reader agrees."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import engine
from tests.packaging.helpers import APP_ID, PACKAGING


def test_the_installed_metadata_is_made_from_the_engine_version() -> None:
    # packaging/build.py names the .deb and the tarball after it, the About box shows it.
    assert importlib.metadata.version("hearth") == engine.__version__, (
        "the installed metadata is stale: reinstall (make, or pip install -e .)"
    )


def test_the_cli_prints_the_engine_version() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "engine", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"hearth {engine.__version__}"


def test_the_metainfo_describes_this_version_as_its_newest_release() -> None:
    # Software centres show the newest <release>: a new version needs its entry there.
    root = ET.parse(PACKAGING / f"{APP_ID}.metainfo.xml").getroot()
    newest = root.find("releases/release")
    assert newest is not None
    assert newest.get("version") == engine.__version__
