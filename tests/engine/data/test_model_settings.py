"""Per-model settings: stored by the file's content, checked, and never lost to a bad file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.data.config import get_paths
from engine.data.model_settings import (
    ModelSettings,
    ModelSettingsStore,
    fingerprint,
    parse_value,
)
from engine.errors import UsageError
from engine.runtime.model_defaults import ModelDefaults, gguf_recommendations, model_defaults
from engine.types import SamplingParams
from tests.engine.gguf_factory import F32, llama_metadata, write_gguf


def _model(path: Path, **extra: object) -> Path:
    return write_gguf(path, llama_metadata(**extra), [("token_embd.weight", F32, (64, 32))])


def test_settings_follow_the_file_when_it_is_renamed_and_moved(tmp_path: Path) -> None:
    model = _model(tmp_path / "a.gguf")
    store = ModelSettingsStore.for_paths(get_paths())
    store.update(model, name="a", temperature=0.7, context_size=2048, system_prompt="Be brief.")

    moved = tmp_path / "elsewhere" / "renamed.gguf"
    moved.parent.mkdir()
    shutil.move(model, moved)

    settings = store.get_for_file(moved)
    assert settings.temperature == 0.7
    assert settings.context_size == 2048
    assert settings.system_prompt == "Be brief."


def test_two_different_models_do_not_share_settings(tmp_path: Path) -> None:
    a = _model(tmp_path / "a.gguf")
    b = _model(tmp_path / "b.gguf", block_count=3)
    assert fingerprint(a) != fingerprint(b)
    store = ModelSettingsStore.for_paths(get_paths())
    store.update(a, temperature=1.2)
    assert store.get_for_file(b).empty


def test_a_copy_with_other_weights_is_another_model(tmp_path: Path) -> None:
    # Same header, different weights (a fine-tune of the same shape): the samples differ.
    a = _model(tmp_path / "a.gguf")
    b = tmp_path / "b.gguf"
    data = bytearray(a.read_bytes())
    data[-1] ^= 0xFF
    b.write_bytes(bytes(data))
    assert fingerprint(a) != fingerprint(b)


def test_invalid_values_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    model = _model(tmp_path / "a.gguf")
    store = ModelSettingsStore.for_paths(get_paths())
    with pytest.raises(UsageError, match="temperature"):
        store.update(model, temperature=9.0)
    with pytest.raises(UsageError, match="threads"):
        store.update(model, threads=100_000)
    with pytest.raises(UsageError, match="chat_template"):
        store.update(model, chat_template="")
    assert not store.path.exists()


def test_command_line_values_are_parsed_and_default_clears() -> None:
    assert parse_value("temperature", "0.5") == 0.5
    assert parse_value("top_k", "20") == 20
    assert parse_value("thinking", "off") is False
    assert parse_value("gpu_offload", "off") == "off"
    assert parse_value("chat_template", "chatml") == "chatml"
    assert parse_value("temperature", "default") is None
    with pytest.raises(UsageError, match="not a per-model setting"):
        parse_value("colour", "blue")
    with pytest.raises(UsageError, match="max_tokens"):
        parse_value("max_tokens", "lots")


def test_clearing_every_value_removes_the_entry(tmp_path: Path) -> None:
    model = _model(tmp_path / "a.gguf")
    store = ModelSettingsStore.for_paths(get_paths())
    store.update(model, temperature=0.9)
    store.update(model, temperature=None)
    assert json.loads(store.path.read_text())["models"] == {}
    store.update(model, top_p=0.5)
    store.reset(model)
    assert store.get_for_file(model).empty


def test_a_damaged_file_is_set_aside_and_reads_as_no_settings(tmp_path: Path) -> None:
    model = _model(tmp_path / "a.gguf")
    store = ModelSettingsStore.for_paths(get_paths())
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    assert store.get_for_file(model).empty
    assert list(store.path.parent.glob("model-settings.json.broken-*"))
    # A bad value in a good file loses only that value.
    key = fingerprint(model)
    store.path.write_text(
        json.dumps(
            {"version": 1, "models": {key: {"settings": {"temperature": "hot", "top_k": 5}}}}
        )
    )
    assert store.get_for_file(model) == ModelSettings(top_k=5)


def test_a_newer_versions_file_is_read_but_never_rewritten(tmp_path: Path) -> None:
    model = _model(tmp_path / "a.gguf")
    store = ModelSettingsStore.for_paths(get_paths())
    store.path.parent.mkdir(parents=True)
    text = json.dumps(
        {
            "version": 99,
            "future": True,
            "models": {fingerprint(model): {"settings": {"top_k": 7}}},
        }
    )
    store.path.write_text(text)
    assert store.get_for_file(model).top_k == 7
    with pytest.raises(UsageError, match="newer version"):
        store.update(model, top_k=8)
    assert store.path.read_text() == text


def test_the_models_own_value_beats_its_recommendation_which_beats_the_default(
    tmp_path: Path,
) -> None:
    model = _model(
        tmp_path / "a.gguf",
        **{
            "general.sampling.temp": 0.6,
            "general.sampling.top_k": 20,
            "general.sampling.top_p": 7.5,  # out of range: ignored
        },
    )
    paths = get_paths()
    defaults = model_defaults(paths, model)
    assert defaults.recommended == {"temperature": pytest.approx(0.6), "top_k": 20}
    assert defaults.source("temperature") == "gguf"
    assert defaults.source("top_p") == "default"

    ModelSettingsStore.for_paths(paths).update(model, temperature=0.1, system_prompt="Short.")
    defaults = model_defaults(paths, model)
    assert defaults.source("temperature") == "model"
    base = SamplingParams(temperature=0.2, top_k=40, top_p=0.9)
    applied = defaults.sampling(base)
    assert applied.temperature == 0.1  # the model's own
    assert applied.top_k == 20  # the GGUF's recommendation
    assert applied.top_p == 0.9  # the default
    assert defaults.system_prompt("Global.") == "Short."
    assert defaults.thinking(True) is True


def test_a_model_with_no_settings_changes_nothing() -> None:
    base = SamplingParams(temperature=0.3)
    assert ModelDefaults().sampling(base) is base
    assert gguf_recommendations({}) == {}
