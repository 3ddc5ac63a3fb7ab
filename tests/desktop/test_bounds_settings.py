"""The app starts whatever its settings file holds, and says what it repaired."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.window.main_window import UI_STATE_FILE, MainWindow
from engine.data.config import get_paths, load_settings, read_settings
from engine.runtime.client import EngineClient
from tests.desktop.conftest import RunAsync

pytestmark = pytest.mark.slow

LOAD_TIMEOUT_MS = 60000


def test_hearth_starts_with_a_deeply_nested_settings_file(hearth_home: Path) -> None:
    """It used to die of a RecursionError before its window, on every launch."""
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    nested = "[" * 100_000 + "]" * 100_000
    paths.settings_file.write_text(nested, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    code = "import sys; from desktop.app import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the console log; bounded by the test timeout
            seen.append(line)
            if "desktop.window" in line and "Loaded " in line:
                break
        assert any("Window shown" in line for line in seen), "".join(seen)
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert any("settings.json cannot be used" in line for line in seen)
    [kept] = paths.config_dir.glob("settings.json.broken-*")
    assert kept.read_text(encoding="utf-8") == nested
    # Offline mode may have been on in the lost file: it is on until the user says not.
    assert load_settings(paths).offline


def test_the_window_shows_what_was_repaired_in_the_settings(
    qtbot: QtBot, client: EngineClient, run_async: RunAsync
) -> None:
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text(
        json.dumps({"version": 2, "threads": 100_000, "theme": "dark"}), encoding="utf-8"
    )
    loaded = read_settings(paths)
    assert loaded.settings.theme == "dark" and loaded.settings.threads == 0
    window = MainWindow(client, paths, settings=loaded.settings, settings_notice=loaded.notice)
    try:
        window.show()
        window.start()
        qtbot.waitUntil(lambda: "threads = 100000" in window.message_bar.text())
        assert window.message_bar.isVisible()
        qtbot.waitUntil(
            lambda: window.chat_pane.model_ready and not window.loading, timeout=LOAD_TIMEOUT_MS
        )
        # The model's own warnings, if any, are shown with it, not instead of it.
        assert "threads = 100000" in window.message_bar.text()
    finally:
        window.close()
        qtbot.waitUntil(lambda: not window.busy, timeout=15000)
        run_async(window.aclose(), timeout_ms=15000)
        window.deleteLater()


def test_a_repaired_settings_file_and_an_unusable_history_are_both_said(
    qtbot: QtBot, client: EngineClient, run_async: RunAsync
) -> None:
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text(json.dumps({"version": 2, "threads": 100_000}), "utf-8")
    paths.database.mkdir(parents=True)  # a folder where the database should be
    loaded = read_settings(paths)
    window = MainWindow(client, paths, settings=loaded.settings, settings_notice=loaded.notice)
    try:
        window.show()
        window.start()
        qtbot.waitUntil(
            lambda: window.chat_pane.model_ready and not window.loading, timeout=LOAD_TIMEOUT_MS
        )
        # Whichever finished first, the model's load hides neither.
        qtbot.waitUntil(lambda: "is a folder" in window.message_bar.text())
        assert "threads = 100000" in window.message_bar.text()
        assert window.message_bar.isVisible()
    finally:
        window.close()
        qtbot.waitUntil(lambda: not window.busy, timeout=15000)
        run_async(window.aclose(), timeout_ms=15000)
        window.deleteLater()


def test_a_huge_window_state_file_is_set_aside_not_read(hearth_home: Path) -> None:
    """Qt reads the INI file whole: 3 GB cost it 6 GB and a minute. Here 8 GiB, sparse,
    in a process limited to 3 GiB of address space, so a regression fails at once."""
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    state = paths.config_dir / UI_STATE_FILE
    with state.open("wb") as f:
        f.truncate(8 * 1024**3)  # sparse: no disk used
    code = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
        from PySide6.QtWidgets import QApplication
        from desktop.window.main_window import UI_STATE_FILE, MainWindow
        from engine.runtime.client import EngineClient
        from engine.data.config import get_paths
        app = QApplication([])
        window = MainWindow(EngineClient(), get_paths())  # no worker starts before start()
        window.show()
        app.processEvents()
        window.close()
        print("shown")
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "shown"
    [kept] = paths.config_dir.glob(UI_STATE_FILE + ".broken-*")
    assert kept.stat().st_size == 8 * 1024**3
    assert state.stat().st_size < 4096  # a fresh one, written on close
