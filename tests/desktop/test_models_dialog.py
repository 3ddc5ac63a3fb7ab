"""The model manager dialog, driven as a user would: installed models, import, load, remove,
models found in other apps' folders, and the catalog with fit badges."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.models.starter import starter_id
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import LOAD_TIMEOUT_MS, wait_for_model
from tests.hubserver import FakeHub

pytestmark = pytest.mark.slow


def test_import_load_and_forget_a_model(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync, gemma: Path, tmp_path: Path
) -> None:
    wait_for_model(qtbot, window)
    dialog = window.open_models()
    installed = dialog.installed
    qtbot.waitUntil(lambda: installed.model_ids() == [starter_id()])
    row = [installed.table.item(0, c).text() for c in range(installed.table.columnCount())]
    assert row[:6] == ["SmolLM2-135M-Instruct.Q4_1", "llama", "135M", "Q4_1", row[4], "8,192"]
    installed.select(starter_id())
    assert not installed.remove_button.isEnabled()  # the starter model stays

    # Import by link: the user's file stays where it is, nothing is copied.
    mine = tmp_path / "my models" / "gemma.gguf"
    mine.parent.mkdir()
    shutil.copyfile(gemma, mine)
    assert run_async(installed.import_file(mine))
    imported = next(i for i in installed.model_ids() if i != starter_id())
    assert imported.startswith("imported/")
    copies = [
        p
        for p in window.model_loader.store().models_dir.rglob("*.gguf")
        if p.stat().st_ino == mine.stat().st_ino
    ]
    assert copies == []
    qtbot.waitUntil(lambda: window.model_picker.combo.findData(imported) >= 0)

    # Load it from the dialog (Enter on the row).
    installed.select(imported)
    with qtbot.waitSignal(window.model_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        qtbot.mouseClick(installed.load_button, Qt.MouseButton.LeftButton)
    assert loaded.args[0].model_id == imported
    assert window.model_picker.combo.currentData() == imported

    # Forget it: gone from the list, the file untouched.
    assert run_async(installed.remove(imported))
    assert installed.model_ids() == [starter_id()]
    assert mine.exists() and mine.stat().st_size == gemma.stat().st_size


def test_models_other_apps_downloaded_are_offered_and_imported(
    qtbot: QtBot, make_window: Callable[[], MainWindow], run_async: RunAsync, smollm2: Path
) -> None:
    # A GGUF in the Hugging Face cache, as huggingface_hub lays it out.
    snapshot = Path(os.environ["HF_HOME"]) / "hub" / "models--someone--Tiny-GGUF" / "snapshots"
    planted = snapshot / "0123abcd" / "tiny.Q4_1.gguf"
    planted.parent.mkdir(parents=True)
    shutil.copyfile(smollm2, planted)  # a copy: a hard link would be the starter model itself
    window = make_window()
    window.show()
    window.start()
    dialog = window.open_models()
    discover = dialog.discover
    qtbot.waitUntil(lambda: any(m.path == planted for m in discover.found()), timeout=20000)
    assert discover.local_table.rowCount() == len(discover.found())
    texts = {discover.local_table.item(r, 1).text() for r in range(discover.local_table.rowCount())}
    assert "Hugging Face" in texts

    # The catalog lists recommended models with a fit badge for this computer.
    qtbot.waitUntil(lambda: discover.catalog_table.rowCount() > 10, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: bool(discover.catalog_table.item(0, 3).text()), timeout=LOAD_TIMEOUT_MS)
    badges = {
        discover.catalog_table.item(r, 3).text() for r in range(discover.catalog_table.rowCount())
    }
    assert badges <= {"Fits on GPU", "Fits in memory", "Too large"}
    assert badges & {"Fits on GPU", "Fits in memory"}

    model = next(m for m in discover.found() if m.path == planted)
    assert run_async(discover.import_found(model))
    qtbot.waitUntil(lambda: any(i.startswith("imported/") for i in dialog.installed.model_ids()))
    assert all(m.path != planted for m in discover.found())  # no longer offered


REPO = "test-org/Tiny-Chat-GGUF"
FILE = "tiny-chat.Q4_1.gguf"


@pytest.fixture
def fake_hub(smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake Hugging Face hub serving the real SmolLM2 file under another name."""
    with FakeHub() as hub:
        hub.add_repo(REPO, {FILE: smollm2.read_bytes()}, downloads=1234, likes=5)
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        yield hub


def test_search_the_hub_check_fit_download_and_use_it(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync, fake_hub: FakeHub
) -> None:
    wait_for_model(qtbot, window)
    dialog = window.open_models()
    discover = dialog.discover
    discover.search_edit.setText("tiny")
    qtbot.mouseClick(discover.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: discover.repo_list.count() == 1, timeout=20000)
    assert REPO in discover.repo_list.item(0).text()

    discover.repo_list.setCurrentRow(0)  # lists its files, then reads each header remotely
    qtbot.waitUntil(lambda: len(discover.hub_files()) == 1, timeout=20000)
    assert discover.files_table.item(0, 1).text() == "Q4_1"
    qtbot.waitUntil(lambda: discover.files_table.item(0, 3).text() != "…", timeout=60000)
    assert discover.files_table.item(0, 3).text() in ("Fits on GPU", "Fits in memory")
    served = fake_hub.bytes_served(FILE)
    assert served < 10_000_000  # the fit came from the header, not the whole 98 MB file

    discover.files_table.selectRow(0)
    qtbot.mouseClick(discover.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.tabs.currentWidget() is dialog.downloads, timeout=10000)
    downloads = window.downloads()
    qtbot.waitUntil(lambda: any(p.state == "done" for p in downloads.current()), timeout=120000)
    progress = next(p for p in downloads.current() if p.state == "done")
    assert progress.state == "done" and Path(progress.path).is_file()
    assert "done" in dialog.downloads.table.item(0, 2).text()
    model_id = f"{REPO}/{FILE.removesuffix('.gguf')}"
    qtbot.waitUntil(lambda: model_id in dialog.installed.model_ids(), timeout=20000)
    qtbot.waitUntil(lambda: window.model_picker.combo.findData(model_id) >= 0, timeout=20000)
    assert "Downloaded and verified" in window.statusBar().currentMessage()


def test_offline_mode_searches_nothing_and_says_so(
    qtbot: QtBot,
    window: MainWindow,
    run_async: RunAsync,
    fake_hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_async(window.apply_settings(replace(window.settings, offline=True)))
    dialog = window.open_models()

    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("offline mode opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert window.settings.offline
    assert not run_async(dialog.discover.search("tiny"))
    assert "Offline mode is on" in dialog.discover.message_bar.text()
    assert fake_hub.requests() == []
