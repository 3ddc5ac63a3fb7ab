"""The Chat pane's conversation tree: the branch on screen, its "‹ 2 / 3 ›" siblings, switching
between them, deleting a branch with Undo, and "Branch" into a new conversation.

Regenerating and editing add siblings and never delete (:mod:`desktop.panes.chat` sends
them with their parent's id); this base class of :class:`~desktop.panes.chat.ChatPane` keeps
which message follows which, so each message on screen shows its place among its versions.

Thread: the Qt thread; database calls run on the history thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from PySide6.QtCore import Signal

from desktop.panes.base import Pane
from desktop.panes.transcript import Transcript
from desktop.widgets import MessageBar
from engine.data.history import AFTER_LEAF, ConversationTree, History
from engine.types import GenerationStats, Role


@dataclass
class Turn:
    """One message of the open conversation, with its row in the history database."""

    role: Role
    content: str
    message_id: int = 0
    stats: GenerationStats | None = None
    rating: int = 0
    #: A reasoning model's thinking before this answer: shown and stored, never sent back.
    reasoning: str = ""
    #: The message it follows in the database (0: the first message, or not stored).
    parent_id: int = 0


def stats_from(data: dict[str, Any] | None) -> GenerationStats | None:
    """Stats stored with an answer, or None when they are missing or from another version."""
    if not data:
        return None
    try:
        return GenerationStats(**data)
    except TypeError:
        return None


class ChatBranches(Pane):
    """What the Chat pane does with the branches of its conversation.

    Signals:
        conversation_opened(int): the conversation with this id is shown (0: a new chat).
        conversations_changed: a conversation was created or changed (the list is stale).
    """

    conversation_opened = Signal(int)
    conversations_changed = Signal()

    # Set up by ChatPane.__init__.
    transcript: Transcript
    undo_bar: MessageBar
    _turns: list[Turn]
    _conversation_id: int
    _generating: bool
    _count_serial: int
    #: Each stored message's followers, oldest first, by parent id (0: first messages).
    _children: dict[int, list[int]]
    #: The branch deleted last, for Undo: (conversation id, message id).
    _deleted_branch: tuple[int, int] | None

    async def open_conversation(
        self, conversation_id: int, *, message_id: int = 0
    ) -> bool:  # pragma: no cover
        raise NotImplementedError  # ChatPane's

    # -- the tree in memory ------------------------------------------------------------

    def _take_tree(self, tree: ConversationTree) -> None:
        """Make ``tree``'s branch on screen the open conversation's turns."""
        self._children = {}
        for message in tree.messages:
            if message.id in tree:
                self._children.setdefault(message.parent_id or 0, []).append(message.id)
        self._turns = [
            Turn(
                cast(Role, m.role),  # only "user" and "assistant" pass the filter below
                m.content,
                m.id,
                stats_from(m.stats),
                m.rating,
                m.reasoning,
                m.parent_id or 0,
            )
            for m in tree.branch()
            if m.role in ("user", "assistant")
        ]

    def _parent_for(self, index: int) -> int | None:
        """The parent to store a message at ``index`` of the branch with (None: first)."""
        if index == 0:
            return None
        # A message the database did not take has no id: then whatever is on screen.
        return self._turns[index - 1].message_id or AFTER_LEAF

    def _adopt(self, turn: Turn, parent_id: int | None) -> None:
        """Record that stored message ``turn`` follows ``parent_id``."""
        if parent_id == AFTER_LEAF:
            return  # its place is not known here: it shows no versions
        turn.parent_id = parent_id or 0
        self._children.setdefault(turn.parent_id, []).append(turn.message_id)

    def _siblings_of(self, index: int) -> tuple[int, int]:
        """Message ``index``'s (position, count) among its versions; (0, 0) when unknown."""
        turn = self._turns[index]
        family = self._children.get(turn.parent_id, [])
        if turn.message_id not in family:
            return (0, 0)
        return (family.index(turn.message_id) + 1, len(family))

    def _render_turns(self) -> None:
        """Show the turns in the transcript, from scratch."""
        self.transcript.clear_conversation()
        for index, turn in enumerate(self._turns):
            siblings = self._siblings_of(index)
            if turn.role == "user":
                self.transcript.add_user_message(turn.content, siblings=siblings)
            else:
                self.transcript.add_answer(
                    turn.content,
                    turn.stats,
                    rating=turn.rating,
                    reasoning=turn.reasoning,
                    siblings=siblings,
                )

    async def _reload(self, *, focus: str = "") -> bool:
        """Show the open conversation's branch as stored, where the view was.

        ``focus``: the link to give the keyboard to afterwards (the one just used).
        """
        conversation_id = self._conversation_id
        tree = await self.history_call(lambda h: h.tree(conversation_id))
        if tree is None or self._generating or conversation_id != self._conversation_id:
            return False
        value = self.transcript.verticalScrollBar().value()
        self._cancel_edit()  # the message being edited may no longer be on screen
        self._take_tree(tree)
        self._count_serial += 1
        self._render_turns()
        self.transcript.keep_scroll(value)
        if focus:
            self.transcript.focus_link(focus)
        self._update_buttons()
        return True

    # -- slots -------------------------------------------------------------------------

    def _on_transcript_sibling_requested(self, index: int, step: int) -> None:
        # The keyboard stays on the arrow just used, so Enter again goes on switching.
        focus = f"hearth:sibling/{index}/{step}"
        self.start_task(self.show_sibling(index, step, focus=focus), name="chat-switch-branch")

    def _on_transcript_branch_delete_requested(self, index: int) -> None:
        if self._generating or not 0 <= index < len(self._turns):
            return
        if self._siblings_of(index)[1] > 1:  # the only version goes with its conversation
            self.start_task(self.delete_branch(index), name="chat-delete-branch")

    def _on_transcript_branch_requested(self, index: int) -> None:
        if not self._generating and 0 <= index < len(self._turns):
            self.start_task(self.branch_from(index), name="chat-branch")

    def _on_undo_bar_action_triggered(self) -> None:
        self.start_task(self.undo_delete_branch(), name="chat-undo-delete-branch")

    # -- actions -----------------------------------------------------------------------

    async def show_sibling(self, index: int, step: int, *, focus: str = "") -> bool:
        """Show the previous (-1) or next (1) version of message ``index``, and what follows it.

        ``focus``: the link to give the keyboard to afterwards.

        Returns:
            False when there is none, an answer is streaming, or the database failed.
        """
        turn = self._turns[index] if 0 <= index < len(self._turns) else None
        family = self._children.get(turn.parent_id, []) if turn is not None else []
        if self._generating or turn is None or turn.message_id not in family:
            return False
        position = family.index(turn.message_id) + step
        if not 0 <= position < len(family):
            return False
        conversation_id, target = self._conversation_id, family[position]
        shown = await self.history_call(lambda h: h.show_branch(conversation_id, target))
        return shown is not None and await self._reload(focus=focus)

    async def delete_branch(self, index: int) -> bool:
        """Delete message ``index`` and what follows it; the undo bar offers it back."""
        conversation_id, message_id = self._conversation_id, self._turns[index].message_id
        if not conversation_id or not message_id:
            return False

        def delete(h: History) -> bool:
            h.delete_branch(conversation_id, message_id)
            return True

        if not await self.history_call(delete):
            return False
        self._deleted_branch = (conversation_id, message_id)
        await self._reload()
        self.undo_bar.show_message(
            self.tr("The branch was deleted."), action=self.tr("Undo"), error=False
        )
        return True

    async def undo_delete_branch(self) -> bool:
        """Bring back the branch deleted last, and show it."""
        if self._deleted_branch is None or self._generating:
            return False
        conversation_id, message_id = self._deleted_branch

        def restore(h: History) -> bool:
            h.restore_branch(conversation_id, message_id)
            return True

        self.undo_bar.hide()
        if not await self.history_call(restore):
            return False
        self._deleted_branch = None
        if conversation_id == self._conversation_id:
            await self._reload()
        return True

    async def branch_from(self, index: int) -> int:
        """Copy the conversation up to message ``index`` into a new one, and open it.

        Returns:
            The new conversation's id (0 when it could not be made).
        """
        conversation_id, message_id = self._conversation_id, self._turns[index].message_id
        if not conversation_id or not message_id:
            return 0
        title = self.tr("{title} (branch)").format(title=self._conversation_title())
        created = await self.history_call(
            lambda h: h.branch_conversation(conversation_id, message_id, title)
        )
        if not created:
            return 0
        self.conversations_changed.emit()
        await self.open_conversation(created)
        return created

    def _conversation_title(self) -> str:  # pragma: no cover
        raise NotImplementedError  # ChatPane's

    def _cancel_edit(self) -> None:  # pragma: no cover
        raise NotImplementedError  # ChatPane's


__all__ = ["ChatBranches", "Turn", "stats_from"]
