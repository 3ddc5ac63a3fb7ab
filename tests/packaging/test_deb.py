"""The .deb installs the bundle in /opt/hearth with commands, menu entry, icons and Depends."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.models.starter import STARTER_FILE
from tests.packaging.helpers import APP_ID, ICON_SIZES, require_tool

pytestmark = pytest.mark.package


def _field(deb: Path, name: str) -> str:
    tool = require_tool("dpkg-deb", "dpkg")
    return subprocess.run(
        [tool, "--field", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _contents(deb: Path) -> dict[str, str]:
    """Each path in the package (``/opt/hearth/hearth``) and, for a link, its target."""
    tool = require_tool("dpkg-deb", "dpkg")
    listing = subprocess.run(
        [tool, "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    entries = {}
    for line in listing.splitlines():
        name = line.split(maxsplit=5)[5]
        path, _, target = name.partition(" -> ")
        entries[path.removeprefix(".").rstrip("/") or "/"] = target
    return entries


def test_the_package_is_named_and_versioned_after_hearth(deb: Path, version: str) -> None:
    assert _field(deb, "Package") == "hearth"
    assert _field(deb, "Version") == version
    assert _field(deb, "Architecture") == "amd64"
    assert int(_field(deb, "Installed-Size")) > 200_000  # KiB: the bundle with its model


def test_depends_names_the_libraries_qt_and_llama_cpp_need(deb: Path) -> None:
    depends = [d.strip() for d in _field(deb, "Depends").split(",")]
    names = {d.split()[0] for d in depends}
    # Qt's xcb platform plugin, its GL and font stack, and llama.cpp's OpenMP runtime.
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libfontconfig1"} <= names
    assert {"libegl1", "libgl1", "libdbus-1-3", "libglib2.0-0"} <= names
    assert {"libgomp1", "libstdc++6"} <= names
    assert any(d.startswith("libc6 (>= 2.") for d in depends)
    assert not any(name.startswith(("libgtk", "python3")) for name in names)


def test_the_package_installs_commands_menu_entry_icons_and_metainfo(deb: Path) -> None:
    entries = _contents(deb)
    assert "/opt/hearth/hearth" in entries
    assert "/opt/hearth/hearth-cli" in entries
    assert entries["/usr/bin/hearth"] == "/opt/hearth/hearth"
    assert entries["/usr/bin/hearth-cli"] == "/opt/hearth/hearth-cli"
    assert f"/usr/share/applications/{APP_ID}.desktop" in entries
    assert f"/usr/share/metainfo/{APP_ID}.metainfo.xml" in entries
    for size in ICON_SIZES:
        assert f"/usr/share/icons/hicolor/{size}x{size}/apps/hearth.png" in entries
    assert "/usr/share/icons/hicolor/scalable/apps/hearth.svg" in entries
    assert "/usr/share/doc/hearth/copyright" in entries
    assert f"/opt/hearth/_internal/resources/models/{STARTER_FILE}" in entries
