"""Names of programming languages as the interface shows them.

Which language a piece of code is in is :mod:`engine.tasks.programming_languages`'s job;
this gives its canonical names their display names, translated where they are not
proper nouns.

Thread: the Qt thread (translation reads the installed translators).
"""

from __future__ import annotations

from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from PySide6.QtCore import QCoreApplication

from engine.tasks.programming_languages import LANGUAGES


def language_display_name(name: str) -> str:
    """The name to show for the language ``name`` (as ``language_for`` returns it).

    Args:
        name: a canonical language name.

    Returns:
        The display name, translated where it is not a proper noun.
    """
    if name == "text":
        return QCoreApplication.translate("CodeLanguage", "Plain text")
    if name == "bash":
        return QCoreApplication.translate("CodeLanguage", "Shell")
    if name in LANGUAGES:
        return LANGUAGES[name]
    try:
        return str(get_lexer_by_name(name).name)
    except ClassNotFound:
        return name


__all__ = ["language_display_name"]
