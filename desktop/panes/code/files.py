"""The file in the Code pane's editor: open, save, save as, unsaved changes, dropped files.

:class:`EditorFile` reads and writes files in worker threads, refuses what the editor
cannot hold (binary, over 4 MB) with the reason, asks before unsaved changes are
dropped, and saves an answer's code block to a file of its own.

Thread: the Qt thread; files are read and written in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.panes.base import Pane
from desktop.panes.code.editor import CodeEditor, SourceFileError, read_source, write_source


class EditorFile(QObject):
    """The editor's file: its path and name, and the dialogs and work to open and save it.

    Failures are shown in the pane's message bar, passing news ("Saved …") in its
    ``status_reported``; the work runs as the pane's tasks.

    Args:
        editor: the editor whose text is the file's.
        pane: the pane the editor is in (its message bar, tasks and dialogs' parent).

    Signals:
        loaded(str): a file was read into the editor (its text).
        saved(bool): the editor's text was written to its file (True: under a new name).
    """

    loaded = Signal(str)
    saved = Signal(bool)

    def __init__(self, editor: CodeEditor, pane: Pane) -> None:
        super().__init__(pane)
        self._editor = editor
        self._pane = pane
        self._path: Path | None = None
        self._filename = ""  # also for stored tasks, which keep a name but no path
        self._discard_box: QMessageBox | None = None

    @property
    def path(self) -> Path | None:
        """The file in the editor, or None when it has not been saved."""
        return self._path

    @property
    def filename(self) -> str:
        """The name of the editor's file ("" for code never saved)."""
        return self._filename

    @property
    def discard_box(self) -> QMessageBox | None:
        """The "unsaved changes" question, while it is asked (for tests and tools)."""
        return self._discard_box

    def forget(self, filename: str) -> None:
        """The editor now holds code from elsewhere (a stored task) named ``filename``."""
        self._path = None
        self._filename = filename

    def confirm_discard(self, then: Callable[[], object]) -> None:
        """Run ``then`` once unsaved changes are saved or discarded (asking the user if any)."""
        if not self._editor.document().isModified() or not self._editor.toPlainText().strip():
            then()
            return
        box = QMessageBox(self._pane)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Unsaved changes"))
        box.setText(
            self.tr("{name} has changes that are not saved.").format(
                name=self._filename or self.tr("The code")
            )
        )
        box.setInformativeText(self.tr("Save them first?"))
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)

        def on_finished(_result: int) -> None:
            clicked = box.standardButton(box.clickedButton())
            self._discard_box = None
            box.deleteLater()
            if clicked == QMessageBox.StandardButton.Discard:
                then()
            elif clicked == QMessageBox.StandardButton.Save:
                self._pane.start_task(self._save_then(then), name="code-save")

        box.finished.connect(on_finished)
        self._discard_box = box
        box.open()

    async def _save_then(self, then: Callable[[], object]) -> None:
        if self._path is None:
            self.ask_save_path(then)
        elif await self.save(self._path):
            then()

    # -- opening -----------------------------------------------------------------------

    def ask_open(self) -> None:
        """Ask for a source file to open (beside the editor's file, if it has one)."""
        dialog = QFileDialog(self._pane, self.tr("Open a source file"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        if self._path is not None:
            dialog.setDirectory(str(self._path.parent))
        dialog.fileSelected.connect(lambda path: self.open_path(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def open_path(self, path: Path) -> None:
        """Open ``path`` in the editor, after asking about unsaved changes."""
        self.confirm_discard(lambda: self._pane.start_task(self.load(path), name="code-open"))

    def open_dropped(self, paths: list[Path]) -> bool:
        """Open the first file of those dropped; returns whether the drop was taken."""
        files = [p for p in paths if p.is_file()]
        if files:
            self.open_path(files[0])
            return True
        if paths:
            self._pane.message_bar.show_message(self.tr("Drop a file here, not a folder."))
            return True
        return False

    async def load(self, path: Path) -> bool:
        """Read ``path`` into the editor now (unsaved changes are dropped; see :meth:`open_path`).

        Returns:
            Whether it was opened; a file too big, binary or unreadable is refused with a
            message and the editor is left as it was.
        """
        try:
            text = await asyncio.to_thread(read_source, path)
        except SourceFileError as exc:
            reasons = {
                "too_big": self.tr("it is over 4 MB, too big for the code editor"),
                "binary": self.tr("it is not a text file (binary, or not UTF-8)"),
            }
            reason = reasons.get(exc.reason, exc.detail or exc.reason)
            self._pane.message_bar.show_message(
                self.tr("Could not open {name}: {reason}.").format(name=path.name, reason=reason)
            )
            return False
        self._path = path
        self._filename = path.name
        self._pane.message_bar.hide()
        self._editor.setPlainText(text)  # also empties the undo stack: another file
        self._editor.document().setModified(False)
        self.loaded.emit(text)
        self._pane.status_reported.emit(self.tr("Opened {path}").format(path=str(path)))
        return True

    # -- saving ------------------------------------------------------------------------

    def save_or_ask(self) -> None:
        """Save to the editor's file, or ask where when it has none."""
        if self._path is None:
            self.ask_save_path()
        else:
            self._pane.start_task(self.save(self._path), name="code-save")

    def ask_save_path(self, then: Callable[[], object] | None = None) -> None:
        """Ask where to save the code, save it there, then run ``then`` (if it was saved)."""
        dialog = QFileDialog(self._pane, self.tr("Save the code"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(str(self._path) if self._path else self._filename or "untitled.txt")

        async def save_then(path: Path) -> None:
            if await self.save(path) and then is not None:
                then()

        dialog.fileSelected.connect(
            lambda path: self._pane.start_task(save_then(Path(path)), name="code-save")
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    async def save(self, path: Path) -> bool:
        """Write the editor's code to ``path``; it becomes the editor's file.

        Returns:
            Whether it was written (a failure is shown in the pane).
        """
        text = self._editor.toPlainText()
        if text and not text.endswith("\n"):
            text += "\n"
        if not await self._write(path, text):
            return False
        renamed = path != self._path
        self._path = path
        self._filename = path.name
        self._editor.document().setModified(False)
        self.saved.emit(renamed)
        self._pane.status_reported.emit(self.tr("Saved {path}").format(path=str(path)))
        return True

    def ask_save_code(self, code: str, stem: str) -> None:
        """Ask where to save ``code`` (an answer's), offering ``stem`` and the file's suffix."""
        dialog = QFileDialog(self._pane, self.tr("Save the code"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        suffix = Path(self._filename).suffix if self._filename else ".txt"
        dialog.selectFile(stem + suffix)
        dialog.fileSelected.connect(
            lambda path: self._pane.start_task(self.save_code(Path(path), code), name="code-save")
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    async def save_code(self, path: Path, code: str) -> bool:
        """Write a code block to ``path`` (the editor keeps its own file)."""
        if not await self._write(path, code if code.endswith("\n") else code + "\n"):
            return False
        self._pane.status_reported.emit(self.tr("Saved {path}").format(path=str(path)))
        return True

    async def _write(self, path: Path, text: str) -> bool:
        try:
            await asyncio.to_thread(write_source, path, text)
        except OSError as exc:
            self._pane.message_bar.show_message(
                self.tr("Could not save {path}: {reason}").format(
                    path=str(path), reason=exc.strerror or str(exc)
                )
            )
            return False
        return True


__all__ = ["EditorFile"]
