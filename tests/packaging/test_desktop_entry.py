"""The desktop entry, the AppStream metainfo and the icons pass their validators."""

from __future__ import annotations

import subprocess

import pytest
from PySide6.QtGui import QImage

from tests.packaging.helpers import APP_ID, ICON_SIZES, PACKAGING, require_tool


def test_desktop_entry_is_valid() -> None:
    tool = require_tool("desktop-file-validate", "desktop-file-utils")
    entry = PACKAGING / f"{APP_ID}.desktop"
    out = subprocess.run([tool, str(entry)], capture_output=True, text=True, check=False)
    # desktop-file-validate exits 0 with hints; any error or warning is a failure here.
    assert out.returncode == 0, out.stdout + out.stderr
    assert "error" not in out.stdout and "warning" not in out.stdout, out.stdout
    text = entry.read_text(encoding="utf-8")
    assert "\nExec=hearth\n" in text
    assert "\nIcon=hearth\n" in text


def test_metainfo_is_valid_and_names_the_desktop_entry() -> None:
    tool = require_tool("appstreamcli", "appstream")
    metainfo = PACKAGING / f"{APP_ID}.metainfo.xml"
    out = subprocess.run(
        [tool, "validate", "--no-net", "--explain", str(metainfo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = metainfo.read_text(encoding="utf-8")
    assert f'<launchable type="desktop-id">{APP_ID}.desktop</launchable>' in text
    assert f"<id>{APP_ID}</id>" in text


@pytest.mark.parametrize("size", ICON_SIZES)
def test_each_icon_png_has_the_size_its_folder_says(size: int) -> None:
    png = PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "hearth.png"
    image = QImage(str(png))
    assert not image.isNull(), png
    assert (image.width(), image.height()) == (size, size)
    assert image.hasAlphaChannel()
    # The tile's centre is opaque and its corners (outside the rounded square) clear.
    assert image.pixelColor(size // 2, size // 2).alpha() == 255
    assert image.pixelColor(0, 0).alpha() == 0
