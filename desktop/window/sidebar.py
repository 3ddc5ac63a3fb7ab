"""The sidebar: the pane list, and the stored conversations with search, rename, delete, export.

While the Summarize pane is shown it lists the stored summaries instead, and while the
Code pane is shown the stored code tasks (search, open, delete with Undo).

Thread: the Qt thread. Database calls run on the history thread through
:class:`~engine.data.history.AsyncHistory`; exports are written by a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets import BackgroundTasks, MessageBar
from engine.data.atomicfile import write_atomic
from engine.data.history import AsyncHistory, Conversation, History, SearchHit, StoredSummary

if TYPE_CHECKING:
    from engine.data.history import StoredCodeTask

log = logging.getLogger("desktop.window.sidebar")

T = TypeVar("T")

#: Item data roles: the conversation id, and the message a search hit points at.
CONVERSATION_ROLE = Qt.ItemDataRole.UserRole
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1
#: How long typing pauses before the search runs (milliseconds).
SEARCH_DELAY_MS = 150
#: Export formats: name → file suffix.
EXPORT_FORMATS = {"markdown": ".md", "json": ".json"}


class Sidebar(QWidget):
    """Pane switcher on top, the conversation list (or search results) below.

    Args:
        history: the history database, or None (then only the panes are shown).
        parent: the parent widget.

    Signals:
        pane_selected(int): the user picked pane number ``n`` (0 Chat, 1 Summarize, 2 Code).
        conversation_activated(int, int): open this conversation, on the branch with this
            message (a search hit's; 0: the branch it shows).
        conversation_renamed(int, str): a conversation got a new title.
        conversation_deleted(int): a conversation was deleted (it can still be restored).
        conversation_restored(int): a deleted conversation came back (Undo).
        summary_activated(int): show this stored summary (the list shows summaries).
        code_task_activated(int): show this stored code task (the list shows code tasks).
        status_reported(str): a short, passing message for the status bar.
    """

    pane_selected = Signal(int)
    conversation_activated = Signal(int, int)
    conversation_renamed = Signal(int, str)
    conversation_deleted = Signal(int)
    conversation_restored = Signal(int)
    summary_activated = Signal(int)
    code_task_activated = Signal(int)
    status_reported = Signal(str)

    def __init__(self, history: AsyncHistory | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history = history
        self._tasks = BackgroundTasks()
        self._current = 0
        #: "conversations"; "summaries" while the Summarize pane is shown, "code" while
        #: the Code pane is.
        self._mode = "conversations"
        self._filling = False
        #: The last deletion, for Undo: (id, "conversation", "summary" or "code").
        self._last_deleted: tuple[int, str] | None = None
        self._search_serial = 0

        self.panes = QListWidget(self)
        for _ in range(3):
            self.panes.addItem(QListWidgetItem())
        self.panes.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.panes.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.panes.currentRowChanged.connect(self._on_panes_current_row_changed)

        self.conversations_label = QLabel(self)
        self.search = QLineEdit(self)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.conversations_label.setBuddy(self.search)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)

        self.conversations = QListWidget(self)
        self.conversations.setWordWrap(True)
        self.conversations.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.conversations.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.conversations.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.conversations.customContextMenuRequested.connect(
            self._on_conversations_custom_context_menu_requested
        )
        self.conversations.itemActivated.connect(self._on_conversations_item_activated)
        self.conversations.itemClicked.connect(self._on_conversations_item_activated)
        self.conversations.itemChanged.connect(self._on_conversations_item_changed)
        self.conversations.itemDelegate().closeEditor.connect(self._on_delegate_close_editor)
        self._refresh_pending = False
        self.empty_label = QLabel(self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.undo_bar = MessageBar(self)
        self.undo_bar.action_triggered.connect(self._on_undo_bar_action_triggered)

        self.rename_action = QAction(self)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.rename_action.triggered.connect(self._on_rename_action_triggered)
        self.delete_action = QAction(self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.delete_action.triggered.connect(self._on_delete_action_triggered)
        self.export_markdown_action = QAction(self)
        self.export_markdown_action.triggered.connect(self._on_export_markdown_action_triggered)
        self.export_json_action = QAction(self)
        self.export_json_action.triggered.connect(self._on_export_json_action_triggered)
        self.conversations.addAction(self.rename_action)
        self.conversations.addAction(self.delete_action)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.panes)
        layout.addSpacing(self.fontMetrics().lineSpacing() // 2)
        layout.addWidget(self.conversations_label)
        layout.addWidget(self.search)
        layout.addWidget(self.conversations, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.undo_bar)
        for widget in (self.conversations_label, self.search, self.conversations):
            widget.setEnabled(history is not None)
        self.retranslate_ui()
        self._show_empty(history is None)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        for row, (name, tip) in enumerate(
            (
                (self.tr("Chat"), self.tr("Chat with the model (Ctrl+1)")),
                (self.tr("Summarize"), self.tr("Summarize documents (Ctrl+2)")),
                (self.tr("Code"), self.tr("Work on code (Ctrl+3)")),
            )
        ):
            item = self.panes.item(row)
            item.setText(name)
            item.setToolTip(tip)
        self.panes.setAccessibleName(self.tr("Panes"))
        # Three rows exactly, in this language's font (CJK text is taller).
        rows = sum(self.panes.sizeHintForRow(row) for row in range(self.panes.count()))
        self.panes.setFixedHeight(rows + 2 * self.panes.frameWidth() + 2)
        if self._mode == "summaries":
            self.conversations_label.setText(self.tr("S&ummaries"))
            self.search.setPlaceholderText(self.tr("Search summaries (Ctrl+F)"))
        elif self._mode == "code":
            self.conversations_label.setText(self.tr("Code tas&ks"))
            self.search.setPlaceholderText(self.tr("Search code tasks (Ctrl+F)"))
        else:
            self.conversations_label.setText(self.tr("&Conversations"))
            self.search.setPlaceholderText(self.tr("Search all conversations (Ctrl+F)"))
        self.search.setAccessibleName(self.tr("Search conversations"))
        self.conversations.setAccessibleName(self.tr("Conversations"))
        self.conversations.setAccessibleDescription(
            self.tr("Enter opens a conversation, F2 renames it, Delete deletes it.")
        )
        self.rename_action.setText(self.tr("&Rename"))
        self.delete_action.setText(self.tr("&Delete"))
        self.export_markdown_action.setText(self.tr("Export as &Markdown…"))
        self.export_json_action.setText(self.tr("Export as &JSON…"))
        self._show_empty(self.conversations.count() == 0)

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether database work started here is still running."""
        return len(self._tasks) > 0

    def shutdown(self) -> None:
        """Cancel the sidebar's background work (its window is closing)."""
        self._search_timer.stop()
        self._tasks.cancel_all()

    # -- listing -------------------------------------------------------------------------

    async def _db(self, call: Callable[[History], T]) -> T | None:
        if self._history is None:
            return None

        def report(exc: Exception) -> None:
            self.status_reported.emit(
                self.tr("The history database failed: {reason}").format(reason=exc)
            )

        return await self._history.attempt(call, report)

    def refresh(self) -> None:
        """Reload the list (or re-run the search) from the database in the background."""
        self._tasks.start(self.reload(), name="sidebar-reload")

    async def reload(self) -> None:
        """Reload the list, or the search results while a search is typed."""
        self._search_serial += 1
        serial = self._search_serial
        text = self.search.text().strip()
        if self._mode == "summaries":
            summaries = await self._db(lambda h: h.summaries(text=text))
            if serial == self._search_serial and summaries is not None:
                self._fill_summaries(summaries)
        elif self._mode == "code":
            tasks = await self._db(lambda h: h.code_tasks(text=text))
            if serial == self._search_serial and tasks is not None:
                self._fill_code_tasks(tasks)
        elif text:
            hits = await self._db(lambda h: h.search(text))
            if serial == self._search_serial and hits is not None:
                self._fill_hits(hits)
        else:
            found = await self._db(lambda h: h.conversations())
            if serial == self._search_serial and found is not None:
                self._fill_conversations(found)

    def _editing(self) -> bool:
        """Whether a title is being edited; refilling the list then would discard the edit."""
        return self.conversations.state() == QAbstractItemView.State.EditingState

    def _on_delegate_close_editor(self) -> None:
        if self._refresh_pending:
            self._refresh_pending = False
            self.refresh()

    def _fill_conversations(self, conversations: list[Conversation]) -> None:
        if self._editing():
            self._refresh_pending = True
            return
        self._filling = True
        self.conversations.clear()
        for conv in conversations:
            item = QListWidgetItem(conv.title)
            item.setData(CONVERSATION_ROLE, conv.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            when = dt.datetime.fromtimestamp(conv.updated_at).strftime("%Y-%m-%d %H:%M")
            item.setToolTip(f"{conv.title}\n{when}")
            self.conversations.addItem(item)
            if conv.id == self._current:
                self.conversations.setCurrentItem(item)
        self._filling = False
        self._show_empty(not conversations)

    def _fill_summaries(self, summaries: list[StoredSummary]) -> None:
        if self._editing():
            self._refresh_pending = True
            return
        self._filling = True
        self.conversations.clear()
        statuses = {
            "running": self.tr("in progress"),
            "cancelled": self.tr("stopped early"),
            "failed": self.tr("failed"),
        }
        for summary in summaries:
            title = summary.title
            if summary.status in statuses:
                title = f"{title} ({statuses[summary.status]})"
            item = QListWidgetItem(title)
            item.setData(CONVERSATION_ROLE, summary.id)
            when = dt.datetime.fromtimestamp(summary.updated_at).strftime("%Y-%m-%d %H:%M")
            item.setToolTip(f"{summary.title}\n{summary.source_path}\n{when}".replace("\n\n", "\n"))
            self.conversations.addItem(item)
        self._filling = False
        self._show_empty(not summaries)

    def _fill_code_tasks(self, tasks: list[StoredCodeTask]) -> None:
        if self._editing():
            self._refresh_pending = True
            return
        self._filling = True
        self.conversations.clear()
        statuses = {
            "running": self.tr("in progress"),
            "cancelled": self.tr("stopped early"),
            "failed": self.tr("failed"),
        }
        for task in tasks:
            title = task.title
            if task.status in statuses:
                title = f"{title} ({statuses[task.status]})"
            item = QListWidgetItem(title)
            item.setData(CONVERSATION_ROLE, task.id)
            when = dt.datetime.fromtimestamp(task.created_at).strftime("%Y-%m-%d %H:%M")
            item.setToolTip(f"{task.title}\n{when}")
            self.conversations.addItem(item)
        self._filling = False
        self._show_empty(not tasks)

    def set_mode(self, mode: str) -> None:
        """List "conversations" (Chat), "summaries" (Summarize) or "code" tasks (Code)."""
        if mode != self._mode:
            self._mode = mode
            self.retranslate_ui()
            self.refresh()

    @property
    def mode(self) -> str:
        """What the list shows: "conversations", "summaries" or "code"."""
        return self._mode

    def _fill_hits(self, hits: list[SearchHit]) -> None:
        if self._editing():
            self._refresh_pending = True
            return
        self._filling = True
        self.conversations.clear()
        for hit in hits:
            excerpt = " ".join(hit.excerpt.split())
            item = QListWidgetItem(f"{hit.title}\n{excerpt}")
            item.setData(CONVERSATION_ROLE, hit.conversation_id)
            item.setData(MESSAGE_ROLE, hit.message_id)
            item.setToolTip(excerpt)
            self.conversations.addItem(item)
        self._filling = False
        self._show_empty(not hits)

    def _show_empty(self, empty: bool) -> None:
        if self._history is None:
            text = self.tr(
                "Conversations are not being saved: the history database is unavailable."
            )
        elif self.search.text().strip():
            text = self.tr("Nothing found.")
        elif self._mode == "summaries":
            text = self.tr("Your summaries appear here.")
        elif self._mode == "code":
            text = self.tr("Your code tasks appear here.")
        else:
            text = self.tr("Your conversations appear here.")
        self.empty_label.setText(text)
        self.empty_label.setVisible(empty)
        self.conversations.setVisible(not empty)

    def detach_history(self) -> None:
        """Go on without the history database (it could not be opened)."""
        self._history = None
        for widget in (self.conversations_label, self.search, self.conversations):
            widget.setEnabled(False)
        self.conversations.clear()
        self._show_empty(True)

    def set_current(self, conversation_id: int) -> None:
        """Mark the conversation shown in the Chat pane (0: a new chat, none marked)."""
        self._current = conversation_id
        self.conversations.setCurrentRow(-1)
        for row in range(self.conversations.count()):
            item = self.conversations.item(row)
            if item.data(CONVERSATION_ROLE) == conversation_id:
                self.conversations.setCurrentItem(item)
                break

    def conversation_ids(self) -> list[int]:
        """The ids listed, top to bottom (for tests and accessibility tools)."""
        return [
            int(self.conversations.item(row).data(CONVERSATION_ROLE))
            for row in range(self.conversations.count())
        ]

    def focus_search(self) -> None:
        """Put the keyboard in the search field, its text selected (Ctrl+F)."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- slots -----------------------------------------------------------------------------

    def _on_panes_current_row_changed(self, row: int) -> None:
        if row >= 0:
            self.pane_selected.emit(row)

    def _on_search_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _on_search_timer_timeout(self) -> None:
        self.refresh()

    def _on_search_return_pressed(self) -> None:
        if self.conversations.count():
            self.conversations.setFocus()
            self.conversations.setCurrentRow(0)

    def _on_conversations_item_activated(self, item: QListWidgetItem) -> None:
        item_id = item.data(CONVERSATION_ROLE)
        if not item_id:
            return
        if self._mode == "summaries":
            self.summary_activated.emit(int(item_id))
        elif self._mode == "code":
            self.code_task_activated.emit(int(item_id))
        else:
            self.conversation_activated.emit(int(item_id), int(item.data(MESSAGE_ROLE) or 0))

    def _on_conversations_item_changed(self, item: QListWidgetItem) -> None:
        if self._filling or item.data(MESSAGE_ROLE) or self._mode != "conversations":
            return
        conversation_id = int(item.data(CONVERSATION_ROLE))
        title = " ".join(item.text().split())
        if not title:
            self.refresh()  # an empty title is not a title: put the old one back
            return
        self._tasks.start(self.rename(conversation_id, title), name="sidebar-rename")

    def _on_conversations_custom_context_menu_requested(self, position: QPoint) -> None:
        item = self.conversations.itemAt(position)
        if item is None:
            return
        self.conversations.setCurrentItem(item)
        menu = QMenu(self)
        menu.addAction(self.rename_action)
        menu.addAction(self.export_markdown_action)
        menu.addAction(self.export_json_action)
        menu.addSeparator()
        menu.addAction(self.delete_action)
        self.rename_action.setEnabled(not item.data(MESSAGE_ROLE) and self._mode == "conversations")
        for action in (self.export_markdown_action, self.export_json_action):
            action.setEnabled(self._mode == "conversations")
        menu.popup(self.conversations.viewport().mapToGlobal(position))

    def _selected_id(self) -> int:
        item = self.conversations.currentItem()
        return int(item.data(CONVERSATION_ROLE)) if item is not None else 0

    def _on_rename_action_triggered(self) -> None:
        item = self.conversations.currentItem()
        if item is not None and not item.data(MESSAGE_ROLE) and self._mode == "conversations":
            self.conversations.editItem(item)

    def _on_delete_action_triggered(self) -> None:
        item_id = self._selected_id()
        if item_id and self._mode == "summaries":
            self._tasks.start(self.delete_summary(item_id), name="sidebar-delete")
        elif item_id and self._mode == "code":
            self._tasks.start(self.delete_code_task(item_id), name="sidebar-delete")
        elif item_id:
            self._tasks.start(self.delete(item_id), name="sidebar-delete")

    def _on_export_markdown_action_triggered(self) -> None:
        self._ask_export_path(self._selected_id(), "markdown")

    def _on_export_json_action_triggered(self) -> None:
        self._ask_export_path(self._selected_id(), "json")

    def _on_undo_bar_action_triggered(self) -> None:
        if self._last_deleted is not None:
            item_id, kind = self._last_deleted
            restorers = {"summary": self.restore_summary, "code": self.restore_code_task}
            restore = restorers.get(kind, self.restore)(item_id)
            self._tasks.start(restore, name="sidebar-restore")

    # -- operations ------------------------------------------------------------------------

    async def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        await self._db(lambda h: h.rename_conversation(conversation_id, title))
        self.conversation_renamed.emit(conversation_id, title)

    async def delete(self, conversation_id: int) -> None:
        """Delete a conversation, offering Undo until the next deletion or a restart."""
        found = await self._db(lambda h: h.conversation(conversation_id))
        if found is None:
            return
        await self._db(lambda h: h.delete_conversation(conversation_id))
        self._last_deleted = (conversation_id, "conversation")
        self.undo_bar.show_message(
            self.tr("Deleted “{title}”.").format(title=found.title),
            action=self.tr("&Undo"),
            error=False,
        )
        self.conversation_deleted.emit(conversation_id)
        await self.reload()

    async def restore(self, conversation_id: int) -> None:
        """Bring back a conversation deleted in this session."""
        await self._db(lambda h: h.restore_conversation(conversation_id))
        self._last_deleted = None
        self.undo_bar.hide()
        self.conversation_restored.emit(conversation_id)
        await self.reload()

    async def delete_summary(self, summary_id: int) -> None:
        """Delete a stored summary, offering Undo."""
        await self._delete_stored(
            summary_id, "summary", lambda h: h.summary(summary_id), History.delete_summary
        )

    async def restore_summary(self, summary_id: int) -> None:
        """Bring back a summary deleted in this session."""
        await self._restore_stored(lambda h: h.restore_summary(summary_id))

    async def delete_code_task(self, task_id: int) -> None:
        """Delete a stored code task, offering Undo."""
        await self._delete_stored(
            task_id, "code", lambda h: h.code_task(task_id), History.delete_code_task
        )

    async def restore_code_task(self, task_id: int) -> None:
        """Bring back a code task deleted in this session."""
        await self._restore_stored(lambda h: h.restore_code_task(task_id))

    async def _delete_stored(
        self,
        item_id: int,
        kind: str,
        find: Callable[[History], StoredSummary | StoredCodeTask],
        delete: Callable[[History, int], None],
    ) -> None:
        """Hide a stored summary or code task and offer Undo (``kind`` says which)."""
        found = await self._db(find)
        if found is None:
            return
        await self._db(lambda h: delete(h, item_id))
        self._last_deleted = (item_id, kind)
        self.undo_bar.show_message(
            self.tr("Deleted “{title}”.").format(title=found.title),
            action=self.tr("&Undo"),
            error=False,
        )
        await self.reload()

    async def _restore_stored(self, restore: Callable[[History], None]) -> None:
        await self._db(restore)
        self._last_deleted = None
        self.undo_bar.hide()
        await self.reload()

    def _ask_export_path(self, conversation_id: int, fmt: str) -> None:
        if not conversation_id:
            return
        item = self.conversations.currentItem()
        title = item.text().split("\n", 1)[0] if item is not None else "conversation"
        safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in title).strip()
        dialog = QFileDialog(self, self.tr("Export conversation"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(EXPORT_FORMATS[fmt].lstrip("."))
        dialog.selectFile((safe or "conversation") + EXPORT_FORMATS[fmt])
        dialog.setNameFilter(
            self.tr("Markdown (*.md)") if fmt == "markdown" else self.tr("JSON (*.json)")
        )
        dialog.fileSelected.connect(
            lambda path: self._tasks.start(
                self.export(conversation_id, Path(path), fmt), name="sidebar-export"
            )
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    async def export(self, conversation_id: int, path: Path, fmt: str) -> bool:
        """Write a conversation to ``path`` as ``fmt`` ("markdown" or "json").

        Returns:
            Whether the file was written (a failure is reported in the status bar).
        """
        render: Callable[[History], str] = (
            (lambda h: h.export_json(conversation_id))
            if fmt == "json"
            else (lambda h: h.export_markdown(conversation_id))
        )
        text = await self._db(render)
        if text is None:
            return False
        try:
            await asyncio.to_thread(write_atomic, path, text)
        except OSError as exc:
            self.status_reported.emit(
                self.tr("Could not export to {path}: {reason}").format(
                    path=str(path), reason=exc.strerror or str(exc)
                )
            )
            return False
        self.status_reported.emit(self.tr("Exported to {path}").format(path=str(path)))
        return True


__all__ = ["EXPORT_FORMATS", "Sidebar"]
