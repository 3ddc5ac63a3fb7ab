"""Under 简体中文 the main window's status bar and the model manager show no English sentence.

The real window, engine and starter model, with a settings file that gives the status bar
and the message bar something to say: an invalid thread count (repaired, and said so) and
a context longer than the model was trained for (cut, with a warning). The model manager
is opened on each tab, with a hub listing that is cut short (said in the Discover tab).

"An English sentence" is three or more words of ASCII letters in a row, one space apart
(tests/desktop/english.py), once data is taken out: model and file names, paths, the
catalog's model names and licences, this computer's CPU and GPU names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.i18n import Translations
from desktop.window.main_window import MainWindow
from engine.data.config import get_paths, read_settings
from engine.models.catalog import load_catalog
from engine.models.hub import MAX_LISTED_MODELS
from engine.notices import NoticeCode
from engine.runtime.client import EngineClient
from engine.types import SamplingParams
from tests.desktop.conftest import RunAsync
from tests.desktop.english import english_sentences
from tests.desktop.test_app import LOAD_TIMEOUT_MS, send
from tests.engine import gguf_factory as gf
from tests.hubserver import FakeHub

pytestmark = pytest.mark.slow

TINY = gf.build_gguf(gf.llama_metadata(), gf.llama_tensors())
MANY = "big/many-GGUF"


@pytest.fixture
def chinese(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[Translations]:
    """The interface in Simplified Chinese, as on a system with LANG=zh_CN.UTF-8."""
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    owner = Translations(qapp)
    owner.apply("zh_CN")
    yield owner
    owner.apply("en")
    qapp.processEvents()


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A hub whose one repository has more GGUF files than the model manager lists."""
    with FakeHub() as hub:
        names = [f"m{i:03d}-Q4_0.gguf" for i in range(MAX_LISTED_MODELS + 5)]
        hub.add_repo(MANY, dict.fromkeys(names, TINY), downloads=10, likes=2)
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        yield hub


def _item_texts(view: QAbstractItemView) -> Iterator[str]:
    model = view.model()
    root = QModelIndex()
    # A list's model hides its column count: it has the one column, and no header.
    columns = 1 if isinstance(model, QAbstractListModel) else model.columnCount(root)
    if not isinstance(model, QAbstractListModel):
        for column in range(columns):
            yield str(model.headerData(column, Qt.Orientation.Horizontal) or "")
    for row in range(model.rowCount(root)):
        for column in range(columns):
            index = model.index(row, column)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                yield str(index.data(role) or "")


def _widget_texts(widget: QWidget) -> Iterator[str]:
    """What a user can read on one widget: its text, items and tooltips."""
    yield widget.toolTip()
    if isinstance(widget, QLabel | QAbstractButton | QProgressBar):
        yield widget.text()
    elif isinstance(widget, QLineEdit):
        yield widget.text()
        yield widget.placeholderText()
    elif isinstance(widget, QComboBox):
        for i in range(widget.count()):
            yield widget.itemText(i)
            yield str(widget.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")
    elif isinstance(widget, QTabWidget):
        for i in range(widget.count()):
            yield widget.tabText(i)
            yield widget.tabToolTip(i)
    elif isinstance(widget, QAbstractItemView):
        yield from _item_texts(widget)


def visible_texts(root: QWidget, top: QWidget) -> list[tuple[str, str]]:
    """(widget class, text) for ``root`` and each child of it visible in ``top``."""
    found = []
    for widget in [root, *root.findChildren(QWidget)]:
        if widget is not top and not widget.isVisibleTo(top):
            continue
        found.extend((type(widget).__name__, t) for t in _widget_texts(widget) if t)
    return found


def english_in(texts: list[tuple[str, str]], data: list[str]) -> list[tuple[str, str]]:
    return [(where, text) for where, text in texts if english_sentences(text, data)]


def test_under_chinese_the_status_bar_and_model_manager_show_no_english(
    qtbot: QtBot,
    chinese: Translations,
    client: EngineClient,
    run_async: RunAsync,
    fake_hub: FakeHub,
    hearth_home: Path,
) -> None:
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text(
        json.dumps(
            {"version": 2, "language": "zh_CN", "threads": 100_000, "context_size": 1_000_000}
        ),
        encoding="utf-8",
    )
    loaded = read_settings(paths)
    assert loaded.notice is not None and loaded.notice.code is NoticeCode.SETTINGS_RESET
    window = MainWindow(client, paths, settings=loaded.settings, settings_notice=loaded.notice)
    try:
        window.show()
        window.start()
        qtbot.waitUntil(
            lambda: window.chat_pane.model_ready and not window.loading, timeout=LOAD_TIMEOUT_MS
        )
        info = client.model
        assert info is not None
        assert NoticeCode.CONTEXT_OVER_TRAINED in [w.code for w in info.warning_notices]
        # An answer, for the speed and the context meter; the memory figure comes on a timer.
        window.chat_pane.params = SamplingParams(max_tokens=8, temperature=0.0)
        send(qtbot, window, "Hi")
        qtbot.waitUntil(lambda: not window.chat_pane.generating, timeout=120000)
        qtbot.waitUntil(lambda: bool(window.status_bar.speed.text()), timeout=10000)
        qtbot.waitUntil(lambda: bool(window.status_bar.memory.text()), timeout=10000)
        hardware = run_async(window.hardware())
        data = [
            str(hearth_home),
            str(loaded.set_aside),
            hardware.cpu.model,
            *(gpu.name for gpu in hardware.gpus),
        ]
        for model in window.model_loader.store().list():
            data += [model.id, str(model.path)]
        for entry in load_catalog():
            data += [entry.name, entry.repo_id, entry.license]

        # The status bar, the message bar above the panes and the model picker.
        bar = window.status_bar
        shown = [*visible_texts(bar, window), ("status message", bar.currentMessage())]
        shown += visible_texts(window.message_bar, window)
        shown += visible_texts(window.model_picker, window)
        said = " ".join(text for _, text in shown)
        assert "threads = 100000" in said  # the repair is said...
        assert "8,192" in said  # ...and the context cut to the trained length
        assert english_in(shown, data) == []

        # The model manager, on each tab; Discover lists a repository cut short.
        dialog = window.open_models()
        discover = dialog.discover
        assert run_async(discover.search("GGUF"))
        discover.repo_list.setCurrentRow(0)
        qtbot.waitUntil(lambda: len(discover.hub_files()) == MAX_LISTED_MODELS, timeout=30000)
        qtbot.waitUntil(lambda: not dialog.busy, timeout=60000)
        assert discover.message_bar.isVisibleTo(discover)  # the listing says what it left out
        data += [MANY, *(f.name for f in discover.hub_files())]
        for index in range(dialog.tabs.count()):
            dialog.tabs.setCurrentIndex(index)
            qtbot.waitUntil(lambda: not dialog.busy, timeout=60000)
            shown = visible_texts(dialog, dialog)
            assert shown, dialog.tabs.tabText(index)
            assert english_in(shown, data) == [], dialog.tabs.tabText(index)
        assert dialog.installed.table.rowCount() >= 1
        assert discover.catalog_table.rowCount() > 0
    finally:
        window.close()
        qtbot.waitUntil(lambda: not window.busy, timeout=15000)
        run_async(window.aclose(), timeout_ms=15000)
        window.deleteLater()
