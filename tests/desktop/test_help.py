"""The Help menu's windows: the guides in both languages, links between them, and About."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl, qVersion
from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.dialogs import help as help_module
from desktop.dialogs.help import GUIDES, AboutDialog, HelpDialog
from engine.data.config import get_paths

ROOT = Path(__file__).resolve().parents[2]

TITLES = {
    "en": {
        "models": "Choosing a model",
        "gpu": "Using the GPU",
        "troubleshooting": "Troubleshooting",
    },
    "zh_CN": {"models": "选择模型", "gpu": "使用 GPU", "troubleshooting": "故障排除"},
}


def _headings(document: QTextDocument) -> list[tuple[int, str]]:
    found = []
    block = document.begin()
    while block.isValid():
        level = block.blockFormat().headingLevel()
        if level:
            found.append((level, block.text()))
        block = block.next()
    return found


def _links(document: QTextDocument) -> list[tuple[str, int]]:
    """Every link in the document: its target and a position inside its text."""
    found = []
    block = document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().isAnchor():
                found.append((fragment.charFormat().anchorHref(), fragment.position() + 1))
            fragments += 1
        block = block.next()
    return found


def _click_link(qtbot: QtBot, dialog: HelpDialog, target: str) -> None:
    """Scroll the link to ``target`` into view and click it with the mouse."""
    browser = dialog.browser
    position = next(pos for href, pos in _links(browser.document()) if href == target)
    cursor = QTextCursor(browser.document())
    cursor.setPosition(position)
    browser.setTextCursor(cursor)
    browser.ensureCursorVisible()
    rect = browser.cursorRect(cursor)
    point = QPoint(rect.right() + 2, rect.center().y())
    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=point)


ShowHelp = Callable[..., HelpDialog]


@pytest.fixture
def show(qtbot: QtBot) -> ShowHelp:
    """Create and show a help dialog (keep a reference: pytest-qt holds only a weak one)."""

    def make(language: str, guide: str = "models") -> HelpDialog:
        dialog = HelpDialog(language, guide)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    return make


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("guide", GUIDES)
def test_every_guide_renders_in_both_languages(show: ShowHelp, language: str, guide: str) -> None:
    dialog = show(language, guide)
    assert dialog.current_guide == guide
    assert dialog.current_file == ROOT / "resources" / "help" / language / f"{guide}.md"
    headings = _headings(dialog.browser.document())
    assert headings[0] == (1, TITLES[language][guide])
    assert sum(1 for level, _ in headings if level == 2) >= 3
    text = dialog.browser.toPlainText()
    # The Markdown was rendered, not shown as source.
    assert "**" not in text
    assert "](" not in text
    assert not any(line.startswith("#") for line in text.splitlines())
    # Every link goes to another guide or to the web.
    for href, _pos in _links(dialog.browser.document()):
        url = QUrl(href)
        assert url.scheme() in ("guide", "https"), href
        if url.scheme() == "guide":
            assert url.path() in GUIDES


def test_guides_quote_the_pinned_llama_cpp_version(show: ShowHelp) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pin = next(
        part.strip().strip('",')
        for part in pyproject.splitlines()
        if part.strip().startswith('"llama-cpp-python==')
    )
    for language in ("en", "zh_CN"):
        dialog = show(language, "gpu")
        text = dialog.browser.toPlainText()
        assert (
            f'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir {pin}'
            in (text)
        )


def test_clicking_a_guide_link_opens_that_guide(qtbot: QtBot, show: ShowHelp) -> None:
    dialog = show("en", "models")
    with qtbot.waitSignal(dialog.guide_shown, timeout=5000) as shown:
        _click_link(qtbot, dialog, "guide:gpu")
    assert shown.args == ["gpu"]
    assert dialog.current_guide == "gpu"
    assert dialog.guide_list.currentRow() == GUIDES.index("gpu")
    assert _headings(dialog.browser.document())[0] == (1, "Using the GPU")
    assert dialog.windowTitle() == "Using the GPU — Hearth Help"


def test_clicking_a_web_link_opens_the_browser(
    qtbot: QtBot, show: ShowHelp, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url.toString())
        return True

    monkeypatch.setattr(help_module.QDesktopServices, "openUrl", open_url)
    dialog = show("zh_CN", "gpu")
    _click_link(qtbot, dialog, "https://github.com/abetlen/llama-cpp-python#installation")
    qtbot.waitUntil(lambda: bool(opened))
    assert opened == ["https://github.com/abetlen/llama-cpp-python#installation"]
    assert dialog.current_guide == "gpu"


def test_the_guide_list_switches_guides_from_the_keyboard(qtbot: QtBot, show: ShowHelp) -> None:
    dialog = show("zh_CN", "models")
    dialog.guide_list.setFocus()
    qtbot.keyClick(dialog.guide_list, Qt.Key.Key_Down)
    assert dialog.current_guide == "gpu"
    qtbot.keyClick(dialog.guide_list, Qt.Key.Key_Down)
    assert dialog.current_guide == "troubleshooting"
    assert _headings(dialog.browser.document())[0] == (1, "故障排除")


def test_set_language_shows_the_guide_in_the_new_language(show: ShowHelp) -> None:
    dialog = show("en", "troubleshooting")
    dialog.set_language("zh_CN")
    assert dialog.language == "zh_CN"
    assert _headings(dialog.browser.document())[0] == (1, "故障排除")
    dialog.set_language("system")  # the test machine's locale is not Chinese
    assert dialog.language in ("en", "zh_CN")


def test_a_guide_missing_in_chinese_is_shown_in_english(
    show: ShowHelp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "help" / "en").mkdir(parents=True)
    (tmp_path / "help" / "en" / "gpu.md").write_text("# GPU notes\n\nText.\n", encoding="utf-8")
    monkeypatch.setattr(help_module, "resources_dir", lambda: tmp_path)
    dialog = show("zh_CN", "gpu")
    assert dialog.current_file == tmp_path / "help" / "en" / "gpu.md"
    assert _headings(dialog.browser.document()) == [(1, "GPU notes")]

    dialog.show_guide("models")  # in neither language
    assert dialog.current_file is None
    assert "missing from this installation" in dialog.browser.toPlainText()


def test_an_unknown_guide_is_refused(qtbot: QtBot) -> None:
    with pytest.raises(ValueError, match="unknown guide 'nope'"):
        HelpDialog("en", "nope")


# -- About -----------------------------------------------------------------------------


def test_about_shows_the_version_and_where_hearth_keeps_its_files(
    qtbot: QtBot, qapp: QApplication
) -> None:
    paths = get_paths()
    dialog = AboutDialog(paths)
    qtbot.addWidget(dialog)
    dialog.show()
    version = importlib.metadata.version("hearth")
    assert dialog.version == version
    assert dialog.version_label.text() == f"Version {version}"
    assert dialog.windowTitle() == "About Hearth"
    assert "entirely on this computer" in dialog.tagline_label.text()
    details = dialog.details_text()
    for expected in (
        f"Python: {platform.python_version()}",
        f"Qt: {qVersion()}",
        f"Data folder: {paths.data_dir}",
        f"Log folder: {paths.log_dir}",
        "License: Apache-2.0",
    ):
        assert expected in details

    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    clipboard = QApplication.clipboard()
    assert clipboard.text() == details


def test_about_without_an_installed_package_says_so(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(help_module.importlib.metadata, "version", not_installed)
    monkeypatch.setattr(help_module.importlib.metadata, "metadata", not_installed)
    dialog = AboutDialog(get_paths())
    qtbot.addWidget(dialog)
    assert dialog.version is None
    assert dialog.version_label.text().startswith("Version unknown")
    assert "License: Apache-2.0" in dialog.details_text()
