"""The app's colour theme: follow the system, or force light or dark on every platform.

:func:`apply_theme` first asks the platform through ``QStyleHints.setColorScheme``
(Qt 6.8+), which also gives native window frames and menus the requested scheme
where the platform supports it (Windows, macOS). A platform that ignores the hint —
Linux without a desktop portal, xcb under Xvfb, the offscreen plugin, GTK and KDE
themes whose palette does not follow the scheme (loot/loot#2091, QTBUG-127028) —
leaves ``colorScheme()`` at ``Unknown`` or keeps a palette of the other lightness;
there the Fusion style with an explicit light or dark :class:`QPalette` is used,
which looks the same everywhere. "system" undoes both: the hint is unset, the
platform's own style and palette come back.

Widgets that bake colours (tints computed from the palette, HTML with colours in it,
pixmaps) must recompute them when the palette changes. Qt tells them so through
:meth:`QWidget.changeEvent`: every widget gets ``QEvent.Type.PaletteChange`` when its
effective palette changes, and top-level windows also get
``QEvent.Type.ApplicationPaletteChange``. The events are posted, so they arrive on
the next turn of the event loop after :func:`apply_theme` returns, as they do when the
user switches the system's appearance. Colours in a widget's own ``setPalette`` are
not changed for it: derive them from the new palette in that handler.

Thread: the Qt thread.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.data.config import THEMES

log = logging.getLogger("desktop.theme")

#: Dynamic property on the QApplication, set while Hearth's palette is in force: the
#: name of the style it replaced, restored when the theme changes again.
_FORCED_PROPERTY = "hearthReplacedStyle"

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup

#: Role -> (normal colour, disabled colour). Every role is set, so nothing of the
#: platform's palette of the other lightness shows through.
_LIGHT: dict[QPalette.ColorRole, tuple[str, str]] = {
    _Role.Window: ("#efefef", "#efefef"),
    _Role.WindowText: ("#000000", "#bebebe"),
    _Role.Base: ("#ffffff", "#efefef"),
    _Role.AlternateBase: ("#f7f7f7", "#f7f7f7"),
    _Role.ToolTipBase: ("#ffffdc", "#ffffdc"),
    _Role.ToolTipText: ("#000000", "#000000"),
    _Role.PlaceholderText: ("#7f7f7f", "#bebebe"),
    _Role.Text: ("#000000", "#bebebe"),
    _Role.Button: ("#efefef", "#efefef"),
    _Role.ButtonText: ("#000000", "#bebebe"),
    _Role.BrightText: ("#ffffff", "#ffffff"),
    _Role.Light: ("#ffffff", "#ffffff"),
    _Role.Midlight: ("#cacaca", "#cacaca"),
    _Role.Mid: ("#b8b8b8", "#b8b8b8"),
    _Role.Dark: ("#9f9f9f", "#bebebe"),
    _Role.Shadow: ("#767676", "#b1b1b1"),
    _Role.Highlight: ("#308cc6", "#919191"),
    _Role.HighlightedText: ("#ffffff", "#ffffff"),
    _Role.Link: ("#0000ff", "#0000ff"),
    _Role.LinkVisited: ("#ff00ff", "#ff00ff"),
    _Role.Accent: ("#308cc6", "#919191"),
}
_DARK: dict[QPalette.ColorRole, tuple[str, str]] = {
    _Role.Window: ("#2d2d2d", "#2d2d2d"),
    _Role.WindowText: ("#e8e8e8", "#7f7f7f"),
    _Role.Base: ("#1e1e1e", "#262626"),
    _Role.AlternateBase: ("#262626", "#262626"),
    _Role.ToolTipBase: ("#3c3c3c", "#3c3c3c"),
    _Role.ToolTipText: ("#e8e8e8", "#e8e8e8"),
    _Role.PlaceholderText: ("#8c8c8c", "#5f5f5f"),
    _Role.Text: ("#e8e8e8", "#7f7f7f"),
    _Role.Button: ("#353535", "#2d2d2d"),
    _Role.ButtonText: ("#e8e8e8", "#7f7f7f"),
    _Role.BrightText: ("#ff6b6b", "#ff6b6b"),
    _Role.Light: ("#4a4a4a", "#3a3a3a"),
    _Role.Midlight: ("#404040", "#353535"),
    _Role.Mid: ("#262626", "#262626"),
    _Role.Dark: ("#1a1a1a", "#1a1a1a"),
    _Role.Shadow: ("#000000", "#000000"),
    _Role.Highlight: ("#2a82da", "#505050"),
    _Role.HighlightedText: ("#ffffff", "#bfbfbf"),
    _Role.Link: ("#5aa9ff", "#5aa9ff"),
    _Role.LinkVisited: ("#b48cff", "#b48cff"),
    _Role.Accent: ("#2a82da", "#505050"),
}


def make_palette(dark: bool) -> QPalette:
    """Hearth's explicit palette, used where the platform does not follow the scheme hint.

    Args:
        dark: the dark palette if True, else the light one.

    Returns:
        A palette with every role set for the active, inactive and disabled groups.
    """
    palette = QPalette()
    for role, (normal, disabled) in (_DARK if dark else _LIGHT).items():
        palette.setColor(_Group.Active, role, QColor(normal))
        palette.setColor(_Group.Inactive, role, QColor(normal))
        palette.setColor(_Group.Disabled, role, QColor(disabled))
    return palette


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` is a dark one: light text on a dark window."""
    window = palette.color(_Role.Window).lightness()
    text = palette.color(_Role.WindowText).lightness()
    return window < text


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch the whole application to ``theme``, now, while it runs.

    Args:
        app: the application.
        theme: "system" (follow the OS, and its changes), "light" or "dark"
            (:data:`engine.data.config.THEMES`).

    Raises:
        ValueError: ``theme`` is not one of those.
    """
    if theme not in THEMES:
        raise ValueError(f"Unknown theme {theme!r}; expected one of {', '.join(THEMES)}")
    hints = app.styleHints()
    native = app.property(_FORCED_PROPERTY)
    if native:
        # Back to the platform's palette and style, so the check below sees what the
        # platform itself does with the hint, not our earlier palette.
        app.setPalette(QPalette())
        if app.style().name().lower() != native.lower():
            app.setStyle(native)
        app.setProperty(_FORCED_PROPERTY, None)
    if theme == "system":
        hints.unsetColorScheme()
        log.info("Theme: following the system (%s style)", app.style().name())
        return
    dark = theme == "dark"
    wanted = Qt.ColorScheme.Dark if dark else Qt.ColorScheme.Light
    hints.setColorScheme(wanted)
    if hints.colorScheme() == wanted and is_dark(app.palette()) == dark:
        log.info("Theme: %s, from the platform (%s style)", theme, app.style().name())
        return
    # The platform ignored the hint or kept a palette of the other lightness: the Fusion
    # style draws with whatever palette it is given, on every platform.
    native = app.style().name()
    if native.lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(make_palette(dark))
    app.setProperty(_FORCED_PROPERTY, native)
    log.info("Theme: %s, with Hearth's palette (the platform ignores the hint)", theme)


__all__ = ["apply_theme", "is_dark", "make_palette"]
