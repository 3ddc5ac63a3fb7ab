"""Renders Hearth's application icon (``packaging/icons/hearth.svg``) to the hicolor PNG sizes.

The PNGs are committed beside the SVG, so the app has a window icon when it runs from
a source checkout and the packages need no SVG renderer at install time. Run this
after changing the SVG::

    .venv/bin/python packaging/render_icons.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ICONS_DIR = Path(__file__).resolve().parent / "icons"
SVG = ICONS_DIR / "hearth.svg"
#: The sizes desktops look up in the hicolor theme (freedesktop icon theme spec).
SIZES: tuple[int, ...] = (16, 32, 48, 64, 128, 256, 512)
ICON_NAME = "hearth"


def png_path(size: int, root: Path = ICONS_DIR) -> Path:
    """Where the PNG of ``size`` pixels lies: ``<root>/hicolor/<size>x<size>/apps/hearth.png``."""
    return root / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def render(size: int) -> bytes:
    """The icon at ``size`` × ``size`` pixels as PNG bytes.

    Raises:
        RuntimeError: the SVG cannot be read.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise RuntimeError(f"{SVG} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def main(argv: list[str] | None = None) -> int:
    """Render every size; returns the exit status."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    for size in SIZES:
        target = png_path(size)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render(size))
        print(f"{target.relative_to(ICONS_DIR.parent.parent)}: {size}x{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
