"""Conversations as trees in the history database: answers and edits are kept as branches,
the branch on screen is remembered, branches are deleted with Undo and copied; a database
of the last release migrates whole; a newer one is refused untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.data import history as history_module
from engine.data.config import get_paths
from engine.data.history import MIGRATIONS, ConversationTree, History, StoredMessage
from engine.errors import EngineError, HistoryError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def history() -> History:
    db = History(get_paths().database)
    yield db
    db.close()


def contents(history: History, conversation_id: int) -> list[str]:
    return [m.content for m in history.messages(conversation_id)]


def test_regenerating_twice_keeps_three_answers_and_continues_the_one_shown(
    history: History,
) -> None:
    conv = history.create_conversation("animals")
    question = history.add_message(conv, "user", "Name an animal.")
    answers = [history.add_message(conv, "assistant", "Cat.")]
    answers.append(history.add_message(conv, "assistant", "Dog.", parent_id=question))
    answers.append(history.add_message(conv, "assistant", "Owl.", parent_id=question))
    tree = history.tree(conv)
    assert tree.siblings(answers[1]) == answers
    assert contents(history, conv) == ["Name an animal.", "Owl."]  # the newest is shown

    # Switching shows the second answer, also after reopening the database.
    assert history.show_branch(conv, answers[1]) == answers[1]
    history.close()
    reopened = History(get_paths().database)
    try:
        assert contents(reopened, conv) == ["Name an animal.", "Dog."]
        # The next message continues the branch on screen.
        reopened.add_message(conv, "user", "Another?")
        assert contents(reopened, conv) == ["Name an animal.", "Dog.", "Another?"]
        tree = reopened.tree(conv)
        assert [len(tree.children(a)) for a in answers] == [0, 1, 0]
        # Switching to a sibling shows that branch's whole continuation.
        reopened.show_branch(conv, answers[0])
        assert contents(reopened, conv) == ["Name an animal.", "Cat."]
        reopened.show_branch(conv, answers[1])
        assert contents(reopened, conv) == ["Name an animal.", "Dog.", "Another?"]
    finally:
        reopened.close()


def test_editing_an_early_message_keeps_the_old_branch_reachable(history: History) -> None:
    conv = history.create_conversation("trip")
    cats = history.add_message(conv, "user", "Tell me about cats.")
    history.add_message(conv, "assistant", "Cats purr.")
    history.add_message(conv, "user", "And dogs?")
    history.add_message(conv, "assistant", "Dogs bark.")
    owls = history.add_message(conv, "user", "Tell me about owls.", parent_id=None)
    history.add_message(conv, "assistant", "Owls hoot.")
    assert contents(history, conv) == ["Tell me about owls.", "Owls hoot."]
    assert history.tree(conv).siblings(owls) == [cats, owls]
    history.show_branch(conv, cats)
    assert contents(history, conv) == [
        "Tell me about cats.",
        "Cats purr.",
        "And dogs?",
        "Dogs bark.",
    ]
    with pytest.raises(EngineError):
        history.add_message(conv, "user", "elsewhere", parent_id=10_000)


def test_deleting_a_branch_hides_it_and_its_continuation_until_undone(
    history: History,
) -> None:
    conv = history.create_conversation("colours")
    question = history.add_message(conv, "user", "Name a colour.")
    red = history.add_message(conv, "assistant", "Red.")
    blue = history.add_message(conv, "assistant", "Blue.", parent_id=question)
    history.add_message(conv, "user", "Why blue?")
    history.add_message(conv, "assistant", "Like the sky.")
    green = history.add_message(conv, "assistant", "Green.", parent_id=question)
    history.show_branch(conv, blue)

    history.delete_branch(conv, blue)
    # Its neighbour takes its place on screen, and nothing of it is found any more.
    assert contents(history, conv) == ["Name a colour.", "Green."]
    assert history.tree(conv).siblings(red) == [red, green]
    assert history.search("sky") == []
    assert history.purge_deleted(older_than_s=3600) == 0

    history.restore_branch(conv, blue)
    assert contents(history, conv) == ["Name a colour.", "Blue.", "Why blue?", "Like the sky."]
    assert history.tree(conv).siblings(red) == [red, blue, green]
    assert len(history.search("sky")) == 1
    with pytest.raises(EngineError):
        history.restore_branch(conv, blue)  # nothing left to undo

    history.delete_branch(conv, blue)
    assert history.purge_deleted() >= 1
    # The branch and its continuation are gone for good, from the index too.
    db = sqlite3.connect(get_paths().database)
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 3
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    db.close()
    with pytest.raises(EngineError):
        history.restore_branch(conv, blue)
    assert contents(history, conv) == ["Name a colour.", "Green."]


def test_branch_from_here_copies_the_conversation_up_to_a_message(history: History) -> None:
    conv = history.create_conversation("Plans", model_id="smol", system_prompt="Be brief.")
    history.add_message(conv, "user", "Plan a trip.")
    answer = history.add_message(conv, "assistant", "Go to the sea.")
    history.update_message(answer, "Go to the sea.", stats={"generated_tokens": 5})
    history.rate_message(answer, 1)
    history.add_message(conv, "user", "And then?")
    history.add_message(conv, "assistant", "Come back.")

    copy = history.branch_conversation(conv, answer, "Plans (branch)")
    assert copy != conv
    row = history.conversation(copy)
    assert (row.title, row.model_id, row.system_prompt) == ("Plans (branch)", "smol", "Be brief.")
    copied = history.messages(copy)
    assert [m.content for m in copied] == ["Plan a trip.", "Go to the sea."]
    assert copied[1].stats == {"generated_tokens": 5} and copied[1].rating == 1
    assert copied[1].parent_id == copied[0].id
    # The original is unchanged, and both are listed.
    assert len(contents(history, conv)) == 4
    assert {c.id for c in history.conversations()} == {conv, copy}


def test_export_json_keeps_the_whole_tree_and_markdown_the_branch_on_screen(
    history: History,
) -> None:
    conv = history.create_conversation("Tree")
    question = history.add_message(conv, "user", "Hi")
    first = history.add_message(conv, "assistant", "Hello!")
    second = history.add_message(conv, "assistant", "Hey there.", parent_id=question)
    history.show_branch(conv, first)
    md = history.export_markdown(conv)
    assert "Hello!" in md and "Hey there." not in md
    data = json.loads(history.export_json(conv))
    assert data["current_leaf_id"] == first and data["branch"] == [question, first]
    assert [(m["id"], m["parent_id"]) for m in data["messages"]] == [
        (question, None),
        (first, question),
        (second, question),
    ]


def test_a_database_of_the_last_release_migrates_with_every_conversation_intact(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hearth.db"
    shutil.copy(FIXTURES / "history_v5.db", path)
    old = sqlite3.connect(path)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 5
    old.row_factory = sqlite3.Row
    before = [dict(r) for r in old.execute("SELECT * FROM messages ORDER BY id")]
    conversations_before = [dict(r) for r in old.execute("SELECT * FROM conversations")]
    old.close()

    history = History(path)
    try:
        assert [c.title for c in history.conversations()] == [
            "Empty",
            "Unanswered",
            "Ocean trip",
            "中文对话",
        ]
        for conv in conversations_before:
            if conv["deleted_at"] is not None:
                continue
            row = history.conversation(conv["id"])
            assert (row.title, row.model_id, row.system_prompt, row.updated_at) == (
                conv["title"],
                conv["model_id"],
                conv["system_prompt"],
                conv["updated_at"],
            )
            # Every message, in order, with its stats, rating and thinking: one branch.
            old_messages = [m for m in before if m["conversation_id"] == conv["id"]]
            branch = history.messages(conv["id"])
            assert [(m.id, m.role, m.content, m.rating, m.reasoning) for m in branch] == [
                (m["id"], m["role"], m["content"], m["rating"], m["reasoning"])
                for m in old_messages
            ]
            assert [m.stats for m in branch] == [
                json.loads(m["stats"]) if m["stats"] else None for m in old_messages
            ]
            assert [m.parent_id for m in branch] == [None, *[m.id for m in branch]][: len(branch)]
            assert len(history.tree(conv["id"]).messages) == len(old_messages)
        ocean = history.messages(1)
        assert ocean[1].rating == 1 and ocean[3].rating == -1
        assert ocean[1].stats is not None and ocean[1].stats["generated_tokens"] == 12
        assert history.messages(2)[1].reasoning == "用户问天空的颜色。"
        assert [h.conversation_id for h in history.search("Puerto Rico")] == [1]
        assert [h.conversation_id for h in history.search("forget me")] == []  # still hidden
        history.restore_conversation(5)
        assert contents(history, 5) == ["Forget me soon."]
        assert [s.title for s in history.summaries()] == ["report.pdf"]
        assert [t.answer for t in history.code_tasks()] == ["print(1)"]
        # The conversation goes on from its last message.
        history.add_message(1, "user", "Thanks!")
        assert contents(history, 1)[-2:] == ["About 8.4 km.", "Thanks!"]
    finally:
        history.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 6
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_a_failed_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hearth.db"
    shutil.copy(FIXTURES / "history_v5.db", path)
    broken = (
        *MIGRATIONS[:5],
        "ALTER TABLE messages ADD COLUMN parent_id INTEGER; SELECT no_such_function();",
    )
    monkeypatch.setattr(history_module, "MIGRATIONS", broken)
    with pytest.raises(HistoryError):
        History(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 5
    columns = [r[1] for r in db.execute("PRAGMA table_info(messages)")]
    assert "parent_id" not in columns
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 9
    db.close()


def test_a_database_from_a_newer_hearth_is_refused_and_left_byte_for_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hearth.db"
    shutil.copy(FIXTURES / "history_v5.db", path)  # rollback journal, as a newer one may be
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(HistoryError, match="newer Hearth"):
        History(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hearth.db"]


def test_a_tree_leaves_out_messages_cut_off_from_the_first_one() -> None:
    def message(id_: int, parent: int | None) -> StoredMessage:
        return StoredMessage(id_, 1, "user", str(id_), 0.0, None, 0, parent_id=parent)

    # 3's parent (2) is missing: deleted with its branch, so 3 and 4 are not shown.
    tree = ConversationTree(
        (message(1, None), message(3, 2), message(4, 3), message(5, 1)), current_leaf_id=4
    )
    assert 4 not in tree and 5 in tree
    assert tree.leaf == 5  # the stored leaf is gone: the newest branch is shown
    assert [m.id for m in tree.branch()] == [1, 5]
    assert tree.children(1) == [5] and tree.siblings(5) == [5]
