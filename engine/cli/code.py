"""``hearth-cli code``: the Code pane's tasks (generate, explain, fix, test, review, complete)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.common import (
    MAX_INPUT_BYTES,
    add_load_options,
    check_argument,
    print_json,
    read_stdin_text,
)
from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.tasks.code import CodeRequest


def add_parser(sub: Any) -> None:
    """``code --task T [TEXT]``: the Code pane's tasks (engine.tasks.code)."""
    from engine.tasks.code import TASKS

    code = sub.add_parser(
        "code",
        help="generate, explain, fix, test, review or complete code",
        description="Run a code task with the local model. The code comes from --file, or "
        "from standard input when it is not a terminal; TEXT describes what to generate, "
        "or adds a request to the other tasks. A fix prints a unified diff. --task "
        "complete prints the text a code model would insert at --at LINE:COL of the code "
        "(fill-in-the-middle).",
    )
    code.add_argument("text", nargs="*", metavar="TEXT", help="description or extra request")
    code.add_argument("--task", choices=(*TASKS, COMPLETE), required=True)
    code.add_argument("--language", help="language (default: from the file name or the code)")
    code.add_argument("--file", help="the code to work on")
    code.add_argument("--error", default="", help="for --task fix: the error message")
    code.add_argument(
        "--at",
        type=_position,
        metavar="LINE:COL",
        help="for --task complete: the cursor, both counted from 1 (COL one past a "
        "line's last character is its end)",
    )
    code.add_argument("--model", help="model id, file name or path (default: starter model)")
    add_load_options(code)
    code.add_argument("--json", action="store_true", help="print one JSON object at the end")


#: The task that completes code at a cursor (not a chat task: engine.tasks.code_fim).
COMPLETE = "complete"


def _position(value: str) -> tuple[int, int]:
    """``LINE:COL`` as two numbers."""
    line, sep, column = value.partition(":")
    if not sep or not line.strip().isdigit() or not column.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"takes LINE:COL, two numbers counted from 1 (e.g. 12:5), not {value!r}"
        )
    return int(line), int(column)


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli code``; returns the exit status."""
    from engine.errors import DocumentError
    from engine.tasks.code import CodeRequest
    from engine.tasks.documents import read_text_file
    from engine.tasks.programming_languages import language_for

    check_argument("request", " ".join(args.text))
    check_argument("error message", args.error)
    _check_task_options(args)
    source, filename = "", ""
    try:
        if args.file:
            filename = args.file
            source, _ = await asyncio.to_thread(
                read_text_file, Path(args.file), max_bytes=MAX_INPUT_BYTES
            )
        elif args.task != "generate" and sys.stdin is not None and not sys.stdin.isatty():
            source = await asyncio.to_thread(read_stdin_text)
    except DocumentError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return 3
    language = language_for(filename=filename or None, text=source or None, hint=args.language)
    if args.task == COMPLETE:
        return await _complete(args, source, filename, language)
    try:
        request = CodeRequest(
            task=args.task,
            language=language,
            code=source,
            instruction=" ".join(args.text),
            error=args.error,
            filename=filename,
        )
    except ValueError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return 2
    return await _run_task(args, request)


def _check_task_options(args: argparse.Namespace) -> None:
    """Refuse options that do not go with the task (they would be ignored silently)."""
    if args.task == COMPLETE:
        if args.at is None:
            raise UsageError("--task complete needs the cursor: --at LINE:COL (e.g. --at 12:5).")
        if args.text or args.error:
            raise UsageError(
                "--task complete takes no TEXT or --error: it writes what fits at the cursor."
            )
    elif args.at is not None:
        raise UsageError("--at is for --task complete.")


async def _complete(args: argparse.Namespace, source: str, filename: str, language: str) -> int:
    """``--task complete``: print the text to insert at ``--at`` (or one JSON object)."""
    from engine.runtime.client import EngineClient
    from engine.tasks.code import fill_in_the_middle, split_at

    line, column = args.at
    if not source:
        raise UsageError(
            "There is no code to complete: pass --file, or the code on standard input."
        )
    before, after = split_at(source, line, column)
    async with EngineClient() as client:
        info = await client.load(args.model, n_ctx=args.ctx, threads=args.threads)
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        completion = await fill_in_the_middle(client, before, after)
    if args.json:
        print_json(
            {
                "task": COMPLETE,
                "language": language,
                "filename": filename,
                "line": line,
                "column": column,
                "code": completion.text,
                "answer": completion.answer,
                "stop_reason": completion.stop_reason,
                "stats": completion.stats.to_dict(),
                "model": info.model_id,
            }
        )
    elif completion.text:
        sys.stdout.write(completion.text)
        sys.stdout.flush()
    else:
        print("hearth-cli: the model has nothing to insert there.", file=sys.stderr)
    return 0


async def _run_task(args: argparse.Namespace, request: CodeRequest) -> int:
    """The chat tasks: stream the answer (a fix: its diff), or print one JSON object."""
    from engine.runtime.client import EngineClient
    from engine.tasks.code import run_task

    stream_to = None if args.json else sys.stderr if args.task == "fix" else sys.stdout

    def on_token(piece: str) -> None:
        if stream_to is not None:
            stream_to.write(piece)
            stream_to.flush()

    async with EngineClient() as client:
        info = await client.load(args.model, n_ctx=args.ctx, threads=args.threads)
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        result = await run_task(client, request, on_token=on_token)
    if args.json:
        print_json({**result.to_dict(), "model": info.model_id})
        return 0
    if stream_to is not None:
        print(file=stream_to, flush=True)
    if args.task == "fix":
        if result.code is None:
            print("hearth-cli: the answer holds no code to compare (see above).", file=sys.stderr)
            return 1
        if not result.diff:
            print("hearth-cli: the model proposed no change.", file=sys.stderr)
            return 0
        sys.stdout.write(result.diff)
    return 0
