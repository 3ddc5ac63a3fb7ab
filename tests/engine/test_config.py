"""Paths and settings: HEARTH_HOME, platform folders, versioned settings that survive damage."""

from __future__ import annotations

import json
from pathlib import Path

from engine.config import SETTINGS_VERSION, Settings, get_paths, load_settings, update_settings


def test_hearth_home_holds_everything(hearth_home: Path) -> None:
    paths = get_paths()
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir):
        assert folder.is_relative_to(hearth_home)
    assert paths.database.name == "hearth.db"
    assert paths.models_dir == paths.data_dir / "models"


def test_without_hearth_home_platform_folders_are_used() -> None:
    paths = get_paths({})
    assert "Hearth" in str(paths.data_dir) and "Hearth" in str(paths.config_dir)


def test_settings_round_trip_and_version() -> None:
    paths = get_paths()
    assert load_settings(paths) == Settings()
    update_settings(paths, context_size=8192, offline=True)
    raw = json.loads(paths.settings_file.read_text())
    assert raw["version"] == SETTINGS_VERSION
    settings = load_settings(paths)
    assert settings.context_size == 8192 and settings.offline


def test_damaged_settings_are_kept_aside_not_lost() -> None:
    paths = get_paths().ensure()
    paths.settings_file.write_text("{ not json")
    assert load_settings(paths) == Settings()
    assert paths.settings_file.with_suffix(".json.broken").read_text() == "{ not json"


def test_unknown_keys_are_preserved() -> None:
    paths = get_paths().ensure()
    paths.settings_file.write_text(json.dumps({"version": 1, "threads": 3, "future_key": 1}))
    settings = load_settings(paths)
    assert settings.threads == 3 and settings.extra == {"future_key": 1}
