"""Where Hearth's bundled resources (catalog, help, translations) lie, without Qt."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The folder holding Hearth's resources (``catalog.json``, ``help/``, ``translations/``).

    In a PyInstaller bundle that is ``sys._MEIPASS/resources``. Otherwise it is
    ``resources/`` beside the ``engine`` package: the repository root in a source
    checkout or an editable install, ``site-packages`` in an installed wheel
    (pyproject.toml ships ``resources`` as package data). ``engine`` and ``desktop``
    are installed side by side, so this is the same folder as
    ``desktop.i18n.resources_dir()``.

    Returns:
        The folder; it may be missing in a broken installation.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidate = Path(bundle) / "resources"
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent / "resources"
