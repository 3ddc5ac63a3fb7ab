"""The history database's conversation trees: adding messages to a branch, reading the
branch on screen, switching, deleting (with Undo) and copying branches.

A mixin of :class:`~engine.data.history.History`; it runs on that object's thread.
"""

from __future__ import annotations

import json
import sqlite3
import time

from engine.data.history_tree import ConversationTree, StoredMessage
from engine.errors import EngineError

#: ``add_message``'s default parent: the last message of the branch on screen.
AFTER_LEAF = -1

_MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, created_at, stats, rating, reasoning, parent_id"
)


def _message(row: sqlite3.Row) -> StoredMessage:
    stats = json.loads(row["stats"]) if row["stats"] else None
    return StoredMessage(**{**dict(row), "stats": stats})


class BranchStore:
    """What :class:`~engine.data.history.History` does with a conversation's messages."""

    _db: sqlite3.Connection

    # -- writing ---------------------------------------------------------------------

    def add_message(
        self, conversation_id: int, role: str, content: str, *, parent_id: int | None = AFTER_LEAF
    ) -> int:
        """Store a message now (committed at once) and show its branch; returns its id.

        Args:
            conversation_id: the conversation.
            role: "user", "assistant" or "system".
            content: the text (an answer starts empty and is updated as it streams).
            parent_id: the message it follows: by default the last one on screen; None
                starts the conversation (or, beside an existing first message, a sibling
                of it); a message id adds a sibling to that message's other children.

        Raises:
            EngineError: ``parent_id`` is not a message of this conversation.
        """
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            if parent_id == AFTER_LEAF:
                parent_id = self._leaf(conversation_id)
            elif parent_id is not None:
                self._check_message(conversation_id, parent_id)
            cur = self._db.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at, parent_id)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, role, content, now, parent_id),
            )
            message_id = int(cur.lastrowid or 0)
            self._db.execute(
                "UPDATE conversations SET updated_at = ?, current_leaf_id = ? WHERE id = ?",
                (now, message_id, conversation_id),
            )
        return message_id

    def show_branch(self, conversation_id: int, message_id: int) -> int:
        """Put the newest branch through ``message_id`` on screen; returns its last message.

        Raises:
            EngineError: there is no such message in the conversation.
        """
        tree = self.tree(conversation_id)
        if message_id not in tree:
            raise EngineError(f"Message {message_id} is not in conversation {conversation_id}.")
        leaf = tree.leaf_under(message_id)
        self._db.execute(
            "UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (leaf, conversation_id)
        )
        return leaf

    def delete_branch(self, conversation_id: int, message_id: int) -> None:
        """Hide ``message_id`` and its continuation; :meth:`restore_branch` undoes it.

        The rows stay until :meth:`~engine.data.history.History.purge_deleted`, as a
        deleted conversation's do. When the branch was on screen, its neighbour is shown.

        Raises:
            EngineError: there is no such message in the conversation.
        """
        tree = self.tree(conversation_id)
        if message_id not in tree:
            raise EngineError(f"Message {message_id} is not in conversation {conversation_id}.")
        hidden = tree.subtree(message_id)
        leaf = tree.leaf
        if leaf in hidden:
            siblings = tree.siblings(message_id)
            position = siblings.index(message_id)
            siblings.remove(message_id)
            if siblings:
                # As in a list: the next one takes its place; after the last, the one before.
                leaf = tree.leaf_under(siblings[min(position, len(siblings) - 1)])
            else:
                leaf = tree.message(message_id).parent_id
        stamp = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE messages SET deleted_at = ? WHERE id = ?", [(stamp, i) for i in hidden]
            )
            self._db.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?",
                (leaf, conversation_id),
            )

    def restore_branch(self, conversation_id: int, message_id: int) -> None:
        """Bring back a branch hidden by :meth:`delete_branch`, and show it.

        Branches deleted before it, inside it, stay deleted.

        Raises:
            EngineError: it is not deleted (any more), or was purged.
        """
        row = self._db.execute(
            "SELECT deleted_at FROM messages WHERE id = ? AND conversation_id = ?",
            (message_id, conversation_id),
        ).fetchone()
        if row is None or row["deleted_at"] is None:
            raise EngineError(f"Message {message_id} is not deleted; there is nothing to undo.")
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "WITH RECURSIVE branch(id) AS (SELECT ? UNION ALL SELECT m.id FROM messages m"
                " JOIN branch ON m.parent_id = branch.id WHERE m.deleted_at = ?)"
                " UPDATE messages SET deleted_at = NULL WHERE id IN branch",
                (message_id, row["deleted_at"]),
            )
        self.show_branch(conversation_id, message_id)

    def branch_conversation(self, conversation_id: int, message_id: int, title: str) -> int:
        """Copy the conversation up to ``message_id`` into a new conversation; returns its id.

        The copy keeps the messages' stats, ratings, thinking and times, the system prompt
        and the model; the original is not changed.

        Raises:
            EngineError: there is no such conversation or message.
        """
        tree = self.tree(conversation_id)
        if message_id not in tree:
            raise EngineError(f"Message {message_id} is not in conversation {conversation_id}.")
        row = self._db.execute(
            "SELECT model_id, system_prompt FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            cur = self._db.execute(
                "INSERT INTO conversations (title, model_id, system_prompt, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                (title, row["model_id"], row["system_prompt"], now, now),
            )
            copy = int(cur.lastrowid or 0)
            parent: int | None = None
            for m in tree.branch(message_id):
                cur = self._db.execute(
                    "INSERT INTO messages (conversation_id, role, content, created_at, stats,"
                    " rating, reasoning, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        copy,
                        m.role,
                        m.content,
                        m.created_at,
                        json.dumps(m.stats) if m.stats is not None else None,
                        m.rating,
                        m.reasoning,
                        parent,
                    ),
                )
                parent = int(cur.lastrowid or 0)
            self._db.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (parent, copy)
            )
        return copy

    # -- reading ---------------------------------------------------------------------

    def tree(self, conversation_id: int) -> ConversationTree:
        """Every message of the conversation that is not deleted, and the branch on screen."""
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages"
            " WHERE conversation_id = ? AND deleted_at IS NULL ORDER BY id",
            (conversation_id,),
        ).fetchall()
        leaf = self._db.execute(
            "SELECT current_leaf_id FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return ConversationTree(
            tuple(_message(row) for row in rows), leaf[0] if leaf is not None else None
        )

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """The branch on screen, oldest message first."""
        return self.tree(conversation_id).branch()

    def _leaf(self, conversation_id: int) -> int | None:
        """The last message on screen: the stored leaf when it is still there."""
        row = self._db.execute(
            "SELECT m.id FROM conversations c JOIN messages m ON m.id = c.current_leaf_id"
            " WHERE c.id = ? AND m.conversation_id = c.id AND m.deleted_at IS NULL",
            (conversation_id,),
        ).fetchone()
        # Only the branch's last message is checked here; a leaf under a deleted branch
        # is never stored (deleting moves the leaf), so the full walk is the rare path.
        return int(row[0]) if row is not None else self.tree(conversation_id).leaf

    def _check_message(self, conversation_id: int, message_id: int) -> None:
        row = self._db.execute(
            "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ? AND deleted_at IS NULL",
            (message_id, conversation_id),
        ).fetchone()
        if row is None:
            raise EngineError(f"Message {message_id} is not in conversation {conversation_id}.")


__all__ = ["AFTER_LEAF", "BranchStore"]
