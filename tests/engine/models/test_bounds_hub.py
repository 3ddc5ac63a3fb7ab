"""Bounds on what the hub can make Hearth do: memory, disk and time stay bounded, answers clear.

A misbehaving hub (or a mirror set by ``HF_ENDPOINT``) is played by the fake hub; the
command line runs in a subprocess with its address space limited (``RLIMIT_AS``) and its
file size limited (``RLIMIT_FSIZE``), so a regression fails fast instead of eating the
machine's memory or disk, and its peak memory is measured (``wait4``, by a small launcher:
Linux carries a parent's peak into a forked child, and pytest's is large). A full disk is
a real one: a small tmpfs mounted in a private mount namespace (``unshare -rm``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.data.config import Settings, get_paths
from engine.errors import DownloadError, UsageError
from engine.models import downloads as dl
from engine.models.hub import MAX_LISTED_FILES, MAX_LISTED_MODELS, Hub, is_safe_name
from engine.models.hub_http import ANSWER_DEADLINE_S
from engine.models.hub_text import clean_text
from tests.engine import gguf_factory as gf
from tests.hubserver import FakeHub
from tests.measure import launch_report, launched
from tests.paths import ROOT

MB = 1024 * 1024
#: Address space of a command under test: several times what a bounded command needs (its
#: threads reserve address space they never touch), far below what an unbounded read takes.
MEMORY_LIMIT = 1536 * MB
#: Largest file a command under test may write: far above any test file, far below a disk.
FILE_LIMIT = 64 * MB
#: Hearth's bound on how long a user waits for an answer from a misbehaving hub.
ANSWER_S = 30.0
#: Peak resident memory allowed to a hub command. Bounded, they peak at 40-80 MB; an
#: unbounded read passed 0.9 GB within a minute here (12-14 GB in the probe's).
PEAK_RSS = 256 * MB

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY = gf.build_gguf(gf.llama_metadata(), gf.llama_tensors())


@dataclass(frozen=True)
class Run:
    """A finished command: exit status, output, seconds and peak resident bytes."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int


def run_cli(*args: str, kill_after: float = 2 * ANSWER_S) -> Run:
    """Run ``hearth-cli`` with limited memory and file size; measure its time and peak memory."""
    with tempfile.TemporaryDirectory() as folder:
        report, out, err = (Path(folder) / name for name in ("report", "out", "err"))
        command = [sys.executable, "-m", "engine", *args]
        started = time.monotonic()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                launched(command, report, memory=MEMORY_LIMIT, file_size=FILE_LIMIT),
                stdout=stdout,
                stderr=stderr,
                env=os.environ.copy(),
                start_new_session=True,  # one group: a command past kill_after goes whole
            )
            try:
                proc.wait(kill_after)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = time.monotonic() - started
        returncode, peak = launch_report(report)
        return Run(
            returncode=returncode,
            stdout=out.read_text(errors="replace"),
            stderr=err.read_text(errors="replace"),
            seconds=seconds,
            peak_rss=peak,
        )


def assert_one_clear_line(run: Run, *expected: str) -> None:
    """Failed with one ``hearth-cli:`` line holding ``expected``, in time and memory.

    Only progress lines (``models pull``) may come before it.
    """
    assert run.returncode == 1, run
    *before, last = run.stderr.splitlines()
    assert last.startswith("hearth-cli: "), run.stderr
    assert all(" of " in line for line in before), run.stderr
    for text in expected:
        assert text in last, run.stderr
    assert "Traceback" not in run.stderr and "unexpected error" not in run.stderr
    assert run.seconds < ANSWER_S, run
    assert run.peak_rss < PEAK_RSS, run


@pytest.fixture
def hub(smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake hub that the command line reaches through ``HF_ENDPOINT``."""
    with FakeHub() as fake:
        fake.add_repo(REPO, {SMOL: smollm2.read_bytes()}, downloads=900, likes=5)
        fake.add_repo("other/tiny-GGUF", {"tiny-Q4_0.gguf": TINY[:1000]}, downloads=3)
        monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
        yield fake


# ------------------------------------------------------------------ hub answers (item 1)
def test_an_endless_search_answer_is_cut_at_its_cap(hub: FakeHub) -> None:
    hub.misbehave_api(endless=True)
    run = run_cli("models", "search", "smol")
    assert_one_clear_line(run, "Could not search the hub", "larger than 4 MB")


def test_an_endless_listing_page_is_cut_at_its_cap(hub: FakeHub) -> None:
    hub.misbehave_api(endless=True)
    run = run_cli("models", "files", REPO)
    assert_one_clear_line(run, f"Could not list the files of {REPO}", "larger than 4 MB")


def test_an_endless_error_or_redirect_body_is_never_read_whole(hub: FakeHub) -> None:
    hub.misbehave_api(status=500)
    run = run_cli("models", "search", "smol")
    assert_one_clear_line(run, "server error (HTTP 500)")
    hub.misbehave_api(redirect=True)
    run = run_cli("models", "files", REPO)
    assert_one_clear_line(run, "redirected too many times")


def test_a_trickling_answer_ends_at_the_deadline(hub: FakeHub) -> None:
    """A byte every 200 ms never trips a read timeout; the deadline for the answer ends it."""
    hub.misbehave_api(trickle_s=0.2)  # the ~200-byte answer would take 40 s
    run = run_cli("models", "search", "smol")
    late = f"did not finish answering within {ANSWER_DEADLINE_S:.0f} s"
    assert_one_clear_line(run, "Could not search the hub", late)
    assert run.seconds >= ANSWER_DEADLINE_S  # it was the deadline, not something else


def test_a_search_asks_for_a_bounded_number_of_results(hub: FakeHub) -> None:
    run = run_cli("models", "search", "smol", "--limit", "100000")
    assert run.returncode == 2 and "--limit: must be 1 to 100," in run.stderr, run
    with pytest.raises(UsageError, match="at most 100 results"):
        Hub(Settings()).search("smol", limit=100_000)
    assert hub.requests() == []


@pytest.mark.slow
def test_a_huge_listing_is_capped_and_headers_stop_at_the_bytes_asked(
    hub: FakeHub, smollm2: Path
) -> None:
    """100,000 files, each a full model from a server that ignores Range (the probe's case)."""
    data = smollm2.read_bytes()
    names = [f"m{i:06d}-Q4_1.gguf" for i in range(100_000)]
    hub.add_repo("big/many-GGUF", dict.fromkeys(names, data))
    for name in names[:MAX_LISTED_MODELS]:
        hub.misbehave(name, ignore_range=True)
    run = run_cli("models", "files", "big/many-GGUF", "--json")
    assert run.returncode == 0, run
    listed = json.loads(run.stdout)
    assert [f["name"] for f in listed] == names[:MAX_LISTED_MODELS]
    assert all(f["fit"] in ("gpu", "ram") for f in listed), listed[0]
    assert f"Showing the first {MAX_LISTED_MODELS} of {MAX_LISTED_FILES:,} GGUF models" in (
        run.stderr
    )
    assert f"Only the first {MAX_LISTED_FILES:,} files of big/many-GGUF were read" in run.stderr
    pages = hub.requests("GET", "/api/models/big/many-GGUF/tree/")
    assert len(pages) == MAX_LISTED_FILES // FakeHub.PAGE
    # One header read per model listed, each stopped near the 2 MB asked for (the kernel's
    # socket buffers take a few MB more before the server notices), never the 98 MB sent.
    served = [hub.bytes_served(n) for n in names[:MAX_LISTED_MODELS]]
    assert max(served) < 16 * MB < len(data), max(served)
    assert hub.bytes_served(names[MAX_LISTED_MODELS]) == 0
    assert run.seconds < ANSWER_S and run.peak_rss < PEAK_RSS, run


def test_a_listing_in_one_huge_page_is_refused(hub: FakeHub, smollm2: Path) -> None:
    data = smollm2.read_bytes()
    hub.add_repo("big/one-page-GGUF", {f"m{i:06d}.gguf": data for i in range(100_000)})
    hub.misbehave_api(one_page=True)
    with pytest.raises(DownloadError, match="larger than 4 MB"):
        Hub(Settings(), endpoint=hub.endpoint).listing("big/one-page-GGUF")


@pytest.mark.parametrize(
    ("trouble", "reason"),
    [
        ({"endless": True, "after_pages": 2}, "the rest could not be read"),
        ({"next_host": "http://elsewhere.invalid"}, "its next page is on another host"),
    ],
)
def test_a_listing_that_fails_after_its_first_pages_keeps_what_was_read(
    hub: FakeHub, trouble: dict[str, object], reason: str
) -> None:
    names = [f"m{i:04d}-Q4_0.gguf" for i in range(3 * FakeHub.PAGE)]
    hub.add_repo("big/paged-GGUF", dict.fromkeys(names, TINY))
    hub.misbehave_api(**trouble)
    listing = Hub(Settings(), endpoint=hub.endpoint).listing("big/paged-GGUF")
    pages_read = 2 if "after_pages" in trouble else 1
    assert listing.files_read == pages_read * FakeHub.PAGE and not listing.complete
    assert [f.name for f in listing.files] == names[:MAX_LISTED_MODELS]
    assert f"({reason})" in listing.note()


def test_a_header_read_stops_at_the_bytes_asked_when_range_is_ignored(
    hub: FakeHub, smollm2: Path
) -> None:
    hub.misbehave(SMOL, ignore_range=True)
    api = Hub(Settings(), endpoint=hub.endpoint)
    [smol] = api.files(REPO)
    info = api.header(smol)
    assert info.architecture == "llama"
    assert hub.bytes_served(SMOL) < 16 * MB < smollm2.stat().st_size
    assert [r[2] for r in hub.requests("GET", "/cdn/")] == ["bytes=0-2097151"]


# ------------------------------------------------------------------ hub text (item 9)
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m \x9b1;1H\u202egguf.exe\u202c\r\nfake line\x00"


def test_clean_text_drops_escapes_controls_and_bidi() -> None:
    cleaned = clean_text(HOSTILE)
    assert cleaned == "red gguf.exe  fake line"  # the 8-bit CSI (0x9b) goes whole too
    assert clean_text("ordinary ünïcödé 模型 text") == "ordinary ünïcödé 模型 text"
    assert len(clean_text("x" * 10_000)) == 300
    for bad in ("a\x1b[31m.gguf", "a\x9b31m.gguf", "a\u202e.gguf", "a\x7f.gguf", "a\x85.gguf"):
        assert not is_safe_name(bad), repr(bad)
    assert is_safe_name("模型/Q4_K_M/model-Q4_K_M.gguf")


@pytest.mark.slow  # `models files` starts the engine worker
def test_hub_text_reaches_no_terminal_with_its_escapes(hub: FakeHub) -> None:
    hub.add_repo("evil/\x1b[31mred-GGUF", {"m.gguf": TINY}, downloads=10**6)
    hub.add_repo(
        "evil/names-GGUF",
        {"fine-Q8_0.gguf": TINY, "\x1b]0;pwned\x07-Q4_0.gguf": TINY, "a\u202egguf.Q2_K.gguf": TINY},
        downloads=10**5,
        last_modified="2025-01-01T00:00:00.000Z\x1b[2J",
    )
    search = run_cli("models", "search", "")
    assert search.returncode == 0, search
    assert "evil/names-GGUF  [100,000 downloads" in search.stdout
    as_json = run_cli("models", "search", "names", "--json")
    assert json.loads(as_json.stdout)[0]["last_modified"] == ""  # not a time: dropped
    files = run_cli("models", "files", "evil/names-GGUF")
    assert files.returncode == 0, files
    assert files.stdout.splitlines()[0] == "fine-Q8_0.gguf"
    for run in (search, as_json, files):
        printed = run.stdout + run.stderr
        assert not any(c in printed for c in "\x1b\x9b\x07\u202e"), repr(printed)


# ------------------------------------------------------------------ downloads (item 2)
def test_a_download_stops_at_the_size_the_hub_announced(hub: FakeHub) -> None:
    """The probe's case: listed as 1 kB, sent without end; it wrote until the disk was full."""
    hub.misbehave("tiny-Q4_0.gguf", endless=True)
    run = run_cli("models", "pull", "other/tiny-GGUF")
    assert_one_clear_line(
        run, "The server sent more than the 1,000 bytes it announced for tiny-Q4_0.gguf"
    )
    models = get_paths().models_dir
    written = [p for p in models.rglob("*") if p.is_file()]
    assert written == [], written  # the bytes of a server that lied are not kept
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert all("tiny" not in m["path"] for m in listed)


def _unshare_works() -> bool:
    return shutil.which("unshare") is not None and (
        subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0
    )


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm to mount a small tmpfs")
@pytest.mark.parametrize(
    ("left_free", "message"),
    [
        # More free space than one disk check's interval: the check stops the download
        # while some space is still left for everything else.
        (dl.DISK_CHECK_BYTES + MB, "Not enough free disk space to finish big-Q8_0.gguf"),
        # Less: the disk fills before the next check, and the write that failed says so.
        (MB, "The disk is full: big-Q8_0.gguf could not be written"),
    ],
)
def test_a_disk_that_fills_up_mid_download_keeps_the_bytes_and_resumes(
    tmp_path: Path, left_free: int, message: str
) -> None:
    home = tmp_path / "small-disk"
    home.mkdir()
    env = {**os.environ, "HEARTH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    script = (
        "from tests.engine.models.test_bounds_hub import fill_disk_mid_download as f; "
        f"f({left_free})"
    )
    run = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f'mount -t tmpfs -o size=40m tmpfs "$HEARTH_HOME" && exec "{sys.executable}" -c "$0"',
            script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["state"] == "failed" and message in report["error"], report
    assert "resume the download" in report["error"] and "Traceback" not in run.stderr
    assert report["kept"] == report["done_bytes"] > 0  # the bytes written are kept, in order
    assert report["restored"] == [[report["id"], "paused", report["kept"]]]  # not lost
    assert report["final"] == "done" and report["installed_ok"], report


def fill_disk_mid_download(left_free: int) -> None:
    """Child of the disk test, alone on a 40 MB tmpfs at ``$HEARTH_HOME``; prints a JSON report.

    A 30 MB download pauses at 5 MB (its disk checks at 0 and 4 MB saw room); the disk is
    then filled to ``left_free`` bytes; the download goes on and must stop clearly. Then
    the space is freed, a fresh manager restores the download, and it resumes to the end.
    """
    data = os.urandom(30 * MB)
    with FakeHub() as fake:
        fake.add_repo("big/file-GGUF", {"big-Q8_0.gguf": data})
        trouble = fake.misbehave("big-Q8_0.gguf", pause_after=5 * MB)
        events: list[dl.DownloadProgress] = []
        changed = threading.Condition()

        def on_progress(progress: dl.DownloadProgress) -> None:
            with changed:
                events.append(progress)
                changed.notify_all()

        def wait_for(test: Callable[[dl.DownloadProgress], bool]) -> dl.DownloadProgress:
            with changed:
                assert changed.wait_for(lambda: bool(events) and test(events[-1]), 60), events
                return events[-1]

        paths = get_paths().ensure()
        [file] = Hub(Settings(), endpoint=fake.endpoint).files("big/file-GGUF")
        manager = dl.DownloadManager(
            paths, Settings(), on_progress=on_progress, endpoint=fake.endpoint, disk_margin=0
        )
        download_id = manager.start(file)
        deadline = time.monotonic() + 60
        while manager.downloads()[0].done_bytes < 5 * MB:  # no report marks the pause
            assert time.monotonic() < deadline
            time.sleep(0.01)
        filler = paths.data_dir / "filler"
        with filler.open("wb") as out:
            out.write(bytes(shutil.disk_usage(paths.data_dir).free - left_free))
        trouble.gate.set()
        failed = wait_for(lambda e: e.state in ("failed", "done"))
        part = next(manager.staging_dir.rglob("*.incomplete"))
        kept = part.stat().st_size
        manager.close()
        filler.unlink()
        again = dl.DownloadManager(
            paths, Settings(), on_progress=on_progress, endpoint=fake.endpoint, disk_margin=0
        )
        restored = [[p.id, p.state, p.done_bytes] for p in again.restore()]
        with changed:
            events.clear()
        again.resume(download_id)
        done = wait_for(lambda e: e.state in ("failed", "done"))
        again.close()
        installed = Path(done.path).read_bytes() == data if done.path else False
    print(
        json.dumps(
            {
                "id": download_id,
                "state": failed.state,
                "error": failed.error,
                "done_bytes": failed.done_bytes,
                "kept": kept,
                "restored": restored,
                "final": done.state,
                "installed_ok": installed,
            }
        )
    )
