"""One exception hierarchy for the engine; every message says what happened and what to do."""

from __future__ import annotations

from engine.notices import Notice, render_notice


class EngineError(Exception):
    """Base of every error the engine raises on purpose.

    The message is meant for a user: it says what happened and, where there is
    something to do, what to do.
    """

    #: Exit status the command line uses for this kind of error.
    exit_code: int = 1


class UsageError(EngineError):
    """A request the engine cannot act on as given (bad parameter, unknown option)."""

    exit_code = 2


class PortInUse(UsageError):
    """A server cannot listen: another program already uses its port.

    Attributes:
        host: the address it was to listen on.
        port: the port in use.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(
            f"Port {port} on {host} is already in use by another program. "
            "Choose another port, or stop the program that uses it."
        )


class ModelFileError(EngineError):
    """A model file is missing, unreadable, truncated, corrupt or not a GGUF file."""

    exit_code = 3


class ModelNotFound(ModelFileError):
    """No installed model matches the id or path that was asked for."""


class ModelLoadError(EngineError):
    """A well-formed model file could not be loaded (memory, unsupported architecture, ...)."""

    exit_code = 3


class NoModelLoaded(EngineError):
    """A generation was asked for before any model was loaded."""


class TemplateError(EngineError):
    """The model's chat template was refused (unsafe, too slow, too large) or failed."""


class ContextOverflow(EngineError):
    """A request does not fit in the model's context and the policy says not to truncate."""


class Cancelled(EngineError):
    """The operation was cancelled by the user."""


class EngineCrashed(EngineError):
    """The engine worker process died; the next call starts a fresh one.

    Attributes:
        reason: one line saying how it died (signal, exit status, last error).
        log_tail: the worker's last log lines, for a crash report.
    """

    exit_code = 4

    def __init__(self, reason: str, log_tail: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.log_tail = log_tail
        super().__init__(
            f"The engine stopped unexpectedly ({reason}). "
            "Nothing was lost; the next request starts it again."
        )


class DownloadError(EngineError):
    """A download failed, was refused, or did not verify."""


class OfflineError(DownloadError):
    """Offline mode is on, so a network operation (hub search, download) was refused."""


class RemoteError(EngineError):
    """A remote endpoint could not be used: unreachable, refused the key, forbidden by
    offline mode, no longer serving the model, or the connection dropped mid-answer."""


class DocumentError(EngineError):
    """A document could not be read (unsupported, too large, no text, unsafe)."""

    exit_code = 3


class HistoryError(EngineError):
    """The history database cannot be used: a folder in its place, read-only, full disk,
    locked by another program, damaged, or written by a newer Hearth.

    Only a damaged file or one that is not a database is worth moving aside; the message
    says so only then, since moving a healthy database aside hides the user's history.

    Attributes:
        notice: what is wrong and what to do, for a front end to word in its language
            (the message is its English); None for an error made from a message alone.
    """

    def __init__(self, problem: Notice | str) -> None:
        self.notice = problem if isinstance(problem, Notice) else None
        super().__init__(render_notice(problem) if isinstance(problem, Notice) else problem)


#: Every error class by name, so errors can cross the worker's JSON protocol.
ERROR_TYPES: dict[str, type[EngineError]] = {
    cls.__name__: cls
    for cls in (
        EngineError,
        UsageError,
        ModelFileError,
        ModelNotFound,
        ModelLoadError,
        NoModelLoaded,
        TemplateError,
        ContextOverflow,
        Cancelled,
        DownloadError,
        OfflineError,
        RemoteError,
        DocumentError,
        HistoryError,
    )
}
