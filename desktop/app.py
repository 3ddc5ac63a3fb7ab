"""The ``hearth`` entry point: starts the Qt application, or the engine worker in a frozen app.

Qt is imported only after the ``--engine-worker`` check, so a frozen app started as
the worker never loads it, and nothing here imports llama_cpp: the model runs in the
worker process, and the window appears before any model is loaded.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

log = logging.getLogger("desktop.app")

WORKER_FLAG = "--engine-worker"
#: How long quitting waits for the engine to shut down before giving up on it.
SHUTDOWN_TIMEOUT_S = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    """Run Hearth.

    Args:
        argv: the command-line arguments without the program name (``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [WORKER_FLAG]:
        # A frozen app has no ``python -m engine.worker``: the client starts the app
        # itself with this flag (engine.client.worker_command).
        from engine.worker import main as worker_main

        return worker_main()
    started = time.perf_counter()
    console = _guard_std_streams()
    return _run_gui(args, console=console, started=started)


def _guard_std_streams() -> bool:
    """Give a windowed or frozen app real stdout/stderr; return whether stderr is a console.

    Without a console (pythonw, a PyInstaller --windowed build) both are None, and the
    first print or log record would raise.
    """
    console = sys.stderr is not None
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the app)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the app)
    return console


def _run_gui(args: list[str], *, console: bool, started: float) -> int:
    import asyncio

    import qasync
    from PySide6.QtCore import QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from desktop.i18n import Translations
    from desktop.main_window import MainWindow
    from desktop.theme import apply_theme
    from engine.client import EngineClient
    from engine.config import get_paths, load_settings
    from engine.logs import LOG_FILE, setup_logging

    paths = get_paths()
    setup_logging(paths, console=console)
    log.info("Hearth starting (Python %s, PID %d)", sys.version.split()[0], os.getpid())
    qInstallMessageHandler(_qt_message_handler)

    app = QApplication([sys.argv[0], *args])
    app.setApplicationName("Hearth")
    app.setOrganizationName("Hearth")
    app.setApplicationDisplayName("Hearth")

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = ErrorReporter(paths.log_dir / LOG_FILE)
    sys.excepthook = reporter.excepthook
    loop.set_exception_handler(reporter.loop_exception_handler)

    # Theme and language before the first widget exists, so nothing is drawn twice.
    settings = load_settings(paths)
    apply_theme(app, settings.theme)
    translations = Translations(app)
    translations.apply(settings.language)

    client = EngineClient()
    window = MainWindow(client, paths, settings=settings, translations=translations)

    closing: list[asyncio.Task[None]] = []

    def on_about_to_quit() -> None:
        # Start shutting the engine down now; the loop finishes it after exec() returns,
        # rather than in a nested processEvents() loop here (qasync.asyncClose's way),
        # which re-enters Qt from inside its quit sequence.
        closing.append(loop.create_task(close_all(), name="engine-close"))

    async def close_all() -> None:
        await asyncio.gather(client.aclose(), window.aclose())

    app.aboutToQuit.connect(on_about_to_quit)
    _quit_on_signals(loop, app)
    window.show()

    def on_shown() -> None:
        log.info("Window shown %.2f s after main() started", time.perf_counter() - started)
        window.start()

    QTimer.singleShot(0, on_shown)
    # Everything made so far (modules, Qt wrappers, the window) lives as long as the
    # app: keep it out of the cyclic collector's full passes, which otherwise stall the
    # window for tens of milliseconds in the middle of a streamed answer.
    gc.freeze()
    with loop:
        loop.run_forever()
        if not closing:
            closing.append(loop.create_task(close_all(), name="engine-close"))
        try:
            loop.run_until_complete(asyncio.wait_for(closing[0], SHUTDOWN_TIMEOUT_S))
        except asyncio.TimeoutError:
            log.error("The engine did not shut down in %.0f s", SHUTDOWN_TIMEOUT_S)
        _cancel_leftover_tasks(loop)
    log.info("Hearth stopped")
    return 0


def _quit_on_signals(loop: Any, app: Any) -> None:
    """Quit cleanly (closing the engine) on Ctrl+C in the terminal or a SIGTERM."""
    import signal

    if sys.platform == "win32":
        return  # no add_signal_handler there; Ctrl+C in a console ends the process
    for sig in (signal.SIGINT, signal.SIGTERM):
        # asyncio wakes its loop through a self-pipe, which qasync watches, so the
        # handler runs promptly even while Qt idles in C++.
        loop.add_signal_handler(sig, app.quit)


def _cancel_leftover_tasks(loop: Any) -> None:
    """Cancel tasks still pending at exit and let them finish, as ``asyncio.run`` does."""
    import asyncio

    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def _qt_message_handler(mode: Any, context: Any, message: str) -> None:
    from PySide6.QtCore import QtMsgType

    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }.get(mode, logging.WARNING)
    logging.getLogger("desktop.qt").log(level, "%s", message)


class ErrorReporter:
    """The app's one handler of unexpected errors: logs them and shows a non-modal message.

    Installed as ``sys.excepthook`` (qasync's ``asyncSlot`` and our background tasks
    forward coroutine errors there) and as the asyncio loop's exception handler. Not a
    QObject, so this module imports no Qt until the GUI starts; strings go through
    ``QCoreApplication.translate`` (the non-QObject form of ``tr``).
    """

    #: More errors than this at once (a failing timer, say) are logged but not shown.
    MAX_OPEN = 3

    def __init__(self, log_file: Path) -> None:
        self._log_file = log_file
        self._boxes: list[QMessageBox] = []

    def excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """Log the error and tell the user, without blocking the window."""
        if issubclass(exc_type, KeyboardInterrupt):
            from PySide6.QtWidgets import QApplication

            QApplication.quit()
            return
        log.error("Unexpected error", exc_info=(exc_type, exc, tb))
        self._show(exc_type, exc, tb)

    def loop_exception_handler(self, _loop: object, context: dict[str, Any]) -> None:
        """asyncio's hook for errors nobody awaited."""
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.excepthook(type(exc), exc, exc.__traceback__)
        else:
            log.error("asyncio: %s", context.get("message", context))

    def _show(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        from PySide6.QtCore import QCoreApplication, Qt
        from PySide6.QtWidgets import QApplication, QMessageBox

        # Spelled out in full, with literal strings, so the translation tools find them.

        if QApplication.instance() is None or len(self._boxes) >= self.MAX_OPEN:
            return
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            QCoreApplication.translate("ErrorReporter", "Hearth"),
            QCoreApplication.translate("ErrorReporter", "Something went wrong: {error}").format(
                error=str(exc) or exc_type.__name__
            ),
            QMessageBox.StandardButton.Close,
            QApplication.activeWindow(),
        )
        box.setInformativeText(
            QCoreApplication.translate(
                "ErrorReporter", "Hearth keeps running. The details are in its log file, {path}"
            ).format(path=str(self._log_file))
        )
        box.setDetailedText("".join(traceback.format_exception(exc_type, exc, tb)))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._boxes.append(box)
        box.finished.connect(lambda _result, b=box: self._boxes.remove(b))
        box.show()


if __name__ == "__main__":
    sys.exit(main())
