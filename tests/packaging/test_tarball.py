"""The .tar.gz installs for one user without root, runs from there, and uninstalls."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from engine.models.starter import STARTER_ID
from tests.packaging.helpers import APP_ID, ICON_SIZES

pytestmark = pytest.mark.package


def test_install_sh_installs_runs_and_uninstalls_for_one_user(
    tarball: Path, version: str, tmp_path: Path, hearth_home: Path
) -> None:
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="tar")
    unpacked = tmp_path / "unpacked" / f"hearth-{version}"
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    install = subprocess.run(
        [str(unpacked / "install.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert "Hearth is installed" in install.stdout
    assert "missing" not in install.stderr, install.stderr

    local = home / ".local"
    app = local / "opt" / "hearth"
    assert (local / "bin" / "hearth").resolve() == (app / "hearth").resolve()
    entry = (local / "share" / "applications" / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    assert f"\nExec={app}/hearth\n" in entry  # an absolute path: ~/.local/bin may not be on PATH
    for size in ICON_SIZES:
        assert (
            local / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "hearth.png"
        ).is_file()

    listed = subprocess.run(
        [str(local / "bin" / "hearth-cli"), "models", "list", "--json"],
        env={**env, "HEARTH_HOME": str(hearth_home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert STARTER_ID in [m["id"] for m in json.loads(listed.stdout)]

    uninstall = subprocess.run(
        [str(unpacked / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True
    )
    assert uninstall.returncode == 0, uninstall.stderr
    assert not app.exists()
    assert not (local / "bin" / "hearth").exists()
    assert not (local / "share" / "applications" / f"{APP_ID}.desktop").exists()
    assert not list((local / "share" / "icons").rglob("hearth.png"))
    assert os.listdir(hearth_home / "data" / "models")  # the user's data is kept
