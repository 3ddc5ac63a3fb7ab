"""Logging setup shared by the GUI and the CLI: a rotating file in the log dir, and the console."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
from typing import TYPE_CHECKING, TextIO

from engine.data.config import Paths

if TYPE_CHECKING:
    _StreamHandler = logging.StreamHandler[TextIO]
else:  # subscriptable at run time only from Python 3.11
    _StreamHandler = logging.StreamHandler

LOG_FILE = "hearth.log"
#: Size at which the log file is rotated.
MAX_BYTES = 2 * 1024 * 1024
#: Rotated files kept beside the current one (hearth.log.1 … hearth.log.5).
BACKUP_COUNT = 5
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
#: Marks the handlers this module installed, so a second call replaces them.
_MARK = "_hearth_handler"


class _QuietErrors(logging.Handler):
    """A handler whose failures to write cost one line on stderr, once, and nothing after.

    logging's own ``handleError`` prints a "--- Logging error ---" traceback for every
    record that cannot be written: on a full disk or a log folder made read-only, that is
    a traceback per line the app logs. Records that cannot be written are dropped; the
    handler keeps trying, so the log resumes once there is room again.
    """

    #: The name the note starts with (``hearth``, ``hearth-cli``).
    program = "hearth"
    _failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self._failed:
            return
        self._failed = True
        error = sys.exc_info()[1]
        reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
        _note(
            self.program,
            f"cannot write the log ({self._target()}): {reason}; "
            "log lines are dropped until it can",
            skip=self._writes_to_stderr(),
        )

    def _target(self) -> str:
        return "stderr"

    def _writes_to_stderr(self) -> bool:
        return True


class _FileHandler(_QuietErrors, logging.handlers.RotatingFileHandler):
    """The rotating log file, quiet when the disk is full or the folder read-only."""

    def _target(self) -> str:
        return self.baseFilename

    def _writes_to_stderr(self) -> bool:
        return False


class _ConsoleHandler(_QuietErrors, _StreamHandler):
    """stderr, quiet when it is closed (a terminal gone, a pipe whose reader quit)."""


def _note(program: str, text: str, *, skip: bool = False) -> None:
    """One line on stderr, where there is one that works (never a traceback)."""
    if skip or sys.stderr is None:
        return
    # stderr closed or broken: nowhere is left to say it.
    with contextlib.suppress(OSError, ValueError):
        print(f"{program}: note: {text}", file=sys.stderr, flush=True)


def setup_logging(
    paths: Paths, *, console: bool, level: int = logging.INFO, program: str = "hearth"
) -> None:
    """Send every logger's records to ``<log dir>/hearth.log`` (rotated) and optionally stderr.

    Safe to call twice: handlers installed by an earlier call are replaced, not doubled.
    Logging never stops the app and never prints a traceback of its own: if the log
    folder cannot be created or the file opened (read-only home, full disk) the file is
    skipped and one note says so on stderr; a write that fails later is noted the same
    way, once.

    Args:
        paths: Hearth's folders; the file goes in ``paths.log_dir``.
        console: also log to ``sys.stderr`` (the CLI, or the GUI started from a terminal).
        level: the root logger's level.
        program: the name the note starts with (``hearth``, ``hearth-cli``).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    formatter = logging.Formatter(_FORMAT)
    handlers: list[logging.Handler] = []
    file_error: OSError | None = None
    try:
        paths.log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            _FileHandler(
                paths.log_dir / LOG_FILE,
                maxBytes=MAX_BYTES,
                backupCount=BACKUP_COUNT,
                encoding="utf-8",
            )
        )
    except OSError as exc:
        file_error = exc
    if console and sys.stderr is not None:
        handlers.append(_ConsoleHandler(sys.stderr))
    if not handlers:
        # Without any handler, logging's last resort would print warnings, and the
        # tracebacks of logged exceptions, on stderr: the note below says it once instead.
        handlers.append(logging.NullHandler())
    for handler in handlers:
        setattr(handler, _MARK, True)
        if isinstance(handler, _QuietErrors):
            handler.program = program
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.captureWarnings(True)
    if file_error is not None:
        reason = file_error.strerror or str(file_error)
        _note(
            program,
            f"cannot write the log file in {paths.log_dir} ({reason}); running without it",
            skip=console,
        )
        logging.getLogger("engine.logs").warning(
            "Cannot write the log file in %s: %s", paths.log_dir, file_error
        )
