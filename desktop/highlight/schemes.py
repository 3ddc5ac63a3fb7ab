"""Colour schemes for code: token colours for light and dark themes, readable on the code's
background.

A :class:`Scheme` turns the token spans of :mod:`desktop.highlight.lexer` into Qt text
formats, from a colour set after GitHub's light or dark theme (picked by the lightness
of the palette's Base colour), each colour moved towards the text colour until it meets
WCAG AA contrast against the background it is shown on.

Thread: the Qt thread.
"""

from __future__ import annotations

import re

from pygments.token import Comment, Generic, Keyword, Name, Number, Operator, String, _TokenType
from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat, QTextLayout

from desktop.highlight.lexer import Line
from desktop.widgets import blend

#: Token colours for light backgrounds (after GitHub's light theme).
_LIGHT_COLOURS: dict[_TokenType, str] = {
    Keyword: "#cf222e",
    Keyword.Constant: "#0550ae",
    Keyword.Type: "#953800",
    Operator.Word: "#cf222e",
    Name.Builtin: "#953800",
    Name.Builtin.Pseudo: "#0550ae",
    Name.Function: "#8250df",
    Name.Class: "#953800",
    Name.Decorator: "#8250df",
    Name.Exception: "#953800",
    Name.Constant: "#0550ae",
    Name.Tag: "#116329",
    Name.Attribute: "#0550ae",
    Name.Label: "#8250df",
    Name.Entity: "#0550ae",
    String: "#0a3069",
    String.Escape: "#0550ae",
    String.Interpol: "#0550ae",
    String.Regex: "#116329",
    Number: "#0550ae",
    Comment: "#6e7781",
    Comment.Preproc: "#cf222e",
    Comment.PreprocFile: "#0a3069",
    Generic.Heading: "#0550ae",
    Generic.Subheading: "#0550ae",
    Generic.Deleted: "#82071e",
    Generic.Inserted: "#116329",
    Generic.Prompt: "#6e7781",
    Generic.Traceback: "#cf222e",
    Generic.Error: "#cf222e",
}
#: The same for dark backgrounds (after GitHub's dark theme).
_DARK_COLOURS: dict[_TokenType, str] = {
    Keyword: "#ff7b72",
    Keyword.Constant: "#79c0ff",
    Keyword.Type: "#ffa657",
    Operator.Word: "#ff7b72",
    Name.Builtin: "#ffa657",
    Name.Builtin.Pseudo: "#79c0ff",
    Name.Function: "#d2a8ff",
    Name.Class: "#ffa657",
    Name.Decorator: "#d2a8ff",
    Name.Exception: "#ffa657",
    Name.Constant: "#79c0ff",
    Name.Tag: "#7ee787",
    Name.Attribute: "#79c0ff",
    Name.Label: "#d2a8ff",
    Name.Entity: "#79c0ff",
    String: "#a5d6ff",
    String.Escape: "#79c0ff",
    String.Interpol: "#79c0ff",
    String.Regex: "#7ee787",
    Number: "#79c0ff",
    Comment: "#8b949e",
    Comment.Preproc: "#ff7b72",
    Comment.PreprocFile: "#a5d6ff",
    Generic.Heading: "#79c0ff",
    Generic.Subheading: "#79c0ff",
    Generic.Deleted: "#ffa198",
    Generic.Inserted: "#7ee787",
    Generic.Prompt: "#8b949e",
    Generic.Traceback: "#ff7b72",
    Generic.Error: "#ff7b72",
}
_BOLD = (Generic.Heading, Generic.Subheading, Generic.Strong)
#: WCAG AA contrast for body text; colours that miss it move towards the text colour.
_MIN_CONTRAST = 4.5
#: How much of the text colour tints a code block's background (as the transcript does).
CODE_TINT = 0.07
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast_ratio(first: QColor, second: QColor) -> float:
    """The WCAG 2 contrast ratio of two colours, from 1 (none) to 21 (black on white).

    Args:
        first: one colour.
        second: the other.

    Returns:
        The ratio of the lighter colour's relative luminance to the darker's (each plus 0.05).
    """
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class Scheme:
    """Token formats for one background and text colour, from the light or dark colour set.

    Made by :func:`scheme_for`, which keeps one per background, text colour and set.
    """

    def __init__(self, background: QColor, foreground: QColor, *, dark: bool) -> None:
        self.background = background
        self.dark = dark
        self._foreground = foreground
        self._colours = _DARK_COLOURS if self.dark else _LIGHT_COLOURS
        self._formats: dict[_TokenType, QTextCharFormat | None] = {}
        self._ranges: dict[Line, list[QTextLayout.FormatRange]] = {}

    def format_for(self, ttype: _TokenType) -> QTextCharFormat | None:
        """The format for a token type, or None for plain text."""
        if ttype in self._formats:
            return self._formats[ttype]
        kind: _TokenType | None = ttype
        while kind is not None and kind not in self._colours:
            kind = kind.parent
        fmt: QTextCharFormat | None = None
        if kind is not None:
            fmt = QTextCharFormat()
            fmt.setForeground(self._readable(QColor(self._colours[kind])))
            if ttype in Comment and ttype not in Comment.Preproc:
                fmt.setFontItalic(True)
        if ttype in Generic.Emph:
            fmt = fmt or QTextCharFormat()
            fmt.setFontItalic(True)
        if any(ttype in group for group in _BOLD):
            fmt = fmt or QTextCharFormat()
            fmt.setFontWeight(QFont.Weight.Bold)
        self._formats[ttype] = fmt
        return fmt

    def _readable(self, color: QColor) -> QColor:
        for step in range(11):
            candidate = blend(color, self._foreground, step / 10)
            if contrast_ratio(candidate, self.background) >= _MIN_CONTRAST:
                return candidate
        return self._foreground

    def spans(self, line: Line, text: str) -> list[tuple[int, int, QTextCharFormat]]:
        """``(start, length, format)`` for a line's coloured tokens, in Qt's UTF-16 units."""
        result: list[tuple[int, int, QTextCharFormat]] = []
        last_end = -1
        last_format: QTextCharFormat | None = None
        for start, end, ttype in line:
            fmt = self.format_for(ttype)
            if fmt is None:
                continue
            if fmt is last_format and start == last_end:
                begin, _length, _fmt = result[-1]
                result[-1] = (begin, end - begin, fmt)
            else:
                result.append((start, end - start, fmt))
            last_end, last_format = end, fmt
        if result and _ASTRAL.search(text):
            result = [
                (_utf16_len(text[:start]), _utf16_len(text[start : start + length]), fmt)
                for start, length, fmt in result
            ]
        return result

    def ranges(self, line: Line, text: str) -> list[QTextLayout.FormatRange]:
        """A line's coloured tokens as ``QTextLayout`` format ranges (cached per line)."""
        cacheable = not _ASTRAL.search(text)
        if cacheable and line in self._ranges:
            return self._ranges[line]
        ranges = []
        for start, length, fmt in self.spans(line, text):
            piece = QTextLayout.FormatRange()
            piece.start = start
            piece.length = length
            piece.format = fmt
            ranges.append(piece)
        if cacheable:
            if len(self._ranges) > 20000:
                self._ranges.clear()
            self._ranges[line] = ranges
        return ranges


def _utf16_len(text: str) -> int:
    return len(text) + len(_ASTRAL.findall(text))


_SCHEMES: dict[tuple[int, int, bool], Scheme] = {}


def scheme_for(palette: QPalette, background: QColor) -> Scheme:
    """The token formats for text on ``background`` in a window with ``palette``.

    The colour set (light or dark) follows the lightness of the palette's Base colour;
    each colour is then made to read on ``background``.
    """
    foreground = palette.color(QPalette.ColorRole.Text)
    dark = palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5
    key = (background.rgba(), foreground.rgba(), dark)
    scheme = _SCHEMES.get(key)
    if scheme is None:
        scheme = _SCHEMES[key] = Scheme(background, foreground, dark=dark)
    return scheme


def code_background(palette: QPalette) -> QColor:
    """The background of code (blocks and inline) in rich text shown with ``palette``."""
    return blend(
        palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), CODE_TINT
    )


# -- Markdown documents ----------------------------------------------------------------


__all__ = ["CODE_TINT", "Scheme", "code_background", "contrast_ratio", "scheme_for"]
