"""The history database: written as it happens, searchable, exportable, survives a kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.data.config import get_paths
from engine.data.history import MIGRATIONS, History
from engine.errors import EngineError


@pytest.fixture
def history() -> History:
    db = History(get_paths().database)
    yield db
    db.close()


def test_conversation_round_trip_and_order(history: History) -> None:
    first = history.create_conversation("Sea facts", model_id="smol", system_prompt="Be brief.")
    history.add_message(first, "user", "How deep is the ocean?")
    answer = history.add_message(first, "assistant", "About 11 km at")
    history.update_message(answer, "About 11 km at its deepest.", stats={"tokens_per_s": 60.0})
    history.rate_message(answer, 1)
    second = history.create_conversation("Cats")
    history.add_message(second, "user", "Why do cats purr?")
    assert [c.id for c in history.conversations()] == [second, first]
    messages = history.messages(first)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == "About 11 km at its deepest."
    assert messages[1].stats == {"tokens_per_s": 60.0} and messages[1].rating == 1


def test_search_finds_old_words_in_any_language(history: History) -> None:
    old = history.create_conversation("Old")
    history.add_message(old, "user", "Tell me about the Mariana Trench.")
    zh = history.create_conversation("中文")
    history.add_message(zh, "assistant", "马里亚纳海沟是世界上最深的海沟。")
    hits = history.search("mariana")
    assert [h.conversation_id for h in hits] == [old]
    assert "[Mariana]" in hits[0].excerpt
    assert [h.conversation_id for h in history.search("最深的")] == [zh]
    assert [h.conversation_id for h in history.search("海沟")] == [zh]  # short: substring scan
    assert history.search('" OR 1=1 --') == []


def test_edits_and_deletes_keep_the_index_right(history: History) -> None:
    conv = history.create_conversation("x")
    msg = history.add_message(conv, "assistant", "alpha beta")
    history.update_message(msg, "gamma delta")
    assert history.search("alpha") == [] and len(history.search("gamma")) == 1
    history.rename_conversation(conv, "renamed")
    assert history.conversation(conv).title == "renamed"
    history.delete_conversation(conv)
    assert history.conversations() == [] and history.search("gamma") == []
    with pytest.raises(EngineError):
        history.conversation(conv)
    history.restore_conversation(conv)  # undo brings it back whole
    assert [c.title for c in history.conversations()] == ["renamed"]
    assert len(history.search("gamma")) == 1
    history.delete_conversation(conv)
    assert history.purge_deleted(older_than_s=3600) == 0  # too recent to purge
    assert history.purge_deleted() == 1
    history.restore_conversation(conv)
    assert history.conversations() == [] and history.messages(conv) == []


def test_continuing_from_an_earlier_message_keeps_the_later_ones(history: History) -> None:
    conv = history.create_conversation("edit")
    history.add_message(conv, "user", "first question")
    first_answer = history.add_message(conv, "assistant", "first answer")
    second = history.add_message(conv, "user", "second question, with a typo")
    history.add_message(conv, "assistant", "second answer")
    other = history.create_conversation("other")
    history.add_message(other, "user", "untouched")
    history.add_message(conv, "user", "second question, fixed", parent_id=first_answer)
    assert [m.content for m in history.messages(conv)] == [
        "first question",
        "first answer",
        "second question, fixed",
    ]
    assert [m.content for m in history.messages(other)] == ["untouched"]
    assert [h.message_id for h in history.search("typo")] == [second]  # kept, findable
    history.set_system_prompt(conv, "Answer in French.")
    history.set_model(conv, "other-model")
    assert history.conversation(conv).system_prompt == "Answer in French."
    assert history.conversation(conv).model_id == "other-model"


async def test_async_history_runs_calls_in_order_off_the_callers_thread() -> None:
    import threading

    from engine.data.history import AsyncHistory

    db = AsyncHistory(get_paths().database)
    await db.open()
    caller = threading.get_ident()
    threads: set[int] = set()

    def add(h: History, conv: int, n: int) -> int:
        threads.add(threading.get_ident())
        return h.add_message(conv, "user", f"message {n}")

    conv = await db.run(lambda h: h.create_conversation("async"))
    ids = await asyncio.gather(*(db.run(lambda h, n=n: add(h, conv, n)) for n in range(20)))
    assert ids == sorted(ids) and caller not in threads and len(threads) == 1
    messages = await db.run(lambda h: h.messages(conv))
    assert [m.content for m in messages] == [f"message {n}" for n in range(20)]
    await db.aclose()
    await db.aclose()
    with pytest.raises(RuntimeError):
        await db.run(lambda h: h.conversations())


def test_export_markdown_and_json(history: History) -> None:
    conv = history.create_conversation("Export me", model_id="m", system_prompt="Be kind.")
    history.add_message(conv, "user", "Hi")
    history.add_message(conv, "assistant", "Hello! **Bold**")
    md = history.export_markdown(conv)
    assert md.startswith("# Export me\n")
    assert "## You\n\nHi\n" in md and "## Assistant\n\nHello! **Bold**\n" in md
    data = json.loads(history.export_json(conv))
    assert data["conversation"]["title"] == "Export me"
    assert [m["content"] for m in data["messages"]] == ["Hi", "Hello! **Bold**"]


def test_schema_is_versioned_and_newer_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    History(path).close()
    import sqlite3

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(EngineError, match="newer Hearth"):
        History(path)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EngineError, match="cannot be used"):
        History(garbage)
    assert garbage.read_bytes().startswith(b"this is not sqlite")  # left untouched


def test_a_killed_writer_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path.cwd())!r})
        from pathlib import Path
        from engine.data.history import History
        h = History(Path({str(path)!r}))
        c = h.create_conversation("crash")
        h.add_message(c, "user", "question before the crash")
        a = h.add_message(c, "assistant", "partial")
        h.update_message(a, "partial answer streamed so far")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert run.returncode == -signal.SIGKILL, run.stderr
    history = History(path)
    (conv,) = history.conversations()
    assert [m.content for m in history.messages(conv.id)] == [
        "question before the crash",
        "partial answer streamed so far",
    ]
    history.close()
    assert os.path.exists(path)


def test_summaries_are_stored_with_their_source_and_options(history: History) -> None:
    running = history.add_summary(
        "report.pdf",
        source_path="/docs/report.pdf",
        sha256="ab" * 32,
        options={"length": "short", "style": "bullets", "language": "auto"},
        model_id="smol",
    )
    (stored,) = history.summaries()
    assert stored.status == "running" and stored.summary == "" and stored.sha256 == "ab" * 32
    history.update_summary(running, summary="- point one")
    history.update_summary(running, summary="- point one\n- point two", status="done", chunks=7)
    history.update_summary(running, tokens_read=51234, seconds=88.5)
    done = history.summary(running)
    assert done.summary == "- point one\n- point two" and done.status == "done"
    assert (done.chunks, done.tokens_read, done.seconds) == (7, 51234, 88.5)
    assert done.options == {"length": "short", "style": "bullets", "language": "auto"}
    other = history.add_summary("notes.txt")
    history.update_summary(other, summary="nothing about it", status="cancelled")
    assert [s.id for s in history.summaries(text="POINT two")] == [running]
    assert [s.id for s in history.summaries(text="notes")] == [other]
    history.delete_summary(other)
    assert [s.id for s in history.summaries()] == [running]
    history.restore_summary(other)
    assert {s.id for s in history.summaries()} == {running, other}
    history.delete_summary(other)
    assert history.purge_deleted() == 1
    with pytest.raises(EngineError):
        history.summary(other)
    with pytest.raises(sqlite3.IntegrityError):
        history.update_summary(running, status="exploded")
