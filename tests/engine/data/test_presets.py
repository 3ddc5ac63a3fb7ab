"""System prompt presets and sampling settings: stored as versioned JSON, repaired, never lost."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from engine.data.config import get_paths
from engine.data.presets import (
    BUILTIN_PRESETS,
    CHAT_OPTIONS_VERSION,
    DEFAULT_PRESET,
    ChatOptions,
    ChatOptionsStore,
    SystemPreset,
    builtin_prompt,
)
from engine.errors import UsageError
from engine.types import SamplingParams


@pytest.fixture
def store() -> ChatOptionsStore:
    return ChatOptionsStore.for_paths(get_paths())


def broken_copies(store: ChatOptionsStore) -> list[Path]:
    """The copies of the store's file set aside as ``<name>.broken-<timestamp>``."""
    return sorted(store.path.parent.glob(store.path.name + ".broken-*"))


def test_builtin_presets_are_the_promised_ones_with_a_real_default() -> None:
    names = [p.name for p in BUILTIN_PRESETS]
    assert names == [
        DEFAULT_PRESET,
        "Concise",
        "Explain like a teacher",
        "Translator (English ↔ 中文)",
        "Code helper",
        "Writing editor",
    ]
    assert all(p.builtin and 20 < len(p.prompt) < 300 for p in BUILTIN_PRESETS)
    options = ChatOptions.defaults()
    assert options == ChatOptions()
    assert options.selected == DEFAULT_PRESET
    assert options.system_prompt == builtin_prompt(DEFAULT_PRESET)
    assert options.sampling == SamplingParams()


def test_a_missing_file_gives_defaults_and_the_file_lives_in_the_config_folder(
    store: ChatOptionsStore, hearth_home: Path
) -> None:
    assert store.path == get_paths().config_dir / "chat-options.json"
    assert store.path.is_relative_to(hearth_home)
    assert store.load() == ChatOptions()


def test_round_trip_keeps_presets_selection_draft_and_sampling(store: ChatOptionsStore) -> None:
    sampling = SamplingParams(
        temperature=0.3, top_p=0.9, top_k=20, min_p=0.1, seed=42, max_tokens=256, stop=("###",)
    )
    options = (
        ChatOptions()
        .with_preset_saved("Concise", "Answer in five words.")
        .with_preset_added("Pirate", "Talk like a pirate.")
        .with_prompt("Talk like a pirate, always.")
        .with_sampling(sampling)
    )
    store.save(options)

    raw = json.loads(store.path.read_text(encoding="utf-8"))
    assert raw["version"] == CHAT_OPTIONS_VERSION
    assert raw["selected"] == "Pirate"
    assert raw["sampling"] == sampling.to_dict()
    # Only what the user changed is stored: the override and the user's own preset.
    assert raw["presets"] == [
        {"name": "Concise", "prompt": "Answer in five words.", "builtin": True},
        {"name": "Pirate", "prompt": "Talk like a pirate.", "builtin": False},
    ]
    assert not list(store.path.parent.glob("*.tmp"))

    loaded = store.load()
    assert loaded == options
    assert loaded.system_prompt == "Talk like a pirate, always."
    assert loaded.preset("Concise") == SystemPreset("Concise", "Answer in five words.", True)


def test_a_custom_prompt_survives_a_round_trip(store: ChatOptionsStore) -> None:
    options = ChatOptions().with_custom_prompt("Only answer in haiku.")
    store.save(options)
    loaded = store.load()
    assert loaded.selected == "" and loaded.selected_preset is None
    assert loaded.system_prompt == "Only answer in haiku."


def test_a_broken_file_is_kept_aside_and_defaults_are_used(
    store: ChatOptionsStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text('{"version": 1, "presets": [', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="engine.presets"):
        assert store.load() == ChatOptions()
    [kept] = broken_copies(store)
    assert kept.read_text(encoding="utf-8") == '{"version": 1, "presets": ['
    assert not store.path.exists()
    assert "unreadable" in caplog.text
    # Saving afterwards works and does not touch the kept copy.
    store.save(ChatOptions().with_selected("Concise"))
    assert store.load().selected == "Concise"
    assert broken_copies(store) == [kept]


@pytest.mark.parametrize(
    "content",
    [
        "[1, 2, 3]",
        json.dumps({"version": 1, "presets": {"name": "x"}}),
        json.dumps({"version": 1, "sampling": [0.7]}),
        json.dumps({"version": "one"}),
    ],
)
def test_a_file_of_the_wrong_shape_is_kept_aside(store: ChatOptionsStore, content: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content, encoding="utf-8")
    assert store.load() == ChatOptions()
    [kept] = broken_copies(store)
    assert kept.read_text(encoding="utf-8") == content


def test_unusable_preset_entries_are_skipped_and_a_copy_is_kept(
    store: ChatOptionsStore,
) -> None:
    content = json.dumps(
        {
            "version": 1,
            "presets": [
                {"name": "Good", "prompt": "Be good."},
                {"name": "", "prompt": "nameless"},
                {"prompt": "no name"},
                "not an entry",
                {"name": "good", "prompt": "a second preset with the same name"},
            ],
            "selected": "Good",
        }
    )
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content, encoding="utf-8")
    options = store.load()
    assert [p.name for p in options.presets if not p.builtin] == ["Good"]
    assert options.system_prompt == "Be good."
    [kept] = broken_copies(store)
    assert kept.read_text(encoding="utf-8") == content
    assert store.path.exists()


def test_invalid_sampling_values_fall_back_field_by_field(
    store: ChatOptionsStore, caplog: pytest.LogCaptureFixture
) -> None:
    defaults = SamplingParams()
    sampling = {
        "temperature": 7.5,
        "top_p": 0.0,
        "top_k": -3,
        "min_p": 1.5,
        "repeat_penalty": 0,
        "max_tokens": 0,
        "seed": -2,
        "repeat_last_n": 32,
        "stop": ["END"],
        "ignore_eos": False,
    }
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "sampling": sampling}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="engine.presets"):
        options = store.load()
    # Every bad value is the default; the good ones are kept.
    assert options.sampling == SamplingParams(repeat_last_n=32, stop=("END",))
    for name in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed"):
        assert f"{name}=" in caplog.text
    assert options.sampling.temperature == defaults.temperature
    assert not broken_copies(store)  # a bad value is repaired, not a broken file


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", -0.1),
        ("temperature", "hot"),
        ("top_p", 1.01),
        ("min_p", -0.01),
        ("repeat_penalty", -1.0),
        ("max_tokens", 12.5),
        ("seed", True),
        ("top_k", None),
    ],
)
def test_each_bad_value_alone_falls_back(store: ChatOptionsStore, name: str, value: object) -> None:
    good = {"temperature": 1.5, "top_p": 0.5, "top_k": 5, "min_p": 0.2, "repeat_penalty": 1.3}
    good.update({"max_tokens": 99, "seed": 3})
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        json.dumps({"version": 1, "sampling": {**good, name: value}}), encoding="utf-8"
    )
    sampling = store.load().sampling
    assert getattr(sampling, name) == getattr(SamplingParams(), name)
    for other, expected in good.items():
        if other != name:
            assert getattr(sampling, other) == expected


def test_edge_values_in_range_are_kept(store: ChatOptionsStore) -> None:
    edges = SamplingParams(
        temperature=0.0, top_p=1.0, top_k=0, min_p=0.0, repeat_penalty=0.01, max_tokens=1, seed=-1
    )
    store.save(ChatOptions().with_sampling(edges))
    assert store.load().sampling == edges


def test_a_builtin_preset_can_be_overridden_and_restored(store: ChatOptionsStore) -> None:
    original = builtin_prompt("Code helper")
    options = ChatOptions().with_selected("Code helper").with_prompt("Only write Rust.")
    assert options.draft == "Only write Rust." and not options.is_overridden("Code helper")

    options = options.with_preset_saved("Code helper", options.system_prompt)
    assert options.draft is None and options.is_overridden("Code helper")
    store.save(options)
    options = store.load()
    assert options.system_prompt == "Only write Rust."
    assert options.is_overridden("Code helper")

    options = options.with_preset_restored("Code helper")
    assert options.system_prompt == original and not options.is_overridden("Code helper")
    store.save(options)
    assert json.loads(store.path.read_text(encoding="utf-8"))["presets"] == []
    assert store.load().preset("Code helper") == SystemPreset("Code helper", original, True)


def test_builtin_presets_cannot_be_deleted_or_renamed() -> None:
    options = ChatOptions()
    with pytest.raises(UsageError, match="built-in"):
        options.with_preset_deleted("Concise")
    with pytest.raises(UsageError, match="built-in"):
        options.with_preset_renamed("Concise", "Short")
    with pytest.raises(UsageError, match="not a built-in"):
        options.with_preset_added("Mine", "x").with_preset_restored("Mine")


def test_user_presets_can_be_added_renamed_and_deleted(store: ChatOptionsStore) -> None:
    options = ChatOptions().with_preset_added("  Poet ", "Answer in rhyme.")
    assert options.selected == "Poet"  # trimmed, and selected
    assert options.system_prompt == "Answer in rhyme."

    options = options.with_preset_renamed("Poet", "Rhymer")
    assert options.selected == "Rhymer" and options.preset("Poet") is None
    store.save(options)
    options = store.load()
    assert options.preset("Rhymer") == SystemPreset("Rhymer", "Answer in rhyme.")
    assert options.with_preset_renamed("Rhymer", "RHYMER").selected == "RHYMER"

    options = options.with_preset_deleted("Rhymer")
    assert options.preset("Rhymer") is None
    assert options.selected == DEFAULT_PRESET  # the deleted preset was selected
    store.save(options)
    assert store.load() == ChatOptions()


@pytest.mark.parametrize("name", ["", "   ", "concise", "Writing Editor", "x" * 61])
def test_empty_duplicate_or_overlong_names_are_refused(name: str) -> None:
    options = ChatOptions().with_preset_added("Mine", "x")
    with pytest.raises(UsageError):
        options.with_preset_added(name, "y")
    with pytest.raises(UsageError):
        options.with_preset_renamed("Mine", name)


def test_a_missing_selected_preset_falls_back_to_the_default(store: ChatOptionsStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "selected": "Gone"}), encoding="utf-8")
    assert store.load().selected == DEFAULT_PRESET


def test_concurrent_saves_leave_a_whole_file(store: ChatOptionsStore) -> None:
    variants = [ChatOptions().with_custom_prompt(str(i) * 5000) for i in range(8)]
    threads = [threading.Thread(target=store.save, args=(v,)) for v in variants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.load() in variants
    assert not list(store.path.parent.glob("*.tmp"))
