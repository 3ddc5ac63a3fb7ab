"""The saved download list and other apps' manifests: a damaged file is skipped, never fatal."""

from __future__ import annotations

from pathlib import Path

from engine.data.config import Paths, Settings, get_paths
from engine.models.discover import discover
from engine.models.downloads import STATE_FILE, DownloadManager
from tests.engine.models.test_discover import _fake_ollama


def _manager(paths: Paths) -> DownloadManager:
    return DownloadManager(paths, Settings(), on_progress=lambda _progress: None)


# Valid JSON nested far past Python's recursion limit: json.loads raised RecursionError.
NESTED = "[" * 100_000 + "]" * 100_000


def test_a_deeply_nested_download_list_is_set_aside_and_the_next_start_is_clean() -> None:
    paths = get_paths().ensure()
    state = paths.data_dir / STATE_FILE
    state.write_text(NESTED, encoding="utf-8")

    assert _manager(paths).restore() == []
    assert not state.exists()
    [kept] = paths.data_dir.glob(f"{STATE_FILE}.broken-*")
    assert kept.read_text(encoding="utf-8") == NESTED  # nothing lost: kept for a look
    assert _manager(paths).restore() == []


def test_an_oversized_download_list_is_not_read_whole() -> None:
    paths = get_paths().ensure()
    state = paths.data_dir / STATE_FILE
    with state.open("wb") as out:  # sparse: 8 GiB on paper, nothing on disk
        out.truncate(8 * 1024**3)
    assert _manager(paths).restore() == []
    assert list(paths.data_dir.glob(f"{STATE_FILE}.broken-*"))


def test_a_deeply_nested_ollama_manifest_is_skipped_and_the_others_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    models = home / ".ollama" / "models"
    _fake_ollama(models)
    deep = models / "manifests" / "registry.ollama.ai" / "library" / "deep" / "latest"
    deep.parent.mkdir(parents=True)
    deep.write_text(NESTED, encoding="utf-8")

    found = discover(home=home, environ={})
    names = {m.name for m in found if m.source == "ollama"}
    assert "qwen2.5:0.5b" in names
    assert not any("deep" in name for name in names)
