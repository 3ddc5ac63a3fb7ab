"""``hearth-cli history``: the conversations the window and ``hearth-cli chat`` stored —
list, show, export and branch them."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.cli.common import print_json
from engine.data.atomicfile import write_atomic
from engine.data.history import History

#: How a message's role is shown in ``history show``.
_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}


def add_parser(sub: Any) -> None:
    """The ``history`` command group."""
    history = sub.add_parser(
        "history", help="list, show, export and branch the stored conversations"
    )
    actions = history.add_subparsers(dest="action", required=True, parser_class=type(history))

    listing = actions.add_parser("list", help="the conversations, most recently active first")
    listing.add_argument("--limit", type=int, default=50, help="show at most this many")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = actions.add_parser("show", help="a conversation's branch on screen, with message ids")
    show.add_argument("conversation", type=int, help="the conversation's id")
    show.add_argument("--json", action="store_true", help="print JSON")

    export = actions.add_parser(
        "export", help="a conversation as Markdown (the branch on screen) or JSON (every branch)"
    )
    export.add_argument("conversation", type=int, help="the conversation's id")
    export.add_argument("--format", choices=("markdown", "json"), default="markdown")
    export.add_argument("-o", "--output", help="write to this file (default: standard output)")

    branch = actions.add_parser(
        "branch", help="copy a conversation up to a message into a new conversation"
    )
    branch.add_argument("conversation", type=int, help="the conversation's id")
    branch.add_argument("message", type=int, help="the last message to copy (see `show`)")
    branch.add_argument("--title", help="the new conversation's title (default: '… (branch)')")
    branch.add_argument("--json", action="store_true", help="print JSON")


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli history ACTION``; returns the exit status."""
    from engine.data.config import get_paths

    history = History(get_paths().database)
    try:
        return _ACTIONS[args.action](history, args)
    finally:
        history.close()


def _list(history: History, args: argparse.Namespace) -> int:
    rows = []
    for conversation in history.conversations()[: max(args.limit, 0)]:
        rows.append(
            {
                **asdict(conversation),
                "messages": len(history.messages(conversation.id)),
            }
        )
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        when = dt.datetime.fromtimestamp(row["updated_at"]).strftime("%Y-%m-%d %H:%M")
        print(f"{row['id']:>6}  {when}  {row['messages']:>4} messages  {row['title']}")
    return 0


def _show(history: History, args: argparse.Namespace) -> int:
    conversation = history.conversation(args.conversation)
    tree = history.tree(args.conversation)
    branch = tree.branch()
    if args.json:
        print_json(
            {
                "conversation": asdict(conversation),
                "messages": [{**asdict(m), "siblings": len(tree.siblings(m.id))} for m in branch],
            }
        )
        return 0
    print(f"# {conversation.title}  (conversation {conversation.id})")
    if conversation.system_prompt:
        print(f"System: {conversation.system_prompt}")
    for m in branch:
        siblings = tree.siblings(m.id)
        versions = f"  (version {siblings.index(m.id) + 1} of {len(siblings)})"
        print(f"\n[{m.id}] {_NAMES.get(m.role, m.role)}{versions if len(siblings) > 1 else ''}:")
        print(m.content)
    return 0


def _export(history: History, args: argparse.Namespace) -> int:
    text = (
        history.export_json(args.conversation)
        if args.format == "json"
        else history.export_markdown(args.conversation)
    )
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _branch(history: History, args: argparse.Namespace) -> int:
    original = history.conversation(args.conversation)
    title = args.title or f"{original.title} (branch)"
    copy = history.branch_conversation(args.conversation, args.message, title)
    if args.json:
        print_json({"conversation_id": copy, "title": title})
    else:
        print(copy)
    return 0


_ACTIONS = {"list": _list, "show": _show, "export": _export, "branch": _branch}
