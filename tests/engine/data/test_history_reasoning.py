"""A reasoning model's thinking is stored with its answer, apart from it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from engine.data.history import MIGRATIONS, History


def test_thinking_is_stored_apart_from_the_answer(tmp_path: Path) -> None:
    history = History(tmp_path / "history.db")
    conv = history.create_conversation("Capitals")
    history.add_message(conv, "user", "What is the capital of France?")
    answer = history.add_message(conv, "assistant", "")
    history.update_message(answer, "Par")
    history.update_message(
        answer, "Paris.", stats={"generated_tokens": 9}, reasoning="France → Paris"
    )
    # A later update without reasoning keeps it.
    history.update_message(answer, "Paris.")
    stored = history.messages(conv)[-1]
    assert (stored.content, stored.reasoning) == ("Paris.", "France → Paris")
    assert history.messages(conv)[0].reasoning == ""
    # Search finds answers, not thinking.
    assert history.search("France → Paris") == []
    assert [hit.message_id for hit in history.search("Paris.")] == [answer]
    data = json.loads(history.export_json(conv))
    assert data["messages"][-1]["reasoning"] == "France → Paris"
    markdown = history.export_markdown(conv)
    assert "<details><summary>Thinking</summary>" in markdown
    assert markdown.index("France → Paris") < markdown.rindex("Paris.")
    history.close()


def test_a_database_from_before_thinking_is_migrated_keeping_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    db = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('old', 1, 1)")
    db.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at)"
        " VALUES (1, 'assistant', 'an old answer', 1)"
    )
    db.commit()
    db.close()
    history = History(path)
    (message,) = history.messages(1)
    assert (message.content, message.reasoning) == ("an old answer", "")
    history.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
