"""``hearth --self-test`` reports one line per check and fails when something is broken."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from engine.data.config import Settings, get_paths, save_settings

_SELF_TEST = "import sys; from desktop.app import main; sys.exit(main(['--self-test']))"
CHECKS = (
    "qt platform",
    "resources",
    "translations",
    "main window",
    "starter model",
    "engine",
    "model load",
    "generation",
    "database",
    "settings",
)


def _self_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # QT_QPA_PLATFORM is left out on purpose: the self-test must choose offscreen itself.
    env = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
    return subprocess.run(
        [sys.executable, "-c", _SELF_TEST],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_self_test_passes_every_check_and_leaves_the_users_data_as_it_was(
    hearth_home: Path,
) -> None:
    paths = get_paths().ensure()
    mine = Settings(theme="dark", language="zh_CN", last_model="someone/else/model")
    save_settings(paths, mine)
    result = _self_test(dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line[6:20].strip() for line in lines[1:-1]] == list(CHECKS)
    assert all(line.startswith("PASS  ") for line in lines[1:-1])
    assert lines[-1] == f"Self-test passed: all {len(CHECKS)} checks"
    generation = next(line for line in lines if "generation" in line)
    assert " tokens at " in generation
    # The settings keep the user's choices; no self-test conversation is left behind.
    stored = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert (stored["theme"], stored["language"], stored["last_model"]) == (
        "dark",
        "zh_CN",
        "someone/else/model",
    )
    with sqlite3.connect(paths.database) as db:
        assert db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_self_test_fails_and_says_why_without_the_starter_model(tmp_path: Path) -> None:
    env = {**os.environ, "HEARTH_STARTER_MODEL": str(tmp_path / "missing.gguf")}
    result = _self_test(env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    starter = next(line for line in lines if "starter model" in line)
    assert starter.startswith("FAIL  ") and "not installed" in starter
    load = next(line for line in lines if "model load" in line)
    assert load.startswith("FAIL  ") and "skipped" in load
    assert next(line for line in lines if "database" in line).startswith("PASS  ")
    assert lines[-1] == f"Self-test FAILED: 3 of {len(CHECKS)} checks failed"


def test_self_test_fails_when_the_database_cannot_be_written(hearth_home: Path) -> None:
    paths = get_paths().ensure()
    paths.database.write_bytes(b"this is not an SQLite database" * 100)
    result = _self_test(dict(os.environ))
    assert result.returncode == 1
    database = next(line for line in result.stdout.splitlines() if "database" in line)
    assert database.startswith("FAIL  ")
    assert "cannot be used" in database
