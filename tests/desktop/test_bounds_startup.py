"""The window starts with an unusable data folder and says what to do; files the user saves
never follow a planted link; the single-instance socket cannot be squatted.

On the real window, engine and starter model: each unusable history database (a folder
in its place, a damaged file, a lock held by another program, a file that cannot be
written) gives one message without advice that would hide a healthy history, and the chat
still answers. The real app is started on a read-only and on a full home in a mount
namespace of its own, and next to another user's program holding its socket's name.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import MAX_SOCKET_PATH, InstanceGuard, instance_name
from desktop.panes.code import CodePane
from desktop.panes.summarize import SummarizePane
from desktop.window.main_window import MainWindow
from engine.data.config import get_paths
from engine.data.history import BUSY_TIMEOUT_S, History
from engine.runtime.client import EngineClient
from engine.types import SamplingParams
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, send, wait_for_model
from tests.desktop.test_chat_history import seed_history
from tests.engine.data.test_bounds_startup import (
    MOVE_ASIDE,
    TOO_BIG,
    in_namespace,
    make_history,
    read_only_mount,
    tiny_disk,
)

pytestmark = pytest.mark.slow

#: What the window says whenever the history cannot be used.
NOT_SAVED = "Conversations are not being saved."
#: Long enough for a locked database's busy timeout, on a loaded machine.
MESSAGE_TIMEOUT_MS = int(BUSY_TIMEOUT_S * 1000) + 30000


# --------------------------------------------------------- unusable history databases


@contextlib.contextmanager
def folder_in_place(db: Path) -> Iterator[str]:
    (db / "notes").mkdir(parents=True)
    yield "is a folder, not a file. Move or rename that folder"
    assert [p.name for p in db.iterdir()] == ["notes"], "the folder is left as it was"


@contextlib.contextmanager
def damaged(db: Path) -> Iterator[str]:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database " * 500)
    yield MOVE_ASIDE
    assert db.read_bytes() == b"not a database " * 500


@contextlib.contextmanager
def locked(db: Path) -> Iterator[str]:
    db.parent.mkdir(parents=True)
    make_history(db)
    code = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield "is in use by another program"
    finally:
        holder.communicate(input="", timeout=30)
    history = History(db)
    try:
        assert [c.title for c in history.conversations()] == ["Kept"], "nothing was lost"
    finally:
        history.close()


@contextlib.contextmanager
def unwritable(db: Path) -> Iterator[str]:
    """A database file that cannot be written: immutable for root, read-only for others."""
    db.parent.mkdir(parents=True)
    before = make_history(db)
    if os.geteuid() == 0:
        # Root writes read-only files anyway; an immutable one it cannot.
        made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {made.stderr.strip()}")
        undo = ["chattr", "-i", str(db)]
    else:
        db.chmod(0o444)
        undo = ["chmod", "644", str(db)]
    try:
        yield "cannot write to its history database"
    finally:
        subprocess.run(undo, check=True)
    assert db.read_bytes() == before


SPOILERS: dict[str, Callable[[Path], contextlib.AbstractContextManager[str]]] = {
    "folder": folder_in_place,
    "damaged": damaged,
    "locked": locked,
    "unwritable": unwritable,
}


@pytest.mark.parametrize("case", list(SPOILERS))
def test_the_window_starts_with_an_unusable_database_and_says_what_to_do(
    qtbot: QtBot, make_window: Callable[[], MainWindow], case: str
) -> None:
    with SPOILERS[case](get_paths().database) as expected:
        window = make_window()
        window.show()
        window.start()
        bar = window.message_bar
        qtbot.waitUntil(
            lambda: bar.isVisible() and bar.text().startswith(NOT_SAVED),
            timeout=MESSAGE_TIMEOUT_MS,
        )
        assert expected in bar.text()
        # Moving a healthy database aside would hide the user's history.
        assert (MOVE_ASIDE in bar.text()) == (case == "damaged"), bar.text()

        # The app is still usable: it loads the model and answers, saving nothing.
        wait_for_model(qtbot, window)
        chat = window.chat_pane
        chat.params = SamplingParams(max_tokens=8, temperature=0.0)
        send(qtbot, window, "Say hello.")
        qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
        assert chat.last_result is not None and chat.last_result.text.strip()
        assert [m.role for m in chat.messages] == ["user", "assistant"]
        assert not chat.error_bar.isVisible()
        assert window.sidebar.conversation_ids() == []


@pytest.mark.parametrize("case", ["read-only", "full"])
def test_hearth_starts_on_a_read_only_or_full_home_and_quits_cleanly(
    hearth_home: Path, case: str
) -> None:
    hearth_home.mkdir()
    if case == "read-only":
        setup = read_only_mount(hearth_home)
    else:
        fill = shlex.quote(str(hearth_home / "fill"))
        setup = f"{tiny_disk(hearth_home)} && (head -c {TOO_BIG} /dev/zero > {fill}; true)"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(Path.cwd()),
    }
    env.pop("XDG_RUNTIME_DIR", None)
    code = "import sys; from desktop.app import main; sys.exit(main())"
    proc = subprocess.Popen(
        in_namespace(setup, [sys.executable, "-c", code]),
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
            said = any("The history database cannot be opened" in s for s in seen)
            loaded = any("desktop.window" in s and "Loaded " in s for s in seen)
            if (said and loaded) or "Unexpected error" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(seen) + rest
    assert proc.returncode == 0, output
    assert "Window shown" in output and "Hearth stopped" in output
    message = next(s for s in seen if "The history database cannot be opened" in s)
    assert MOVE_ASIDE not in message
    expected = "cannot write to its history database" if case == "read-only" else "is full"
    assert expected in message
    for wrong in ("Unexpected error", "Logging error", "Traceback"):
        assert wrong not in output, output


# ---------------------------------------------------------------- files the user saves


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Plant ``<name>.part`` links to a precious file; checks it is untouched afterwards."""
    victim = tmp_path / "precious.txt"
    victim.write_text("precious\n", encoding="utf-8")
    links: list[Path] = []

    def plant(target: Path) -> None:
        link = target.with_name(target.name + ".part")
        link.symlink_to(victim)
        links.append(link)

    yield plant
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert all(link.is_symlink() for link in links)


def test_export_never_follows_a_planted_part_link(
    qtbot: QtBot,
    window: MainWindow,
    run_async: RunAsync,
    tmp_path: Path,
    planted: Callable[[Path], None],
) -> None:
    old, _recent = seed_history()
    qtbot.waitUntil(lambda: old in window.sidebar.conversation_ids())
    md = tmp_path / "trip.md"
    planted(md)
    assert run_async(window.sidebar.export(old, md, "markdown"))
    assert md.read_text(encoding="utf-8").startswith("# Ocean trip\n")
    assert not md.is_symlink()


def test_summary_save_never_follows_a_planted_part_link(
    qtbot: QtBot,
    client: EngineClient,
    qloop: object,
    run_async: RunAsync,
    tmp_path: Path,
    planted: Callable[[Path], None],
) -> None:
    pane = SummarizePane(client)
    qtbot.addWidget(pane)
    try:
        md, txt = tmp_path / "notes summary.md", tmp_path / "notes summary.txt"
        planted(md)
        planted(txt)
        assert run_async(pane.save(md, "- **one** point\n"))
        assert run_async(pane.save(txt, "- **one** point\n"))
        assert md.read_text(encoding="utf-8") == "- **one** point\n"
        assert "one point" in txt.read_text(encoding="utf-8")
    finally:
        pane.shutdown()
        qtbot.waitUntil(lambda: not pane.busy, timeout=15000)


def test_code_save_never_follows_a_planted_part_link(
    qtbot: QtBot,
    client: EngineClient,
    qloop: object,
    run_async: RunAsync,
    tmp_path: Path,
    planted: Callable[[Path], None],
) -> None:
    pane = CodePane(client)
    qtbot.addWidget(pane)
    try:
        pane.editor.setPlainText("print('hi')\n")
        source, block = tmp_path / "hi.py", tmp_path / "block.py"
        planted(source)
        planted(block)
        assert run_async(pane.save(source))
        assert run_async(pane.save_code(block, "x = 1"))
        assert source.read_text(encoding="utf-8") == "print('hi')\n"
        assert block.read_text(encoding="utf-8") == "x = 1\n"
    finally:
        pane.shutdown()
        qtbot.waitUntil(lambda: not pane.busy, timeout=15000)


# ------------------------------------------------------------------- single instance


@pytest.fixture
def short_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Hearth home with a short path, as a user's is (pytest's are near the socket limit)."""
    home = Path(tempfile.mkdtemp(prefix="hearth-"))
    monkeypatch.setenv("HEARTH_HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    try:
        yield home
    finally:
        shutil.rmtree(home)


def test_the_instance_socket_is_in_a_folder_only_its_user_can_enter(
    short_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    paths = get_paths()
    name = Path(instance_name(paths))
    assert name.parent == paths.data_dir / "run"
    assert name.parent.stat().st_mode & 0o777 == 0o700

    runtime = short_home / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert Path(instance_name(paths)).parent == runtime

    shared = short_home / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: anyone may create names there
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    assert Path(instance_name(paths)).parent == paths.data_dir / "run"

    # A data folder too deep for a socket path: a bare name (the temporary folder).
    deep = get_paths({"HEARTH_HOME": str(tmp_path / ("d" * 80))})
    assert "/" not in instance_name(deep)


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_hearth_listens_whatever_the_length_of_its_data_folder(
    qapp: QApplication, short_home: Path, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    # A home whose socket path comes to the longest Hearth uses, one byte less and one
    # more: Qt listened on none of 107 bytes (pytest's own paths end near there).
    suffix = "/data/run/hearth-0123456789abcdef"
    pad = MAX_SOCKET_PATH + extra - len(str(short_home)) - len("/") - len(suffix)
    home = short_home / ("h" * pad)
    monkeypatch.setenv("HEARTH_HOME", str(home))
    name = instance_name(get_paths())
    assert len(name) == MAX_SOCKET_PATH + extra or (extra > 0 and "/" not in name), name
    guard = InstanceGuard(name)
    try:
        assert not guard.activate_running_instance(timeout_ms=200)
        assert guard.listen(lambda: None), guard.name
    finally:
        guard.close()


def test_a_second_launch_still_reaches_the_first_through_the_private_socket(
    qapp: QApplication, qtbot: QtBot, short_home: Path
) -> None:
    name = instance_name(get_paths())
    assert name.startswith(str(short_home))
    first = InstanceGuard(name)
    activations: list[str] = []
    assert first.listen(lambda: activations.append("shown"))
    try:
        ask = (
            "import sys; from PySide6.QtCore import QCoreApplication; "
            "from desktop.app import InstanceGuard; app = QCoreApplication([]); "
            "print(InstanceGuard(sys.argv[1]).activate_running_instance())"
        )
        second = subprocess.Popen(
            [sys.executable, "-c", ask, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        qtbot.waitUntil(lambda: activations == ["shown"], timeout=20000)
        out, err = second.communicate(timeout=20)
        assert out.strip() == "True", err
    finally:
        first.close()


#: Another user's program that takes a name and accepts connections without answering.
SQUATTER = """
import os, socket, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen()
print("ready", flush=True)
held = []
while True:
    held.append(server.accept()[0])
"""


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="needs root to run as another user"
)
@pytest.mark.parametrize("where", ["private folder", "shared fallback"])
def test_a_name_squatted_by_another_user_does_not_stop_start_up(
    short_home: Path, where: str
) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(Path.cwd()),
    }
    if where == "shared fallback":
        # A data folder too deep for a private socket path: Hearth's name goes in the
        # shared temporary folder, where the squatter waits.
        env["HEARTH_HOME"] = str(short_home / ("d" * 100))
    name = instance_name(get_paths({"HEARTH_HOME": env["HEARTH_HOME"]}))
    assert os.path.isabs(name) == (where == "private folder")
    # The name in the shared temporary folder, which Hearth listened on before.
    taken = os.path.join(QDir.tempPath(), os.path.basename(name))
    squatter = subprocess.Popen(
        [sys.executable, "-c", SQUATTER, taken], stdout=subprocess.PIPE, text=True
    )
    code = "import sys; from desktop.app import main; sys.exit(main())"
    try:
        assert squatter.stdout is not None and squatter.stdout.readline().strip() == "ready"
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
            for line in proc.stderr:  # bounded by the test timeout
                seen.append(line)
                if "Window shown" in line or "already running" in line:
                    break
            proc.send_signal(signal.SIGTERM)
            _, rest = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        squatter.kill()
        squatter.wait(timeout=30)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(taken)
    output = "".join(seen) + rest
    assert "Window shown" in output and "already running" not in output, output
    assert proc.returncode == 0, output
