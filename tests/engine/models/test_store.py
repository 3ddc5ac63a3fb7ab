"""The models folder: the starter model on first run, resolving models, unusable files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.data.config import get_paths
from engine.errors import ModelFileError, ModelNotFound, UsageError
from engine.models.starter import starter_id
from engine.models.store import ModelStore
from tests.engine import gguf_factory as gf


def test_empty_home_registers_the_starter_model_as_a_link(hearth_home: Path) -> None:
    store = ModelStore(get_paths())
    assert not store.root.exists()
    models = store.list()
    assert [m.id for m in models] == [starter_id()]
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
    assert store.resolve(None).id == starter_id()
    assert store.resolve("SmolLM2-135M-Instruct.Q4_1").id == starter_id()
    assert store.resolve("smollm2-135m").id == starter_id()
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
        from engine.runtime.loading import resolve_model

        resolve_model("someone/broken-GGUF/broken")


def test_no_starter_wheel_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_STARTER_MODEL", os.devnull + ".missing")
    store = ModelStore(get_paths())
    assert store.ensure_starter() is None
    assert store.list() == []


def _plant(path: Path, data: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gf.tiny_llama_gguf() if data is None else data)
    return path


def test_import_links_the_users_file_in_place(tmp_path: Path) -> None:
    user_file = _plant(tmp_path / "Downloads" / "my-model.Q8_0.gguf")
    before = user_file.stat()
    store = ModelStore(get_paths())
    model = store.import_model(user_file)
    assert model.id == "imported/my-model.Q8_0" and model.source == "imported"
    assert model.path == user_file and model.info is not None and model.error is None
    after = user_file.stat()
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    copies = [p for p in store.root.rglob("*") if p.is_file() and p.stat().st_ino == before.st_ino]
    assert copies == [] and not list(store.root.rglob("my-model*")), "nothing copied or linked"
    fresh = ModelStore(get_paths())  # the registry persists
    assert model.id in [m.id for m in fresh.list()]
    assert fresh.resolve("my-model").path == user_file
    from engine.runtime.loading import resolve_model

    loaded = resolve_model(model.id)
    assert loaded.path == user_file and loaded.info is not None
    assert resolve_model(str(user_file)).id == model.id, "a path finds the import too"


def test_importing_the_same_file_twice_is_idempotent(tmp_path: Path) -> None:
    user_file = _plant(tmp_path / "models" / "a.gguf")
    link = tmp_path / "elsewhere.gguf"
    link.symlink_to(user_file)
    store = ModelStore(get_paths())
    first = store.import_model(user_file)
    assert store.import_model(user_file).id == first.id
    assert store.import_model(link).id == first.id, "the same file through a link"
    other = store.import_model(_plant(tmp_path / "other" / "a.gguf"))
    assert other.id == "imported/a-2", "a second file of the same name gets its own id"
    assert [m.id for m in store.list() if m.source == "imported"] == [first.id, other.id]


def test_a_moved_import_is_listed_as_gone_not_a_crash(tmp_path: Path) -> None:
    user_file = _plant(tmp_path / "m.gguf")
    store = ModelStore(get_paths())
    model = store.import_model(user_file)
    user_file.rename(tmp_path / "moved.gguf")
    gone = next(m for m in store.list() if m.id == model.id)
    assert gone.info is None and gone.error and "is gone" in gone.error
    assert str(user_file) in gone.error
    from engine.runtime.loading import resolve_model

    with pytest.raises(ModelFileError, match="is gone"):
        resolve_model(model.id)
    store.remove(model.id)
    assert model.id not in [m.id for m in store.list()]


def test_import_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    store = ModelStore(get_paths())
    with pytest.raises(ModelFileError):
        store.import_model(_plant(tmp_path / "notes.gguf", b"just some text"))
    with pytest.raises(ModelNotFound):
        store.import_model(tmp_path / "missing.gguf")
    with pytest.raises(UsageError, match="folder"):
        store.import_model(tmp_path)
    with pytest.raises(UsageError, match=r"first part, big-00001-of-00002\.gguf"):
        store.import_model(_plant(tmp_path / "big-00002-of-00002.gguf"))
    assert not store.imports_file.exists(), "nothing was recorded"


def test_removing_a_download_deletes_all_parts_sidecars_and_empty_folders() -> None:
    store = ModelStore(get_paths())
    folder = store.root / "org" / "Big-GGUF" / "Q4_K_M"
    first = _plant(folder / "big-00001-of-00002.gguf")
    second = _plant(folder / "big-00002-of-00002.gguf", b"\0" * 64)
    sidecars = [
        _plant(folder / "big-00001-of-00002.gguf.download.json", b"{}"),
        _plant(folder / "big-00002-of-00002.gguf.download.json", b"{}"),
    ]
    keep = _plant(store.root / "org" / "Other-GGUF" / "o.gguf")
    store.remove("org/Big-GGUF/Q4_K_M/big-00001-of-00002")
    for path in (first, second, *sidecars):
        assert not path.exists()
    assert not (store.root / "org" / "Big-GGUF").exists(), "emptied folders removed"
    assert keep.exists() and store.root.is_dir()


def test_unlinking_an_import_leaves_the_users_file(tmp_path: Path) -> None:
    user_file = _plant(tmp_path / "mine.gguf")
    store = ModelStore(get_paths())
    model = store.import_model(user_file)
    store.remove(model.id)
    assert user_file.read_bytes() == gf.tiny_llama_gguf()
    assert model.id not in [m.id for m in store.list()]
    with pytest.raises(ModelNotFound):
        store.remove(model.id)


def test_remove_refuses_the_starter_and_hand_placed_files_unless_asked() -> None:
    store = ModelStore(get_paths())
    with pytest.raises(UsageError, match="starter model"):
        store.remove(starter_id())
    assert store.resolve(None).info is not None
    hand = _plant(store.root / "me" / "mine.gguf")
    with pytest.raises(UsageError, match="--delete-files"):
        store.remove("me/mine")
    assert hand.exists()
    with pytest.raises(ModelNotFound, match="exact id"):
        store.remove("mine")  # a fragment is not enough to delete
    store.remove("me/mine", delete_files=True)
    assert not hand.exists() and not (store.root / "me").exists()


def test_a_broken_import_registry_is_set_aside(tmp_path: Path) -> None:
    store = ModelStore(get_paths())
    store.root.mkdir(parents=True)
    store.imports_file.write_text("{not json", encoding="utf-8")
    assert [m.source for m in store.list()] == ["starter"]
    [kept] = store.imports_file.parent.glob("imports.json.broken-*")
    assert kept.read_text(encoding="utf-8") == "{not json"
    assert store.import_model(_plant(tmp_path / "x.gguf")).id == "imported/x"
