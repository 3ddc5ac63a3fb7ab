"""``hearth-cli summarize``: whole documents of any length, chunk by chunk."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import StatusLine, add_load_options, print_json, progress_line


def add_parser(sub: Any) -> None:
    """``summarize FILE...``: whole documents, chunk by chunk (engine.tasks.summarize)."""
    from engine.tasks.summarize import LANGUAGES, LENGTHS, STYLES

    summ = sub.add_parser("summarize", help="summarize whole documents of any length")
    summ.add_argument("files", nargs="+", metavar="FILE", help="txt, md, pdf, docx, html, code")
    summ.add_argument("--length", choices=LENGTHS, default="medium")
    summ.add_argument("--style", choices=STYLES, default="bullets")
    summ.add_argument("--language", choices=LANGUAGES, default="auto")
    summ.add_argument("--model", help="model id, file name or path (default: starter model)")
    add_load_options(summ)
    summ.add_argument("--json", action="store_true", help="print a JSON list at the end")


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli summarize``; returns the exit status."""
    from engine.data.config import get_paths, load_settings
    from engine.errors import DocumentError
    from engine.runtime.client import EngineClient
    from engine.tasks.documents import extract
    from engine.tasks.summarize import SummaryOptions, SummaryProgress, summarize

    options = SummaryOptions(length=args.length, style=args.style, language=args.language)
    status = StatusLine()
    results: list[dict[str, Any]] = []
    # Every file is read before the model loads: a typo in the last name should not
    # cost the time of summarizing the others first.
    documents = []
    limit = load_settings(get_paths()).max_document_bytes
    for name in args.files:
        status.show(f"{Path(name).name}: reading…")
        try:
            document = await asyncio.to_thread(extract, Path(name), max_bytes=limit)
        except DocumentError as exc:  # an unreadable input file, like a bad model file
            status.end()
            print(f"hearth-cli: {exc}", file=sys.stderr)
            return 3
        documents.append(document)
        for note in document.notes:  # what a time budget cut: the summary covers the rest
            status.end()
            print(f"warning: {document.name}: {note}", file=sys.stderr)
    async with EngineClient() as client:
        info = await client.load(args.model, n_ctx=args.ctx, threads=args.threads)
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for index, (name, document) in enumerate(zip(args.files, documents, strict=True)):

            def on_progress(p: SummaryProgress, doc_name: str = document.name) -> None:
                status.show(progress_line(doc_name, p.message, p.fraction, p.eta_s))

            def on_token(piece: str) -> None:
                sys.stdout.write(piece)
                sys.stdout.flush()

            if not args.json and len(args.files) > 1:
                if index:
                    print()
                print(f"## {document.name}\n", flush=True)
            result = await summarize(
                client,
                document,
                options,
                on_progress=on_progress,
                on_token=None if args.json else on_token,
            )
            status.end()
            if not args.json:
                print(flush=True)
            results.append(
                {
                    "file": name,
                    "sha256": document.sha256,
                    "summary": result.text,
                    "chunks": result.chunks,
                    "tokens_read": result.tokens_read,
                    "seconds": result.seconds,
                    "levels": result.levels,
                    "language": result.language,
                    "prompt_tokens": result.prompt_tokens,
                    "generated_tokens": result.generated_tokens,
                    "parallel": result.parallel,
                    "model": info.model_id,
                    "options": options.to_dict(),
                }
            )
    if args.json:
        print_json(results)
    return 0
