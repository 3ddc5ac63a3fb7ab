"""The window's API server: the OpenAI-compatible API of ``hearth-cli serve``, served from
the window on its own engine client, with its address, token and request log.

The server runs on the qasync loop (uvicorn's ``Server.serve()`` is a plain asyncio
coroutine; see :mod:`engine.server.serving`), so its requests and the window's panes
share the one :class:`EngineClient`, its worker and its loaded model; they take turns on
the client's lock. Safe as the command line is: 127.0.0.1 only, the bearer token kept
in ``<config>/api-token`` (made once, 0600) always required, the Host header checked.
Requests use the model loaded in the window: a request naming another gets a 404, so
the model picker stays the one place that chooses what is loaded.

Thread: the Qt thread (the server's callbacks run there too: qasync's loop is Qt's).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from engine.data.config import Paths
from engine.errors import EngineError, PortInUse
from engine.runtime.client import EngineClient

if TYPE_CHECKING:
    from desktop.dialogs.api_server import ApiServerDialog
    from engine.server.app import RequestRecord
    from engine.server.serving import ApiServer

log = logging.getLogger("desktop.api")

#: The address the window's API listens on: this computer only.
API_HOST = "127.0.0.1"
#: The most requests the log keeps (the oldest go first).
MAX_LOGGED = 500


@dataclass(frozen=True)
class LoggedRequest:
    """One line of the request log.

    Attributes:
        received: when the request came in (local time).
        record: what the server reported once it had answered.
    """

    received: datetime
    record: RequestRecord


class ApiServerHost(QObject):
    """Turns the window's API server on and off, keeps its log, and opens its panel.

    Args:
        client: the window's engine client, which the server's requests run through.
        paths: Hearth's folders (the token is kept in the config folder).
        window: the main window, the panel's parent.

    Signals:
        state_changed: the server started, stopped, or could not start (:attr:`error`).
        switched(bool, int): the user turned the server on or off, on this port (to
            remember for the next launch).
        request_logged(object): a request was answered (a :class:`LoggedRequest`).
        activity_changed(int): how many requests are being answered now.
    """

    state_changed = Signal()
    switched = Signal(bool, int)
    request_logged = Signal(object)
    activity_changed = Signal(int)

    def __init__(self, client: EngineClient, paths: Paths, window: QWidget) -> None:
        super().__init__(window)
        self._client = client
        self._paths = paths
        self._window = window
        self._server: ApiServer | None = None
        self._token = ""
        self._error = ""
        self._port = 0
        self._switching = asyncio.Lock()
        #: While it switches: whether it is starting (True) or stopping (False).
        self._starting: bool | None = None
        self.log: deque[LoggedRequest] = deque(maxlen=MAX_LOGGED)
        self._dialog: ApiServerDialog | None = None

    @property
    def running(self) -> bool:
        """Whether the API is being served."""
        return self._server is not None and self._server.running

    @property
    def port(self) -> int:
        """The port it listens on (or last tried to)."""
        return self._port

    def set_port(self, port: int) -> None:
        """The port the panel offers (the one in the settings) while the server is off."""
        if not self.running:
            self._port = port

    @property
    def address(self) -> str:
        """The server's address (``http://127.0.0.1:8080``), or "" while it is off."""
        return f"http://{API_HOST}:{self._port}" if self.running else ""

    @property
    def base_url(self) -> str:
        """What clients take as their OpenAI base URL (the address and ``/v1``), or ""."""
        return self._server.url if self._server is not None and self.running else ""

    @property
    def token(self) -> str:
        """The bearer token requests must carry ("" before the server first started)."""
        return self._token

    @property
    def error(self) -> str:
        """Why the server could not start, in the interface language; "" if it did."""
        return self._error

    @property
    def active(self) -> int:
        """How many requests are being answered now."""
        return self._server.active if self._server is not None and self.running else 0

    @property
    def busy(self) -> bool:
        """Whether the server is starting or stopping."""
        return self._switching.locked()

    @property
    def starting(self) -> bool:
        """Whether the server is starting (or waiting to start) now."""
        return self._starting is True

    @property
    def stopping(self) -> bool:
        """Whether the server is stopping (or waiting to stop) now."""
        return self._starting is False

    # -- on and off --------------------------------------------------------------------

    async def switch(self, on: bool, port: int) -> bool:
        """The user's choice: serve on ``port``, or stop; remembered for the next launch
        (:attr:`switched`) once done.

        Returns:
            Whether the server is now in the state asked for.
        """
        if on:
            done = await self.start(port)
        else:
            await self.stop()
            done = True
        if done:  # a server that could not start is not remembered as on
            self.switched.emit(on, port)
        return done

    async def start(self, port: int) -> bool:
        """Serve the API on ``127.0.0.1:port`` (stopping it first if it runs elsewhere).

        Returns:
            Whether it is running; if not, :attr:`error` says why.
        """
        self._starting = True
        self.state_changed.emit()
        async with self._switching:
            self._starting = True
            if self.running and self._port == port:
                self._starting = None
                self.state_changed.emit()
                return True
            await self._stop()
            self._port = port
            self._error = ""
            try:
                server = await self._make_server(port)
                await server.start()
            except PortInUse:
                self._error = self.tr(
                    "Port {port} is already in use by another program. Choose another port, "
                    "or stop the program that uses it."
                ).format(port=port)
            except EngineError as exc:
                self._error = self.tr("The API server could not start: {reason}").format(
                    reason=str(exc)
                )
            else:
                self._server = server
                log.info("API server on %s", server.url)
            if self._error:
                log.warning("API server not started on port %d: %s", port, self._error)
            self._starting = None
        self.state_changed.emit()
        return self.running

    async def _make_server(self, port: int) -> ApiServer:
        # Imported off the Qt thread on first use: uvicorn and Starlette take a moment.
        await asyncio.to_thread(_import_server)
        from engine.server.app import ServerConfig
        from engine.server.serving import ApiServer
        from engine.server.token import api_token

        if not self._token:
            self._token, _made = await asyncio.to_thread(api_token, self._paths)
        config = ServerConfig(host=API_HOST, port=port, token=self._token, load_models=False)
        return ApiServer(
            self._client,
            config,
            list_models=_no_other_models,
            on_request=self._on_server_request,
            on_activity=self._on_server_activity,
        )

    async def stop(self) -> None:
        """Stop serving; answers under way finish first (cut off after a few seconds)."""
        self._starting = False
        self.state_changed.emit()
        async with self._switching:
            self._starting = False
            self._error = ""
            await self._stop()
            self._starting = None
        self.state_changed.emit()

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
            log.info("API server stopped")

    def begin_shutdown(self) -> None:
        """Stop accepting requests now (the window is closing); :meth:`aclose` waits."""
        if self._server is not None:
            self._server.request_stop()

    async def aclose(self) -> None:
        """Stop the server and wait until its port is free."""
        await self._stop()

    # -- what the server reports -------------------------------------------------------

    def _on_server_request(self, record: RequestRecord) -> None:
        received = datetime.now() - timedelta(seconds=record.seconds)
        entry = LoggedRequest(received, record)
        self.log.append(entry)
        self.request_logged.emit(entry)

    def _on_server_activity(self, active: int) -> None:
        self.activity_changed.emit(active)

    # -- the panel ---------------------------------------------------------------------

    def open(self) -> ApiServerDialog:
        """Open the API server panel, or raise the one already open."""
        from desktop.dialogs.api_server import ApiServerDialog

        if self._dialog is None:
            self._dialog = ApiServerDialog(self, self._window)
        if self._dialog.isVisible():
            self._dialog.raise_()
        else:
            self._dialog.show()
        return self._dialog


async def _no_other_models() -> list[str]:
    """``/v1/models`` lists the model loaded in the window, and no other: requests cannot
    load another (the server adds the loaded one itself)."""
    return []


def _import_server() -> None:
    for module in ("engine.server.app", "engine.server.serving", "engine.server.token"):
        importlib.import_module(module)


__all__ = ["API_HOST", "MAX_LOGGED", "ApiServerHost", "LoggedRequest"]
