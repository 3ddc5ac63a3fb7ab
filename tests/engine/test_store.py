"""The models folder: the starter model on first run, resolving models, unusable files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config import get_paths
from engine.errors import ModelFileError, ModelNotFound
from engine.store import STARTER_ID, ModelStore
from tests.engine import gguf_factory as gf


def test_empty_home_registers_the_starter_model_as_a_link(hearth_home: Path) -> None:
    store = ModelStore(get_paths())
    assert not store.root.exists()
    models = store.list()
    assert [m.id for m in models] == [STARTER_ID]
    starter = models[0]
    assert starter.source == "starter"
    assert starter.path.is_relative_to(hearth_home)
    assert starter.path.is_symlink(), "the 98 MB starter model is linked, not copied"
    assert starter.info is not None and starter.info.architecture == "llama"
    assert starter.size > 90_000_000


def test_starter_link_is_repaired_when_the_wheel_moves(tmp_path: Path) -> None:
    store = ModelStore(get_paths())
    path = store.ensure_starter()
    assert path is not None
    path.unlink()
    path.symlink_to(tmp_path / "gone.gguf")  # a dangling link, as after a new venv
    assert store.ensure_starter() == path and path.exists()


def test_resolve_by_id_name_fragment_and_path(smollm2: Path) -> None:
    store = ModelStore(get_paths())
    assert store.resolve(None).id == STARTER_ID
    assert store.resolve("SmolLM2-135M-Instruct.Q4_1").id == STARTER_ID
    assert store.resolve("smollm2-135m").id == STARTER_ID
    outside = store.resolve(str(smollm2))
    assert outside.source == "imported" and outside.info is not None
    with pytest.raises(ModelNotFound, match="hearth-cli models list"):
        store.resolve("llama-70b")


def test_unusable_and_split_files_in_the_folder(tmp_path: Path) -> None:
    store = ModelStore(get_paths())
    folder = store.root / "someone" / "broken-GGUF"
    folder.mkdir(parents=True)
    (folder / "broken.gguf").write_bytes(b"not a model at all")
    tiny = gf.tiny_llama_gguf()
    (folder / "tiny-00001-of-00002.gguf").write_bytes(tiny)
    (folder / "tiny-00002-of-00002.gguf").write_bytes(b"\0" * 10)
    models = {m.id: m for m in store.list()}
    broken = models["someone/broken-GGUF/broken"]
    assert broken.info is None and broken.error and "GGUF" in broken.error
    split = models["someone/broken-GGUF/tiny-00001-of-00002"]
    assert split.size == len(tiny) + 10
    assert "someone/broken-GGUF/tiny-00002-of-00002" not in models
    with pytest.raises(ModelFileError):
        from engine.loading import resolve_model

        resolve_model("someone/broken-GGUF/broken")


def test_no_starter_wheel_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_STARTER_MODEL", os.devnull + ".missing")
    store = ModelStore(get_paths())
    assert store.ensure_starter() is None
    assert store.list() == []
