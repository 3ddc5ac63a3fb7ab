"""Discovery of GGUF models other apps already downloaded, to import in place.

Looked in: the Hugging Face cache, LM Studio, GPT4All, Jan and Ollama. The scan is
bounded: a depth limit and an entry budget per folder, directory links followed at most
once each (no loops), unreadable folders skipped quietly, and a file counts only if its
first four bytes are ``GGUF``. Nothing is hashed and no file is
read beyond those four bytes (Ollama's small JSON manifests excepted).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.data.config import get_paths
from engine.data.jsonfile import read_json
from engine.models.store import ModelStore, split_parts

log = logging.getLogger("engine.discover")

ExternalSource = Literal["huggingface", "lmstudio", "gpt4all", "jan", "ollama"]

#: Folders deeper than this below a scanned root are not entered.
MAX_DEPTH = 8
#: Directory entries looked at per root before the scan of that root stops.
MAX_ENTRIES = 200_000
#: Ollama manifests are small JSON documents; anything bigger is not one.
MAX_MANIFEST_BYTES = 1 << 20
OLLAMA_MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
OLLAMA_DEFAULT_REGISTRY = "registry.ollama.ai"

_LATER_SPLIT = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)
_DIGEST = re.compile(r"sha256[:-]([0-9a-f]{64})")


@dataclass(frozen=True)
class ExternalModel:
    """A GGUF model file another app put on this computer.

    Attributes:
        path: the file (the first part of a split model), as found (links not resolved).
        source: which app's folder it was found in.
        name: a readable name: ``org/repo/file`` (Hugging Face, LM Studio), the file
            name (GPT4All, Jan) or ``name:tag`` (Ollama).
        size: bytes on disk, all parts of a split model.
        already_imported: the store already lists this very file.
    """

    path: Path
    source: ExternalSource
    name: str
    size: int
    already_imported: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for ``hearth-cli models discover --json``."""
        return {
            "path": str(self.path),
            "source": self.source,
            "name": self.name,
            "size": self.size,
            "already_imported": self.already_imported,
        }


def _is_gguf(path: Path) -> bool:
    """Whether the file ``path`` leads to starts with the GGUF magic."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def _walk_gguf(root: Path) -> Iterator[Path]:
    """``*.gguf`` files below ``root`` (first parts of split models only), bounded.

    Directory links are followed, but each directory is entered once (by device and
    inode), so a link loop ends; unreadable folders are skipped.
    """
    seen: set[tuple[int, int]] = set()
    budget = MAX_ENTRIES
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            log.debug("Skipping unreadable folder %s: %s", folder, exc)
            continue
        subfolders = []
        for entry in entries:
            budget -= 1
            if budget < 0:
                log.info("Stopped scanning %s after %d entries", root, MAX_ENTRIES)
                return
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    if depth < MAX_DEPTH:
                        subfolders.append((path, depth + 1))
                    continue
                if not entry.is_file():
                    continue
            except OSError:
                continue
            match = _LATER_SPLIT.search(entry.name)
            if entry.name.lower().endswith(".gguf") and not (match and match.group(1) != "00001"):
                yield path
        stack.extend(reversed(subfolders))


def _size(path: Path) -> int:
    total = 0
    for part in split_parts(path):
        with contextlib.suppress(OSError):  # a missing part: count what is there
            total += part.stat().st_size
    return total


def _name_from(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix().removesuffix(".gguf").removesuffix(".GGUF")


def _scan_huggingface(cache: Path) -> Iterator[tuple[Path, str]]:
    """``models--org--name/snapshots/<rev>/**.gguf`` in a Hugging Face hub cache."""
    try:
        repos = sorted(p for p in cache.iterdir() if p.name.startswith("models--"))
    except OSError:
        return
    for repo in repos:
        repo_id = "/".join(repo.name.removeprefix("models--").split("--", 1))
        snapshots = repo / "snapshots"
        try:
            revisions = sorted(p for p in snapshots.iterdir() if p.is_dir())
        except OSError:
            continue
        for revision in revisions:
            for path in _walk_gguf(revision):
                yield path, f"{repo_id}/{_name_from(revision, path)}"


def _scan_folder(root: Path) -> Iterator[tuple[Path, str]]:
    """Any ``*.gguf`` below ``root``, named by its path relative to it."""
    for path in _walk_gguf(root):
        yield path, _name_from(root, path)


def _scan_ollama(store: Path) -> Iterator[tuple[Path, str]]:
    """Ollama's models: manifests name them, the model layer's digest gives the blob."""
    manifests = store / "manifests"
    try:
        files = sorted(p for p in manifests.glob("*/*/*/*") if p.is_file())
    except OSError:
        return
    for manifest in files:
        host, namespace, model, tag = manifest.relative_to(manifests).parts
        try:
            data = read_json(manifest, max_bytes=MAX_MANIFEST_BYTES)
            layers = data["layers"]
            digest = next(
                layer["digest"]
                for layer in layers
                if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_MEDIA_TYPE
            )
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            log.debug("Skipping Ollama manifest %s: %s", manifest, exc)
            continue
        match = _DIGEST.fullmatch(digest) if isinstance(digest, str) else None
        if match is None:
            continue  # also keeps a crafted digest from naming a path outside blobs/
        name = f"{model}:{tag}"
        if namespace != "library" or host != OLLAMA_DEFAULT_REGISTRY:
            name = f"{namespace}/{name}"
        if host != OLLAMA_DEFAULT_REGISTRY:
            name = f"{host}/{name}"
        yield store / "blobs" / f"sha256-{match.group(1)}", name


def _roots(home: Path, env: Mapping[str, str]) -> list[tuple[ExternalSource, Path]]:
    """Every folder to look in, for every platform (a missing folder costs one stat)."""

    def env_path(name: str, default: Path) -> Path:
        value = env.get(name)
        return Path(value).expanduser() if value else default

    local_appdata = env_path("LOCALAPPDATA", home / "AppData" / "Local")
    roaming = env_path("APPDATA", home / "AppData" / "Roaming")
    xdg_data = env_path("XDG_DATA_HOME", home / ".local" / "share")
    xdg_cache = env_path("XDG_CACHE_HOME", home / ".cache")
    mac_support = home / "Library" / "Application Support"
    roots: list[tuple[ExternalSource, Path]] = []
    if env.get("HF_HUB_CACHE"):
        roots.append(("huggingface", Path(env["HF_HUB_CACHE"]).expanduser()))
    if env.get("HF_HOME"):
        roots.append(("huggingface", Path(env["HF_HOME"]).expanduser() / "hub"))
    roots.append(("huggingface", xdg_cache / "huggingface" / "hub"))
    roots.append(("huggingface", home / ".cache" / "huggingface" / "hub"))
    roots += [
        ("lmstudio", home / ".lmstudio" / "models"),
        ("lmstudio", home / ".cache" / "lm-studio" / "models"),
        ("gpt4all", xdg_data / "nomic.ai" / "GPT4All"),
        ("gpt4all", mac_support / "nomic.ai" / "GPT4All"),
        ("gpt4all", local_appdata / "nomic.ai" / "GPT4All"),
        ("jan", home / "jan" / "models"),
    ]
    for jan_data in (
        xdg_data / "Jan" / "data",
        mac_support / "Jan" / "data",
        roaming / "Jan" / "data",
    ):
        roots += [("jan", jan_data / "models"), ("jan", jan_data / "llamacpp" / "models")]
    roots.append(("ollama", env_path("OLLAMA_MODELS", home / ".ollama" / "models")))
    return roots


def discover(
    *,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    store: ModelStore | None = None,
) -> list[ExternalModel]:
    """Find GGUF models in other apps' default folders.

    Reads the disk (a bounded walk): call it off the GUI thread.

    Args:
        home: the user's home folder (default: ``Path.home()``); tests pass a temp folder.
        environ: the environment to read folder overrides from (``HF_HUB_CACHE``,
            ``HF_HOME``, ``OLLAMA_MODELS``, ``LOCALAPPDATA``, ``APPDATA``,
            ``XDG_DATA_HOME``, ``XDG_CACHE_HOME``); default ``os.environ``.
        store: the store whose files count as already imported (default: the
            configured one, from ``$HEARTH_HOME`` or the platform folders).

    Returns:
        One entry per distinct file (the same file reached by two paths is listed
        once), in the order the folders are scanned.
    """
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    roots = _roots(home, env)
    if environ is None and home == Path.home() and sys.platform.startswith("linux"):
        roots.append(("ollama", Path("/usr/share/ollama/.ollama/models")))  # the system service
    if store is None:
        store = ModelStore.configured(get_paths())
    known = store.file_identities()
    seen_roots: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    found: list[ExternalModel] = []
    for source, root in roots:
        try:
            st = root.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen_roots:
            continue  # the same folder named twice (HF_HOME/hub and the default)
        seen_roots.add((st.st_dev, st.st_ino))
        if source == "huggingface":
            candidates = _scan_huggingface(root)
        elif source == "ollama":
            candidates = _scan_ollama(root)
        else:
            candidates = _scan_folder(root)
        for path, name in candidates:
            if "mmproj" in path.name.lower():
                continue  # a vision projector that goes with a model, not a model
            try:
                fst = path.stat()
            except OSError:
                continue
            identity = (fst.st_dev, fst.st_ino)
            if identity in seen_files or not _is_gguf(path):
                continue
            seen_files.add(identity)
            found.append(
                ExternalModel(
                    path=path,
                    source=source,
                    name=name,
                    size=_size(path) if source != "ollama" else fst.st_size,
                    already_imported=identity in known,
                )
            )
    log.info("Discovered %d model files in other apps' folders", len(found))
    return found
