"""A second launch brings the running Hearth up and exits, rather than open the database twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import InstanceGuard, instance_name
from engine.data.config import get_paths

_ASK = (
    "import sys; from PySide6.QtCore import QCoreApplication; "
    "from desktop.app import InstanceGuard; app = QCoreApplication([]); "
    "print(InstanceGuard(sys.argv[1]).activate_running_instance())"
)


def _ask_in_another_process(name: str) -> subprocess.Popen[str]:
    # Another process, as a real second launch is: the answer comes from this test's
    # Qt event loop, which a call blocking in this process would stop.
    return subprocess.Popen(
        [sys.executable, "-c", _ASK, name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_launch_reaches_the_first_and_the_first_shows_its_window(
    qapp: QApplication, qtbot: QtBot
) -> None:
    name = instance_name(get_paths())
    first = InstanceGuard(name)
    assert not first.activate_running_instance(timeout_ms=200)  # nobody runs yet
    activations: list[str] = []
    assert first.listen(lambda: activations.append("shown"))
    try:
        second = _ask_in_another_process(name)
        qtbot.waitUntil(lambda: activations == ["shown"], timeout=20000)
        out, err = second.communicate(timeout=20)
        assert out.strip() == "True", err
    finally:
        first.close()
    # Once the first has quit, a launch finds nobody and starts normally.
    assert not InstanceGuard(name).activate_running_instance(timeout_ms=200)


def test_each_data_folder_has_its_own_instance(tmp_path: Path) -> None:
    mine = instance_name(get_paths())
    other = instance_name(get_paths({"HEARTH_HOME": str(tmp_path / "elsewhere")}))
    assert mine != other
    assert mine == instance_name(get_paths())


def test_a_socket_left_by_a_crashed_hearth_does_not_block_the_next_start(
    qapp: QApplication,
) -> None:
    name = instance_name(get_paths())
    # What a killed Hearth leaves: the socket file, with nobody listening on it.
    path = os.path.join(QDir.tempPath(), name)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    try:
        guard = InstanceGuard(name)
        assert not guard.activate_running_instance(timeout_ms=200)
        assert guard.listen(lambda: None)
        assert guard.listening
        guard.close()
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_launching_hearth_twice_brings_the_first_window_up(hearth_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    code = "import sys; from desktop.app import main; sys.exit(main())"
    first = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert first.stderr is not None
        for line in first.stderr:  # the console log; bounded by the test timeout
            seen.append(line)
            if "Window shown" in line:
                break
        second = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        for line in first.stderr:
            seen.append(line)
            if "Another launch asked for the window" in line:
                break
        first.send_signal(signal.SIGTERM)
        _, rest = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert any("Another launch asked for the window" in line for line in seen), "".join(seen)
    assert first.returncode == 0, rest
    assert "Hearth stopped" in rest
