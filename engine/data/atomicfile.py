"""Writing a user's file whole or not at all: a private temporary file beside it, then a rename."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

#: The mode a new file gets before the umask, as ``open()`` would create it.
NEW_FILE_MODE = 0o666


def write_atomic(
    path: Path, data: bytes | str, *, encoding: str = "utf-8", mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the new one.

    The temporary file is created with ``O_EXCL`` under an unpredictable name in the
    target's folder (:func:`tempfile.mkstemp`), so nothing planted there, such as a
    symbolic link named like ``<name>.part`` pointing at another file, is ever opened
    or overwritten. A failed write (a full disk) removes it and leaves any older file
    intact. The new file keeps the mode of the file it replaces (an executable script
    stays executable), or gets the usual mode for a new file.

    Blocking: call it from a worker thread.

    Args:
        path: the file to write; a symbolic link there is replaced, not followed.
        data: the contents; text is encoded with ``encoding`` and written as is (no
            newline translation).
        encoding: the encoding of text ``data``.
        mode: the permission bits to give the file, whatever it had (Hearth's own
            private files); by default those of the file it replaces.

    Raises:
        OSError: the folder cannot be written (missing, read-only, full).
    """
    raw = data.encode(encoding) if isinstance(data, str) else data
    if mode is None:
        mode = _mode_for(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            if hasattr(os, "fchmod"):  # not on Windows, where the mode bits mean little
                os.fchmod(out.fileno(), mode)
            # On disk before the rename: a crash then leaves the old file or the whole
            # new one, never an empty file under the user's name.
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _mode_for(path: Path) -> int:
    """The permission bits the written file should have."""
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    return NEW_FILE_MODE & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it, racing threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022  # the usual default, where /proc does not tell (macOS, Windows)
