"""What the command groups share: flags checked as the settings and sampling values are,
the limits on text arguments and standard input, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from engine.data.config import BACKENDS, setting_problem
from engine.errors import UsageError
from engine.models.time_left import format_time_left
from engine.types import sampling_problem


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `hearth-cli {self.prog.split()[-1]} --help`)")


class StatusLine:
    """Progress on stderr: one line rewritten in place on a terminal, else a line per change."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = ""

    def show(self, line: str) -> None:
        """Show ``line`` (nothing happens when it is the line already shown)."""
        if line == self._last:
            return
        if self._tty:
            print(f"\r{line.ljust(len(self._last))}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)
        self._last = line

    def end(self) -> None:
        """Leave the line as it is: what is printed next starts on a line of its own."""
        if self._tty and self._last:
            print(file=sys.stderr, flush=True)
        self._last = ""


def progress_line(subject: str, detail: str, fraction: float, eta_s: float) -> str:
    """One line of progress: ``"report.pdf: Summarizing part 2 of 5 (40%, 1:05 left)"``.

    Args:
        subject: what is in progress (a file name).
        detail: how far it is, in words.
        fraction: the part done, 0 to 1.
        eta_s: seconds left; the time left is shown only when this is above 0.
    """
    left = f", {format_time_left(eta_s)} left" if eta_s > 0 else ""
    return f"{subject}: {detail} ({fraction:.0%}{left})"


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON (non-ASCII text as it is)."""
    print(json.dumps(value, indent=2, ensure_ascii=False))


def add_load_options(command: Any) -> None:
    """``--ctx`` and ``--threads``, checked against the same ranges as the settings file."""
    command.add_argument(
        "--ctx",
        type=setting_flag("context_size", int),
        default=0,
        help="context size in tokens (default: automatic; at most the model's trained "
        "context and what memory holds)",
    )
    command.add_argument(
        "--threads",
        type=setting_flag("threads", int),
        default=0,
        help="decode threads (default: automatic; at most this computer's logical cores)",
    )


def add_backend_option(command: Any) -> None:
    """``--backend auto|llamacpp|torch``: force an inference backend for this run."""
    command.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="inference backend (default: auto, which follows Settings and the hardware plan)",
    )


_NUMBER_WORDS: dict[object, str] = {int: "a whole number", float: "a number"}


def _parse(kind: Callable[[str], Any], text: str) -> Any:
    """``kind(text)`` (int, float or str), as argparse's error when it is not one."""
    try:
        return kind(text)
    except ValueError:
        word = _NUMBER_WORDS.get(kind, "valid")
        raise argparse.ArgumentTypeError(f"{text!r} is not {word}") from None


def _checked(
    kind: Callable[[str], Any], check: Callable[[Any], str | None]
) -> Callable[[str], Any]:
    """An argparse ``type=``: parse with ``kind``, then refuse what ``check`` objects to."""

    def convert(text: str) -> Any:
        value = _parse(kind, text)
        problem = check(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{problem}, not {text}")
        return value

    return convert


def sampling_flag(name: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A flag for the sampling field ``name``, checked as SamplingParams checks it (NaN too)."""
    return _checked(kind, lambda value: sampling_problem(name, value))


def setting_flag(name: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A flag for the setting ``name`` (context size, threads, GPU offload), checked as
    the settings file is: the same ranges, derived from this computer."""
    return _checked(kind, lambda value: setting_problem(name, value))


def int_in(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""
    return _checked(int, lambda v: None if low <= v <= high else f"must be {low} to {high:,}")


#: The most text read from standard input or taken from one argument, as for a code
#: file (``--file``): 4 MB is a large source file and a million tokens, more than any
#: local model's context, yet small enough that the engine handles it in bounded memory.
MAX_INPUT_BYTES = 4 * 1024 * 1024


def read_stdin_text(limit: int = MAX_INPUT_BYTES) -> str:
    """Standard input as text, reading at most one byte past ``limit``.

    Raises:
        DocumentError: more than ``limit`` bytes, or not UTF-8.
    """
    from engine.errors import DocumentError

    data = sys.stdin.buffer.read(limit + 1) if sys.stdin is not None else b""
    if len(data) > limit:
        raise DocumentError(
            f"Standard input is larger than {limit // (1024 * 1024)} MB; "
            "pass a smaller file or a part of it."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(
            "Standard input is not UTF-8 text; pass the file with --file, "
            "which reads other encodings."
        ) from None
    return text.replace("\r\n", "\n")


def check_argument(what: str, text: str, limit: int = MAX_INPUT_BYTES) -> None:
    """Refuse an argument (a prompt, a system prompt) longer than ``limit`` bytes."""
    # Only a text of over limit/4 characters can be over limit bytes in UTF-8.
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:
        raise UsageError(
            f"The {what} is larger than {limit // (1024 * 1024)} MB; shorten it or pass "
            "a part of it."
        )
