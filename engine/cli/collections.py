"""``hearth-cli collections``: folders kept searchable (add, list, index, rm, search)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from engine.cli.ask import add_model_options, embed_model, index_path
from engine.cli.common import StatusLine, int_in, print_json


def add_parser(sub: Any) -> None:
    """``collections add|list|index|rm|search`` (engine.tasks.collections)."""
    group = sub.add_parser("collections", help="folders Hearth keeps searchable")
    actions = group.add_subparsers(dest="action", required=True, parser_class=type(group))
    add = actions.add_parser("add", help="add a collection of one or more folders")
    add.add_argument("name", help="the collection's name")
    add.add_argument("folders", nargs="+", metavar="FOLDER", type=Path)
    listing = actions.add_parser("list", help="the collections and how far they are indexed")
    index = actions.add_parser("index", help="index a collection (only what changed; resumes)")
    index.add_argument("name")
    rm = actions.add_parser("rm", help="forget a collection (its files stay)")
    rm.add_argument("name")
    search = actions.add_parser("search", help="the passages most relevant to some words")
    search.add_argument("name")
    search.add_argument("text", metavar="QUERY")
    search.add_argument("--limit", type=int_in(1, 100), default=5)
    for command in (add, listing, index, rm, search):
        add_model_options(command)
        command.add_argument("--json", action="store_true", help="print JSON")


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli collections ...``; returns the exit status."""
    from engine.tasks.doc_index import DocumentIndex

    with DocumentIndex(index_path(args)) as index:
        action = {
            "add": _add, "list": _list, "index": _index, "rm": _rm, "search": _search,
        }[args.action]  # fmt: skip
        return await action(args, index)


async def _add(args: argparse.Namespace, index: Any) -> int:
    from engine.tasks.collections import add_collection

    roots = await asyncio.to_thread(add_collection, index, args.name, args.folders)
    if args.json:
        print_json({"name": args.name, "folders": list(roots)})
    else:
        print(f'Added "{args.name}": {", ".join(roots)}. Index it with '
              f"`hearth-cli collections index {args.name}`.")  # fmt: skip
    return 0


async def _list(args: argparse.Namespace, index: Any) -> int:
    from engine.tasks.collections import list_collections

    model = embed_model(args) or ""
    found = await asyncio.to_thread(list_collections, index, model)
    if args.json:
        print_json([
            {"name": c.name, "folders": list(c.roots), "documents": c.documents,
             "passages": c.passages, "vectors": c.vectors, "state": c.state, "last": c.last}
            for c in found
        ])  # fmt: skip
        return 0
    if not found:
        print("No collections. Add one with `hearth-cli collections add NAME FOLDER`.")
    for c in found:
        print(f"{c.name}: {c.documents:,} documents, {c.passages:,} passages, "
              f"{c.vectors:,} with vectors — {c.state} — {', '.join(c.roots)}")  # fmt: skip
    return 0


async def _index(args: argparse.Namespace, index: Any) -> int:
    from engine.runtime.client import EngineClient
    from engine.tasks.collections import IndexProgress, index_collection

    status = StatusLine()

    def on_progress(p: IndexProgress) -> None:
        status.show(f"{args.name}: {p.message} ({p.done:,})")

    model = embed_model(args)
    async with EngineClient() as client:
        report = await index_collection(
            index, args.name, client=client if model else None, embed_model=model,
            on_progress=on_progress,
        )  # fmt: skip
    status.end()
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"{args.name}: {report.files:,} documents — {report.indexed:,} indexed, "
          f"{report.unchanged:,} unchanged, {report.removed:,} removed; {report.chunks:,} "
          f"passages added in {report.seconds:.1f} s")  # fmt: skip
    if not report.vectors:
        print("Searched by words only: no embedding model is installed (see --embed-model).")
    for reason, count in report.skipped_by_reason:
        print(f"  skipped {count:,}: {reason}")
    for skipped in report.skipped[:20]:
        print(f"    {skipped.path}: {skipped.reason}", file=sys.stderr)
    return 0


async def _rm(args: argparse.Namespace, index: Any) -> int:
    from engine.errors import UsageError
    from engine.tasks.collections import remove_collection

    if not await asyncio.to_thread(remove_collection, index, args.name):
        raise UsageError(f'There is no collection "{args.name}".')
    if args.json:
        print_json({"removed": args.name})
    else:
        print(f'Removed "{args.name}" from the index (its files are untouched).')
    return 0


async def _search(args: argparse.Namespace, index: Any) -> int:
    from engine.errors import UsageError
    from engine.runtime.client import EngineClient
    from engine.tasks.collections import collection_roots
    from engine.tasks.retrieval import search

    if args.name not in await asyncio.to_thread(collection_roots, index):
        raise UsageError(f'There is no collection "{args.name}".')
    model = embed_model(args)
    async with EngineClient() as client:
        result = await search(
            index, args.text, args.name, client=client if model else None, embed_model=model,
            limit=args.limit,
        )  # fmt: skip
    if args.json:
        print_json({
            "used_vectors": result.used_vectors, "note": result.note,
            "passages": [
                {"label": p.label, "file": p.document, "path": p.path, "page": p.page,
                 "part": p.seq + 1, "chunk_id": p.chunk_id, "score": p.score, "text": p.text}
                for p in result.passages
            ],
        })  # fmt: skip
        return 0
    if result.note:
        print(result.note)
    for p in result.passages:
        print(f"{p.label} {p.path}\n  {p.text[:300]}\n")
    return 0
