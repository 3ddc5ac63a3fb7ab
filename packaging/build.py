"""Builds Hearth's Linux packages: the PyInstaller bundle, a ``.deb`` and a per-user ``.tar.gz``.

``make package`` runs this with the project's virtual environment::

    .venv/bin/python packaging/build.py            # bundle (if stale), .deb, .tar.gz
    .venv/bin/python packaging/build.py --rebuild  # rebuild the bundle even if fresh

Outputs, all under ``dist/``:

- ``hearth/``: the one-folder bundle (packaging/hearth.spec);
- ``hearth_<version>_amd64.deb``: installs to ``/opt/hearth``, with ``/usr/bin/hearth``
  and ``/usr/bin/hearth-cli``, the desktop entry, hicolor icons and AppStream metainfo;
  its ``Depends:`` lists the Debian packages of the system libraries the bundle links
  to (found with ``ldd`` on every ELF file of the bundle and ``dpkg -S``);
- ``hearth-<version>-linux-x86_64.tar.gz``: the bundle with ``install.sh``, which
  installs for one user under ``~/.local`` without root.

It needs ``dpkg-deb``, ``dpkg`` (Debian and derivatives) and ``readelf`` (binutils,
there wherever a compiler is) for the ``.deb``; the tarball needs nothing but Python.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
DIST = ROOT / "dist"
BUNDLE = DIST / "hearth"
BUILD = ROOT / "build"
SPEC = PACKAGING / "hearth.spec"
APP_ID = "io.hearth.Hearth"
ICON_NAME = "hearth"
INSTALL_DIR = "/opt/hearth"
COMMANDS = ("hearth", "hearth-cli")
#: Where the bundle's sources lie: a newer file in any of these makes the bundle stale.
SOURCES = ("engine", "desktop", "resources", "packaging", "pyproject.toml")
#: Optional Qt plugins whose libraries are not dependencies: Qt loads them only when
#: the desktop provides what they need (GTK's file dialogs and colours under GNOME).
OPTIONAL_ELF = re.compile(r"PySide6/Qt/plugins/platformthemes/libqgtk3\.so$")
DESCRIPTION = """\
Run language models on your own computer, offline
 Hearth runs large language models on your own computer, with no account, no
 cloud and no network needed: chat with a model, have whole documents
 summarized, or get help with code. A small starter model
 (Qwen2.5-Coder-1.5B-Instruct, Apache-2.0) ships with it, so the first answer
 needs no download.
 .
 The package holds a self-contained build of Hearth, its Python runtime, Qt and
 llama.cpp (CPU) in /opt/hearth."""


def version() -> str:
    """Hearth's version, from the installed package's metadata (pyproject.toml)."""
    return importlib.metadata.version("hearth")


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``command``, echoing it; raises CalledProcessError when it fails."""
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)  # type: ignore[call-overload]


# -- the bundle -----------------------------------------------------------------------


def _newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


def build_bundle(*, rebuild: bool) -> Path:
    """Run PyInstaller unless ``dist/hearth`` is newer than every source file.

    Returns:
        The bundle folder.
    """
    executable = BUNDLE / "hearth"
    if not rebuild and executable.is_file() and executable.stat().st_mtime > _newest_source():
        print(f"{BUNDLE} is up to date")
        return BUNDLE
    started = time.perf_counter()
    pyinstaller = Path(sys.executable).with_name("pyinstaller")
    run(
        [
            str(pyinstaller),
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(DIST),
            "--workpath",
            str(BUILD / "pyinstaller"),
            str(SPEC),
        ],
        cwd=ROOT,
    )
    print(f"Bundle built in {time.perf_counter() - started:.0f} s: {BUNDLE}")
    return BUNDLE


# -- system dependencies ------------------------------------------------------------------


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(bundle: Path) -> list[Path]:
    """Every ELF file (executables and shared libraries) in the bundle, links left out."""
    return sorted(p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p))


def _needed(files: list[Path]) -> dict[Path, list[str]]:
    """Each file's ``DT_NEEDED`` entries (the libraries it links to directly)."""
    needed: dict[Path, list[str]] = {}
    for file in files:
        out = subprocess.run(
            ["readelf", "--dynamic", "--wide", str(file)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        needed[file] = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    return needed


def linked_libraries(bundle: Path) -> tuple[set[str], set[str]]:
    """The system libraries the bundle's ELF files link to directly, as ``ldd`` finds them.

    Only direct links (``DT_NEEDED``) count, as dpkg-shlibdeps counts them: a system
    library's own dependencies are its package's business. Libraries inside the bundle
    are left out, and optional plugins (:data:`OPTIONAL_ELF`) are not looked at.

    Returns:
        (paths of the libraries found outside the bundle, names ldd could not find).
    """
    internal = bundle / "_internal"
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        str(p)
        for p in (internal, internal / "PySide6" / "Qt" / "lib", internal / "llama_cpp" / "lib")
    )
    found: set[str] = set()
    missing: set[str] = set()
    bundle_root = str(bundle.resolve())
    files = [f for f in elf_files(bundle) if not OPTIONAL_ELF.search(f.as_posix())]
    needed = _needed(files)
    for start in range(0, len(files), 64):
        chunk = files[start : start + 64]
        out = subprocess.run(
            ["ldd", *map(str, chunk)], capture_output=True, text=True, env=env, check=False
        ).stdout
        # ldd prints "file:" (unless given one file) then every library it resolves,
        # directly linked or not.
        current: Path | None = chunk[0] if len(chunk) == 1 else None
        for raw in out.splitlines():
            line = raw.strip()
            if not raw.startswith(("\t", " ")) and line.endswith(":"):
                current = Path(line[:-1])
                continue
            name = line.split()[0] if line else ""
            direct = current is None or name in needed.get(current, [name])
            if "=> not found" in line:
                if direct:
                    missing.add(name)
            elif "=>" in line:
                target = line.split("=>", 1)[1].strip().split(" (", 1)[0].strip()
                outside = not os.path.realpath(target).startswith(bundle_root)
                if direct and target.startswith("/") and outside:
                    found.add(target)
            elif line.startswith("/") and "ld-linux" in line:
                found.add(line.split(" (", 1)[0])
    return found, missing


def _dpkg_candidates(path: str) -> list[str]:
    """Spellings of ``path`` dpkg may have recorded (merged /usr: /lib vs /usr/lib)."""
    candidates = [path, os.path.realpath(path)]
    for spelling in list(candidates):
        if spelling.startswith("/usr/"):
            candidates.append(spelling[4:])
        else:
            candidates.append("/usr" + spelling)
    return list(dict.fromkeys(candidates))


def owning_packages(paths: Iterable[str]) -> tuple[set[str], set[str]]:
    """The Debian packages that own ``paths``.

    Returns:
        (package names without architecture, paths no package owns).
    """
    paths = sorted(set(paths))
    candidates = {path: _dpkg_candidates(path) for path in paths}
    every = sorted({c for cs in candidates.values() for c in cs})
    out = subprocess.run(["dpkg", "-S", *every], capture_output=True, text=True, check=False).stdout
    owner: dict[str, str] = {}
    for line in out.splitlines():
        package, sep, file = line.partition(": ")
        if sep and "," not in package and not package.startswith("diversion by"):
            owner[file.strip()] = package.split(":", 1)[0].strip()
    packages: set[str] = set()
    orphans: set[str] = set()
    for path, spellings in candidates.items():
        match = next((owner[s] for s in spellings if s in owner), None)
        if match is None:
            orphans.add(path)
        else:
            packages.add(match)
    return packages, orphans


def minimum_glibc(bundle: Path) -> str | None:
    """The newest ``GLIBC_x.y`` symbol version any ELF file of the bundle asks for."""
    pattern = re.compile(rb"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?\x00")
    newest: tuple[int, ...] = ()
    for file in elf_files(bundle):
        for match in pattern.finditer(file.read_bytes()):
            found = tuple(int(g) for g in match.groups() if g is not None)
            newest = max(newest, found)
    return ".".join(map(str, newest)) or None


def debian_depends(bundle: Path) -> list[str]:
    """The ``Depends:`` entries of the bundle: one per Debian package it links to.

    Raises:
        SystemExit: a library is missing on this machine or owned by no package (the
            list would be wrong, so the build stops and says what to install).
    """
    found, missing = linked_libraries(bundle)
    if missing:
        raise SystemExit(
            "These libraries the bundle needs are not installed here, so its Debian "
            "dependencies cannot be worked out: " + ", ".join(sorted(missing)) + ". Install "
            "them (.ci/run lists the packages) and run the build again."
        )
    packages, orphans = owning_packages(found)
    if orphans:
        raise SystemExit(
            "No Debian package owns these libraries the bundle links to: "
            + ", ".join(sorted(orphans))
            + ". Bundle them (packaging/hearth.spec, SYSTEM_LIBRARIES) or install them "
            "from a package."
        )
    glibc = minimum_glibc(bundle)
    depends = []
    for package in sorted(packages):
        if package == "libc6" and glibc:
            depends.append(f"libc6 (>= {glibc})")
        elif package == "libstdc++6":
            # llama.cpp was compiled here: it may use this libstdc++'s newest symbols.
            depends.append(f"libstdc++6 (>= {_installed_major('libstdc++6')})")
        else:
            depends.append(package)
    return depends


def _installed_major(package: str) -> str:
    """The major upstream version of ``package`` as installed here (``12`` for 12.2.0-14)."""
    out = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Version}", package],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.split(r"[.:-]", out.split(":", 1)[-1], maxsplit=1)[0]


# -- shared files ---------------------------------------------------------------------


def install_shared_files(share: Path, *, exec_path: str) -> None:
    """Put the desktop entry, icons and metainfo in ``share`` (/usr/share or ~/.local/share).

    Args:
        share: the ``share`` folder of the target.
        exec_path: the command the desktop entry starts.
    """
    desktop = (PACKAGING / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    desktop = re.sub(
        r"(?m)^(Try)?Exec=hearth\b", lambda m: f"{m.group(1) or ''}Exec={exec_path}", desktop
    )
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "applications" / f"{APP_ID}.desktop").write_text(desktop, encoding="utf-8")
    icons = PACKAGING / "icons"
    for png in sorted((icons / "hicolor").glob(f"*/apps/{ICON_NAME}.png")):
        target = share / "icons" / png.relative_to(icons)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    scalable = share / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(icons / "hearth.svg", scalable)
    (share / "metainfo").mkdir(parents=True, exist_ok=True)
    shutil.copy2(
        PACKAGING / f"{APP_ID}.metainfo.xml", share / "metainfo" / f"{APP_ID}.metainfo.xml"
    )


def _tree_size_kib(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return (total + 1023) // 1024


# -- the .deb -------------------------------------------------------------------------------


def build_deb(bundle: Path, ver: str) -> Path:
    """Stage ``/opt/hearth``, ``/usr/bin`` and ``/usr/share`` and build the ``.deb``."""
    started = time.perf_counter()
    stage = BUILD / "deb" / "root"
    shutil.rmtree(stage.parent, ignore_errors=True)
    opt = stage / INSTALL_DIR.lstrip("/")
    shutil.copytree(bundle, opt, symlinks=True)
    usr_bin = stage / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    for command in COMMANDS:
        (usr_bin / command).symlink_to(f"{INSTALL_DIR}/{command}")
    install_shared_files(stage / "usr" / "share", exec_path="hearth")
    doc = stage / "usr" / "share" / "doc" / "hearth"
    doc.mkdir(parents=True)
    shutil.copy2(PACKAGING / "copyright", doc / "copyright")

    depends = debian_depends(bundle)
    control = stage / "DEBIAN" / "control"
    control.parent.mkdir()
    control.write_text(
        "\n".join(
            [
                "Package: hearth",
                f"Version: {ver}",
                "Architecture: amd64",
                "Maintainer: The Hearth developers <hearth@invalid>",
                f"Installed-Size: {_tree_size_kib(stage)}",
                f"Depends: {', '.join(depends)}",
                "Recommends: hicolor-icon-theme",
                "Section: utils",
                "Priority: optional",
                f"Description: {DESCRIPTION}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    deb = DIST / f"hearth_{ver}_amd64.deb"
    # zstd, not dpkg-deb's default xz nor gzip: the starter model, 1.1 GB of the bundle's
    # 1.4, is quantized weights that no compressor shrinks by more than 3 %, and gzip
    # spends over a minute of two cores on it for that, zstd seconds (benchmarks/package.md). Every
    # system with the glibc the bundle needs (2.35: Debian 12, Ubuntu 22.04) has a dpkg
    # that reads zstd.
    run(["dpkg-deb", "--root-owner-group", "-Zzstd", "-z3", "--build", str(stage), str(deb)])
    shutil.rmtree(stage.parent)
    print(
        f"Built {deb} ({deb.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s"
    )
    print("Depends:", ", ".join(depends))
    return deb


# -- the .tar.gz ------------------------------------------------------------------------------


def build_tarball(bundle: Path, ver: str) -> Path:
    """``hearth-<version>-linux-x86_64.tar.gz``: the bundle, shared files and ``install.sh``."""
    started = time.perf_counter()
    top = f"hearth-{ver}"
    stage = BUILD / "tarball" / top
    shutil.rmtree(stage.parent, ignore_errors=True)
    stage.mkdir(parents=True)
    # Exec=hearth here; install.sh writes the absolute path when it installs.
    install_shared_files(stage / "share", exec_path="hearth")
    shutil.copy2(PACKAGING / "install.sh", stage / "install.sh")
    (stage / "install.sh").chmod(0o755)
    shutil.copy2(PACKAGING / "copyright", stage / "COPYRIGHT")
    tarball = DIST / f"hearth-{ver}-linux-x86_64.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=6) as tar:
        tar.add(stage, arcname=top)
        tar.add(bundle, arcname=f"{top}/hearth")
    shutil.rmtree(stage.parent)
    size = tarball.stat().st_size / 1e6
    print(f"Built {tarball} ({size:.0f} MB) in {time.perf_counter() - started:.0f} s")
    return tarball


def main(argv: list[str] | None = None) -> int:
    """Build what the arguments ask for; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the bundle even if fresh")
    parser.add_argument("--no-deb", action="store_true", help="skip the .deb")
    parser.add_argument("--no-tarball", action="store_true", help="skip the .tar.gz")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        parser.error("this script builds the Linux packages; see README.md for macOS and Windows")
    ver = version()
    bundle = build_bundle(rebuild=args.rebuild)
    if not args.no_deb:
        if shutil.which("dpkg-deb") is None:
            parser.error("dpkg-deb is missing (Debian's dpkg); use --no-deb to skip the .deb")
        build_deb(bundle, ver)
    if not args.no_tarball:
        build_tarball(bundle, ver)
    return 0


if __name__ == "__main__":
    sys.exit(main())
