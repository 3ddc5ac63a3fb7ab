"""Conversations exported for people and programs: Markdown (the branch on screen) and JSON
(the whole tree, so every kept answer and edit travels with it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from engine.data.history_tree import Conversation, ConversationTree, StoredMessage

#: Bumped when the JSON's shape changes in a way a reader must know about.
JSON_FORMAT = "hearth-conversation/2"


def export_markdown(conversation: Conversation, branch: Sequence[StoredMessage]) -> str:
    """A conversation's branch as Markdown: a title, then one section per message.

    Args:
        conversation: the conversation's row (title, model, system prompt).
        branch: its messages on screen, oldest first.
    """
    parts = [f"# {conversation.title}\n"]
    if conversation.model_id:
        parts.append(f"*Model: {conversation.model_id}*\n")
    if conversation.system_prompt:
        parts.append(f"**System:** {conversation.system_prompt}\n")
    names = {"user": "You", "assistant": "Assistant", "system": "System"}
    for m in branch:
        parts.append(f"## {names.get(m.role, m.role)}\n")
        if m.reasoning:
            # Collapsed where Markdown renders HTML, as the window shows it.
            parts.append(f"<details><summary>Thinking</summary>\n\n{m.reasoning}\n\n</details>\n")
        parts.append(f"{m.content}\n")
    return "\n".join(parts)


def export_json(conversation: Conversation, tree: ConversationTree) -> str:
    """A conversation as JSON: its row, every message with its ``parent_id``, and the branch
    on screen (``current_leaf_id`` and the ids in ``branch``, first to last).

    Args:
        conversation: the conversation's row.
        tree: all its messages.
    """
    data = {
        "format": JSON_FORMAT,
        "conversation": asdict(conversation),
        "current_leaf_id": tree.leaf,
        "branch": [m.id for m in tree.branch()],
        "messages": [asdict(m) for m in tree.messages],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


__all__ = ["JSON_FORMAT", "export_json", "export_markdown"]
