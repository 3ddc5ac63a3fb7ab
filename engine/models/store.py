"""Installed models: the models folder, the starter model, imports, finding and removing models.

Imported files are recorded in a registry (``<models folder>/imports.json``) instead of
being linked into the folder: a symbolic link needs a privilege on Windows (Developer
Mode or administrator), a hard link cannot cross drives, and a registry works on every
platform and file system while leaving the user's file where it is, untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.data.config import Paths, load_settings
from engine.data.jsonfile import BrokenFile, locked, read_json, set_aside, shown, write_json
from engine.errors import EngineError, ModelFileError, ModelNotFound, UsageError
from engine.models.gguf_info import GGUFInfo, read_gguf_info
from engine.models.starter import (
    STARTER_ENV,
    join_parts,
    starter_id,
    starter_model_file,
    user_file,
)

log = logging.getLogger("engine.store")

_LATER_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)

#: The import registry, in the models folder it belongs to.
IMPORTS_FILE = "imports.json"
IMPORTS_VERSION = 1
#: The largest import registry read: a record is about 300 bytes, so 8 MiB holds tens of
#: thousands of imports, far more than anyone links, while a damaged file stays bounded.
MAX_IMPORTS_BYTES = 8 * 1024 * 1024
#: The longest name an import takes: it becomes the model's id, shown in lists and menus.
#: Longer than any publisher/repo/file a hub or another app produces (discovery names).
MAX_IMPORT_NAME_CHARS = 1024
#: Ids of imported models start with this segment.
IMPORTED_PREFIX = "imported"
#: The downloader writes ``<file>.download.json`` beside each file it finished; that
#: sidecar is the proof that Hearth, not the user, put the file there.
DOWNLOAD_SIDECAR_SUFFIX = ".download.json"

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


def split_parts(path: Path) -> list[Path]:
    """Every part of the model whose first (or only) file is ``path``, in order."""
    split = _LATER_SPLIT.search(path.name)
    if not split:
        return [path]
    total = int(split.group(2))
    stem = path.name[: split.start()]
    return [path.with_name(f"{stem}-{i:05d}-of-{total:05d}.gguf") for i in range(1, total + 1)]


def download_sidecars(path: Path) -> list[Path]:
    """The downloader's sidecar files that exist for one model file.

    Both spellings are accepted: ``model.Q4.gguf.download.json`` and
    ``model.Q4.download.json``.
    """
    names = {path.name + DOWNLOAD_SIDECAR_SUFFIX}
    if path.suffix.lower() == ".gguf":
        names.add(path.stem + DOWNLOAD_SIDECAR_SUFFIX)
    return [path.with_name(n) for n in sorted(names) if path.with_name(n).is_file()]


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` leads to, or None if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _slug(segment: str) -> str:
    """One id segment: letters, digits and ``._+-`` only, no leading dots."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", segment).strip("-.")


class ModelStore:
    """The models folder (``<data>/models/<publisher>/<repo>/<file>.gguf``).

    Methods read the disk: call them off the GUI thread.
    """

    def __init__(self, paths: Paths, models_dir: Path | None = None) -> None:
        self.paths = paths
        self.root = models_dir or paths.models_dir
        #: Why the last :meth:`ensure_starter` found no starter model (a message for the
        #: user), or None.
        self.starter_problem: str | None = None

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

        When the install did not join the starter model's parts into one file, they are
        joined here, once, into the user's data folder (see engine.models.starter): a few
        seconds, on the calling thread. Why no starter model is available is kept in
        :attr:`starter_problem`.

        Returns:
            The path in the models folder; the file itself when the folder cannot be
            written (read-only or full); None if no starter model is available.
        """
        self.starter_problem = None
        source = starter_model_file(self.paths)
        override = os.environ.get(STARTER_ENV)
        if source is None and override:
            self.starter_problem = (
                f"The starter model is not installed: ${STARTER_ENV} names {override}, which "
                "is not a file. Point it at a GGUF model, or unset it to use the starter "
                "model that comes with Hearth."
            )
        elif source is None:
            try:
                source = join_parts(user_file(self.paths))
            except EngineError as exc:
                self.starter_problem = str(exc)
        if source is None:
            log.warning("No starter model: %s", self.starter_problem)
            return None
        target = self.root / f"{starter_id()}.gguf"
        try:
            if target.is_symlink() and not target.exists():
                target.unlink()  # the installed file moved (a new environment): relink
            if not target.exists():
                _link_or_copy(source.resolve(), target)
                log.info("Starter model registered at %s", target)
        except OSError as exc:
            # A read-only or full data folder: the model still runs from where it is
            # installed, so Hearth can chat without saving anything.
            log.warning("Cannot add the starter model to %s (%s); using %s", self.root, exc, source)
            return source
        return target

    @property
    def imports_file(self) -> Path:
        """The registry of imported files (``imports.json`` in the models folder)."""
        return self.root / IMPORTS_FILE

    def _describe(self, model_id: str, path: Path, source: Source) -> InstalledModel:
        """Size and header of the model file ``path`` (all parts of a split model)."""
        size = 0
        error: str | None = None
        try:
            size = sum(p.stat().st_size for p in split_parts(path))
        except OSError as exc:
            error = f"missing or unreadable file: {exc.filename or path}"
        info: GGUFInfo | None = None
        if error is None:
            try:
                info = read_gguf_info(path)
            except ModelFileError as exc:
                error = str(exc)
        return InstalledModel(
            id=model_id, path=path, size=size, source=source, info=info, error=error
        )

    def _entry(self, path: Path) -> InstalledModel:
        rel = path.relative_to(self.root).as_posix().removesuffix(".gguf")
        source: Source = "downloaded"
        if path.is_symlink():
            starter = starter_model_file(self.paths)
            linked = Path(os.path.realpath(path))
            source = "starter" if starter and linked == starter.resolve() else "imported"
        elif rel == starter_id():
            source = "starter"
        return self._describe(rel, path, source)

    def _imported_entry(self, record: dict[str, str]) -> InstalledModel:
        model_id, path = record["id"], Path(record["path"])
        if not path.exists():
            return InstalledModel(
                id=model_id,
                path=path,
                size=0,
                source="imported",
                info=None,
                error=(
                    f"the imported file {path} is gone (moved or deleted); import it again "
                    f"from where it is now, or forget it with `hearth-cli models rm {model_id}`"
                ),
            )
        return self._describe(model_id, path, "imported")

    def _folder_files(self) -> list[Path]:
        """GGUF files in the models folder (first parts only), sorted."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.rglob("*.gguf")):
            match = _LATER_SPLIT.search(path.name)
            if match and int(match.group(1)) != 1:
                continue  # later parts of a split model belong to the first part
            if path.is_file() or path.is_symlink():
                found.append(path)
        return found

    def _load_imports(self) -> list[dict[str, str]]:
        """The registry's records (``id``, ``path``, ``added``); a broken file is set aside."""
        path = self.imports_file
        try:
            raw = read_json(path, max_bytes=MAX_IMPORTS_BYTES)
            if not isinstance(raw, dict) or not isinstance(raw.get("imports"), list):
                raise BrokenFile("it does not hold an import list")
        except FileNotFoundError:
            return []
        except BrokenFile as exc:
            log.warning("Import registry %s unreadable (%s); setting it aside", path, exc)
            set_aside(path)
            return []
        if raw.get("version", IMPORTS_VERSION) != IMPORTS_VERSION:
            log.warning("Import registry %s has version %s", path, shown(raw.get("version")))
        records = []
        for item in raw["imports"]:
            if (
                isinstance(item, dict)
                and isinstance(item.get("id"), str)
                and isinstance(item.get("path"), str)
            ):
                records.append({k: v for k, v in item.items() if isinstance(v, str)})
            else:
                log.warning("Import registry %s: skipping malformed entry %s", path, shown(item))
        return records

    def _save_imports(self, records: list[dict[str, str]]) -> None:
        """Write the registry atomically (a temporary file, then a rename), privately.

        Call it holding :meth:`_imports_locked`, with records read under the same lock.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.imports_file, {"version": IMPORTS_VERSION, "imports": records})

    def _imports_locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the registry's lock for a read-modify-write.

        Two ``hearth-cli models import`` run at once (or the app and the CLI) would
        otherwise both read the old list and the last to write would drop the other's
        record. Readers need no lock: a write replaces the file in one rename.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        return locked(self.imports_file)

    def _find_import(self, records: list[dict[str, str]], path: Path) -> dict[str, str] | None:
        """The record for the file ``path`` (same path, or the same file through a link)."""
        wanted = os.path.abspath(path)
        identity = _file_identity(path)
        for record in records:
            if os.path.abspath(record["path"]) == wanted:
                return record
            if identity is not None and _file_identity(Path(record["path"])) == identity:
                return record
        return None

    def _in_folder(self, path: Path) -> Path | None:
        """``path`` as a path inside the models folder, or None if it lies elsewhere."""
        try:
            root = self.root.resolve()
            absolute = Path(os.path.abspath(path))
            if absolute.is_relative_to(root):
                return self.root / absolute.relative_to(root)
            real = path.resolve()
        except OSError:
            return None
        return self.root / real.relative_to(root) if real.is_relative_to(root) else None

    def import_model(
        self, path: str | os.PathLike[str], *, name: str | None = None
    ) -> InstalledModel:
        """Link a GGUF file where it lies into the store: recorded, never copied or moved.

        Importing the same file again returns the existing entry.

        Args:
            path: the GGUF file (the first part of a split model).
            name: what to call it (``org/repo/file``, ``llama3.2:3b``); the id becomes
                ``imported/<name>``. Defaults to the file name without ``.gguf``.

        Returns:
            The model as :meth:`list` shows it.

        Raises:
            ModelNotFound: there is no file at ``path``.
            ModelFileError: the file is not a readable GGUF model.
            UsageError: ``path`` is a folder, or a later part of a split model.
        """
        source = Path(path).expanduser()
        if source.is_dir():
            raise UsageError(f"{source} is a folder; import a .gguf file inside it.")
        if not source.is_file():
            raise ModelNotFound(f"No model file at {source}.")
        split = _LATER_SPLIT.search(source.name)
        if split and int(split.group(1)) != 1:
            first = source.name[: split.start()] + f"-00001-of-{split.group(2)}.gguf"
            raise UsageError(
                f"{source.name} is part {int(split.group(1))} of a split model; "
                f"import its first part, {first}."
            )
        inside = self._in_folder(source)
        if inside is not None:
            return self._entry(inside)  # already in the models folder: nothing to record
        if name is not None and len(name) > MAX_IMPORT_NAME_CHARS:
            raise UsageError(
                f"The name is {len(name):,} characters long; give one of at most "
                f"{MAX_IMPORT_NAME_CHARS}."
            )
        read_gguf_info(source)  # raises ModelFileError for anything that is not a model
        with self._imports_locked():
            records = self._load_imports()
            record = self._find_import(records, source)
            if record is None:
                label = name or source.name
                model_id = self._free_import_id(records, label)
                record = {"id": model_id, "path": os.path.abspath(source), "name": label}
                self._save_imports([*records, record])
                log.info("Imported %s as %s", source, model_id)
        return self._imported_entry(record)

    def _free_import_id(self, records: list[dict[str, str]], name: str) -> str:
        """``imported/<name>``, numbered if a record or a folder file already has that id."""
        taken = {r["id"].lower() for r in records}
        taken |= {
            p.relative_to(self.root).as_posix().removesuffix(".gguf").lower()
            for p in self._folder_files()
        }
        segments = [_slug(s) for s in name.replace("\\", "/").split("/")]
        segments = [s.removesuffix(".gguf") for s in segments if s] or ["model"]
        base = "/".join([IMPORTED_PREFIX, *segments])
        model_id, n = base, 2
        while model_id.lower() in taken:
            model_id, n = f"{base}-{n}", n + 1
        return model_id

    def file_identities(self) -> set[tuple[int, int]]:
        """(device, inode) of every file the store lists: folder files, links and imports.

        Lets discovery tell which files on disk are already known, whatever path leads
        to them.
        """
        paths = self._folder_files() + [Path(r["path"]) for r in self._load_imports()]
        return {i for i in map(_file_identity, paths) if i is not None}

    def list(self) -> list[InstalledModel]:
        """Every model in the folder and every import, starter model first, then by id."""
        starter = self.ensure_starter()
        found = [self._entry(path) for path in self._folder_files()]
        if starter is not None and not starter.is_relative_to(self.root):
            found.append(self._describe(starter_id(), starter, "starter"))
        found += [self._imported_entry(r) for r in self._load_imports()]
        found.sort(key=lambda m: (m.source != "starter", m.id.lower()))
        return found

    def remove(self, model_id: str, *, delete_files: bool = False) -> None:
        """Remove a model from the store.

        A model Hearth downloaded (it has a downloader sidecar) is deleted with its
        sidecars, every part of a split model, and the folders left empty. An import
        is forgotten and a link in the folder unlinked; the user's file is untouched.
        A file the user put in the models folder by hand is deleted only with
        ``delete_files=True``.

        Args:
            model_id: the exact id (as :meth:`list` gives it) or the model's path;
                no partial matches, since this deletes.
            delete_files: also delete a file Hearth did not download.

        Raises:
            ModelNotFound: no model has that id.
            UsageError: it is the starter model, or a file Hearth did not download
                and ``delete_files`` is false.
            EngineError: a file could not be deleted (in use, permissions).
        """
        models = self.list()
        matches = [m for m in models if m.id == model_id]
        if not matches and model_id:
            wanted = os.path.abspath(Path(model_id).expanduser())
            matches = [m for m in models if os.path.abspath(m.path) == wanted]
        if not matches:
            raise ModelNotFound(
                f"No installed model has the id {model_id!r}; removing needs the exact id "
                "that `hearth-cli models list` shows."
            )
        model = matches[0]
        if model.source == "starter":
            raise UsageError("The starter model comes with Hearth and cannot be removed.")
        with self._imports_locked():
            records = self._load_imports()
            kept = [r for r in records if r["id"] != model.id]
            if len(kept) != len(records):
                self._save_imports(kept)
        if len(kept) != len(records):
            log.info("Forgot the import %s (%s stays where it is)", model.id, model.path)
            return
        parts = split_parts(model.path)
        if model.path.is_symlink():
            doomed = [p for p in parts if p.is_symlink()]  # the links, never their targets
        else:
            sidecars = [s for p in parts for s in download_sidecars(p)]
            if not sidecars and not delete_files:
                raise UsageError(
                    f"{model.path} was put in the models folder by hand, not downloaded by "
                    "Hearth, so it is not deleted. Delete it yourself, or ask again with "
                    "--delete-files."
                )
            doomed = parts + sidecars
        for file in doomed:
            try:
                file.unlink(missing_ok=True)
            except OSError as exc:
                raise EngineError(
                    f"Could not delete {file}: {exc.strerror or exc}. If the model is "
                    "loaded, unload it (or close the app using it) and try again."
                ) from exc
        folder = model.path.parent
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent
        log.info("Removed %s (%d files)", model.id, len(doomed))

    def _starter(self) -> InstalledModel:
        """The starter model's entry; raises ModelNotFound saying why there is none."""
        starter = [m for m in self.list() if m.source == "starter"]
        if starter:
            return starter[0]
        raise ModelNotFound(
            self.starter_problem
            or "No starter model is installed. Download a model in Models, or with "
            "`hearth-cli models pull`."
        )

    def resolve(self, ref: str | os.PathLike[str] | None) -> InstalledModel:
        """Find a model by id, file name, unique part of its id, or a path to a GGUF file.

        Args:
            ref: what the user typed; None means the starter model.

        Raises:
            ModelNotFound: nothing (or more than one model) matches; for the starter
                model, the message says why it is missing.
            ModelFileError: the path exists but is not a usable GGUF file.
        """
        if ref is None or str(ref) == "":
            return self._starter()
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
            record = self._find_import(self._load_imports(), candidate)
            if record is not None:
                return self._imported_entry(record)
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
