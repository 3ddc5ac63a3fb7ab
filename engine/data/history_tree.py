"""A conversation as a tree of stored messages: its branches, siblings and the branch on screen.

Regenerating an answer adds a sibling answer; editing a message adds a sibling message;
nothing is replaced. The branch on screen runs from a first message to the conversation's
current leaf. These are plain values, read from the database on its thread and handed to
any other (the window's, the command line's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Longest conversation title taken from the first message.
TITLE_CHARS = 60


def conversation_title(text: str) -> str:
    """A conversation title from its first message: the first line, shortened."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class Conversation:
    """One conversation's summary row."""

    id: int
    title: str
    model_id: str
    system_prompt: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class StoredMessage:
    """One stored message; ``stats`` is the generation's figures for answers.

    ``reasoning`` is a reasoning model's thinking before this answer ("" if none);
    ``parent_id`` the message it answers or follows (None: a first message).
    """

    id: int
    conversation_id: int
    role: str
    content: str
    created_at: float
    stats: dict[str, Any] | None
    rating: int
    reasoning: str = ""
    parent_id: int | None = None


@dataclass(frozen=True)
class ConversationTree:
    """Every message of a conversation that is not deleted, and the leaf on screen.

    Args:
        messages: the messages, oldest first (a parent is always older than its children).
        current_leaf_id: the last message of the branch on screen, as stored (None, or a
            message no longer here: the newest branch is shown).
    """

    messages: tuple[StoredMessage, ...]
    current_leaf_id: int | None = None
    _children: dict[int | None, list[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_id: dict[int, StoredMessage] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _reachable: set[int] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for message in self.messages:
            self._by_id[message.id] = message
        for message in self.messages:
            self._children.setdefault(message.parent_id, []).append(message.id)
        # Only what hangs from a first message belongs: a message whose parent is missing
        # (deleted with its branch) is left out, with what follows it.
        todo = list(self._children.get(None, []))
        while todo:
            current = todo.pop()
            self._reachable.add(current)
            todo.extend(self._children.get(current, []))
        for parent in [p for p in self._children if p is not None and p not in self._reachable]:
            del self._children[parent]

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._reachable

    def message(self, message_id: int) -> StoredMessage:
        """The message with this id.

        Raises:
            KeyError: it is not in this conversation (or it is deleted).
        """
        return self._by_id[message_id]

    def children(self, message_id: int | None) -> list[int]:
        """The ids of the messages that follow ``message_id`` (None: the first messages)."""
        return list(self._children.get(message_id, []))

    def siblings(self, message_id: int) -> list[int]:
        """The ids of the messages with the same parent as ``message_id``, itself included,
        oldest first."""
        return self.children(self._by_id[message_id].parent_id)

    def leaf_under(self, message_id: int) -> int:
        """The last message of the newest branch through ``message_id``."""
        while self._children.get(message_id):
            message_id = self._children[message_id][-1]
        return message_id

    @property
    def leaf(self) -> int | None:
        """The last message of the branch on screen (None: the conversation is empty)."""
        if self.current_leaf_id is not None and self.current_leaf_id in self:
            return self.current_leaf_id
        roots = self._children.get(None)
        return self.leaf_under(roots[-1]) if roots else None

    def branch(self, leaf: int | None = None) -> list[StoredMessage]:
        """The messages from the first to ``leaf`` (default: the branch on screen)."""
        leaf = self.leaf if leaf is None else leaf
        path: list[StoredMessage] = []
        message = self._by_id.get(leaf) if leaf is not None else None
        while message is not None:
            path.append(message)
            message = self._by_id.get(message.parent_id) if message.parent_id else None
        path.reverse()
        return path

    def subtree(self, message_id: int) -> list[int]:
        """``message_id`` and every message that continues from it."""
        found, todo = [], [message_id]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(self._children.get(current, []))
        return found


__all__ = ["TITLE_CHARS", "Conversation", "ConversationTree", "StoredMessage", "conversation_title"]
