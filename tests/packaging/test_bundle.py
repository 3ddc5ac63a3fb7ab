"""The PyInstaller bundle holds what Hearth needs to start offline, and runs from itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from engine.models.starter import STARTER, STARTER_FILE, STARTER_ID

pytestmark = pytest.mark.package


def _internal(bundle: Path) -> Path:
    return bundle / "_internal"


def test_the_starter_model_is_in_the_bundle_where_the_app_looks(bundle: Path) -> None:
    model = _internal(bundle) / "resources" / "models" / STARTER_FILE
    assert model.is_file()
    assert model.stat().st_size == STARTER.size  # joined whole; checked by sha256 at build
    with model.open("rb") as file:
        assert file.read(4) == b"GGUF"


def test_qt_platform_plugins_for_x11_wayland_and_offscreen_are_bundled(bundle: Path) -> None:
    platforms = _internal(bundle) / "PySide6" / "Qt" / "plugins" / "platforms"
    found = {p.name for p in platforms.glob("*.so")}
    assert {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"} <= found
    # Qt's xcb plugin needs its integration library beside Qt's own.
    assert (_internal(bundle) / "PySide6" / "Qt" / "lib" / "libQt6XcbQpa.so.6").is_file()


def test_translations_of_hearth_and_of_qt_are_bundled(bundle: Path) -> None:
    internal = _internal(bundle)
    assert (internal / "resources" / "translations" / "hearth_zh_CN.qm").stat().st_size > 1000
    assert (internal / "PySide6" / "Qt" / "translations" / "qtbase_zh_CN.qm").is_file()
    for guide in ("models", "gpu", "troubleshooting"):
        assert (internal / "resources" / "help" / "zh_CN" / f"{guide}.md").is_file()
    assert json.loads((internal / "resources" / "catalog.json").read_text(encoding="utf-8"))


def test_llama_cpp_libraries_are_where_llama_cpp_loads_them(bundle: Path) -> None:
    lib = _internal(bundle) / "llama_cpp" / "lib"
    names = {p.name for p in lib.iterdir()}
    # ctypes opens the unversioned names; the libraries need each other by soname.
    assert {"libllama.so", "libggml.so"} <= names
    assert {"libllama.so.0", "libggml.so.0", "libggml-base.so.0", "libggml-cpu.so.0"} <= names


def test_metadata_that_the_app_reads_is_bundled_and_torch_is_not(
    bundle: Path, version: str
) -> None:
    internal = _internal(bundle)
    assert (internal / f"hearth-{version}.dist-info" / "METADATA").is_file()
    assert list(internal.glob("llama_cpp_python-*.dist-info"))
    # torch's metadata without torch would make the hardware probe offer a torch backend.
    assert not list(internal.glob("torch-*.dist-info"))
    assert not (internal / "torch").exists()


def test_display_and_font_libraries_are_left_to_the_system(bundle: Path) -> None:
    top = {p.name for p in _internal(bundle).iterdir()}
    bundled = sorted(
        n
        for n in top
        if n.startswith(("libX11", "libxcb", "libGL", "libfontconfig", "libstdc++", "libglib"))
    )
    assert bundled == []


def test_the_bundled_cli_finds_the_starter_model_inside_the_bundle(
    bundle: Path, hearth_home: Path
) -> None:
    env = {**os.environ, "HEARTH_HOME": str(hearth_home)}
    out = subprocess.run(
        [str(bundle / "hearth-cli"), "models", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    models = json.loads(out.stdout)
    starter = next(m for m in models if m["id"] == STARTER_ID)
    assert starter["source"] == "starter"
    assert starter["has_chat_template"]
    link = Path(starter["path"])
    assert link.resolve() == (_internal(bundle) / "resources" / "models" / STARTER_FILE).resolve()
