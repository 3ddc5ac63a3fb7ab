"""Logging setup shared by the GUI and the CLI: a rotating file in the log dir, and the console."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from engine.config import Paths

LOG_FILE = "hearth.log"
#: Size at which the log file is rotated.
MAX_BYTES = 2 * 1024 * 1024
#: Rotated files kept beside the current one (hearth.log.1 … hearth.log.5).
BACKUP_COUNT = 5
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
#: Marks the handlers this module installed, so a second call replaces them.
_MARK = "_hearth_handler"


def setup_logging(paths: Paths, *, console: bool, level: int = logging.INFO) -> None:
    """Send every logger's records to ``<log dir>/hearth.log`` (rotated) and optionally stderr.

    Safe to call twice: handlers installed by an earlier call are replaced, not doubled.
    If the log folder cannot be created (read-only home, say) the file is skipped and
    a warning goes to whatever other handler there is; logging never stops the app.

    Args:
        paths: Hearth's folders; the file goes in ``paths.log_dir``.
        console: also log to ``sys.stderr`` (the CLI, or the GUI started from a terminal).
        level: the root logger's level.
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
        file_handler = logging.handlers.RotatingFileHandler(
            paths.log_dir / LOG_FILE,
            maxBytes=MAX_BYTES,
            backupCount=BACKUP_COUNT,
            encoding="utf-8",
        )
        handlers.append(file_handler)
    except OSError as exc:
        file_error = exc
    if console and sys.stderr is not None:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        setattr(handler, _MARK, True)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.captureWarnings(True)
    if file_error is not None:
        logging.getLogger("engine.logs").warning(
            "Cannot write the log file in %s: %s", paths.log_dir, file_error
        )
