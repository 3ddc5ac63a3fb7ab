"""Measures Hearth's packages: bundle, .deb, tarball and installed sizes, and launch-to-window time.

Run after ``make package``; the launch time needs the ``.deb`` installed (``/usr/bin/hearth``,
or ``--app`` another executable), Xvfb and xdotool (Debian: ``xvfb xdotool``)::

    .venv/bin/python benchmarks/package_bench.py [--runs 5] [--screenshot shot.png]

The launch time is what a user waits for: from starting the installed executable
(PyInstaller's bootloader unpacks nothing in a one-folder bundle, but it loads Python,
Qt and the app's modules) to the main window mapped on a real X server (Xvfb), as
``xdotool search --sync --onlyvisible`` sees it. Each run uses a fresh, empty home
folder, as a first launch does: the starter model is linked into the models folder and
the database created. The figure printed is the median of the runs. Output: a Markdown
report on stdout (benchmarks/package.md holds the latest).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
DISPLAY = ":97"
WINDOW_TIMEOUT_S = 60.0


def tree_size(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def mb(size: int) -> str:
    """``size`` bytes in megabytes, as the table shows them."""
    return f"{size / 1e6:.0f} MB"


def start_xvfb() -> subprocess.Popen[bytes]:
    """An Xvfb server on :data:`DISPLAY`, waited for until it accepts clients."""
    server = subprocess.Popen(
        ["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = subprocess.run(
            ["xdotool", "getdisplaygeometry"],
            env={**os.environ, "DISPLAY": DISPLAY},
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return server
        time.sleep(0.1)
    server.kill()
    raise SystemExit("Xvfb did not start")


def launch_to_window(app: str, screenshot: Path | None) -> float:
    """Seconds from starting ``app`` to its main window being visible on the X server."""
    home = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "DISPLAY": DISPLAY, "LANG": "C.UTF-8"}
    started = time.perf_counter()
    proc = subprocess.Popen([app], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", "^Hearth"],
            env=env,
            capture_output=True,
            timeout=WINDOW_TIMEOUT_S,
            check=True,
        )
        elapsed = time.perf_counter() - started
        if screenshot is not None:
            time.sleep(3)  # let the starter model load, so the status bar shows it
            subprocess.run(["import", "-window", "root", str(screenshot)], env=env, check=True)
        return elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the report; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="/usr/bin/hearth", help="the executable to launch")
    parser.add_argument("--runs", type=int, default=5, help="launches to take the median of")
    parser.add_argument("--screenshot", type=Path, help="save the first run's screen here")
    args = parser.parse_args(argv)
    version = importlib.metadata.version("hearth")
    bundle = DIST / "hearth"
    deb = DIST / f"hearth_{version}_amd64.deb"
    tarball = DIST / f"hearth-{version}-linux-x86_64.tar.gz"
    rows = [("bundle `dist/hearth/`", mb(tree_size(bundle)) if bundle.is_dir() else "not built")]
    model = bundle / "_internal" / "resources" / "models"
    if model.is_dir():
        rows.append(("  of which the starter model", mb(tree_size(model))))
    rows.append((f"`{deb.name}`", mb(deb.stat().st_size) if deb.is_file() else "not built"))
    rows.append(
        (f"`{tarball.name}`", mb(tarball.stat().st_size) if tarball.is_file() else "not built")
    )
    installed = Path("/opt/hearth")
    rows.append(
        ("installed (`/opt/hearth`)", mb(tree_size(installed)) if installed.is_dir() else "—")
    )

    times: list[float] = []
    if shutil.which(args.app) or Path(args.app).is_file():
        server = start_xvfb()
        try:
            for run in range(args.runs):
                times.append(launch_to_window(args.app, args.screenshot if run == 0 else None))
        finally:
            server.terminate()
            server.wait(timeout=10)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("# Package size and start-up\n")
    print(f"- **When:** {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, ")
    print(f"  {os.cpu_count()} cores, load average {load}")
    print(f"- **Command:** `python benchmarks/package_bench.py --runs {args.runs}`\n")
    print("| what | size |\n|---|---:|")
    for what, size in rows:
        print(f"| {what} | {size} |")
    if times:
        print(f"\n## Launch to window ({args.app}, Xvfb)\n")
        print("| runs | median | fastest | slowest |\n|---:|---:|---:|---:|")
        print(
            f"| {len(times)} | {statistics.median(times):.2f} s | {min(times):.2f} s "
            f"| {max(times):.2f} s |"
        )
    else:
        print(f"\n{args.app} is not installed: no launch time measured.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
