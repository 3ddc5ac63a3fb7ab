"""The download manager against the fake hub: verify, install, resume, retry, refuse."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.data.config import Settings, get_paths
from engine.errors import DownloadError, OfflineError
from engine.models import downloads as dl
from engine.models.downloads import DownloadManager, DownloadProgress
from engine.models.hub import Hub, HubFile
from engine.types import ChatMessage, GenerationResult, SamplingParams
from tests.hubserver import FakeHub

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"
PART1 = "tiny-Q8_0-00001-of-00002.gguf"
PART2 = "tiny-Q8_0-00002-of-00002.gguf"


class Recorder:
    """Collects progress reports (called from worker threads)."""

    def __init__(self) -> None:
        self.events: list[DownloadProgress] = []
        self.cond = threading.Condition()

    def __call__(self, progress: DownloadProgress) -> None:
        with self.cond:
            self.events.append(progress)
            self.cond.notify_all()

    def wait_state(self, download_id: str, *states: str, timeout: float = 60) -> DownloadProgress:
        def found() -> DownloadProgress | None:
            for e in reversed(self.events):
                if e.id == download_id:
                    return e if e.state in states else None
            return None

        with self.cond:
            assert self.cond.wait_for(lambda: found() is not None, timeout), self.events[-3:]
            result = found()
            assert result is not None
            return result


#: A stall that outlasts every wait below: the fake hub stays silent for 60 s, and a stop
#: that waited for either would miss the waits' generous timeouts.
NEVER_S = 600.0
#: How long a stop during a stall may take: generous, and still short of the 60 s silence.
PROMPT_S = 40.0


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Poll a condition that no progress report announces (bytes the fake hub served)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def fake_hub(smollm2: Path) -> Iterator[FakeHub]:
    with FakeHub() as hub:
        hub.add_repo(
            REPO,
            {SMOL: smollm2.read_bytes(), PART1: b"a" * 300_000, PART2: b"b" * 200_000},
        )
        yield hub


def _files(hub: FakeHub) -> dict[str, HubFile]:
    return {f.name: f for f in Hub(Settings(), endpoint=hub.endpoint).files(REPO)}


def _manager(hub: FakeHub, rec: Recorder, **kwargs: object) -> DownloadManager:
    return DownloadManager(
        get_paths().ensure(),
        Settings(),
        on_progress=rec,
        endpoint=hub.endpoint,
        **kwargs,  # type: ignore[arg-type]
    )


def _models() -> Path:
    return get_paths().models_dir


def test_split_download_is_verified_and_installed_with_a_sidecar(fake_hub: FakeHub) -> None:
    rec = Recorder()
    manager = _manager(fake_hub, rec)
    split = _files(fake_hub)[PART1]
    done = rec.wait_state(manager.start(split), "done", "failed")
    manager.close()
    assert done.state == "done", done.error
    folder = _models() / REPO
    assert (folder / PART1).read_bytes() == b"a" * 300_000
    assert (folder / PART2).read_bytes() == b"b" * 200_000
    sidecar = json.loads((folder / f"{PART1}.download.json").read_text())
    assert sidecar["repo_id"] == REPO and sidecar["sha256"] == list(split.sha256)
    assert done.path == str(folder / PART1)
    assert any(e.state == "verifying" for e in rec.events)
    assert not list((_models() / ".downloads").rglob("*.incomplete"))


def test_corrupted_bytes_are_rejected_and_deleted(fake_hub: FakeHub) -> None:
    fake_hub.misbehave(PART1, corrupt=True)
    rec = Recorder()
    manager = _manager(fake_hub, rec)
    failed = rec.wait_state(manager.start(_files(fake_hub)[PART1]), "done", "failed")
    manager.close()
    assert failed.state == "failed"
    assert "sha256 does not match" in failed.error and "deleted" in failed.error
    assert not (_models() / REPO).exists()
    assert not list(_models().rglob("*.incomplete"))


def test_dropped_connection_resumes_without_refetching(fake_hub: FakeHub) -> None:
    fake_hub.misbehave(PART1, drop_after=100_000)
    rec = Recorder()
    manager = _manager(fake_hub, rec)
    done = rec.wait_state(manager.start(_files(fake_hub)[PART1]), "done", "failed")
    manager.close()
    assert done.state == "done", done.error
    assert fake_hub.bytes_served(PART1) == 300_000  # the first 100 kB were not fetched again
    ranges = [r[2] for r in fake_hub.requests("GET", f"/cdn/{REPO}/{PART1}")]
    assert ranges == ["bytes=0-", "bytes=100000-"]


@pytest.mark.slow
def test_stalled_transfer_is_retried(fake_hub: FakeHub) -> None:
    fake_hub.misbehave(PART2, stall_after=50_000)
    rec = Recorder()
    manager = _manager(fake_hub, rec, stall_timeout_s=0.5)
    done = rec.wait_state(manager.start(_files(fake_hub)[PART1]), "done", "failed")
    manager.close()
    assert done.state == "done", done.error
    assert fake_hub.bytes_served(PART2) == 200_000
    assert len(fake_hub.requests("GET", f"/cdn/{REPO}/{PART2}")) == 2


def test_pause_then_restart_resumes_from_the_bytes_on_disk(fake_hub: FakeHub) -> None:
    fake_hub.misbehave(PART1, stall_after=120_000)
    rec = Recorder()
    first = _manager(fake_hub, rec, stall_timeout_s=NEVER_S)
    split = _files(fake_hub)[PART1]
    download_id = first.start(split)
    wait_until(lambda: fake_hub.bytes_served(PART1) >= 120_000)
    wait_until(lambda: first.downloads()[0].done_bytes == 120_000)
    # The app quits mid-download, while the server is silent.
    closing = threading.Thread(target=first.close)
    closing.start()
    closing.join(PROMPT_S)
    assert not closing.is_alive(), "close() waited for the silent server"
    assert rec.wait_state(download_id, "paused").done_bytes == 120_000

    rec2 = Recorder()
    second = _manager(fake_hub, rec2)
    restored = second.restore()
    assert [(p.id, p.state, p.done_bytes) for p in restored] == [(download_id, "paused", 120_000)]
    fake_hub.reset_counts()
    second.resume(download_id)
    done = rec2.wait_state(download_id, "done", "failed")
    second.close()
    assert done.state == "done", done.error
    assert fake_hub.bytes_served(PART1) == 300_000 - 120_000
    assert (_models() / REPO / PART1).read_bytes() == b"a" * 300_000
    assert DownloadManager(get_paths(), Settings(), on_progress=rec2).restore() == []


def test_cancel_during_a_stall_is_prompt_and_leaves_nothing_behind(fake_hub: FakeHub) -> None:
    fake_hub.misbehave(SMOL, stall_after=1_000_000)
    rec = Recorder()
    manager = _manager(fake_hub, rec, stall_timeout_s=NEVER_S)
    download_id = manager.start(_files(fake_hub)[SMOL])
    wait_until(lambda: fake_hub.bytes_served(SMOL) >= 1_000_000)
    manager.cancel(download_id)
    ended = rec.wait_state(download_id, "cancelled", "done", timeout=PROMPT_S)
    assert ended.state == "cancelled"
    manager.close()
    assert not list(_models().rglob("*.gguf"))
    assert not list(_models().rglob("*.incomplete"))
    assert DownloadManager(get_paths(), Settings(), on_progress=rec).restore() == []


def test_pause_during_a_stall_ends_paused_then_resume_finishes_verified(
    fake_hub: FakeHub, smollm2: Path
) -> None:
    """The reported bug: a stop during a stall must end as paused, never as done."""
    fake_hub.misbehave(SMOL, stall_after=2_000_000)
    rec = Recorder()
    manager = _manager(fake_hub, rec, stall_timeout_s=NEVER_S)
    download_id = manager.start(_files(fake_hub)[SMOL])
    wait_until(lambda: fake_hub.bytes_served(SMOL) >= 2_000_000)
    # Served is not yet written: on a loaded machine the bytes may still sit in the
    # socket. Pause once some reached the disk, so the pause has bytes to keep.
    wait_until(lambda: any(d.done_bytes > 0 for d in manager.downloads()))
    manager.pause(download_id)
    paused = rec.wait_state(download_id, "paused", "done", "failed", timeout=PROMPT_S)
    assert paused.state == "paused" and 0 < paused.done_bytes <= 2_000_000
    assert not (_models() / REPO / SMOL).exists()
    assert not any(e.state in ("done", "verifying") for e in rec.events)

    fake_hub.reset_counts()
    manager.resume(download_id)
    done = rec.wait_state(download_id, "done", "failed")
    manager.close()
    assert done.state == "done", done.error
    installed = (_models() / REPO / SMOL).read_bytes()
    assert hashlib.sha256(installed).digest() == hashlib.sha256(smollm2.read_bytes()).digest()
    assert fake_hub.bytes_served(SMOL) == len(installed) - paused.done_bytes


def test_stop_requested_while_verifying_never_installs(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pause that lands after the last byte still ends paused; resume then installs."""
    rec = Recorder()
    manager = _manager(fake_hub, rec)
    real_verify = DownloadManager._verify

    def verify_then_pause(self: DownloadManager, job: object) -> None:
        real_verify(self, job)  # type: ignore[arg-type]
        self.pause(job.id)  # type: ignore[attr-defined]

    monkeypatch.setattr(DownloadManager, "_verify", verify_then_pause)
    download_id = manager.start(_files(fake_hub)[PART1])
    assert rec.wait_state(download_id, "paused", "done", "failed").state == "paused"
    assert not (_models() / REPO / PART1).exists()
    monkeypatch.setattr(DownloadManager, "_verify", real_verify)
    fake_hub.reset_counts()
    manager.resume(download_id)
    assert rec.wait_state(download_id, "done", "failed").state == "done"
    manager.close()
    assert fake_hub.bytes_served(PART1) == 0  # the verified bytes were kept
    assert (_models() / REPO / PART1).read_bytes() == b"a" * 300_000


@pytest.mark.slow
def test_full_download_is_verified_then_loaded_for_a_chat(fake_hub: FakeHub, smollm2: Path) -> None:
    """The real SmolLM2 GGUF through the hub protocol, checked by sha256, then used."""
    from engine.runtime.client import EngineClient

    rec = Recorder()
    manager = _manager(fake_hub, rec)
    file = _files(fake_hub)[SMOL]
    done = rec.wait_state(manager.start(file), "done", "failed")
    manager.close()
    assert done.state == "done", done.error
    data = Path(done.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == file.sha256[0]
    assert data == smollm2.read_bytes()

    async def chat() -> GenerationResult:
        async with EngineClient() as client:
            info = await client.load(done.path)
            assert info.model_id
            result = None
            params = SamplingParams(temperature=0, max_tokens=8)
            async for event in client.chat([ChatMessage("user", "Say hello.")], params):
                if isinstance(event, GenerationResult):
                    result = event
            assert result is not None
            return result

    result = asyncio.run(chat())
    assert result.text.strip() and result.stats.generated_tokens > 0


def test_not_enough_disk_is_refused_before_starting(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda path: type("U", (), {"free": 10_000_000})())
    manager = _manager(fake_hub, Recorder())
    with pytest.raises(DownloadError, match="Not enough free disk space"):
        manager.start(_files(fake_hub)[SMOL])
    manager.close()
    assert fake_hub.requests("GET", "/cdn/") == []
    assert manager.downloads() == []


def test_traversal_name_is_refused(fake_hub: FakeHub) -> None:
    evil = HubFile(REPO, "../../evil.gguf", ("../../evil.gguf",), (10,), ("0" * 64,), "")
    manager = _manager(fake_hub, Recorder())
    with pytest.raises(DownloadError, match="unsafe file name"):
        manager.start(evil)
    manager.close()
    assert fake_hub.requests() == []


def test_offline_download_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("a network connection was attempted in offline mode")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    manager = DownloadManager(get_paths().ensure(), Settings(offline=True), on_progress=Recorder())
    file = HubFile(REPO, SMOL, (SMOL,), (10,), ("0" * 64,), "Q4_1")
    with pytest.raises(OfflineError, match="Offline mode is on"):
        manager.start(file)
    manager.close()
