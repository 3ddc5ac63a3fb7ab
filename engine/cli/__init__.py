"""``hearth-cli``: the headless command line that the GUI's features, tests and benchmarks share.

Exit status: 0 success, 2 usage error, 3 bad or missing model file or unreadable document,
4 engine crashed, 1 anything else. Errors are one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from engine import __version__
from engine.cli import (
    ask,
    bench,
    chat,
    code,
    collections,
    hardware,
    history,
    models,
    serve,
    summarize,
)
from engine.cli.common import Parser
from engine.errors import EngineError, UsageError

log = logging.getLogger("engine.cli")

#: The command groups, in the order ``--help`` lists them.
COMMANDS = {
    "hardware": hardware,
    "models": models,
    "chat": chat,
    "history": history,
    "summarize": summarize,
    "ask": ask,
    "collections": collections,
    "code": code,
    "serve": serve,
    "bench": bench,
}


def _build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="hearth-cli", description="Hearth's engine from the command line.")
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


#: The arguments that are text for the model rather than file names, with the names a
#: user knows them by. Bytes that are not UTF-8 reach ``sys.argv`` as lone surrogates
#: (PEP 383), which no model, tokenizer or JSON line can take: in these they are replaced;
#: in file names they are kept, so a file whose name is not UTF-8 still opens.
_TEXT_ARGUMENTS = {
    "prompt": "the prompt",
    "system": "--system",
    "stop": "--stop",
    "text": "TEXT",
    "error": "--error",
    "title": "--title",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return exc.exit_code
    from engine.data.config import get_paths, read_settings
    from engine.data.logs import setup_logging

    paths = get_paths()
    setup_logging(
        paths,
        console=args.verbose,
        level=logging.DEBUG if args.verbose else logging.INFO,
        program="hearth-cli",
    )
    paths.ensure()  # after logging: what it cannot do goes to the log, not the terminal
    for label in _replace_undecodable(args):
        print(
            f"hearth-cli: note: {label} is not valid UTF-8; the bytes that are not were "
            "replaced with \N{REPLACEMENT CHARACTER} (check your terminal's encoding)",
            file=sys.stderr,
        )
    notice = read_settings(paths).message  # a damaged file is repaired once: say so then
    if notice:
        print(f"hearth-cli: warning: {notice}", file=sys.stderr)
    try:
        return asyncio.run(COMMANDS[args.command].run(args))
    except EngineError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hearth-cli: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file or folder the command needed: say which, and why
        log.exception("File error")
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"hearth-cli: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.exception("Unexpected error")
        print(f"hearth-cli: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _replace_undecodable(args: argparse.Namespace) -> list[str]:
    """Make the text arguments valid Unicode; returns the names of those that were not."""
    replaced = []
    for name, label in _TEXT_ARGUMENTS.items():
        value = getattr(args, name, None)
        if isinstance(value, str):
            fixed: str | list[str] = _valid_text(value)
        elif isinstance(value, list):
            fixed = [_valid_text(item) if isinstance(item, str) else item for item in value]
        else:
            continue
        if fixed != value:
            setattr(args, name, fixed)
            replaced.append(label)
    return replaced


def _valid_text(value: str) -> str:
    """``value`` with each byte that was not UTF-8 replaced by U+FFFD."""
    try:
        raw = value.encode("utf-8", "surrogateescape")  # the bytes the user typed
    except UnicodeEncodeError:  # a lone surrogate of another origin (Windows' UTF-16 argv)
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")
