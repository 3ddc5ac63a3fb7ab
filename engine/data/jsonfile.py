"""Hearth's own JSON files: read within bounds, set aside when broken, written privately.

Every JSON file Hearth reads at start-up (settings, chat options, the import registry,
the downloads state) goes through :func:`read_json`, so that no content, however it is
damaged, can stop the app from starting: a file that is too large, not JSON, nested so
deeply that the parser would recurse past Python's limit, or not a regular file at all
raises :class:`BrokenFile`, which the caller answers by :func:`set_aside` and defaults.

Files are written with :func:`write_json`: a temporary file in the same folder, then
``os.replace``, so a reader sees the old file or the new one, never half of one; the
file is private to the user (mode 0600 on POSIX, whatever the umask). Read-modify-write
cycles that several processes may run at once hold :func:`locked`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import reprlib
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from engine.data.atomicfile import write_atomic
from engine.errors import EngineError

log = logging.getLogger("engine.jsonfile")

#: Deepest nesting accepted. Hearth's files are at most four levels deep (a preset in a
#: list in an object); 32 leaves room for a newer version's extra keys, and stays far
#: below the depth at which the parser, ``json.dumps`` or ``repr`` would hit Python's
#: recursion limit (1000) when called from deep inside the app.
MAX_DEPTH = 32

#: Mode of Hearth's private files: the user's alone (settings, prompts, registries).
PRIVATE_FILE_MODE = 0o600

#: The longest wait for another process's lock: holders only read and write a small
#: file (milliseconds), so a minute means that process is stuck, not busy.
LOCK_TIMEOUT_S = 60.0

#: A broken file is renamed ``<name>.broken-<timestamp>``; this is the timestamp's form.
_STAMP = "%Y%m%d-%H%M%S"


def shown(value: object) -> str:
    """``repr(value)`` cut short for a message: a setting may hold a megabyte of text."""
    return reprlib.repr(value)


class BrokenFile(ValueError):
    """A JSON file that cannot be used at all; the message says why, for a user."""


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (iteratively: no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of the regular file ``path``.

    Raises:
        FileNotFoundError: there is no file.
        BrokenFile: it is not a regular file, cannot be read, or is larger.
    """
    # O_NONBLOCK: a FIFO put where the file should be must not hang the app at start-up.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BrokenFile(f"it cannot be read ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BrokenFile("it is not a regular file")
        try:
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise BrokenFile(f"it cannot be read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise BrokenFile(f"it is larger than {max_bytes:,} bytes")
    return data


def read_json(path: Path, *, max_bytes: int) -> Any:
    """Parse the JSON file ``path``, refusing anything that could exhaust memory or the stack.

    Args:
        path: the file.
        max_bytes: the largest size accepted; a larger file is not read past this.

    Returns:
        The parsed value, nested at most :data:`MAX_DEPTH` deep.

    Raises:
        FileNotFoundError: there is no file (a first run: not an error).
        BrokenFile: anything else that keeps the file from being used.
    """
    data = _read_bounded(path, max_bytes)
    try:
        # utf-8-sig: an editor on Windows may have put a byte-order mark in front.
        value = json.loads(data.decode("utf-8-sig"))
    except RecursionError as exc:
        raise BrokenFile(f"it is nested more than {MAX_DEPTH} levels deep") from exc
    except UnicodeDecodeError as exc:
        raise BrokenFile("it is not UTF-8 text") from exc
    except ValueError as exc:  # json.JSONDecodeError, and integers too long to convert
        raise BrokenFile(f"it is not valid JSON ({exc})") from exc
    if _depth(value) > MAX_DEPTH:
        raise BrokenFile(f"it is nested more than {MAX_DEPTH} levels deep")
    return value


def _free_name(path: Path) -> Path:
    """``<name>.broken-<timestamp>`` beside ``path``, numbered if that name is taken."""
    base = f"{path.name}.broken-{time.strftime(_STAMP)}"
    candidate = path.with_name(base)
    number = 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{base}-{number}")
    return candidate


def set_aside(path: Path, *, keep: bool = False) -> Path | None:
    """Keep a damaged file as ``<name>.broken-<timestamp>`` so that nothing is lost.

    Args:
        path: the file.
        keep: also leave the file where it is (the caller replaces it with a repaired
            one, atomically, so there is no moment without a file); only for files the
            caller could read, hence small. Otherwise it is moved, whatever its size.

    Returns:
        Where the file now is, or None if it could not be set aside (logged).
    """
    target = _free_name(path)
    try:
        if keep:
            try:
                os.link(path, target)  # no copy: the same bytes under a second name
            except OSError:
                shutil.copyfile(path, target)
        else:
            os.replace(path, target)
    except OSError as exc:
        log.warning("Could not set %s aside as %s: %s", path, target.name, exc)
        return None
    with contextlib.suppress(OSError):
        os.chmod(target, PRIVATE_FILE_MODE)
    log.warning("Set %s aside as %s", path, target.name)
    return target


def set_aside_if_larger(path: Path, max_bytes: int) -> Path | None:
    """Set ``path`` aside if it is larger than ``max_bytes`` or not a regular file.

    For Hearth's small files that a library reads whole and on its own (Qt's
    ``QSettings`` INI file): a 3 GB window-state file cost Qt 6 GB and a minute.

    Returns:
        Where the file was moved, or None if it was fine, missing, or could not be moved.
    """
    try:
        info = path.stat()
    except OSError:
        return None
    if stat.S_ISREG(info.st_mode) and info.st_size <= max_bytes:
        return None
    log.warning("%s is not a regular file of at most %s bytes", path, f"{max_bytes:,}")
    return set_aside(path)


def make_private(path: Path) -> None:
    """Give a file of Hearth's the mode :data:`PRIVATE_FILE_MODE` (a no-op on Windows)."""
    if sys.platform != "win32":
        os.chmod(path, PRIVATE_FILE_MODE)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, ``os.replace``), privately.

    Raises:
        OSError: the folder cannot be written.
    """
    write_atomic(path, text, mode=PRIVATE_FILE_MODE)


def write_json(path: Path, value: Any, *, indent: int = 2) -> None:
    """Write ``value`` as JSON with :func:`write_text` (atomic, private).

    Raises:
        OSError: the folder cannot be written.
    """
    write_text(path, json.dumps(value, indent=indent, ensure_ascii=False))


@contextlib.contextmanager
def locked(path: Path, *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive lock for changing ``path``, across processes.

    The lock is ``<path>.lock``, taken with ``fcntl.flock`` on POSIX and ``msvcrt.locking``
    on Windows (the filelock library); the system releases it if the holder dies, so a
    crashed process never leaves the file locked.

    Raises:
        EngineError: another process held the lock for ``timeout_s`` seconds.
    """
    lock = filelock.FileLock(
        path.with_name(path.name + ".lock"), timeout=timeout_s, mode=PRIVATE_FILE_MODE
    )
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise EngineError(
            f"Another Hearth process has been changing {path} for {timeout_s:.0f} s. "
            "Close the other Hearth windows or commands and try again."
        ) from exc
    try:
        yield
    finally:
        lock.release()


__all__ = [
    "LOCK_TIMEOUT_S",
    "MAX_DEPTH",
    "PRIVATE_FILE_MODE",
    "BrokenFile",
    "locked",
    "make_private",
    "read_json",
    "set_aside",
    "set_aside_if_larger",
    "shown",
    "write_json",
    "write_text",
]
