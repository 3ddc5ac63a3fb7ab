"""The interface language: resolving the setting, finding resources, installing Qt translators.

How a widget is translated (the house convention): it sets every visible text in
``retranslate_ui()``, called at the end of ``__init__`` and again from ``changeEvent``
on ``QEvent.Type.LanguageChange``. :meth:`Translations.apply` removes the translators
it installed before and installs the new ones; each install or removal makes Qt post a
``LanguageChange`` event to every top-level widget, which passes it on to its children,
so the whole interface re-translates without a restart.

Translation contexts, checked with PySide6 6.11.3 and its ``pyside6-lupdate``:

* ``pyside6-lupdate`` writes the name of the class whose body holds the ``self.tr()``
  call (the lexical class, also for calls in nested functions and lambdas) as the
  context, bare — not qualified by the module.
* At run time PySide6's ``QObject.tr()`` walks the *runtime* class's MRO:
  ``type(self).__name__`` first, then each base class's name, and returns the first
  translation found. The lexical class is always in that MRO, so a string written in
  a base class is found for every subclass, and the catalogue needs nothing else.

What follows from that: keep class names in ``desktop/`` unique (two ``Dialog``
classes in different modules would share one context); a subclass that translates the
same source text itself wins over its base class; only string *literals* are
extracted (implicit concatenation works, ``self.tr(variable)`` is silently missed), so
call ``.format()`` on the result, never inside; code outside a QObject uses
``QCoreApplication.translate("SomeContext", "literal text")``, which lupdate extracts
under ``SomeContext``. ``tools/translations.py`` runs lupdate with these rules and
checks the catalogue.

Thread: the Qt thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from engine.resources import resources_dir

log = logging.getLogger("desktop.i18n")

#: Languages the interface ships in: code -> the language's own name (for the Settings list).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "zh_CN": "简体中文",
}

#: The language source strings are written in; it needs no translator.
SOURCE_LANGUAGE = "en"

#: The settings value meaning "follow the system's language".
SYSTEM = "system"

#: File name prefix of Hearth's compiled catalogues: ``hearth_<code>.qm``.
CATALOGUE_PREFIX = "hearth"

#: Qt's own catalogue for standard texts (OK, Cancel, the file dialog...): ``qtbase_<code>.qm``.
QT_CATALOGUE_PREFIX = "qtbase"


def resolve_language(setting: str, locale: QLocale | None = None) -> str:
    """The interface language for a Settings value.

    Args:
        setting: ``"system"``, or a code from :data:`LANGUAGES` (``"en"``, ``"zh_CN"``).
        locale: the system locale to follow for ``"system"``; defaults to
            ``QLocale.system()``.

    Returns:
        A code from :data:`LANGUAGES`: for ``"system"``, ``"zh_CN"`` when the system's
        (first) user-interface language is any Chinese, else ``"en"``; an explicit code
        as given; anything unknown gives ``"en"``.
    """
    text = (setting or "").strip()
    if text.lower() == SYSTEM:
        system = locale if locale is not None else QLocale.system()
        # uiLanguages() is the user's preferred interface language (it can differ from
        # the formatting locale, on macOS for one); language() is the fallback.
        preferred = system.uiLanguages()
        language = QLocale(preferred[0]).language() if preferred else system.language()
        return "zh_CN" if language == QLocale.Language.Chinese else SOURCE_LANGUAGE
    for code in LANGUAGES:
        if text.replace("-", "_").lower() == code.lower():
            return code
    if text:
        log.warning("Unknown interface language %r; using English", setting)
    return SOURCE_LANGUAGE


def translations_dir() -> Path:
    """Where Hearth's compiled catalogues (``hearth_<code>.qm``) lie."""
    return resources_dir() / "translations"


def qt_translations_dir() -> Path:
    """Where Qt's own catalogues lie (PySide6's ``Qt/translations``, also when frozen)."""
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


class Translations:
    """Owns the translators installed on the application and swaps them on a language change.

    Create one for the application and call :meth:`apply` with the Settings value at
    start-up, before the main window exists, and again whenever the setting changes.

    Args:
        app: the application; defaults to ``QCoreApplication.instance()``.
        folder: where ``hearth_<code>.qm`` lie; defaults to :func:`translations_dir`.
        qt_folder: where Qt's ``qtbase_<code>.qm`` lie; defaults to
            :func:`qt_translations_dir`.
    """

    def __init__(
        self,
        app: QCoreApplication | None = None,
        *,
        folder: Path | None = None,
        qt_folder: Path | None = None,
    ) -> None:
        instance = app if app is not None else QCoreApplication.instance()
        if instance is None:
            raise RuntimeError("Create the QApplication before Translations")
        self._app = instance
        self._folder = folder if folder is not None else translations_dir()
        self._qt_folder = qt_folder if qt_folder is not None else qt_translations_dir()
        self._installed: list[QTranslator] = []
        self._language = SOURCE_LANGUAGE

    @property
    def language(self) -> str:
        """The code of the language applied last (``"en"`` until :meth:`apply` says otherwise)."""
        return self._language

    @property
    def installed(self) -> tuple[QTranslator, ...]:
        """The translators this object has installed now."""
        return tuple(self._installed)

    def apply(self, language: str) -> None:
        """Switch the interface to ``language``; every widget re-translates itself.

        Removes the translators installed before, then (for any language but English)
        installs Hearth's ``hearth_<code>.qm`` and, when Qt ships it, ``qtbase_<code>.qm``
        for Qt's standard texts. Qt posts a ``LanguageChange`` event to every widget for
        each removal and install; the event is handled on the next turn of the event loop.
        Applying the language already applied does nothing. A missing catalogue is logged
        and that part of the interface stays in English.

        Args:
            language: a Settings value: ``"system"`` or a code from :data:`LANGUAGES`
                (see :func:`resolve_language`).
        """
        code = resolve_language(language)
        if code == self._language:
            return
        for translator in self._installed:
            self._app.removeTranslator(translator)
            translator.deleteLater()
        self._installed.clear()
        self._language = code
        if code == SOURCE_LANGUAGE:
            log.info("Interface language: English")
            return
        hearth = self._load(f"{CATALOGUE_PREFIX}_{code}", self._folder)
        if hearth is None:
            log.warning(
                "No Hearth translation for %s in %s; the interface stays in English",
                code,
                self._folder,
            )
        qt = self._load(f"{QT_CATALOGUE_PREFIX}_{code}", self._qt_folder)
        if qt is None:
            log.info(
                "Qt ships no %s_%s.qm; standard buttons stay in English", QT_CATALOGUE_PREFIX, code
            )
        # Qt searches the translator installed last first: Hearth's own wins over Qt's.
        for loaded in [t for t in (qt, hearth) if t is not None]:
            if self._app.installTranslator(loaded):
                self._installed.append(loaded)
        log.info("Interface language: %s (%d catalogues)", code, len(self._installed))

    def _load(self, name: str, folder: Path) -> QTranslator | None:
        translator = QTranslator(self._app)
        if translator.load(name, str(folder)) and not translator.isEmpty():
            return translator
        translator.deleteLater()
        return None


__all__ = [
    "LANGUAGES",
    "SOURCE_LANGUAGE",
    "SYSTEM",
    "Translations",
    "qt_translations_dir",
    "resolve_language",
    "resources_dir",
    "translations_dir",
]
