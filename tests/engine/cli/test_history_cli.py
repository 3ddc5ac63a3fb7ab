"""hearth-cli chat stores its turns in the window's history; ``--conversation`` continues one;
``history list|show|export|branch`` — on the real model and a real database file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.data.config import get_paths
from engine.data.history import MIGRATIONS, History
from tests.engine.cli.test_cli import cli

pytestmark = pytest.mark.slow

SHORT = ("--temperature", "0", "--max-tokens", "8")


def ask(*args: str) -> dict[str, Any]:
    run = cli("chat", "--json", *SHORT, *args)
    assert run.returncode == 0, run.stderr
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def test_chat_stores_each_turn_and_continues_a_stored_conversation(tmp_path: Path) -> None:
    first = ask("--system", "Be brief.", "Name a fruit.")
    conversation = first["conversation_id"]
    assert isinstance(conversation, int)
    second = ask("--conversation", str(conversation), "Another one?")
    assert second["conversation_id"] == conversation
    # The second request carried the first turn: a longer prompt.
    assert second["prompt_tokens"] > first["prompt_tokens"]

    history = History(get_paths().database)
    try:
        (stored,) = history.conversations()
        assert (stored.title, stored.system_prompt) == ("Name a fruit.", "Be brief.")
        branch = history.messages(conversation)
        assert [(m.role, m.content) for m in branch] == [
            ("user", "Name a fruit."),
            ("assistant", first["text"]),
            ("user", "Another one?"),
            ("assistant", second["text"]),
        ]
        assert branch[3].id == second["message_id"]
        assert branch[3].stats is not None and branch[3].stats["generated_tokens"] > 0
    finally:
        history.close()

    # --no-history keeps nothing; an unknown conversation is one clear line.
    assert cli("chat", "--no-history", *SHORT, "Hello").returncode == 0
    run = cli("history", "list", "--json")
    assert run.returncode == 0, run.stderr
    assert [(c["id"], c["messages"]) for c in json.loads(run.stdout)] == [(conversation, 4)]
    run = cli("chat", *SHORT, "--conversation", "999", "Hello")
    assert run.returncode == 1 and "999" in run.stderr and "Traceback" not in run.stderr

    # show: the branch with message ids; branch: a copy up to a message; export: both forms.
    run = cli("history", "show", str(conversation))
    assert run.returncode == 0, run.stderr
    assert f"[{branch[1].id}] Assistant:" in run.stdout and "Another one?" in run.stdout
    run = cli("history", "branch", str(conversation), str(branch[1].id), "--json")
    assert run.returncode == 0, run.stderr
    copy = json.loads(run.stdout)["conversation_id"]
    run = cli("history", "show", str(copy), "--json")
    assert [m["content"] for m in json.loads(run.stdout)["messages"]] == [
        "Name a fruit.",
        first["text"],
    ]
    out = tmp_path / "fruit.json"
    run = cli("history", "export", str(conversation), "--format", "json", "-o", str(out))
    assert run.returncode == 0, run.stderr
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["branch"] == [m.id for m in branch]
    run = cli("history", "export", str(conversation))
    assert run.stdout.startswith("# Name a fruit.\n") and "## Assistant" in run.stdout
    # The copy goes on by itself from the command line too.
    third = ask("--conversation", str(copy), "And a vegetable?")
    assert third["conversation_id"] == copy
    history = History(get_paths().database)
    try:
        assert len(history.messages(copy)) == 4 and len(history.messages(conversation)) == 4
    finally:
        history.close()


def test_chat_answers_beside_a_newer_history_and_leaves_it_untouched() -> None:
    database = get_paths().database
    History(database).close()
    db = sqlite3.connect(database)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    before = database.read_bytes()
    run = cli("chat", *SHORT, "Hello")
    assert run.returncode == 0 and run.stdout.strip()
    assert "newer Hearth" in run.stderr and "not stored" in run.stderr
    assert database.read_bytes() == before
    # Continuing a stored conversation needs the history: one clear line, no answer.
    run = cli("chat", *SHORT, "--conversation", "1", "Hello")
    assert run.returncode == 1 and "newer Hearth" in run.stderr and not run.stdout
