"""Discovering models other apps downloaded, and the CLI's models import/discover/rm."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.data.config import get_paths
from engine.models.discover import discover
from engine.models.starter import starter_id
from engine.models.store import ModelStore
from tests.engine import gguf_factory as gf

TINY = gf.tiny_llama_gguf()


def _plant(path: Path, data: bytes = TINY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _fake_hf_cache(hub: Path) -> Path:
    """A hub cache laid out as huggingface_hub does: snapshot files link to blobs."""
    repo = hub / "models--bartowski--Tiny-Chat-GGUF"
    blob = _plant(repo / "blobs" / hashlib.sha256(TINY).hexdigest())
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "Tiny-Chat-Q4_K_M.gguf").symlink_to(blob)
    _plant(snapshot / "README.md", b"# Tiny")
    _plant(snapshot / "fake.gguf", b"<html>rate limited</html>")  # not GGUF
    return snapshot / "Tiny-Chat-Q4_K_M.gguf"


def _fake_ollama(models: Path) -> Path:
    digest = hashlib.sha256(TINY + b"ollama").hexdigest()
    blob = _plant(models / "blobs" / f"sha256-{digest}", TINY + b"ollama")
    manifest = models / "manifests" / "registry.ollama.ai" / "library" / "qwen2.5" / "0.5b"
    manifest.parent.mkdir(parents=True)
    layers = [
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "0" * 64},
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"},
    ]
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}), encoding="utf-8")
    # A manifest whose model layer is not GGUF, and one that is not JSON at all.
    other = hashlib.sha256(b"x").hexdigest()
    _plant(models / "blobs" / f"sha256-{other}", b"safetensors here")
    bad = manifest.parent.parent / "notgguf" / "latest"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"layers": [{**layers[1], "digest": f"sha256:{other}"}]}))
    _plant(manifest.parent.parent / "garbage" / "latest", b"{{{")
    return blob


@pytest.fixture
def fake_home(tmp_path: Path) -> Path:
    """A home folder where every supported app has left models behind."""
    home = tmp_path / "home"
    _fake_hf_cache(home / ".cache" / "huggingface" / "hub")
    lms = home / ".lmstudio" / "models" / "lmstudio-community" / "Tiny-GGUF"
    _plant(lms / "Tiny-Q8_0-00001-of-00002.gguf")
    _plant(lms / "Tiny-Q8_0-00002-of-00002.gguf", b"\0" * 100)
    _plant(lms / "mmproj-Tiny-F16.gguf")  # a vision projector, not a model
    (lms / "loop").symlink_to(lms.parent, target_is_directory=True)  # a symlink loop
    _plant(home / ".local" / "share" / "nomic.ai" / "GPT4All" / "orca-mini-3b.gguf")
    _plant(home / ".local" / "share" / "nomic.ai" / "GPT4All" / "notes.txt", b"hello")
    _plant(home / "jan" / "models" / "tinyllama-1.1b" / "model.gguf")
    _fake_ollama(home / ".ollama" / "models")
    return home


def test_discovers_models_of_every_app_and_nothing_else(fake_home: Path) -> None:
    found = discover(home=fake_home, environ={})
    assert sorted((m.source, m.name) for m in found) == [
        ("gpt4all", "orca-mini-3b"),
        ("huggingface", "bartowski/Tiny-Chat-GGUF/Tiny-Chat-Q4_K_M"),
        ("jan", "tinyllama-1.1b/model"),
        ("lmstudio", "lmstudio-community/Tiny-GGUF/Tiny-Q8_0-00001-of-00002"),
        ("ollama", "qwen2.5:0.5b"),
    ]
    by_source = {m.source: m for m in found}
    assert by_source["lmstudio"].size == len(TINY) + 100, "all parts of a split model"
    assert by_source["ollama"].path.name.startswith("sha256-")
    assert by_source["huggingface"].path.parent.parent.name == "snapshots"
    assert not any(m.already_imported for m in found)


def test_environment_overrides_and_the_same_file_listed_once(
    fake_home: Path, tmp_path: Path
) -> None:
    hub = tmp_path / "custom-hf"
    _fake_hf_cache(hub / "hub")
    ollama = tmp_path / "ollama-store"
    _fake_ollama(ollama)
    env = {"HF_HOME": str(hub), "HF_HUB_CACHE": str(hub / "hub"), "OLLAMA_MODELS": str(ollama)}
    found = discover(home=tmp_path / "empty-home", environ=env)
    assert [(m.source, m.path.is_relative_to(tmp_path)) for m in found] == [
        ("huggingface", True),
        ("ollama", True),
    ]
    assert found[1].path.is_relative_to(ollama)


def test_discovered_models_import_in_one_step_and_show_as_imported(fake_home: Path) -> None:
    store = ModelStore(get_paths())
    for model in discover(home=fake_home, environ={}, store=store):
        entry = store.import_model(model.path, name=model.name)
        assert entry.info is not None and entry.path == model.path
    ids = {m.id for m in store.list() if m.source == "imported"}
    assert "imported/qwen2.5-0.5b" in ids
    assert "imported/bartowski/Tiny-Chat-GGUF/Tiny-Chat-Q4_K_M" in ids
    again = discover(home=fake_home, environ={}, store=store)
    assert again and all(m.already_imported for m in again)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions")
def test_unreadable_folders_are_skipped_quietly(fake_home: Path) -> None:
    locked = fake_home / ".lmstudio" / "models" / "locked"
    _plant(locked / "secret.gguf")
    locked.chmod(0)
    try:
        names = [m.name for m in discover(home=fake_home, environ={})]
    finally:
        locked.chmod(0o755)
    assert "qwen2.5:0.5b" in names and not any("secret" in n for n in names)


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "USERPROFILE": str(home)}
    for name in ("HF_HUB_CACHE", "OLLAMA_MODELS", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_discover_import_and_rm(fake_home: Path, tmp_path: Path) -> None:
    run = cli(fake_home, "models", "discover", "--json")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert {m["source"] for m in found} == {"huggingface", "lmstudio", "gpt4all", "jan", "ollama"}
    assert not any(m["already_imported"] for m in found)

    user_file = _plant(tmp_path / "Downloads" / "mine.Q4_0.gguf")
    run = cli(fake_home, "models", "import", str(user_file), "--json")
    assert run.returncode == 0, run.stderr
    imported = json.loads(run.stdout)
    assert imported["id"] == "imported/mine.Q4_0" and imported["source"] == "imported"
    assert imported["path"] == str(user_file) and imported["architecture"] == "llama"

    run = cli(fake_home, "models", "discover", "--import-all")
    assert run.returncode == 0, run.stderr
    assert "imported as imported/qwen2.5-0.5b" in run.stdout
    listed = json.loads(cli(fake_home, "models", "list", "--json").stdout)
    assert len([m for m in listed if m["source"] == "imported"]) == 6

    run = cli(fake_home, "models", "rm", "imported/mine.Q4_0")
    assert run.returncode == 0, run.stderr
    assert user_file.read_bytes() == TINY, "unlinking leaves the user's file"

    refused = cli(fake_home, "models", "rm", starter_id())
    assert refused.returncode == 2 and "cannot be removed" in refused.stderr
    missing = cli(fake_home, "models", "import", str(tmp_path / "nowhere.gguf"))
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
    not_gguf = cli(fake_home, "models", "import", str(_plant(tmp_path / "x.gguf", b"nope")))
    assert not_gguf.returncode == 3 and "Traceback" not in not_gguf.stderr
