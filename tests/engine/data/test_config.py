"""Paths and settings: HEARTH_HOME, platform folders, versioned settings that survive damage."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from engine.data.config import (
    SETTINGS_VERSION,
    Settings,
    get_paths,
    load_settings,
    save_settings,
    update_settings,
    validate_settings,
)


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


def broken_copies(path: Path) -> list[Path]:
    """The copies of ``path`` set aside as ``<name>.broken-<timestamp>``."""
    return sorted(path.parent.glob(path.name + ".broken-*"))


def test_damaged_settings_are_kept_aside_not_lost() -> None:
    paths = get_paths().ensure()
    paths.settings_file.write_text("{ not json")
    # Offline mode fails closed: the damaged file may have had it on.
    assert load_settings(paths) == Settings(offline=True)
    [kept] = broken_copies(paths.settings_file)
    assert kept.read_text() == "{ not json"
    assert load_settings(paths) == Settings(offline=True)  # the repaired file, read again
    assert broken_copies(paths.settings_file) == [kept]


def test_unknown_keys_are_preserved() -> None:
    paths = get_paths().ensure()
    paths.settings_file.write_text(json.dumps({"version": 1, "threads": 1, "future_key": 1}))
    settings = load_settings(paths)
    assert settings.threads == 1 and settings.extra == {"future_key": 1}


def test_a_version_1_file_migrates_and_keeps_every_value() -> None:
    paths = get_paths().ensure()
    v1 = {
        "version": 1,
        "backend": "llamacpp",
        "gpu_offload": "12",
        "context_size": 8192,
        "threads": 1,
        "offline": True,
        "models_dir": "/srv/models",
        "context_policy": "stop",
        "last_model": "bartowski/x/x.gguf",
        "extra": {"old_key": 1},
    }
    paths.settings_file.write_text(json.dumps(v1))
    settings = load_settings(paths)
    assert settings == Settings(
        backend="llamacpp",
        gpu_offload="12",
        context_size=8192,
        threads=1,
        offline=True,
        models_dir="/srv/models",
        context_policy="stop",
        last_model="bartowski/x/x.gguf",
        theme="system",
        language="system",
        extra={"old_key": 1},
    )
    assert settings.version == SETTINGS_VERSION == 2
    # Saving writes the new version, with the new fields, and reads back the same.
    update_settings(paths, theme="dark")
    raw = json.loads(paths.settings_file.read_text())
    assert raw["version"] == 2 and raw["theme"] == "dark" and raw["language"] == "system"
    assert load_settings(paths) == replace(settings, theme="dark")


def test_new_fields_round_trip() -> None:
    paths = get_paths()
    wanted = Settings(theme="light", language="zh_CN")
    save_settings(paths, wanted)
    assert load_settings(paths) == wanted


def test_an_invalid_value_falls_back_to_its_default_and_the_rest_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = get_paths().ensure()
    raw = {
        "version": 2,
        "theme": "purple",
        "gpu_offload": "abc",
        "threads": -4,
        "context_size": "big",
        "offline": "yes",
        "language": "fr",
        "context_policy": "stop",
        "models_dir": "/data/models",
    }
    paths.settings_file.write_text(json.dumps(raw))
    with caplog.at_level(logging.WARNING, logger="engine.config"):
        settings = load_settings(paths)
    # "offline": "yes" is not a boolean: offline mode stays on rather than turning off.
    assert settings == Settings(context_policy="stop", models_dir="/data/models", offline=True)
    warned = caplog.text
    for name in ("theme", "gpu_offload", "threads", "context_size", "offline", "language"):
        assert name in warned
    # The file as it was is kept aside; the repaired one keeps the user's valid values.
    [kept] = broken_copies(paths.settings_file)
    assert json.loads(kept.read_text()) == raw
    assert load_settings(paths) == settings


def test_wrong_types_and_a_bad_version_do_not_crash() -> None:
    paths = get_paths().ensure()
    paths.settings_file.write_text(
        json.dumps({"version": "two", "threads": True, "extra": [1, 2], "theme": "dark"})
    )
    assert load_settings(paths) == Settings(theme="dark")


def test_gpu_offload_spellings_the_plan_reads_are_kept() -> None:
    paths = get_paths().ensure()
    for stored, expected in (
        (20, "20"),
        ("Off", "off"),
        ("cpu", "off"),
        ("-1", "-1"),
        ("", "auto"),
    ):
        paths.settings_file.write_text(json.dumps({"version": 2, "gpu_offload": stored}))
        assert load_settings(paths).gpu_offload == expected


def test_validate_settings_names_each_bad_field() -> None:
    assert validate_settings(Settings()) == []
    problems = validate_settings(Settings(theme="purple", threads=-1, gpu_offload="-2"))
    assert [p.split(" ", 1)[0] for p in problems] == ["gpu_offload", "threads", "theme"]


def test_the_document_size_limit_is_checked_and_a_bad_stored_value_falls_back() -> None:
    paths = get_paths()
    assert Settings().max_document_mb == 200
    assert validate_settings(Settings(max_document_mb=50)) == []
    assert any("max_document_mb" in p for p in validate_settings(Settings(max_document_mb=0)))
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(json.dumps({"version": 2, "max_document_mb": -5, "threads": 1}))
    loaded = load_settings(paths)
    assert (loaded.max_document_mb, loaded.threads) == (200, 1)
