"""Conversation history: SQLite in WAL mode, numbered migrations, full-text search, export.

A conversation is a tree of messages (:mod:`engine.data.history_tree`), kept by the
:class:`~engine.data.history_branches.BranchStore` half of :class:`History`; the schema and
its migrations are in :mod:`engine.data.history_schema`, the export formats in
:mod:`engine.data.history_export`.

Messages are written as they happen — the user's when sent, the answer as it streams —
so a crash loses at most the text since the last :meth:`History.update_message`.
One ``History`` object belongs to one thread (SQLite connections are not shared); the
GUI runs it on a worker thread, never on the Qt thread.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from engine.data.history_branches import AFTER_LEAF, BranchStore
from engine.data.history_export import export_json, export_markdown
from engine.data.history_schema import MIGRATIONS
from engine.data.history_tree import Conversation, ConversationTree, StoredMessage
from engine.errors import EngineError, HistoryError
from engine.notices import Notice, NoticeCode

T = TypeVar("T")

log = logging.getLogger("engine.history")

#: How long a statement waits for another program's lock on the database before it fails:
#: a program that is not stuck holds SQLite's write lock for milliseconds, and the waiting
#: is done by the history thread, never the window's.
BUSY_TIMEOUT_S = 5.0

# SQLite's primary result codes (https://sqlite.org/rescode.html), spelled out because
# Python 3.10's sqlite3 has neither the constants nor ``sqlite_errorcode``.
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_AUTH = 23
_SQLITE_NOTADB = 26

#: Free space under which a disk error counts as a full disk: SQLite reports a full disk
#: as a plain I/O error when it cannot grow its shared-memory file (SQLITE_IOERR_SHMSIZE),
#: and it needs at least a page and that file's 32 KiB.
FULL_DISK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SearchHit:
    """A message that matched a search, with a short excerpt around the match."""

    conversation_id: int
    message_id: int
    title: str
    excerpt: str


@dataclass(frozen=True)
class StoredSummary:
    """One document summary: what was summarized, how, and the result so far."""

    id: int
    title: str
    source_path: str
    sha256: str
    options: dict[str, Any]
    model_id: str
    summary: str
    status: str
    error: str
    chunks: int
    tokens_read: int
    seconds: float
    created_at: float
    updated_at: float


_SUMMARY_COLUMNS = (
    "id, title, source_path, sha256, options, model_id, summary, status, error, chunks,"
    " tokens_read, seconds, created_at, updated_at"
)


def _summary(row: sqlite3.Row) -> StoredSummary:
    return StoredSummary(**{**dict(row), "options": json.loads(row["options"] or "{}")})


#: How each task is named in a code task's title.
_TASK_TITLES = {
    "generate": "Generate",
    "explain": "Explain",
    "fix": "Fix",
    "tests": "Tests",
    "review": "Review",
}


@dataclass(frozen=True)
class StoredCodeTask:
    """One Code pane task: what was asked and the answer so far.

    ``title`` is a one-line label for lists: "Fix · app.py", "Generate · <the first
    words of the instruction>".
    """

    id: int
    task: str
    language: str
    filename: str
    code: str
    instruction: str
    error: str
    answer: str
    model_id: str
    status: str
    created_at: float
    updated_at: float

    @property
    def title(self) -> str:
        """A one-line label: the task and the file name or the instruction's start."""
        subject = os.path.basename(self.filename) or " ".join(self.instruction.split())
        if not subject:
            subject = next((line.strip() for line in self.code.splitlines() if line.strip()), "")
        if len(subject) > 48:
            subject = subject[:47].rstrip() + "…"
        name = _TASK_TITLES.get(self.task, self.task)
        return f"{name} · {subject}" if subject else name


_CODE_COLUMNS = (
    "id, task, language, filename, code, instruction, error, answer, model_id, status,"
    " created_at, updated_at"
)


class History(BranchStore):
    """The history database at ``path`` (created and migrated on open).

    Raises:
        HistoryError: the database cannot be used; the file is left untouched and the
            message says why and what to do.
    """

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            raise HistoryError(Notice(NoticeCode.HISTORY_IS_FOLDER, {"path": str(path)}))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise history_error(path, exc) from exc
        self._db.row_factory = sqlite3.Row
        try:
            # Before anything that writes (switching to WAL rewrites the file's header):
            # a newer Hearth's database is left exactly as it is.
            self._refuse_newer(path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            self._db.close()
            raise history_error(path, exc) from exc
        except HistoryError:
            self._db.close()
            raise

    def _refuse_newer(self, path: Path) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            # A healthy database from the future: moving it aside would hide its history.
            raise HistoryError(
                Notice(
                    NoticeCode.HISTORY_TOO_NEW,
                    {"path": str(path), "version": version, "known": len(MIGRATIONS)},
                )
            )

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for number in range(version, len(MIGRATIONS)):
            # One script, one transaction: a migration is applied whole or not at all.
            try:
                self._db.executescript(
                    f"BEGIN;\n{MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\nCOMMIT;"
                )
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the database; safe to call twice."""
        self._db.close()

    # -- writing ---------------------------------------------------------------------

    def create_conversation(
        self, title: str, *, model_id: str = "", system_prompt: str = ""
    ) -> int:
        """Start a conversation; returns its id."""
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO conversations (title, model_id, system_prompt, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (title, model_id, system_prompt, now, now),
        )
        return int(cur.lastrowid or 0)

    def update_message(
        self,
        message_id: int,
        content: str,
        *,
        stats: dict[str, Any] | None = None,
        reasoning: str | None = None,
    ) -> None:
        """Replace a message's text (an answer as it streams) and, at the end, its stats.

        ``reasoning`` replaces the thinking stored with the answer; None keeps it.
        """
        self._db.execute(
            "UPDATE messages SET content = ?, stats = COALESCE(?, stats),"
            " reasoning = COALESCE(?, reasoning) WHERE id = ?",
            (content, json.dumps(stats) if stats is not None else None, reasoning, message_id),
        )

    def rate_message(self, message_id: int, rating: int) -> None:
        """Thumbs up (1), down (-1) or neither (0)."""
        self._db.execute("UPDATE messages SET rating = ? WHERE id = ?", (rating, message_id))

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        self._db.execute(
            "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)
        )

    def set_system_prompt(self, conversation_id: int, system_prompt: str) -> None:
        """Change the system prompt the conversation is continued with."""
        self._db.execute(
            "UPDATE conversations SET system_prompt = ? WHERE id = ?",
            (system_prompt, conversation_id),
        )

    def set_model(self, conversation_id: int, model_id: str) -> None:
        """Record the model that answers in this conversation now."""
        self._db.execute(
            "UPDATE conversations SET model_id = ? WHERE id = ?", (model_id, conversation_id)
        )

    def delete_conversation(self, conversation_id: int) -> None:
        """Hide a conversation; :meth:`restore_conversation` undoes it until it is purged.

        The rows stay until :meth:`purge_deleted`, so an undo is exact and a crash
        between the two loses nothing the user wanted to keep.
        """
        self._db.execute(
            "UPDATE conversations SET deleted_at = ? WHERE id = ?", (time.time(), conversation_id)
        )

    def restore_conversation(self, conversation_id: int) -> None:
        """Bring back a conversation hidden by :meth:`delete_conversation`."""
        self._db.execute(
            "UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,)
        )

    def purge_deleted(self, *, older_than_s: float = 0.0) -> int:
        """Delete for good the conversations, summaries and code tasks hidden long enough:
        over ``older_than_s`` ago.

        Returns:
            How many rows were deleted.
        """
        cutoff = time.time() - older_than_s
        cur = self._db.execute(
            "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
            (cutoff,),
        )
        purged = cur.rowcount
        # Deleted branches: their continuations go with them (ON DELETE CASCADE).
        cur = self._db.execute(
            "DELETE FROM messages WHERE deleted_at IS NOT NULL AND deleted_at <= ?", (cutoff,)
        )
        purged += cur.rowcount
        for table in ("summaries", "code_tasks"):
            cur = self._db.execute(
                f"DELETE FROM {table} WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (cutoff,),
            )
            purged += cur.rowcount
        return purged

    # -- summaries -------------------------------------------------------------------

    def add_summary(
        self,
        title: str,
        *,
        source_path: str = "",
        sha256: str = "",
        options: dict[str, Any] | None = None,
        model_id: str = "",
    ) -> int:
        """Record a summary as it starts (status "running"); returns its id."""
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO summaries (title, source_path, sha256, options, model_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (title, source_path, sha256, json.dumps(options or {}), model_id, now, now),
        )
        return int(cur.lastrowid or 0)

    def update_summary(
        self,
        summary_id: int,
        *,
        summary: str | None = None,
        status: str | None = None,
        error: str | None = None,
        chunks: int | None = None,
        tokens_read: int | None = None,
        seconds: float | None = None,
    ) -> None:
        """Store progress or the result; fields left None keep their value."""
        self._db.execute(
            "UPDATE summaries SET summary = COALESCE(?, summary), status = COALESCE(?, status),"
            " error = COALESCE(?, error), chunks = COALESCE(?, chunks),"
            " tokens_read = COALESCE(?, tokens_read), seconds = COALESCE(?, seconds),"
            " updated_at = ? WHERE id = ?",
            (summary, status, error, chunks, tokens_read, seconds, time.time(), summary_id),
        )

    def summaries(self, *, text: str = "") -> list[StoredSummary]:
        """Summaries, newest first; with ``text``, only those whose title or summary has it."""
        query = f"SELECT {_SUMMARY_COLUMNS} FROM summaries WHERE deleted_at IS NULL"
        args: tuple[Any, ...] = ()
        if text.strip():
            query += (
                " AND (instr(lower(title), lower(?)) > 0 OR instr(lower(summary), lower(?)) > 0)"
            )
            args = (text.strip(), text.strip())
        rows = self._db.execute(query + " ORDER BY updated_at DESC, id DESC", args).fetchall()
        return [_summary(row) for row in rows]

    def summary(self, summary_id: int) -> StoredSummary:
        """One summary.

        Raises:
            EngineError: there is no such summary.
        """
        row = self._db.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM summaries WHERE id = ? AND deleted_at IS NULL",
            (summary_id,),
        ).fetchone()
        if row is None:
            raise EngineError(f"Summary {summary_id} no longer exists.")
        return _summary(row)

    def delete_summary(self, summary_id: int) -> None:
        """Hide a summary; :meth:`restore_summary` undoes it until it is purged."""
        self._db.execute(
            "UPDATE summaries SET deleted_at = ? WHERE id = ?", (time.time(), summary_id)
        )

    def restore_summary(self, summary_id: int) -> None:
        """Bring back a summary hidden by :meth:`delete_summary`."""
        self._db.execute("UPDATE summaries SET deleted_at = NULL WHERE id = ?", (summary_id,))

    # -- code tasks ------------------------------------------------------------------

    def add_code_task(
        self,
        task: str,
        *,
        language: str,
        filename: str = "",
        code: str = "",
        instruction: str = "",
        error: str = "",
        model_id: str = "",
    ) -> int:
        """Record a code task as it starts (status "running"); returns its id."""
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO code_tasks (task, language, filename, code, instruction, error,"
            " model_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task, language, filename, code, instruction, error, model_id, now, now),
        )
        return int(cur.lastrowid or 0)

    def update_code_task(
        self, task_id: int, *, answer: str | None = None, status: str | None = None
    ) -> None:
        """Store the answer so far and the status; fields left None keep their value."""
        self._db.execute(
            "UPDATE code_tasks SET answer = COALESCE(?, answer), status = COALESCE(?, status),"
            " updated_at = ? WHERE id = ?",
            (answer, status, time.time(), task_id),
        )

    def code_tasks(self, *, text: str = "") -> list[StoredCodeTask]:
        """Code tasks, newest first; with ``text``, those whose file name, instruction,
        code or answer has it (case-insensitive)."""
        query = f"SELECT {_CODE_COLUMNS} FROM code_tasks WHERE deleted_at IS NULL"
        args: tuple[Any, ...] = ()
        needle = text.strip()
        if needle:
            query += (
                " AND ("
                + " OR ".join(
                    f"instr(lower({column}), lower(?)) > 0"
                    for column in ("filename", "instruction", "code", "answer")
                )
                + ")"
            )
            args = (needle,) * 4
        rows = self._db.execute(query + " ORDER BY updated_at DESC, id DESC", args).fetchall()
        return [StoredCodeTask(**dict(row)) for row in rows]

    def code_task(self, task_id: int) -> StoredCodeTask:
        """One code task.

        Raises:
            EngineError: there is no such task.
        """
        row = self._db.execute(
            f"SELECT {_CODE_COLUMNS} FROM code_tasks WHERE id = ? AND deleted_at IS NULL",
            (task_id,),
        ).fetchone()
        if row is None:
            raise EngineError(f"Code task {task_id} no longer exists.")
        return StoredCodeTask(**dict(row))

    def delete_code_task(self, task_id: int) -> None:
        """Hide a code task; :meth:`restore_code_task` undoes it until it is purged."""
        self._db.execute(
            "UPDATE code_tasks SET deleted_at = ? WHERE id = ?", (time.time(), task_id)
        )

    def restore_code_task(self, task_id: int) -> None:
        """Bring back a code task hidden by :meth:`delete_code_task`."""
        self._db.execute("UPDATE code_tasks SET deleted_at = NULL WHERE id = ?", (task_id,))

    # -- reading ---------------------------------------------------------------------

    def conversations(self) -> list[Conversation]:
        """All conversations, most recently active first."""
        rows = self._db.execute(
            "SELECT id, title, model_id, system_prompt, created_at, updated_at"
            " FROM conversations WHERE deleted_at IS NULL ORDER BY updated_at DESC, id DESC"
        ).fetchall()
        return [Conversation(**dict(row)) for row in rows]

    def conversation(self, conversation_id: int) -> Conversation:
        """One conversation's row.

        Raises:
            EngineError: there is no such conversation.
        """
        row = self._db.execute(
            "SELECT id, title, model_id, system_prompt, created_at, updated_at"
            " FROM conversations WHERE id = ? AND deleted_at IS NULL",
            (conversation_id,),
        ).fetchone()
        if row is None:
            raise EngineError(f"Conversation {conversation_id} no longer exists.")
        return Conversation(**dict(row))

    def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Messages containing ``text`` (any language: trigram index), newest first.

        Queries shorter than three characters fall back to a plain substring scan.
        """
        text = text.strip()
        if not text:
            return []
        if len(text) >= 3:
            query = '"' + text.replace('"', '""') + '"'
            rows = self._db.execute(
                "SELECT m.conversation_id, m.id, c.title,"
                " snippet(messages_fts, 0, '[', ']', '…', 12) AS excerpt"
                " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE messages_fts MATCH ? AND c.deleted_at IS NULL AND m.deleted_at IS NULL"
                " ORDER BY m.id DESC LIMIT ?",
                (query, limit),
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT m.conversation_id, m.id, c.title, substr(m.content, 1, 120) AS excerpt"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE instr(m.content, ?) > 0 AND c.deleted_at IS NULL AND m.deleted_at IS NULL"
                " ORDER BY m.id DESC LIMIT ?",
                (text, limit),
            ).fetchall()
        return [SearchHit(r[0], r[1], r[2], r[3]) for r in rows]

    # -- export ----------------------------------------------------------------------

    def export_markdown(self, conversation_id: int) -> str:
        """The branch on screen as Markdown: a title, then one section per message."""
        return export_markdown(self.conversation(conversation_id), self.messages(conversation_id))

    def export_json(self, conversation_id: int) -> str:
        """The conversation as JSON: every message (the whole tree) and the branch on screen."""
        return export_json(self.conversation(conversation_id), self.tree(conversation_id))


def history_error(path: Path, exc: OSError | sqlite3.Error) -> HistoryError:
    """The error to show when the database at ``path`` failed with ``exc``.

    Only a damaged file, or one that is not a database, is worth moving aside: for a
    read-only file, a full disk, a lock or a disk error that advice would throw a healthy
    history away, so those say what to fix instead.

    Args:
        path: the database file.
        exc: what opening or writing it raised.

    Returns:
        An error whose message says what is wrong and what the user can do.
    """
    code = _sqlite_code(exc) if isinstance(exc, sqlite3.Error) else None
    number = exc.errno if isinstance(exc, OSError) else None
    detail = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    params = {"path": str(path), "detail": detail}
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        return HistoryError(Notice(NoticeCode.HISTORY_DAMAGED, params))
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return HistoryError(Notice(NoticeCode.HISTORY_LOCKED, params))
    if (
        code == _SQLITE_FULL
        or number in (errno.ENOSPC, errno.EDQUOT)
        or (code == _SQLITE_IOERR and _free_bytes(path.parent) < FULL_DISK_BYTES)
    ):
        return HistoryError(Notice(NoticeCode.HISTORY_DISK_FULL, {"path": str(path)}))
    if code in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_AUTH, _SQLITE_CANTOPEN) or number in (
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
    ):
        return HistoryError(Notice(NoticeCode.HISTORY_READ_ONLY, params))
    return HistoryError(Notice(NoticeCode.HISTORY_UNUSABLE, params))


def _free_bytes(folder: Path) -> int:
    """Free space on the disk that holds ``folder`` (a large number if that is unknown)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return sys.maxsize


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of ``exc`` (None on Python 3.10, which does not tell)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


#: How long a deleted conversation, summary or code task stays in the database before a
#: start purges it: an undo is exact meanwhile, even across a crash.
PURGE_AFTER_S = 24 * 3600


class AsyncHistory:
    """The history database on a thread of its own, for asyncio code such as the GUI.

    Every call runs, in order, on one worker thread that owns the connection, so the
    caller's thread (the Qt thread) never waits on the disk.

    Args:
        path: the database file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._history: History | None = None

    async def open(self) -> None:
        """Open (create, migrate) the database and purge conversations deleted a day ago.

        Raises:
            HistoryError: the database cannot be used (the message says why and what to do).
        """

        def open_() -> None:
            history = History(self.path)
            try:
                # The first write: a read-only file, a full disk or another program's
                # lock shows here, so the window knows at once that nothing is saved.
                history.purge_deleted(older_than_s=PURGE_AFTER_S)
            except (OSError, sqlite3.Error) as exc:
                history.close()
                raise history_error(self.path, exc) from exc
            self._history = history

        await asyncio.get_running_loop().run_in_executor(self._executor, open_)

    async def run(self, call: Callable[[History], T]) -> T:
        """Run ``call(history)`` on the database thread and return its result.

        Raises:
            EngineError: the database is not open, or the call raised it.
        """

        def run_() -> T:
            if self._history is None:
                raise EngineError("The history database is not open.")
            return call(self._history)

        return await asyncio.get_running_loop().run_in_executor(self._executor, run_)

    async def attempt(
        self, call: Callable[[History], T], on_failure: Callable[[Exception], None] | None = None
    ) -> T | None:
        """:meth:`run`, for callers that carry on without the database.

        A failure is logged, handed to ``on_failure`` (to tell the user) and gives None.
        """
        try:
            return await self.run(call)
        except (EngineError, OSError, RuntimeError, sqlite3.Error) as exc:
            log.warning("The history database failed: %s", exc)
            if on_failure is not None:
                on_failure(exc)
            return None

    async def aclose(self) -> None:
        """Finish the queued calls and close the database; safe to call twice."""

        def close_() -> None:
            if self._history is not None:
                self._history.close()
                self._history = None

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, close_)
        except RuntimeError:  # already shut down
            return
        self._executor.shutdown(wait=False)


__all__ = [
    "AFTER_LEAF",
    "BUSY_TIMEOUT_S",
    "MIGRATIONS",
    "PURGE_AFTER_S",
    "AsyncHistory",
    "Conversation",
    "ConversationTree",
    "History",
    "SearchHit",
    "StoredCodeTask",
    "StoredMessage",
    "StoredSummary",
    "history_error",
]
