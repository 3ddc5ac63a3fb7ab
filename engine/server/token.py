"""The API's bearer token: given, from ``$HEARTH_API_TOKEN``, or generated once and kept.

A generated token is written to ``<config>/api-token`` with 0600 permissions (only the
user can read it) and shown once, when it is made; later runs read it from there.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from engine.data.config import Paths
from engine.errors import UsageError

#: The environment variable that names the token.
TOKEN_ENV = "HEARTH_API_TOKEN"
TOKEN_FILE = "api-token"
#: Shorter tokens are refused: a token is the only lock on the API.
MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 512


def token_file(paths: Paths) -> Path:
    """Where a generated token is kept."""
    return paths.config_dir / TOKEN_FILE


def check_token(token: str) -> str:
    """``token`` if it is usable as a bearer token; else UsageError says why."""
    if not MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS:
        raise UsageError(
            f"The API token must be {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} characters long."
        )
    if not token.isascii() or not token.isprintable() or " " in token:
        raise UsageError("The API token must be printable ASCII without spaces.")
    return token


def api_token(paths: Paths, given: str | None = None) -> tuple[str, bool]:
    """The token to require, and whether it was generated just now (to show it once).

    Order: ``given`` (``--token``), ``$HEARTH_API_TOKEN``, the kept file, a new one.

    Raises:
        UsageError: a given token is unusable, or the kept file cannot be written.
    """
    for candidate in (given, os.environ.get(TOKEN_ENV)):
        if candidate:
            return check_token(candidate), False
    path = token_file(paths)
    try:
        kept = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        kept = ""
    if kept:
        try:
            return check_token(kept), False
        except UsageError:
            pass  # damaged: replaced below
    token = "hearth-" + secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode otherwise
            out.write(token + "\n")
    except OSError as exc:
        raise UsageError(f"Could not keep the API token in {path}: {exc.strerror}.") from exc
    return token, True


__all__ = ["TOKEN_ENV", "api_token", "check_token", "token_file"]
