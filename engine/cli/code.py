"""``hearth-cli code``: the Code pane's tasks (generate, explain, fix, test, review)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import (
    MAX_INPUT_BYTES,
    add_load_options,
    check_argument,
    print_json,
    read_stdin_text,
)


def add_parser(sub: Any) -> None:
    """``code --task T [TEXT]``: the Code pane's tasks (engine.tasks.code)."""
    from engine.tasks.code import TASKS

    code = sub.add_parser(
        "code",
        help="generate, explain, fix, test or review code",
        description="Run a code task with the local model. The code comes from --file, or "
        "from standard input when it is not a terminal; TEXT describes what to generate, "
        "or adds a request to the other tasks. A fix prints a unified diff.",
    )
    code.add_argument("text", nargs="*", metavar="TEXT", help="description or extra request")
    code.add_argument("--task", choices=TASKS, required=True)
    code.add_argument("--language", help="language (default: from the file name or the code)")
    code.add_argument("--file", help="the code to work on")
    code.add_argument("--error", default="", help="for --task fix: the error message")
    code.add_argument("--model", help="model id, file name or path (default: starter model)")
    add_load_options(code)
    code.add_argument("--json", action="store_true", help="print one JSON object at the end")


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli code``; returns the exit status."""
    from engine.errors import DocumentError
    from engine.runtime.client import EngineClient
    from engine.tasks.code import CodeRequest, run_task
    from engine.tasks.documents import read_text_file
    from engine.tasks.programming_languages import language_for

    check_argument("request", " ".join(args.text))
    check_argument("error message", args.error)
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
