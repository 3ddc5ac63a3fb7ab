"""The Help menu's windows: the built-in guides (:class:`HelpDialog`) and :class:`AboutDialog`.

The guides are Markdown files, ``resources/help/<language>/<guide>.md``, rendered by
Qt's own Markdown reader in a :class:`QTextBrowser`. A link to ``guide:<name>`` opens
another guide; ``https://`` links open in the web browser.

Thread: the Qt thread. The guides are a few kilobytes, read when shown.
"""

from __future__ import annotations

import html
import importlib.metadata
import logging
import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import QEvent, Qt, QUrl, Signal, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.i18n import SOURCE_LANGUAGE, resolve_language, resources_dir
from engine.data.config import Paths

log = logging.getLogger("desktop.dialogs.help")

#: The built-in guides, in the order the guide list shows them.
GUIDES: tuple[str, ...] = ("models", "gpu", "troubleshooting")

#: URL scheme of links between guides: ``[Using the GPU](guide:gpu)``.
GUIDE_SCHEME = "guide"

#: Link schemes handed to the desktop (the web browser, the mail program).
EXTERNAL_SCHEMES = ("https", "http", "mailto")

#: The license pyproject.toml declares, for when Hearth runs without being installed.
DECLARED_LICENSE = "Apache-2.0"


def help_dir() -> Path:
    """The folder with one subfolder of guides per language."""
    return resources_dir() / "help"


def guide_file(language: str, guide: str) -> Path | None:
    """The Markdown file of a guide, in ``language`` if it exists, else in English.

    Args:
        language: a language code (``"en"``, ``"zh_CN"``).
        guide: a name from :data:`GUIDES`.

    Returns:
        The file, or None when the guide is in neither language.
    """
    for code in dict.fromkeys((language, SOURCE_LANGUAGE)):
        candidate = help_dir() / code / f"{guide}.md"
        if candidate.is_file():
            return candidate
    return None


def hearth_version() -> str | None:
    """Hearth's version from its installed metadata, or None when it is not installed."""
    try:
        return importlib.metadata.version("hearth")
    except importlib.metadata.PackageNotFoundError:
        return None


def hearth_license() -> str:
    """The license Hearth's metadata declares (an SPDX identifier such as ``Apache-2.0``)."""
    try:
        metadata = importlib.metadata.metadata("hearth")
    except importlib.metadata.PackageNotFoundError:
        return DECLARED_LICENSE
    # get_all, not [] or get: a missing key raises in newer importlib.metadata versions.
    for field in ("License-Expression", "License"):
        values = metadata.get_all(field) or []
        if values and values[0].strip():
            return str(values[0]).strip()
    return DECLARED_LICENSE


class HelpDialog(QDialog):
    """Hearth's guides: a list of guides beside the selected one, rendered from Markdown.

    Non-modal; the main window keeps one and calls :meth:`show_guide` to bring a guide up.

    Args:
        language: the interface language (a Settings value or a code; see
            :func:`~desktop.i18n.resolve_language`); guides missing in it show in English.
        guide: the guide shown first, a name from :data:`GUIDES`.
        parent: the parent widget.

    Raises:
        ValueError: ``guide`` is not one of :data:`GUIDES`.

    Signals:
        guide_shown(str): a guide was shown (its name).
    """

    guide_shown = Signal(str)

    def __init__(self, language: str, guide: str = "models", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self._language = resolve_language(language)
        self._guide = GUIDES[0]
        self._file: Path | None = None

        self.guide_list = QListWidget(self)
        self.guide_list.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.guide_list.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Expanding)
        for name in GUIDES:
            item = QListWidgetItem(self.guide_list)
            item.setData(Qt.ItemDataRole.UserRole, name)
        self.guide_list.currentRowChanged.connect(self._on_guide_list_current_row_changed)

        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)  # every link goes through _on_browser_anchor_clicked
        self.browser.anchorClicked.connect(self._on_browser_anchor_clicked)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)

        body = QHBoxLayout()
        body.addWidget(self.guide_list)
        body.addWidget(self.browser, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

        metrics = self.fontMetrics()
        self.resize(metrics.horizontalAdvance("M") * 72, metrics.lineSpacing() * 34)
        self.retranslate_ui()
        self.show_guide(guide)

    # -- public ------------------------------------------------------------------------

    @property
    def language(self) -> str:
        """The language code the guides are shown in."""
        return self._language

    @property
    def current_guide(self) -> str:
        """The name of the guide shown."""
        return self._guide

    @property
    def current_file(self) -> Path | None:
        """The Markdown file shown (None when the guide is missing from this installation)."""
        return self._file

    def show_guide(self, name: str) -> None:
        """Show the guide ``name`` and select it in the list.

        Raises:
            ValueError: ``name`` is not one of :data:`GUIDES`.
        """
        if name not in GUIDES:
            raise ValueError(f"unknown guide {name!r}; the guides are {', '.join(GUIDES)}")
        self._guide = name
        row = GUIDES.index(name)
        if self.guide_list.currentRow() != row:
            blocked = self.guide_list.blockSignals(True)
            self.guide_list.setCurrentRow(row)
            self.guide_list.blockSignals(blocked)
        self._render()
        self.guide_shown.emit(name)

    def set_language(self, language: str) -> None:
        """Show the guides in another language (the interface language changed).

        Args:
            language: a Settings value or a language code.
        """
        code = resolve_language(language)
        if code != self._language:
            self._language = code
            self._render()

    # -- translation -------------------------------------------------------------------

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        titles = self._titles()
        for row, name in enumerate(GUIDES):
            item = self.guide_list.item(row)
            item.setText(titles[name])
        self.guide_list.setAccessibleName(self.tr("Guides"))
        self.guide_list.setToolTip(self.tr("Choose a guide"))
        self.browser.setAccessibleName(self.tr("Guide"))
        self._show_title()
        if self._file is None and self.browser.toPlainText():
            self._render()  # the "missing guide" note is a translated text

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _titles(self) -> dict[str, str]:
        return {
            "models": self.tr("Choosing a model"),
            "gpu": self.tr("Using the GPU"),
            "troubleshooting": self.tr("Troubleshooting"),
        }

    def _show_title(self) -> None:
        self.setWindowTitle(
            self.tr("{guide} — Hearth Help").format(guide=self._titles()[self._guide])
        )

    # -- rendering ---------------------------------------------------------------------

    def _render(self) -> None:
        self._file = guide_file(self._language, self._guide)
        text = None
        if self._file is not None:
            try:
                text = self._file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("Cannot read the guide %s: %s", self._file, exc)
                self._file = None
        if text is None:
            log.warning("The guide %r is missing from %s", self._guide, help_dir())
            text = self.tr(
                "This guide is missing from this installation of Hearth. "
                "Reinstalling Hearth brings it back."
            )
        self.browser.setMarkdown(text)
        self._show_title()

    # -- slots -------------------------------------------------------------------------

    def _on_guide_list_current_row_changed(self, row: int) -> None:
        if 0 <= row < len(GUIDES) and GUIDES[row] != self._guide:
            self.show_guide(GUIDES[row])

    def _on_browser_anchor_clicked(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == GUIDE_SCHEME:
            name = url.path().strip("/")
            if name in GUIDES:
                self.show_guide(name)
            else:
                log.warning("A guide links to the unknown guide %r", name)
        elif scheme in EXTERNAL_SCHEMES:
            if not QDesktopServices.openUrl(url):
                log.warning("No program opened %s", url.toString())
        elif not scheme and not url.path() and url.hasFragment():
            self.browser.scrollToAnchor(url.fragment())
        else:
            log.warning("Ignoring the link %s in a guide", url.toString())


class AboutDialog(QDialog):
    """Hearth's version, the versions it runs on, its folders and its license.

    Args:
        paths: Hearth's folders (the data and log folders are shown, as links).
        parent: the parent widget.
    """

    def __init__(self, paths: Paths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self._paths = paths
        self._version = hearth_version()
        self._license = hearth_license()

        self.name_label = QLabel("Hearth", self)  # the product name is not translated
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.name_label.setFont(font)
        self.version_label = QLabel(self)
        self.version_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tagline_label = QLabel(self)
        self.tagline_label.setWordWrap(True)

        self._row_labels: dict[str, QLabel] = {}
        self._values: dict[str, QLabel] = {}
        form = QFormLayout()
        for key in ("python", "qt", "pyside", "system", "data", "logs", "license"):
            label = QLabel(self)
            value = QLabel(self)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            value.setWordWrap(key in ("data", "logs"))
            label.setBuddy(value)
            form.addRow(label, value)
            self._row_labels[key] = label
            self._values[key] = value
        self._values["python"].setText(platform.python_version())
        self._values["qt"].setText(qVersion())
        self._values["pyside"].setText(PySide6.__version__)
        self._values["system"].setText(
            f"{platform.system()} {platform.release()} ({platform.machine()})".strip()
        )
        for key, folder in (("data", paths.data_dir), ("logs", paths.log_dir)):
            value = self._values[key]
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setOpenExternalLinks(True)
            url = QUrl.fromLocalFile(str(folder)).toString()
            value.setText(f'<a href="{html.escape(url)}">{html.escape(str(folder))}</a>')
        self._values["license"].setText(self._license)
        self.credits_label = QLabel(self)
        self.credits_label.setWordWrap(True)

        self.copy_button = QPushButton(self)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.name_label)
        layout.addWidget(self.version_label)
        layout.addWidget(self.tagline_label)
        layout.addLayout(form)
        layout.addWidget(self.credits_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 40)
        self.retranslate_ui()

    @property
    def version(self) -> str | None:
        """Hearth's version, or None when it runs without being installed."""
        return self._version

    def details_text(self) -> str:
        """What the dialog shows, as plain text (what "Copy details" puts on the clipboard)."""
        lines = [f"Hearth — {self.version_label.text()}"]
        for key, label in self._row_labels.items():
            value = self._values[key]
            shown = value.text()
            if key == "data":
                shown = str(self._paths.data_dir)
            elif key == "logs":
                shown = str(self._paths.log_dir)
            lines.append(f"{label.text()} {shown}")
        return "\n".join(lines)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("About Hearth"))
        if self._version is not None:
            self.version_label.setText(self.tr("Version {version}").format(version=self._version))
        else:
            self.version_label.setText(
                self.tr("Version unknown (Hearth runs from its source without being installed)")
            )
        self.tagline_label.setText(
            self.tr(
                "Hearth runs language models entirely on this computer: no account, no "
                "cloud, and nothing you type leaves it."
            )
        )
        labels = {
            "python": self.tr("Python:"),
            "qt": self.tr("Qt:"),
            "pyside": self.tr("PySide6:"),
            "system": self.tr("System:"),
            "data": self.tr("Data folder:"),
            "logs": self.tr("Log folder:"),
            "license": self.tr("License:"),
        }
        names = {
            "python": self.tr("Python version"),
            "qt": self.tr("Qt version"),
            "pyside": self.tr("PySide6 version"),
            "system": self.tr("Operating system"),
            "data": self.tr("Data folder"),
            "logs": self.tr("Log folder"),
            "license": self.tr("License"),
        }
        for key, label in self._row_labels.items():
            label.setText(labels[key])
            self._values[key].setAccessibleName(names[key])
        self._values["data"].setToolTip(self.tr("Your models and conversations are kept here"))
        self._values["logs"].setToolTip(self.tr("Attach hearth.log from here to a bug report"))
        self.credits_label.setText(
            self.tr(
                "Built on llama.cpp (MIT license) and Qt for Python (LGPLv3). The starter "
                "model, Qwen2.5-Coder-1.5B-Instruct, is licensed under Apache-2.0."
            )
        )
        self.copy_button.setText(self.tr("&Copy details"))
        self.copy_button.setToolTip(
            self.tr("Copy the versions and folders, to paste into a bug report")
        )

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _on_copy_button_clicked(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.details_text())


__all__ = [
    "GUIDES",
    "AboutDialog",
    "HelpDialog",
    "guide_file",
    "hearth_license",
    "hearth_version",
    "help_dir",
]
