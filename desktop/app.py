"""The ``hearth`` entry point: starts the Qt application, the engine worker in a frozen app,
or the installation's self-test.

Qt is imported only after the ``--engine-worker`` check, so a frozen app started as
the worker never loads it, and nothing here imports llama_cpp: the model runs in the
worker process, and the window appears before any model is loaded.

One Hearth runs per data folder (one writer of the history database): the first
launch listens on a local socket in a folder only its user can enter
(:func:`instance_name`, :class:`InstanceGuard`); a second launch asks it to bring its
window to the front, then exits.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import stat
import struct
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon
    from PySide6.QtNetwork import QLocalServer, QLocalSocket
    from PySide6.QtWidgets import QMessageBox

    from engine.data.config import Paths

log = logging.getLogger("desktop.app")

WORKER_FLAG = "--engine-worker"
#: engine.tasks.pdf_text.FROZEN_FLAG, spelled out so that starting the GUI imports no engine.
PDF_TEXT_FLAG = "--pdf-text"
SELF_TEST_FLAG = "--self-test"
#: The desktop entry's id (packaging/io.hearth.Hearth.desktop): on Wayland it is how the
#: compositor finds the window's icon and name.
DESKTOP_FILE_NAME = "io.hearth.Hearth"
#: The icon's name in the hicolor theme, where the Linux packages install it.
ICON_NAME = "hearth"
#: What a second launch sends the running one, and the running one's answer.
ACTIVATE_MESSAGE = b"activate\n"
ACTIVATED_REPLY = b"ok\n"
#: How long a second launch waits for the running instance to answer.
INSTANCE_TIMEOUT_MS = 2000
#: The longest local socket path Hearth uses: ``sockaddr_un.sun_path`` holds 108 bytes on
#: Linux and 104 on macOS and the BSDs, the final NUL included, and Qt's QLocalServer
#: takes one byte less than that (a 107-byte path fails to listen on Linux, measured).
#: A longer path makes Hearth fall back to a name in the temporary folder.
MAX_SOCKET_PATH = 106 if sys.platform.startswith("linux") else 102
#: The environment variable naming the user's private runtime folder (XDG base directories).
RUNTIME_DIR_ENV = "XDG_RUNTIME_DIR"
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
        # A frozen app has no ``python -m engine.runtime.worker``: the client starts the app
        # itself with this flag (engine.runtime.client.worker_command).
        from engine.runtime.worker import main as worker_main

        return worker_main()
    if args[:1] == [PDF_TEXT_FLAG]:
        # Likewise for the process that reads a PDF's pages (engine.tasks.pdf_text).
        from engine.tasks.pdf_text import main as pdf_text_main

        return pdf_text_main(args[1:])
    started = time.perf_counter()
    console = _guard_std_streams()
    if args[:1] == [SELF_TEST_FLAG]:
        from desktop.self_test import run_self_test

        return run_self_test(qt_message_handler=qt_message_handler, window_icon=app_icon)
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
    from desktop.theme import apply_theme
    from desktop.window.main_window import MainWindow
    from engine.data.config import get_paths, read_settings
    from engine.data.logs import LOG_FILE, setup_logging
    from engine.runtime.client import EngineClient

    paths = get_paths()
    setup_logging(paths, console=console)
    paths.ensure()  # after logging: what it cannot do goes to the log
    log.info("Hearth starting (Python %s, PID %d)", sys.version.split()[0], os.getpid())
    qInstallMessageHandler(qt_message_handler)

    app = QApplication([sys.argv[0], *args])
    app.setApplicationName("Hearth")
    app.setOrganizationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    app.setDesktopFileName(DESKTOP_FILE_NAME)

    guard = InstanceGuard(instance_name(paths))
    if guard.activate_running_instance():
        log.info("Hearth already runs for %s; its window was brought to the front", paths.data_dir)
        print("Hearth is already running; its window was brought to the front.", file=sys.stderr)
        return 0
    app.setWindowIcon(app_icon())

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = ErrorReporter(paths.log_dir / LOG_FILE)
    sys.excepthook = reporter.excepthook
    loop.set_exception_handler(reporter.loop_exception_handler)

    # Theme and language before the first widget exists, so nothing is drawn twice.
    loaded = read_settings(paths)  # a damaged file is repaired; the window says what
    settings = loaded.settings
    apply_theme(app, settings.theme)
    translations = Translations(app)
    translations.apply(settings.language)

    client = EngineClient()
    window = MainWindow(
        client,
        paths,
        settings=settings,
        settings_notice=loaded.notice,
        translations=translations,
    )

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
    guard.listen(lambda: _bring_to_front(window))
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
    guard.close()
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


def qt_message_handler(mode: Any, context: Any, message: str) -> None:
    """Send Qt's own messages to the ``desktop.qt`` logger (the log file), by severity."""
    from PySide6.QtCore import QtMsgType

    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }.get(mode, logging.WARNING)
    logging.getLogger("desktop.qt").log(level, "%s", message)


def app_icon() -> QIcon:
    """Hearth's application icon, from the PNG sizes shipped with it.

    Looked for in ``resources/icons`` (a frozen bundle, where packaging/hearth.spec puts
    them), then in ``packaging/icons`` of a source checkout; otherwise the ``hearth``
    icon of the desktop's theme (installed there by the Linux packages).
    """
    from PySide6.QtGui import QIcon

    from engine.resources import resources_dir

    source_root = Path(__file__).resolve().parent.parent
    for folder in (resources_dir() / "icons", source_root / "packaging" / "icons"):
        pngs = sorted((folder / "hicolor").glob(f"*/apps/{ICON_NAME}.png"))
        if pngs:
            icon = QIcon()
            for png in pngs:
                icon.addFile(str(png))
            return icon
    return QIcon.fromTheme(ICON_NAME)


def instance_name(paths: Paths) -> str:
    """The local socket of the Hearth that uses ``paths``' data folder.

    One name per data folder (a hash of its path), so two users, or a test with its own
    ``$HEARTH_HOME``, never meet, while two launches that would write one history
    database do. On Linux and macOS it is a path in a folder that only this user can
    enter, where no other local user can take the name first: the runtime folder
    (``$XDG_RUNTIME_DIR``), else a ``run`` folder in the data folder. Where neither will
    do (a read-only data folder, a path too long for a socket) it is a bare name, which
    Qt puts in the shared temporary folder; :class:`InstanceGuard` then checks who
    answers on it. On Windows it is a named pipe's name.
    """
    digest = hashlib.sha256(str(paths.data_dir.resolve()).encode("utf-8")).hexdigest()
    name = f"hearth-{digest[:16]}"
    if sys.platform == "win32":
        return name
    for folder in _private_folders(paths):
        path = os.path.join(folder, name)
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
            return path
    return name


def _private_folders(paths: Paths) -> Iterator[str]:
    """Folders owned by this user that no one else can enter, best first (created lazily)."""
    runtime = os.environ.get(RUNTIME_DIR_ENV, "")
    if os.path.isabs(runtime) and _is_private(runtime):
        yield runtime
    run = paths.data_dir / "run"
    try:
        run.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # a read-only data folder: no private folder there
        return
    if _is_private(str(run)):
        yield str(run)


def _is_private(folder: str) -> bool:
    """Whether ``folder`` is a real folder (not a link) of this user, closed to others."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def _peer_uid(descriptor: int) -> int | None:
    """The user id of the process at the other end of a local socket, where it can be known.

    Linux tells it (``SO_PEERCRED``); elsewhere, and for a socket without a descriptor,
    None.
    """
    import socket

    if descriptor < 0 or not hasattr(socket, "SO_PEERCRED"):
        return None
    # A duplicate of Qt's descriptor, so closing it leaves Qt's socket open.
    with socket.socket(fileno=os.dup(descriptor)) as peer:
        creds = peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def _is_stranger(socket: QLocalSocket) -> bool:
    """Whether the other end of ``socket`` is known to run as another user."""
    uid = _peer_uid(int(socket.socketDescriptor()))
    return uid is not None and uid != os.getuid()


class InstanceGuard:
    """Keeps to one running Hearth per data folder, with a :class:`QLocalServer`.

    A launch first calls :meth:`activate_running_instance`: when another Hearth
    listens on the name, it is asked to bring its window to the front and this launch
    should exit. Otherwise the launch calls :meth:`listen` once its window exists.
    Not a QObject, so this module imports no Qt until the GUI starts; the server's
    signals are connected to plain methods.

    Args:
        name: the local socket name, from :func:`instance_name`.

    Thread: the Qt thread.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._server: QLocalServer | None = None
        self._on_activate: Any = None
        self._sockets: list[QLocalSocket] = []

    @property
    def listening(self) -> bool:
        """Whether this launch is the one that answers later launches."""
        return self._server is not None and self._server.isListening()

    def activate_running_instance(self, timeout_ms: int = INSTANCE_TIMEOUT_MS) -> bool:
        """Ask a running Hearth to show its window.

        Returns:
            True when another Hearth answered (this launch should exit), False when
            none runs: a socket left by a crashed Hearth refuses the connection, and a
            name taken by another user's program is ignored (it must not keep Hearth
            from starting).
        """
        from PySide6.QtNetwork import QLocalSocket

        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        if _is_stranger(socket):
            log.warning("Another user's program listens on %s; ignoring it", self.name)
            socket.abort()
            return False
        socket.write(ACTIVATE_MESSAGE)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        answered = socket.waitForReadyRead(timeout_ms)
        if not answered:
            # Connected but silent: the other Hearth is alive and busy (a modal dialog,
            # a long call on its Qt thread). A second writer must still not start.
            log.warning("The running Hearth did not answer within %d ms", timeout_ms)
        socket.disconnectFromServer()
        return True

    def listen(self, on_activate: Any) -> bool:
        """Answer later launches by calling ``on_activate()`` (bring the window up).

        Args:
            on_activate: called on the Qt thread for each later launch.

        Returns:
            Whether the server listens; if not (a read-only temp folder, say), Hearth
            still runs, only without the single-instance check, and says why in its log.
        """
        from PySide6.QtNetwork import QAbstractSocket, QLocalServer

        self._on_activate = on_activate
        server = QLocalServer()
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        ok = server.listen(self.name)
        if not ok and server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            # activate_running_instance found no Hearth of this user there: the socket
            # file is a crashed Hearth's leftover, or another user's (which the shared
            # temporary folder's sticky bit keeps us from removing: then Hearth runs
            # without the check).
            QLocalServer.removeServer(self.name)
            ok = server.listen(self.name)
        if not ok:
            log.warning(
                "Cannot listen for other launches on %s: %s", self.name, server.errorString()
            )
            return False
        server.newConnection.connect(self._on_server_new_connection)
        self._server = server
        return True

    def close(self) -> None:
        """Stop listening (removes the socket file); safe to call twice."""
        for socket in self._sockets:
            socket.disconnected.disconnect()
            socket.abort()
            socket.deleteLater()
        self._sockets.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    def _on_server_new_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if _is_stranger(socket):
                log.warning("Ignoring a connection from another user's program")
                socket.abort()
                socket.deleteLater()
                continue
            self._sockets.append(socket)
            socket.readyRead.connect(lambda s=socket: self._on_socket_ready_read(s))
            socket.disconnected.connect(lambda s=socket: self._on_socket_disconnected(s))
            if socket.bytesAvailable():
                self._on_socket_ready_read(socket)

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        message = bytes(socket.readLine().data())
        if message != ACTIVATE_MESSAGE:
            log.warning("Ignoring %r from another launch", message[:40])
            return
        log.info("Another launch asked for the window")
        if self._on_activate is not None:
            self._on_activate()
        socket.write(ACTIVATED_REPLY)
        socket.flush()

    def _on_socket_disconnected(self, socket: QLocalSocket) -> None:
        if socket in self._sockets:
            self._sockets.remove(socket)
            socket.deleteLater()


def _bring_to_front(window: Any) -> None:
    """Show ``window`` un-minimized, raised and focused (a second launch asked for it)."""
    from PySide6.QtCore import Qt

    state = window.windowState() & ~Qt.WindowState.WindowMinimized
    window.setWindowState(state | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()


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
