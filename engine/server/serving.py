"""Running the API: the listening socket, uvicorn's server, and one server started and
stopped on the caller's event loop (:class:`ApiServer`, for an app that embeds it).

uvicorn's ``Server.serve()`` is a plain asyncio coroutine (``loop.create_server`` on a
socket we bind, timers, ``asyncio.sleep``), so it runs on any asyncio loop, qasync's
included. Running it on the loop of the :class:`EngineClient` it serves is what lets one
client serve the window and the API at once: the client's lock and its pipes to the
worker belong to that loop and cannot be awaited from a thread's own loop.

Thread: the asyncio loop the server runs on (in the desktop app, the Qt thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from dataclasses import replace
from typing import Any

from engine.errors import PortInUse, UsageError
from engine.runtime.client import EngineClient
from engine.server.app import RequestRecord, ServerConfig, create_app

log = logging.getLogger("engine.server")

#: Connections served at once; more get "503 Service Unavailable" from the server.
MAX_CONNECTIONS = 32
#: How long stopping waits for answers under way before it cuts them off.
GRACEFUL_SHUTDOWN_S = 2


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0: any free one).

    Bound here rather than by uvicorn, which ends the process (``sys.exit``) when it
    cannot bind: a port in use must be a message, not an exit.

    Raises:
        PortInUse: another program listens on that port.
        UsageError: the address cannot be listened on for another reason.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from exc
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
    sock.listen(128)
    return sock


def uvicorn_server(app: Any, *, embedded: bool) -> Any:
    """uvicorn's server for ``app``, with Hearth's limits.

    Args:
        app: the ASGI application (:func:`engine.server.app.create_app`).
        embedded: the server runs inside an app that owns the process: uvicorn then
            leaves the logging set-up and the signal handlers (Ctrl+C, SIGTERM) alone.
            Otherwise (``hearth-cli serve``) Ctrl+C stops the server.

    Returns:
        A ``uvicorn.Server``; run it with ``await server.serve(sockets=[sock])``.
    """
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        """uvicorn's server without its signal handlers: the app that embeds it has its own
        (Hearth's window quits on SIGINT/SIGTERM and stops the server on the way)."""

        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            #: Set once it accepts connections.
            self.ready = asyncio.Event()

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            self.ready.set()

    extra: dict[str, Any] = {"log_config": None} if embedded else {}
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
        ws="none",
        **extra,
    )
    return EmbeddedServer(config) if embedded else uvicorn.Server(config)


class ApiServer:
    """The API served on the running asyncio loop until :meth:`stop`, for an app that
    embeds it (the desktop window); ``hearth-cli serve`` runs uvicorn itself.

    Args:
        client: the engine client every request runs through (shared with the app).
        config: the address, token and limits (``port`` 0: any free port).
        list_models: the ids of the installed models (for ``/v1/models``).
        on_request: told of each request when it has been answered.
        on_activity: told how many requests are being answered, when that changes.

    Thread: the asyncio loop :meth:`start` is awaited on; the callbacks run there too.
    """

    def __init__(
        self,
        client: EngineClient,
        config: ServerConfig,
        *,
        list_models: Callable[[], Awaitable[list[str]]],
        on_request: Callable[[RequestRecord], None] | None = None,
        on_activity: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self._list_models = list_models
        self._on_request = on_request
        self._on_activity = on_activity
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._active = 0

    @property
    def config(self) -> ServerConfig:
        """What the server checks requests against (with the port it got)."""
        return self._config

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._task is not None and not self._task.done()

    @property
    def active(self) -> int:
        """How many requests are being answered now."""
        return self._active

    @property
    def url(self) -> str:
        """The API's base address, as clients are given it (``http://127.0.0.1:8080/v1``)."""
        host = self._config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._config.port}/v1"

    async def start(self) -> None:
        """Listen, and serve from now on (in a task on this loop).

        Raises:
            UsageError: the address cannot be listened on (a port in use, say).
            RuntimeError: the server is already running.
        """
        if self._task is not None:
            raise RuntimeError("The API server was started already.")
        sock = listen(self._config.host, self._config.port)
        try:
            port = sock.getsockname()[1]
            if port != self._config.port:
                self._config = replace(self._config, port=port)
            app = create_app(
                self._client,
                self._config,
                list_models=self._list_models,
                on_request=self._on_request,
            )
            self._server = uvicorn_server(self._counting(app), embedded=True)
        except BaseException:
            sock.close()
            raise
        self._task = asyncio.get_running_loop().create_task(self._serve(sock), name="api-server")
        # Return once it accepts connections (or has failed to start).
        ready = asyncio.ensure_future(self._server.ready.wait())
        try:
            await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not self._server.ready.is_set():
            task, self._task = self._task, None
            task.result()  # raises what stopped it
            raise UsageError("The API server stopped as it started.")

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self._server.serve(sockets=[sock])
        except SystemExit as exc:
            # uvicorn exits the process when its start-up fails: here it must not.
            raise UsageError("The API server could not start; see the log.") from exc
        finally:
            sock.close()  # uvicorn closes it too; closing twice is harmless

    def request_stop(self) -> None:
        """Stop accepting requests now, without waiting (:meth:`stop` waits)."""
        if self._server is not None:
            self._server.should_exit = True

    async def stop(self) -> None:
        """Stop listening, let answers under way finish (cut off after a few seconds),
        and return once the port is free. Does nothing if the server is not running."""
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, UsageError):
            await task

    def _counting(self, app: Any) -> Any:
        """``app``, counting the HTTP requests under way for :attr:`active`."""

        async def counted(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[Any]],
            send: Callable[[Any], Awaitable[None]],
        ) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            self._changed(+1)
            try:
                await app(scope, receive, send)
            finally:
                self._changed(-1)

        return counted

    def _changed(self, step: int) -> None:
        self._active += step
        if self._on_activity is not None:
            self._on_activity(self._active)


__all__ = ["GRACEFUL_SHUTDOWN_S", "MAX_CONNECTIONS", "ApiServer", "listen", "uvicorn_server"]
