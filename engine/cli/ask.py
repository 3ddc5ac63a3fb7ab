"""``hearth-cli ask``: a question answered from documents or a collection, with citations."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import StatusLine, add_load_options, check_argument, print_json


def add_parser(sub: Any) -> None:
    """``ask [--file F]... [--collection NAME] QUESTION``: cited answers (engine.tasks.ask)."""
    from engine.tasks.ask import MODES

    ask = sub.add_parser(
        "ask",
        help="ask documents or a collection a question; the answer cites its sources",
        description="Answer a question from documents (--file) or a collection, citing "
        "passages as [report.pdf p. 12].",
    )
    ask.add_argument("text", metavar="QUESTION", help="the question")
    ask.add_argument(
        "--file", action="append", default=[], metavar="FILE", dest="files",
        help="a document to ask (txt, md, pdf, docx, html, code); repeat for several",
    )  # fmt: skip
    ask.add_argument("--collection", metavar="NAME", help="ask a collection instead of files")
    ask.add_argument(
        "--mode", choices=MODES, default="auto",
        help="whole: the documents in full; retrieval: the most relevant passages; pass: "
        "every passage asked (slow, for 'list every ...'); auto chooses and says why",
    )  # fmt: skip
    add_model_options(ask)
    add_load_options(ask)
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")


def add_model_options(command: Any) -> None:
    """``--model``, ``--embed-model`` and ``--index``: what ask and collections share."""
    command.add_argument("--model", help="model id, file name or path (default: starter model)")
    command.add_argument(
        "--embed-model", metavar="MODEL",
        help="embedding model for vector search (default: an installed one, if any; "
        "'none' for words only)",
    )  # fmt: skip
    command.add_argument(
        "--index", metavar="PATH", help="the index file (default: index.db in the data folder)"
    )


def index_path(args: argparse.Namespace) -> Path:
    """The index file the command uses."""
    from engine.data.config import get_paths

    return Path(args.index) if args.index else get_paths().data_dir / "index.db"


def embed_model(args: argparse.Namespace) -> str | None:
    """The embedding model named, or an installed one; None for 'none' or none installed."""
    if args.embed_model:
        return None if args.embed_model.lower() == "none" else str(args.embed_model)
    from engine.data.config import get_paths
    from engine.tasks.retrieval import find_embedding_model

    return find_embedding_model(get_paths())


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli ask``; returns the exit status."""
    from engine.data.config import get_paths, load_settings
    from engine.errors import DocumentError, UsageError
    from engine.runtime.client import EngineClient
    from engine.tasks.ask import AskOptions, AskProgress, ask
    from engine.tasks.doc_index import DocumentIndex
    from engine.tasks.documents import extract

    check_argument("question", args.text)
    if bool(args.files) == bool(args.collection):
        raise UsageError("Give documents with --file, or a collection with --collection.")
    status = StatusLine()
    documents = []
    limit = load_settings(get_paths()).max_document_bytes
    for name in args.files:
        status.show(f"{Path(name).name}: reading…")
        try:
            documents.append(await asyncio.to_thread(extract, Path(name), max_bytes=limit))
        except DocumentError as exc:
            status.end()
            print(f"hearth-cli: {exc}", file=sys.stderr)
            return 3
        for note in documents[-1].notes:
            status.end()
            print(f"warning: {documents[-1].name}: {note}", file=sys.stderr)
    index = None
    if args.collection:
        index = DocumentIndex(index_path(args))
        if args.collection not in await asyncio.to_thread(_collections, index):
            index.close()
            raise UsageError(
                f'There is no collection "{args.collection}". Add it with '
                "`hearth-cli collections add NAME FOLDER`."
            )
    options = AskOptions(mode=args.mode, embed_model=embed_model(args))

    def on_progress(p: AskProgress) -> None:
        if p.stage not in ("answer", "done"):  # the answer streams on stdout
            status.show(p.message)

    streamed: list[str] = []

    def on_token(piece: str) -> None:
        status.end()
        streamed.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    try:
        async with EngineClient() as client:
            info = await client.load(args.model, n_ctx=args.ctx, threads=args.threads)
            for warning in info.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            result = await ask(
                client, args.text, documents=documents, index=index,
                collection=args.collection, options=options, on_progress=on_progress,
                on_token=None if args.json else on_token,
            )  # fmt: skip
    finally:
        if index is not None:
            index.close()
    status.end()
    if args.json:
        print_json(result.to_dict())
        return 0
    # The streamed text is the model's; the checked answer (tags resolved) follows it.
    print("\n")
    if result.answer != "".join(streamed).strip():
        print(f"With its citations checked: {result.answer}\n")
    print(f"Mode: {result.mode}. {result.reason} ({result.tokens_read:,} tokens read)")
    if result.search_note:
        print(result.search_note)
    for c in result.citations:
        how = " (inferred: the answer cited nothing)" if c.inferred else ""
        print(f"  {c.label}{how} “{c.quote}”")
    if result.unresolved:
        print(f"Removed citations that name no passage read: {', '.join(result.unresolved)}")
    return 0


def _collections(index: Any) -> dict[str, Any]:
    from engine.tasks.collections import collection_roots

    return collection_roots(index)
