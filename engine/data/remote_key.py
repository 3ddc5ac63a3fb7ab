"""The remote endpoint's API key, kept in ``<config>/remote-key`` where only the user reads it.

Apart from settings.json on purpose: the settings file is shown, value by value, in the
messages that report a damaged setting, and set aside whole when it is broken; a key must
not travel with it. Written with mode 0600, as the API server's token is.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from engine.data.config import Paths

log = logging.getLogger("engine.config")

KEY_FILE = "remote-key"
#: The longest key kept: keys are tens of characters; a longer one is a paste gone wrong.
MAX_KEY_CHARS = 4096


def key_file(paths: Paths) -> Path:
    """Where the key is kept."""
    return paths.config_dir / KEY_FILE


def read_remote_key(paths: Paths) -> str:
    """The kept key, or "" when there is none (or it cannot be read: that is logged)."""
    path = key_file(paths)
    try:
        with path.open("r", encoding="utf-8") as source:
            return source.read(MAX_KEY_CHARS + 1)[:MAX_KEY_CHARS].strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("Cannot read the remote endpoint's key from %s: %s", path, exc)
        return ""


def save_remote_key(paths: Paths, key: str) -> None:
    """Keep ``key`` (mode 0600); an empty key removes the file.

    Raises:
        OSError: the config folder cannot be written.
    """
    path = key_file(paths)
    key = key.strip()[:MAX_KEY_CHARS]
    if not key:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        if hasattr(os, "fchmod"):
            os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode otherwise
        out.write(key + "\n")
