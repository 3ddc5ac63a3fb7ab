"""Desktop test fixtures: a qasync loop driven by pytest-qt, the real engine, the main window."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.data.config import get_paths
from engine.runtime.client import EngineClient

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Ignore the offscreen platform's one unavoidable warning in the desktop tests.

    The offscreen plugin inherits QPlatformWindow::propagateSizeHints(), whose default
    body is a qWarning; every top-level widget with a layout triggers it. Real
    platforms (xcb, Wayland, Windows, macOS) implement it. Everything else Qt warns
    about still fails the test (qt_log_level_fail = "WARNING").
    """
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(
                pytest.mark.qt_log_ignore(r"^This plugin does not support propagateSizeHints\(\)$")
            )


@pytest.fixture
def qloop(qapp: QApplication, qtbot: QtBot) -> Iterator[qasync.QEventLoop]:
    """A qasync loop marked as running, so Qt's event processing drives asyncio.

    pytest-qt spins the Qt event loop in ``qtbot.waitUntil``/``waitSignal``; with
    ``already_running=True`` qasync treats that as its own loop, so coroutine slots and
    the engine client's pipe readers run while a test waits — the same as in the app,
    where ``app.exec()`` is the loop.
    """
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        # As asyncio.run() does: cancel what is left (an engine watchdog, say) and let
        # the cancellations run before the loop closes.
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftovers:
            task.cancel()
        qtbot.waitUntil(lambda: all(task.done() for task in leftovers), timeout=15000)
        qapp.aboutToQuit.disconnect(loop._after_run_forever)
        # Not loop.stop(): it calls QApplication.exit(), which with no exec() running
        # sets Qt's quitNow flag, and every later QEventLoop.exec() — pytest-qt's waits —
        # returns at once, so no timer ever fires again in this process.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)
        _retire(loop)


#: Closed loops, kept alive so their QObjects are never garbage-collected on another thread.
_RETIRED: list[qasync.QEventLoop] = []


def _retire(loop: qasync.QEventLoop) -> None:
    """Kill the Qt timers a closed qasync loop still has, and keep the loop alive.

    qasync schedules every asyncio callback as a Qt timer on one QObject and does not
    kill the timers of cancelled handles (a 60 s ``wait_for`` leaves one behind). If
    that QObject is then collected by Python's cyclic GC on another thread (any
    thread can trigger a collection: the executor's, the child watcher's), Qt cannot
    unregister its timers, and the next one to fire dereferences a deleted object —
    a segfault in QTimerInfoList::activateTimers seen in a later test.
    """
    timer = loop._timer
    callbacks = timer._SimpleTimer__callbacks
    for timer_id in list(callbacks):
        timer.killTimer(timer_id)
    callbacks.clear()
    _RETIRED.append(loop)


RunAsync = Callable[..., Any]


@pytest.fixture
def run_async(qtbot: QtBot, qloop: qasync.QEventLoop) -> RunAsync:
    """Run a coroutine on the test loop, spinning Qt until it ends; return its result."""

    def run(coro: Coroutine[Any, Any, Any], timeout_ms: int = 30000) -> Any:
        task = qloop.create_task(coro)
        qtbot.waitUntil(task.done, timeout=timeout_ms)
        return task.result()

    return run


@pytest.fixture
def client(run_async: RunAsync) -> Iterator[EngineClient]:
    """A real engine client (worker process, real llama.cpp); closed at teardown."""
    engine = EngineClient()
    yield engine
    run_async(engine.aclose(), timeout_ms=15000)


@pytest.fixture
def make_window(
    qtbot: QtBot, client: EngineClient, run_async: RunAsync
) -> Iterator[Callable[[], MainWindow]]:
    """Create main windows on the test's client; each is closed and deleted at teardown."""
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        win = MainWindow(client, get_paths())
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()
    # Cancelled tasks need a turn of the loop to end; only then may the widgets go,
    # and the client close (its teardown runs after this one).
    qtbot.waitUntil(lambda: not any(win.busy for win in windows), timeout=15000)
    for win in windows:
        run_async(win.aclose(), timeout_ms=15000)
        win.deleteLater()


@pytest.fixture
def window(make_window: Callable[[], MainWindow]) -> MainWindow:
    """The main window, shown and started (it loads the starter model in the background)."""
    win = make_window()
    win.show()
    win.start()
    return win
