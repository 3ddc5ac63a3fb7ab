"""Start-up with an unusable data folder, and small safety bounds, on real files and processes.

A folder in place of the history database, a read-only file, folder or disk, a database
locked by another program and a full disk each give one message that says what is wrong
and what to do; only a damaged file is worth moving aside. Logging on a full disk or a
read-only folder notes it once, never with a traceback. User files are written through an
unpredictable temporary name. hearth-cli still chats from an unusable home and replaces
bytes that are not UTF-8 in its text arguments.

Read-only and full disks are real: a read-only bind mount or a 1 MiB tmpfs in a user and
mount namespace of the test's own (``unshare -rm``), and a read-only file for a process
without the capabilities that let root write anyway (``setpriv``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.data.atomicfile import write_atomic
from engine.data.history import BUSY_TIMEOUT_S, AsyncHistory, History
from engine.errors import HistoryError

#: The advice that would hide a healthy history if it were given for the wrong cause.
MOVE_ASIDE = "Move it aside"
#: A tmpfs this small fills at once, and no test can fill the real disk by mistake.
TINY_DISK = "1m"
#: Writes that would not fit in the tiny disk.
TOO_BIG = 4 * 1024 * 1024


def _can(command: list[str]) -> str | None:
    """Why ``command`` cannot run here, or None when it can."""
    if shutil.which(command[0]) is None:
        return f"{command[0]} is not installed"
    probe = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else probe.stderr.strip() or "refused"


def in_namespace(setup: str, command: list[str]) -> list[str]:
    """``command`` run in a user and mount namespace of its own after the shell ``setup``.

    Mounts made there (a read-only bind, a tiny tmpfs) are seen by that process alone and
    vanish with it.
    """
    why = _can(["unshare", "-rm", "true"])
    if why is not None:
        pytest.skip(f"cannot create a mount namespace here: {why}")
    return ["unshare", "-rm", "sh", "-c", f'{setup} && exec "$@"', "sh", *command]


def read_only_mount(folder: Path) -> str:
    """Shell that makes ``folder`` a read-only mount (EROFS, whoever writes)."""
    q = shlex.quote(str(folder))
    return f"mount --bind {q} {q} && mount -o remount,bind,ro {q}"


def tiny_disk(folder: Path) -> str:
    """Shell that mounts a tmpfs of :data:`TINY_DISK` on ``folder``."""
    return f"mount -t tmpfs -o size={TINY_DISK} tmpfs {shlex.quote(str(folder))}"


def without_root_powers(command: list[str]) -> list[str]:
    """``command`` run so that file modes apply to it: root loses the capabilities that
    let it write read-only files (a plain user needs nothing)."""
    if os.geteuid() != 0:
        return command
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    why = _can([*drop, "true"])
    if why is not None:
        pytest.skip(f"cannot drop root's file capabilities here: {why}")
    return [*drop, *command]


def python(code: str, *args: str) -> list[str]:
    """This interpreter running ``code`` with the worktree importable."""
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def run(command: list[str], *, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path.cwd(),
        env={**os.environ, "PYTHONPATH": str(Path.cwd()), **env},
    )


#: Opens the history as the GUI does (AsyncHistory: open, then the first write) and
#: prints the error's type and message as JSON.
OPEN_HISTORY = """
    import asyncio, json, sys
    from pathlib import Path
    from engine.data.history import AsyncHistory

    async def main():
        history = AsyncHistory(Path(sys.argv[1]))
        try:
            await history.open()
            return {"type": None, "message": ""}
        except Exception as exc:
            return {"type": type(exc).__name__, "message": str(exc)}
        finally:
            await history.aclose()

    print(json.dumps(asyncio.run(main())))
"""


def make_history(path: Path) -> bytes:
    """A real history database with one conversation; returns its bytes (checkpointed)."""
    history = History(path)
    history.add_message(history.create_conversation("Kept"), "user", "Keep me")
    history.close()  # the last connection checkpoints the WAL into the file
    return path.read_bytes()


# ----------------------------------------------------------------- the history database


def test_a_folder_in_place_of_the_database_is_named_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "hearth.db"
    (folder / "notes").mkdir(parents=True)
    with pytest.raises(HistoryError, match="is a folder, not a file") as caught:
        History(folder)
    assert "Move or rename that folder" in str(caught.value)
    assert [p.name for p in folder.iterdir()] == ["notes"]


def test_only_a_damaged_database_is_worth_moving_aside(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database " * 500)
    with pytest.raises(HistoryError, match=MOVE_ASIDE):
        History(garbage)
    assert garbage.read_bytes() == b"not a database " * 500

    newer = tmp_path / "newer.db"
    make_history(newer)
    import sqlite3

    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(HistoryError, match="newer Hearth") as caught:
        History(newer)
    assert MOVE_ASIDE not in str(caught.value), "a newer Hearth's history is healthy"


@pytest.mark.parametrize("case", ["read-only file", "read-only folder", "new in read-only folder"])
def test_a_read_only_database_says_so_and_is_not_moved_aside(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "hearth.db"
    before = b""
    if case != "new in read-only folder":
        before = make_history(path)
    if case == "read-only file":
        path.chmod(0o444)
    else:
        folder.chmod(0o555)
    try:
        result = run(without_root_powers(python(OPEN_HISTORY, str(path))))
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    opened = json.loads(result.stdout)
    assert opened["type"] == "HistoryError", opened
    assert "cannot write to its history database" in opened["message"]
    assert "writable" in opened["message"] and MOVE_ASIDE not in opened["message"]
    assert "Traceback" not in result.stderr
    if before:
        assert path.read_bytes() == before, "the history is left as it was"
    else:
        assert not path.exists()


def test_a_read_only_disk_says_so_and_is_not_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hearth.db"
    path.parent.mkdir()
    before = make_history(path)
    result = run(in_namespace(read_only_mount(path.parent), python(OPEN_HISTORY, str(path))))
    assert result.returncode == 0, result.stderr
    opened = json.loads(result.stdout)
    assert opened["type"] == "HistoryError"
    assert "cannot write to its history database" in opened["message"]
    assert MOVE_ASIDE not in opened["message"]
    assert path.read_bytes() == before


@pytest.mark.timeout(120)
def test_a_database_locked_by_another_program_is_named_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "hearth.db"
    make_history(path)
    # Another program holds the write lock until its standard input closes.
    holder = subprocess.Popen(
        python(
            """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.read()
            """,
            str(path),
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

        async def open_locked() -> None:
            history = AsyncHistory(path)
            try:
                # Bounded by the busy timeout, not by the other program.
                await asyncio.wait_for(history.open(), timeout=BUSY_TIMEOUT_S + 30)
            finally:
                await history.aclose()

        with pytest.raises(HistoryError, match="in use by another program") as caught:
            asyncio.run(open_locked())
        assert MOVE_ASIDE not in str(caught.value)
    finally:
        holder.communicate(input="", timeout=30)
    history = History(path)  # once the other program is gone, everything is still there
    try:
        assert [c.title for c in history.conversations()] == ["Kept"]
    finally:
        history.close()


def test_a_full_disk_says_so_and_is_not_moved_aside(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    script = """
        import asyncio, json, sys
        from pathlib import Path
        from engine.data.history import AsyncHistory, History

        disk = Path(sys.argv[1])
        History(disk / "old.db").close()
        with open(disk / "fill", "wb", buffering=0) as fill:  # to the last byte
            try:
                while fill.write(b"x" * 65536):
                    pass
            except OSError:
                pass

        async def opened(name):
            history = AsyncHistory(disk / name)
            try:
                await history.open()
                return "opened"
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"
            finally:
                await history.aclose()

        print(json.dumps({name: asyncio.run(opened(name)) for name in ("old.db", "new.db")}))
    """
    result = run(in_namespace(tiny_disk(disk), python(script, str(disk))))
    assert result.returncode == 0, result.stderr
    for name, outcome in json.loads(result.stdout).items():
        assert outcome.startswith("HistoryError: The disk that holds"), (name, outcome)
        assert "is full. Free some space" in outcome and MOVE_ASIDE not in outcome


# ---------------------------------------------------------------------------- logging

#: Sets up logging as the CLI does, with the address space capped, then logs far more
#: than the cap through a log file that cannot be written.
LOG_FLOOD = """
    import logging, resource, sys
    from pathlib import Path
    from engine.data.config import get_paths
    from engine.data.logs import LOG_FILE, setup_logging

    home = Path(sys.argv[1])
    paths = get_paths({"HEARTH_HOME": str(home)})
    setup_logging(paths, console=False, program="hearth-cli")
    log = logging.getLogger("engine.test")
    log.info("first line")
    with open(home / "fill", "wb", buffering=0) as fill:  # fill the disk to the last byte
        try:
            while fill.write(b"x" * 65536):
                pass
        except OSError:
            pass
    # Dropped records must not pile up in memory: 256 MiB of them under a 64 MiB margin.
    with open("/proc/self/status") as status:
        size = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + 64 * 1024 * 1024,) * 2)
    line = "y" * 4096
    for _ in range(64 * 1024):
        log.warning("%s", line)
    try:
        raise RuntimeError("a logged exception")
    except RuntimeError:
        log.exception("Unexpected error")
    (home / "fill").unlink()
    log.warning("after the disk has room again")
    for handler in logging.getLogger().handlers:
        handler.flush()
    print("resumed" if "room again" in (paths.log_dir / LOG_FILE).read_text() else "lost")
"""


@pytest.mark.timeout(180)
def test_logging_on_a_full_disk_notes_it_once_in_bounded_memory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run(in_namespace(tiny_disk(home), python(LOG_FLOOD, str(home))), timeout=150)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Logging error" not in result.stderr and "Traceback" not in result.stderr
    notes = result.stderr.splitlines()
    assert len(notes) == 1, notes[:5]
    assert notes[0].startswith("hearth-cli: note: cannot write the log")
    assert "No space left on device" in notes[0]
    assert result.stdout.strip() == "resumed", "the log resumes once there is room"


def test_logging_to_a_read_only_folder_notes_it_once_without_tracebacks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = """
        import logging, sys
        from engine.data.config import get_paths
        from engine.data.logs import setup_logging

        setup_logging(get_paths({"HEARTH_HOME": sys.argv[1]}), console=False, program="hearth-cli")
        log = logging.getLogger("engine.test")
        log.warning("a warning")
        try:
            raise RuntimeError("a logged exception")
        except RuntimeError:
            log.exception("Unexpected error")
    """
    result = run(in_namespace(read_only_mount(home), python(script, str(home))))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"hearth-cli: note: cannot write the log file in {home / 'logs'} "
        "(Read-only file system); running without it"
    ]


# ------------------------------------------------------------------------ atomic writes


def test_write_atomic_never_opens_a_planted_part_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    target = tmp_path / "out.md"
    planted = [tmp_path / n for n in ("out.md.part", "out.md.tmp", ".out.md.tmp", "out.md~")]
    for link in planted:
        link.symlink_to(victim)
    write_atomic(target, "# Exported\n")
    write_atomic(target, "# Exported again\n")  # replacing an existing file too
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert target.read_text(encoding="utf-8") == "# Exported again\n"
    assert not target.is_symlink()
    assert all(link.is_symlink() for link in planted), "the links are left alone"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["victim.txt", "out.md", *(link.name for link in planted)]
    ), "no temporary file is left behind"


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    write_atomic(script, "#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    new = tmp_path / "new.txt"
    old_umask = os.umask(0o027)
    try:
        write_atomic(new, b"bytes")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o640
    assert new.read_bytes() == b"bytes"


def test_write_atomic_on_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
        import os, sys
        from pathlib import Path
        from engine.data.atomicfile import write_atomic

        disk = Path(sys.argv[1])
        write_atomic(disk / "notes.md", "version 1\\n")
        try:
            write_atomic(disk / "notes.md", "x" * {TOO_BIG})
        except OSError as exc:
            print(exc.strerror)
        print((disk / "notes.md").read_text(), end="")
        print(sorted(os.listdir(disk)))
    """
    result = run(in_namespace(tiny_disk(disk), python(script, str(disk))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "No space left on device",
        "version 1",
        "['notes.md']",
    ]


# -------------------------------------------------------------------------- hearth-cli


@pytest.mark.slow
@pytest.mark.parametrize("case", ["read-only", "full"])
def test_the_cli_chats_without_saving_from_an_unusable_home(
    tmp_path: Path, hearth_home: Path, case: str
) -> None:
    hearth_home.mkdir()
    setup = read_only_mount(hearth_home) if case == "read-only" else tiny_disk(hearth_home)
    fill = (
        f"head -c {TOO_BIG} /dev/zero > {shlex.quote(str(hearth_home / 'fill'))} 2>/dev/null; true"
    )
    if case == "full":
        setup = f"{setup} && {fill}"
    command = [sys.executable, "-m", "engine", "chat", "--temperature", "0"]
    result = run(
        in_namespace(setup, [*command, "--max-tokens", "8", "Say hello."]),
        timeout=120,
        HEARTH_HOME=str(hearth_home),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the model answered"
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    (note,) = [line for line in lines if line.startswith("hearth-cli: note: ")]
    assert note.startswith("hearth-cli: note: cannot write the log")
    # chat stores its turns in the history by default: it says that this one is not.
    (warning,) = [line for line in lines if line.startswith("hearth-cli: warning: ")]
    assert "not stored" in warning
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr


@pytest.mark.slow
def test_invalid_utf8_in_text_arguments_is_replaced_with_a_note() -> None:
    command = [sys.executable, "-m", "engine", "chat", "--temperature", "0", "--max-tokens", "8"]
    result = subprocess.run(
        [*command, "--stop", b"\xe9t\xe9", b"Say hello \xff\xfe in French."],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert result.stdout.strip(), "the model answered"
    assert stderr.splitlines() == [
        f"hearth-cli: note: {name} is not valid UTF-8; the bytes that are not were replaced "
        "with \N{REPLACEMENT CHARACTER} (check your terminal's encoding)"
        for name in ("the prompt", "--stop")
    ]
