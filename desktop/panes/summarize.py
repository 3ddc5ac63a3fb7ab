"""The Summarize pane: a queue of documents, each summarized whole, chunk by chunk.

Files arrive by drag and drop (several at once, or a folder), from "Add files…", or as
pasted text. Each is read in a worker thread (``engine.tasks.documents``), summarized by
map-reduce in the engine (``engine.tasks.summarize``) with a progress bar and an ETA, and
stored in the history database with the file name, its sha256 and the options. The
final summary streams in as Markdown.

Thread: the Qt thread; extraction runs in a worker thread, generation in the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.highlight.blocks import style_code_blocks
from desktop.panes.advice import SummaryModelAdvice
from desktop.panes.base import Pane
from desktop.widgets import BoundedTextEdit, read_only_table
from engine.data.atomicfile import write_atomic
from engine.data.history import AsyncHistory
from engine.errors import EngineError
from engine.models.time_left import format_time_left
from engine.runtime.client import EngineClient

if TYPE_CHECKING:
    from engine.models.hardware import Hardware
    from engine.tasks.documents import Document
    from engine.tasks.summarize import SummaryOptions, SummaryProgress

log = logging.getLogger("desktop.summarize")

#: File name endings the pane reads when a folder is dropped.
DOCUMENT_SUFFIXES = frozenset(
    [
        ".txt",
        ".md",
        ".markdown",
        ".pdf",
        ".docx",
        ".html",
        ".htm",
        ".py",
        ".js",
        ".ts",
        ".c",
        ".cpp",
        ".h",
        ".java",
        ".go",
        ".rs",
        ".rb",
        ".php",
        ".sh",
        ".sql",
        ".css",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
    ]
)
#: The most files one folder drop adds.
MAX_FOLDER_FILES = 200
#: Characters the paste box takes (about 130 MB and a second of Qt layout); a longer
#: text is summarized from a file, which the document size setting bounds.
MAX_PASTE_CHARS = 16 * 1024 * 1024
#: The streamed summary is re-rendered at most this often (milliseconds).
RENDER_MS = 50


@dataclass
class QueueItem:
    """One document in the queue."""

    name: str
    path: Path | None = None
    text: str = ""
    status: str = "waiting"  # waiting | reading | summarizing | done | failed | cancelled
    detail: str = ""
    summary: str = ""
    summary_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class SummarizePane(Pane):
    """Summarize documents, whole.

    Args:
        client: the app's one engine client.
        history: the history database, or None to keep nothing.
        hardware: how to learn this computer's hardware (the main window's
            ``hardware``), to suggest a larger model; None suggests none.
        parent: the parent widget.

    Signals:
        open_in_chat_requested(str, str): continue in Chat with (title, summary) in context.
        summaries_changed: a summary was stored or changed (the sidebar list is stale).
        models_requested: the user wants the model manager (to get a larger model).
        status_reported(str): a short, passing message for the status bar.
        busy_changed(bool): background work started (True), or the last of it ended (False).
    """

    open_in_chat_requested = Signal(str, str)
    summaries_changed = Signal()
    models_requested = Signal()

    def __init__(
        self,
        client: EngineClient,
        *,
        history: AsyncHistory | None = None,
        hardware: Callable[[], Awaitable[Hardware]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(client, history=history, parent=parent)
        self.model_advice = SummaryModelAdvice(hardware, self)
        self.model_advice.models_requested.connect(self.models_requested)
        self._queue: list[QueueItem] = []
        self._worker: asyncio.Task[None] | None = None
        self._current: QueueItem | None = None
        self._streamed: list[str] = []
        self.setAcceptDrops(True)

        self.title_label = self._title_label()

        self.length_label, self.length_combo = QLabel(self), QComboBox(self)
        self.style_label, self.style_combo = QLabel(self), QComboBox(self)
        self.language_label, self.language_combo = QLabel(self), QComboBox(self)
        for label, combo in (
            (self.length_label, self.length_combo),
            (self.style_label, self.style_combo),
            (self.language_label, self.language_combo),
        ):
            label.setBuddy(combo)
            # Narrow when the window is: the texts are short words anyway.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6)
        self.add_files_button = QPushButton(self)
        self.add_files_button.clicked.connect(self._on_add_files_clicked)
        self.add_folder_button = QPushButton(self)
        self.add_folder_button.clicked.connect(self._on_add_folder_clicked)

        self.paste_edit = BoundedTextEdit(self, max_chars=MAX_PASTE_CHARS)
        self.paste_edit.text_refused.connect(self._on_paste_edit_text_refused)
        self.paste_edit.setTabChangesFocus(True)
        self.paste_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 5)
        self.paste_button = QPushButton(self)
        self.paste_button.clicked.connect(self._on_paste_clicked)

        self.queue_table = read_only_table(2, self)
        self.queue_table.itemSelectionChanged.connect(self._on_queue_table_item_selection_changed)

        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_label = QLabel(self)
        self.cancel_button = QPushButton(self)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

        self.summary_view = QTextBrowser(self)
        self.summary_view.setOpenExternalLinks(True)
        self.copy_button = QPushButton(self)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.save_button = QPushButton(self)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.chat_button = QPushButton(self)
        self.chat_button.clicked.connect(self._on_chat_clicked)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_MS)
        self._render_timer.timeout.connect(self._on_render_timer_timeout)

        options = QHBoxLayout()
        for label, combo in (
            (self.length_label, self.length_combo),
            (self.style_label, self.style_combo),
            (self.language_label, self.language_combo),
        ):
            options.addWidget(label)
            options.addWidget(combo)
        options.addStretch(1)
        adding = QVBoxLayout()
        adding.addWidget(self.add_files_button)
        adding.addWidget(self.add_folder_button)
        adding.addWidget(self.paste_button)
        paste = QHBoxLayout()
        paste.addWidget(self.paste_edit, 1)
        paste.addLayout(adding)
        progress = QHBoxLayout()
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.queue_table)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.summary_view, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.copy_button)
        actions.addWidget(self.save_button)
        actions.addStretch(1)
        actions.addWidget(self.chat_button)
        right_layout.addLayout(actions)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.model_advice.bar)
        layout.addLayout(options)
        layout.addLayout(paste)
        layout.addLayout(progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.splitter, 1)
        self.retranslate_ui()
        self._update_buttons()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.title_label.setText(self.tr("Summarize"))
        self.model_advice.retranslate_ui()
        for combo, items in (
            (
                self.length_combo,
                [
                    ("short", self.tr("Short")),
                    ("medium", self.tr("Medium")),
                    ("long", self.tr("Long")),
                ],
            ),
            (
                self.style_combo,
                [
                    ("bullets", self.tr("Bullet points")),
                    ("paragraphs", self.tr("Paragraphs")),
                    ("tldr", self.tr("TL;DR + key points")),
                ],
            ),
            (
                self.language_combo,
                [
                    ("auto", self.tr("Same as the document")),
                    ("en", "English"),
                    ("zh", "简体中文"),
                ],
            ),
        ):
            current = combo.currentIndex()
            combo.clear()
            for value, text in items:
                combo.addItem(text, value)
            combo.setCurrentIndex(max(current, 1 if combo is self.length_combo else 0))
        self.length_label.setText(self.tr("&Length:"))
        self.style_label.setText(self.tr("St&yle:"))
        self.language_label.setText(self.tr("Lan&guage:"))
        self.length_combo.setAccessibleName(self.tr("Summary length"))
        self.style_combo.setAccessibleName(self.tr("Summary style"))
        self.language_combo.setAccessibleName(self.tr("Summary language"))
        self.add_files_button.setText(self.tr("Add &files…"))
        self.add_files_button.setToolTip(
            self.tr("Text, Markdown, PDF, Word (.docx), HTML or source code — or drop files here")
        )
        self.add_folder_button.setText(self.tr("Add f&older…"))
        self.paste_edit.setPlaceholderText(self.tr("…or paste text here"))
        self.paste_edit.setAccessibleName(self.tr("Text to summarize"))
        self.paste_button.setText(self.tr("Summarize &text"))
        self.queue_table.setHorizontalHeaderLabels([self.tr("Document"), self.tr("Status")])
        self.queue_table.setAccessibleName(self.tr("Documents to summarize"))
        self.progress_bar.setAccessibleName(self.tr("Progress"))
        self.cancel_button.setText(self.tr("&Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop summarizing; what is done so far stays"))
        self.summary_view.setPlaceholderText(
            self.tr(
                "Drop documents here. Each is summarized whole, however long, chunk by chunk, "
                "on this computer."
            )
        )
        self.summary_view.setAccessibleName(self.tr("Summary"))
        self.copy_button.setText(self.tr("Co&py"))
        self.save_button.setText(self.tr("&Save…"))
        self.chat_button.setText(self.tr("Open in C&hat"))
        self.chat_button.setToolTip(self.tr("Ask follow-up questions with this summary in context"))
        for row, item in enumerate(self._queue):
            self._show_row(row, item)

    # -- state -------------------------------------------------------------------------

    @property
    def queue(self) -> list[QueueItem]:
        """The queue (for tests and accessibility tools)."""
        return list(self._queue)

    def _model_ready_changed(self, ready: bool) -> None:
        """Summaries start only while a model is loaded; a small one gets advice."""
        model = self._client.model if ready else None
        if model is None:
            self.model_advice.forget()
            return
        self.start_task(self.model_advice.advise(model), name="summarize-model-advice")
        self._kick()

    def shutdown(self) -> None:
        """Stop and cancel the pane's background work (its window is closing)."""
        self._render_timer.stop()
        super().shutdown()

    def options(self) -> SummaryOptions:
        """The options chosen in the pane."""
        from engine.tasks.summarize import SummaryOptions

        return SummaryOptions(
            length=str(self.length_combo.currentData()),
            style=str(self.style_combo.currentData()),
            language=str(self.language_combo.currentData()),
        )

    def _update_buttons(self) -> None:
        item = self._selected()
        has_summary = item is not None and bool(item.summary)
        self.copy_button.setEnabled(has_summary)
        self.save_button.setEnabled(has_summary)
        self.chat_button.setEnabled(has_summary)
        self.cancel_button.setEnabled(self._current is not None)
        self.paste_button.setEnabled(True)

    # -- adding documents --------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path]) -> int:
        """Queue files, and the documents inside folders; returns how many were queued."""
        added = 0
        for path in paths:
            if path.is_dir():
                found = sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
                )
                if len(found) > MAX_FOLDER_FILES:
                    self.message_bar.show_message(
                        self.tr(
                            "{folder} has {count} documents; the first {limit} were added."
                        ).format(folder=path.name, count=len(found), limit=MAX_FOLDER_FILES),
                        error=False,
                    )
                for file in found[:MAX_FOLDER_FILES]:
                    self._enqueue(QueueItem(file.name, path=file))
                    added += 1
            else:
                self._enqueue(QueueItem(path.name, path=path))
                added += 1
        self._kick()
        return added

    def add_text(self, text: str, name: str = "") -> None:
        """Queue pasted text."""
        self._enqueue(QueueItem(name or self.tr("Pasted text"), text=text))
        self._kick()

    def _enqueue(self, item: QueueItem) -> None:
        self._queue.append(item)
        row = self.queue_table.rowCount()
        self.queue_table.insertRow(row)
        self._show_row(row, item)

    def _show_row(self, row: int, item: QueueItem) -> None:
        statuses = {
            "waiting": self.tr("waiting"),
            "reading": self.tr("reading"),
            "summarizing": self.tr("summarizing"),
            "done": self.tr("done"),
            "failed": self.tr("failed"),
            "cancelled": self.tr("cancelled"),
        }
        status = statuses.get(item.status, item.status)
        if item.detail:
            status = f"{status} — {item.detail}"
        for column, text in enumerate((item.name, status)):
            cell = self.queue_table.item(row, column)
            if cell is None:
                cell = QTableWidgetItem()
                self.queue_table.setItem(row, column, cell)
            cell.setText(text)
            cell.setToolTip(str(item.path) if item.path else text)

    def _refresh_item(self, item: QueueItem) -> None:
        if item in self._queue:
            self._show_row(self._queue.index(item), item)

    # -- drag and drop -----------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept files and folders dragged from the file manager."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Queue the dropped files and folders."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()

    # -- the queue worker --------------------------------------------------------------

    def _kick(self) -> None:
        idle = self._worker is None or self._worker.done()
        if self._model_ready and idle and any(i.status == "waiting" for i in self._queue):
            self._worker = self.start_task(self._work(), name="summarize-queue")

    async def _work(self) -> None:
        while self._model_ready:
            item = next((i for i in self._queue if i.status == "waiting"), None)
            if item is None:
                return
            await self._summarize(item)

    async def _summarize(self, item: QueueItem) -> None:
        self._current = item
        self._streamed = []
        self._update_buttons()
        self.message_bar.hide()
        self._select(item)
        self._set_status(item, "reading")
        self.progress_bar.setValue(0)
        loop = asyncio.get_running_loop()
        # Loaded on first use: the PDF and Word readers are not needed to show the window.
        from engine.data.config import get_paths, load_settings
        from engine.tasks.documents import extract, from_text

        try:
            if item.path is not None:
                path = item.path

                def report(fraction: float) -> None:  # on the reading thread
                    loop.call_soon_threadsafe(self._on_extract_progress, fraction)

                def read() -> Document:  # the size limit as the settings say now
                    limit = load_settings(get_paths()).max_document_bytes
                    return extract(path, max_bytes=limit, on_progress=report)

                document = await asyncio.to_thread(read)
            else:
                document = from_text(item.text, name=item.name)
            if document.notes:
                # A time budget cut the document: the summary covers what was read.
                item.extra["notes"] = " ".join(document.notes)
                self.message_bar.show_message(
                    self.tr("Only part of {name} was read. {notes}").format(
                        name=item.name, notes=item.extra["notes"]
                    ),
                    error=False,
                )
            self._set_status(item, "summarizing")
            await self._run_summary(item, document)
        except asyncio.CancelledError:
            # What was done stays: the summary written so far, else the parts' summaries.
            item.summary = "".join(self._streamed).strip() or item.extra.get("partial", "")
            self._show_summary(item.summary)
            self._set_status(item, "cancelled")
            await self._store(item, status="cancelled")
            self._current = None
            self._update_buttons()
            if self._worker is not None and not self._worker.done():
                # Cancel stops this document only; the queue goes on.
                self._worker = None
                self.start_task(self._resume_after_cancel(), name="summarize-queue")
            raise
        except EngineError as exc:
            item.detail = str(exc)
            self._set_status(item, "failed")
            self.message_bar.show_message(
                self.tr("Could not summarize {name}: {reason}").format(name=item.name, reason=exc)
            )
            await self._store(item, status="failed", error=str(exc))
        finally:
            if self._current is item:
                self._current = None
            self._update_buttons()

    async def _resume_after_cancel(self) -> None:
        await asyncio.sleep(0)
        self._kick()

    async def _run_summary(self, item: QueueItem, document: Document) -> None:
        from engine.tasks.summarize import summarize

        options = self.options()
        model = self._client.model
        item.summary_id = (
            await self.history_call(
                lambda h: h.add_summary(
                    document.name,
                    source_path=str(document.path) if item.path else "",
                    sha256=document.sha256,
                    options=options.to_dict(),
                    model_id=model.model_id if model else "",
                )
            )
            or 0
        )
        self.summaries_changed.emit()

        partials: list[str] = []

        def on_progress(progress: SummaryProgress) -> None:
            self._on_summary_progress(item, progress)
            if progress.stage == "map" and progress.partial and not self._streamed:
                # Each part's summary is shown as it comes, and kept if the user cancels.
                partials.append(progress.partial)
                item.extra["partial"] = self.partial_heading() + "\n\n".join(partials)
                self._show_summary(item.extra["partial"])

        def on_token(text: str) -> None:
            self._streamed.append(text)
            if not self._render_timer.isActive():
                self._render_timer.start()

        result = await summarize(
            self._client, document, options, on_progress=on_progress, on_token=on_token
        )
        item.summary = result.text
        item.detail = self.tr("{chunks} parts, {tokens} tokens, {seconds:.0f} s").format(
            chunks=result.chunks, tokens=f"{result.tokens_read:,}", seconds=result.seconds
        )
        if item.extra.get("notes"):
            item.detail += " · " + self.tr("only part of the document was read")
        self._show_summary(result.text)
        self.progress_bar.setValue(1000)
        await self._store(
            item,
            status="done",
            chunks=result.chunks,
            tokens_read=result.tokens_read,
            seconds=result.seconds,
        )
        self._set_status(item, "done")

    async def _store(self, item: QueueItem, *, status: str, **figures: Any) -> None:
        if not item.summary_id:
            return
        summary_id = item.summary_id
        text = item.summary or "".join(self._streamed)
        await self.history_call(
            lambda h: h.update_summary(summary_id, summary=text, status=status, **figures)
        )
        self.summaries_changed.emit()

    def _set_status(self, item: QueueItem, status: str) -> None:
        item.status = status
        self._refresh_item(item)

    def _on_extract_progress(self, fraction: float) -> None:
        self.progress_label.setText(
            self.tr("Reading… {percent:.0f}%").format(percent=fraction * 100)
        )

    def _on_summary_progress(self, item: QueueItem, progress: SummaryProgress) -> None:
        self.progress_bar.setValue(round(progress.fraction * 1000))
        stages = {
            "extract": self.tr("Reading"),
            "chunk": self.tr("Splitting into parts"),
            "map": self.tr("Summarizing part {done} of {total}"),
            "reduce": self.tr("Combining summaries ({done} of {total})"),
            "final": self.tr("Writing the summary"),
            "done": self.tr("Done"),
        }
        text = stages.get(progress.stage, progress.message).format(
            done=progress.done, total=progress.total
        )
        if progress.eta_s >= 0 and progress.stage != "done":
            left = format_time_left(progress.eta_s)
            text += " · " + self.tr("about {time} left").format(time=left)
        self.progress_label.setText(text)
        item.detail = f"{progress.fraction * 100:.0f}%"
        self._refresh_item(item)

    def partial_heading(self) -> str:
        """The line above the parts' summaries shown while a long document is read."""
        return self.tr("*Summaries of the parts read so far:*") + "\n\n"

    def _on_render_timer_timeout(self) -> None:
        self._show_summary("".join(self._streamed))

    def _show_summary(self, markdown: str) -> None:
        bar = self.summary_view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        self.summary_view.setMarkdown(markdown)
        style_code_blocks(self.summary_view.document(), 0, self.summary_view.palette())
        if at_end:
            bar.setValue(bar.maximum())

    # -- selection and actions ---------------------------------------------------------

    def _selected(self) -> QueueItem | None:
        rows = {index.row() for index in self.queue_table.selectedIndexes()}
        return self._queue[rows.pop()] if len(rows) == 1 else None

    def _select(self, item: QueueItem) -> None:
        if item in self._queue:
            self.queue_table.selectRow(self._queue.index(item))

    def _on_queue_table_item_selection_changed(self) -> None:
        item = self._selected()
        if item is not None and item is not self._current:
            self._show_summary(item.summary)
        self._update_buttons()

    def show_stored(self, title: str, summary: str) -> None:
        """Show a stored summary (picked in the sidebar)."""
        item = QueueItem(title, status="done", summary=summary)
        self._enqueue(item)
        self._select(item)
        self._show_summary(summary)

    def _on_add_files_clicked(self) -> None:
        dialog = QFileDialog(self, self.tr("Add documents"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda files: self.add_paths(Path(f) for f in files))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_add_folder_clicked(self) -> None:
        dialog = QFileDialog(self, self.tr("Add a folder of documents"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.fileSelected.connect(lambda folder: self.add_paths([Path(folder)]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_paste_edit_text_refused(self, size: int) -> None:
        self.message_bar.show_message(
            self.tr(
                "The pasted text has {size} characters; the box takes at most {limit}. "
                "Save it to a file and add the file instead."
            ).format(size=f"{size:,}", limit=f"{MAX_PASTE_CHARS:,}")
        )

    def _on_paste_clicked(self) -> None:
        text = self.paste_edit.toPlainText().strip()
        if text:
            self.paste_edit.clear()
            self.add_text(text)

    def _on_cancel_clicked(self) -> None:
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    def _on_copy_clicked(self) -> None:
        item = self._selected()
        if item is not None and item.summary:
            QGuiApplication.clipboard().setText(item.summary)
            self.status_reported.emit(self.tr("Summary copied to the clipboard"))

    def _on_save_clicked(self) -> None:
        item = self._selected()
        if item is None or not item.summary:
            return
        dialog = QFileDialog(self, self.tr("Save the summary"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters([self.tr("Markdown (*.md)"), self.tr("Text (*.txt)")])
        dialog.setDefaultSuffix("md")
        dialog.selectFile(Path(item.name).stem + " summary.md")
        text = item.summary
        dialog.fileSelected.connect(
            lambda path: self.start_task(self.save(Path(path), text), name="summarize-save")
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    async def save(self, path: Path, markdown: str) -> bool:
        """Write a summary: Markdown as is, or plain text for a ``.txt`` name."""
        text = markdown
        if path.suffix.lower() == ".txt":
            document = self.summary_view.document().clone(self)
            document.setMarkdown(markdown)
            text = document.toPlainText()
            document.deleteLater()
        try:
            await asyncio.to_thread(write_atomic, path, text)
        except OSError as exc:
            self.message_bar.show_message(
                self.tr("Could not save {path}: {reason}").format(
                    path=str(path), reason=exc.strerror or str(exc)
                )
            )
            return False
        self.status_reported.emit(self.tr("Saved {path}").format(path=str(path)))
        return True

    def _on_chat_clicked(self) -> None:
        item = self._selected()
        if item is not None and item.summary:
            self.open_in_chat_requested.emit(item.name, item.summary)


__all__ = ["DOCUMENT_SUFFIXES", "QueueItem", "SummarizePane"]
