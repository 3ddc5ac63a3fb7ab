"""The model manager dialog, driven as a user would: installed models, import, load, remove,
models found in other apps' folders, and the catalog with fit badges."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.main_window import MainWindow
from engine.store import STARTER_ID
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import LOAD_TIMEOUT_MS, wait_for_model

pytestmark = pytest.mark.slow


def test_import_load_and_forget_a_model(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync, gemma: Path, tmp_path: Path
) -> None:
    wait_for_model(qtbot, window)
    dialog = window.open_models()
    installed = dialog.installed
    qtbot.waitUntil(lambda: installed.model_ids() == [STARTER_ID])
    row = [installed.table.item(0, c).text() for c in range(installed.table.columnCount())]
    assert row[:6] == ["SmolLM2-135M-Instruct.Q4_1", "llama", "135M", "Q4_1", row[4], "8,192"]
    installed.select(STARTER_ID)
    assert not installed.remove_button.isEnabled()  # the starter model stays

    # Import by link: the user's file stays where it is, nothing is copied.
    mine = tmp_path / "my models" / "gemma.gguf"
    mine.parent.mkdir()
    shutil.copyfile(gemma, mine)
    assert run_async(installed.import_file(mine))
    imported = next(i for i in installed.model_ids() if i != STARTER_ID)
    assert imported.startswith("imported/")
    copies = [
        p
        for p in window._store().models_dir.rglob("*.gguf")
        if p.stat().st_ino == mine.stat().st_ino
    ]
    assert copies == []
    qtbot.waitUntil(lambda: window.model_combo.findData(imported) >= 0)

    # Load it from the dialog (Enter on the row).
    installed.select(imported)
    with qtbot.waitSignal(window.model_loaded, timeout=LOAD_TIMEOUT_MS) as loaded:
        qtbot.mouseClick(installed.load_button, Qt.MouseButton.LeftButton)
    assert loaded.args[0].model_id == imported
    assert window.model_combo.currentData() == imported

    # Forget it: gone from the list, the file untouched.
    assert run_async(installed.remove(imported))
    assert installed.model_ids() == [STARTER_ID]
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
