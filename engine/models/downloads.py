"""Model downloads: queue, progress, pause/resume across restarts, retry, sha256 check, install.

Transfers use huggingface_hub's metadata call (``get_hf_file_metadata``: the resolve
HEAD with its redirects, ``X-Repo-Commit`` and ``X-Linked-Size``) and its HTTP session,
streaming into ``<models>/.downloads/<id>/part<N>.incomplete`` and resuming those
files with ``Range``. (``hf_hub_download`` in huggingface_hub 2.x deletes its partial
file whenever a download fails, so it cannot resume after a pause or a restart.)
A finished part is checked against the hub's LFS sha256 before it is moved into
``<models>/<publisher>/<repo>/``, next to a ``<name>.download.json`` sidecar.

Bounds: a part is never written past the size the hub listed for it (a server that sends
more is reported as such and its bytes deleted), and free disk space is checked before a
download starts and again while it is written; a disk that fills up anyway stops the
download with its bytes kept for a resume.

Threads: every download runs on its own worker thread; ``on_progress`` is called
from those threads, never from the caller's. A GUI must hand it over to its own
thread (``loop.call_soon_threadsafe``). Each HTTP exchange (metadata and body) runs on a
short-lived reader thread that hands chunks over through a bounded queue, so the
worker sees a pause or cancel within :data:`_POLL_S` even while the server is silent:
an httpx stream cannot go on after a read timeout (httpcore closes the connection),
and closing a response from another thread does not wake a blocked read everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from engine.data.config import Paths, Settings
from engine.data.jsonfile import BrokenFile, read_json, set_aside, write_json
from engine.errors import DownloadError
from engine.models.hardware import format_bytes
from engine.models.hub import HubFile, hub_error, is_safe_name, offline_error, range_start
from engine.models.hub import resolve_endpoint as _resolve_endpoint
from engine.models.hub_http import open_answer
from engine.models.hub_text import clean_text

log = logging.getLogger("engine.download")

State = Literal["queued", "downloading", "paused", "verifying", "done", "failed", "cancelled"]
STAGING = ".downloads"
STATE_FILE = "downloads.json"
#: Kept free beyond the download itself when it starts.
DISK_MARGIN = 256 * 1000**2
#: Bytes written between two looks at the free disk space while downloading: a look is one
#: statvfs call, so even every 4 MB costs nothing next to the writes, and a disk that
#: another program fills is noticed before this download fills the rest.
DISK_CHECK_BYTES = 4 * 1024 * 1024
#: Automatic retries of a stalled or dropped transfer before it fails.
MAX_RETRIES = 4
# The saved list of unfinished downloads: ~500 bytes a download.
MAX_STATE_BYTES = 4 * 1024 * 1024
CHUNK = 1024 * 1024
_PROGRESS_INTERVAL = 0.2
#: How often a waiting worker looks at the stop flag (pause and cancel take effect this fast).
_POLL_S = 0.1
#: Chunks a reader thread may get ahead of the worker writing them.
_QUEUE_CHUNKS = 64
#: Seconds :meth:`DownloadManager.resume` waits for the previous run of a download to end.
_STOP_WAIT_S = 5.0


@dataclass(frozen=True)
class DownloadProgress:
    """Where one download stands.

    Attributes:
        id: the download's id.
        repo_id: ``publisher/repo``.
        name: the file name (first part of a split model).
        done_bytes: bytes on disk (while verifying: bytes hashed).
        total_bytes: bytes of all parts.
        speed_bps: recent transfer speed, bytes per second.
        eta_s: seconds left at that speed, or -1 when unknown.
        state: "queued", "downloading", "paused", "verifying", "done", "failed", "cancelled".
        error: why it failed, for the user; "" otherwise.
        path: the installed file once done; "" before.
    """

    id: str
    repo_id: str
    name: str
    done_bytes: int
    total_bytes: int
    speed_bps: float
    eta_s: float
    state: State
    error: str = ""
    path: str = ""


class _Stop(Exception):
    """Raised inside a worker when the user paused or cancelled."""


class _ShortBody(Exception):
    """The server ended a response before the bytes it announced (retried like a drop)."""


class _Oversize(Exception):
    """The server sent, or announced, more bytes than the hub listed for the part."""


@dataclass(frozen=True)
class _Meta:
    """What a reader thread hands to the worker before the body.

    Attributes:
        commit_hash: the commit the hub resolved, or None.
        status_code: the body's HTTP status (206 for a range).
        body_length: the body's Content-Length, or None.
        range_start: where a 206 body starts in the file (0 otherwise).
    """

    commit_hash: str | None
    status_code: int
    body_length: int | None
    range_start: int


@dataclass
class _Job:
    id: str
    file: HubFile
    state: State = "queued"
    done: int = 0
    speed: float = 0.0
    error: str = ""
    path: str = ""
    revision: str = "main"
    stop: str = ""  # "", "pause", "cancel" or "close"
    thread: threading.Thread | None = None
    wake: threading.Event = field(default_factory=threading.Event)


class DownloadManager:
    """Downloads models into the models folder, several at once.

    Args:
        paths: Hearth's folders (the state file lives in the data folder).
        settings: the settings (models folder, offline mode).
        on_progress: called with a :class:`DownloadProgress` on every change, from
            worker threads.
        max_parallel: downloads transferring at the same time.
        endpoint: the hub's address (default ``$HF_ENDPOINT`` or huggingface.co).
        stall_timeout_s: seconds without a byte before a transfer is retried.
        disk_margin: bytes kept free beyond a download when it starts.
    """

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        on_progress: Callable[[DownloadProgress], None],
        max_parallel: int = 2,
        endpoint: str | None = None,
        stall_timeout_s: float = 30.0,
        disk_margin: int = DISK_MARGIN,
    ) -> None:
        self.paths = paths
        self.settings = settings
        folder = settings.models_dir.strip()
        self.models_dir = Path(folder).expanduser() if folder else paths.models_dir
        self.endpoint = _resolve_endpoint(endpoint)
        self.stall_timeout_s = stall_timeout_s
        self.disk_margin = disk_margin
        self._on_progress = on_progress
        self._slots = threading.Semaphore(max(1, max_parallel))
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._closed = False

    # ------------------------------------------------------------------ public API
    @property
    def staging_dir(self) -> Path:
        """Where unfinished downloads are kept (inside the models folder)."""
        return self.models_dir / STAGING

    def start(self, file: HubFile) -> str:
        """Queue a download and return its id. Runs on the caller's thread; returns at once.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: not enough free disk space, an unsafe name, or closed.
        """
        if self.settings.offline:
            raise offline_error(f"download {file.name}")
        if self._closed:
            raise DownloadError("The download manager is closed.")
        for part in file.parts:
            self._final_path(file, part)  # validates the name
        job = _Job(id=uuid.uuid4().hex[:12], file=file)
        self._check_disk(job)
        with self._lock:
            self._jobs[job.id] = job
        self._save()
        self._launch(job)
        return job.id

    def pause(self, download_id: str) -> None:
        """Stop a download, keeping its bytes for :meth:`resume`."""
        self._stop(download_id, "pause")

    def cancel(self, download_id: str) -> None:
        """Stop a download and delete its bytes; nothing is installed."""
        self._stop(download_id, "cancel")

    def resume(self, download_id: str) -> None:
        """Continue a paused or failed download where it stopped.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: unknown id, or not enough free disk space.
        """
        if self.settings.offline:
            raise offline_error("resume the download")
        job = self._job(download_id)
        with self._lock:
            if job.state not in ("paused", "failed"):
                return
            old = job.thread
        if old is not None and old.is_alive():
            old.join(_STOP_WAIT_S)
            if old.is_alive():
                # Two runs must never write the same part file.
                raise DownloadError(
                    f"The download of {job.file.name} is still stopping; try again in a moment."
                )
        with self._lock:
            if job.state not in ("paused", "failed"):
                return
            job.stop, job.error = "", ""
            job.wake.clear()
            job.done = self._bytes_on_disk(job)
        self._check_disk(job)
        self._set(job, "queued")
        self._save()
        self._launch(job)

    def downloads(self) -> list[DownloadProgress]:
        """Every download this manager knows, oldest first."""
        with self._lock:
            return [self._progress(j) for j in self._jobs.values()]

    def restore(self) -> list[DownloadProgress]:
        """Bring back the unfinished downloads of an earlier run, paused, with their bytes."""
        try:
            records = read_json(self._state_file, max_bytes=MAX_STATE_BYTES)
        except FileNotFoundError:
            return []
        except BrokenFile as exc:
            # Kept for a look, never read again: the window restores at every start.
            log.warning("The saved download list %s is unusable: %s", self._state_file, exc)
            set_aside(self._state_file)
            return []
        restored = []
        for record in records if isinstance(records, list) else []:
            try:
                job = _Job(
                    id=str(record["id"]),
                    file=HubFile.from_dict(record["file"]),
                    state="paused",
                    revision=str(record.get("revision", "main")),
                )
            except (KeyError, TypeError, ValueError, DownloadError) as exc:
                log.warning("Skipping a saved download that cannot be read: %s", exc)
                continue
            with self._lock:
                if job.id in self._jobs:
                    continue
                job.done = self._bytes_on_disk(job)
                self._jobs[job.id] = job
            restored.append(self._progress(job))
        return restored

    def close(self) -> None:
        """Pause running downloads (bytes kept for the next run), wait briefly. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.state in ("queued", "downloading"):
                self._stop(job.id, "close")
        for job in jobs:
            if job.thread is not None:
                job.thread.join(10)
        self._save()

    # ------------------------------------------------------------------ internals
    @property
    def _state_file(self) -> Path:
        return self.paths.data_dir / STATE_FILE

    def _job(self, download_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(download_id)
        if job is None:
            raise DownloadError(f"No download with id {download_id!r}.")
        return job

    def _final_path(self, file: HubFile, part: str) -> Path:
        if not is_safe_name(part) or not is_safe_name(file.repo_id) or file.repo_id.count("/") != 1:
            raise DownloadError(f"Refusing the unsafe file name {part!r} from {file.repo_id}.")
        root = self.models_dir.resolve()
        target = (root / file.repo_id / part).resolve()
        if not target.is_relative_to(root) or target == root:
            raise DownloadError(
                f"Refusing {part!r}: it would be written outside the models folder."
            )
        return self.models_dir / file.repo_id / part

    def _part_path(self, job: _Job, index: int) -> Path:
        return self.staging_dir / job.id / f"part{index}.incomplete"

    def _bytes_on_disk(self, job: _Job) -> int:
        total = 0
        for i, size in enumerate(job.file.sizes):
            with contextlib.suppress(OSError):
                total += min(size, self._part_path(job, i).stat().st_size)
        return total

    def _check_disk(self, job: _Job) -> None:
        need = job.file.size - self._bytes_on_disk(job) + self.disk_margin
        folder = self.models_dir
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        if free < need:
            raise DownloadError(
                f"Not enough free disk space for {job.file.name}: it needs "
                f"{format_bytes(need)} (with a safety margin) and {format_bytes(free)} is free "
                f"in {folder}. Free some space or choose another models folder in Settings."
            )

    def _launch(self, job: _Job) -> None:
        job.thread = threading.Thread(
            target=self._run, args=(job,), name=f"download-{job.id}", daemon=True
        )
        job.thread.start()

    def _stop(self, download_id: str, how: str) -> None:
        job = self._job(download_id)
        with self._lock:
            if job.state in ("done", "cancelled") or (job.state == "failed" and how != "cancel"):
                return
            running = job.thread is not None and job.thread.is_alive()
            job.stop = how
            job.wake.set()
        # A running worker notices within _POLL_S (it never blocks on the network
        # itself) and ends the download as paused or cancelled.
        if not running:
            self._finish_stop(job)

    def _finish_stop(self, job: _Job) -> None:
        if job.stop == "cancel":
            shutil.rmtree(self.staging_dir / job.id, ignore_errors=True)
            with self._lock:
                job.done = 0
            self._set(job, "cancelled")
        else:
            with self._lock:
                job.done = self._bytes_on_disk(job)
            self._set(job, "paused")
        self._save()

    def _save(self) -> None:
        with self._lock:
            records = [
                {"id": j.id, "file": j.file.to_dict(), "revision": j.revision}
                for j in self._jobs.values()
                if j.state in ("queued", "downloading", "paused", "verifying", "failed")
            ]
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            write_json(self._state_file, records, indent=1)
        except OSError as exc:
            # A full disk must not also lose the download's outcome: the downloads stay
            # in memory, and the previous state file is untouched (written atomically).
            log.warning("Could not save the download list to %s: %s", self._state_file, exc)

    def _progress(self, job: _Job) -> DownloadProgress:
        left = job.file.size - job.done
        eta = left / job.speed if job.speed > 0 and job.state == "downloading" else -1.0
        return DownloadProgress(
            id=job.id,
            repo_id=job.file.repo_id,
            name=job.file.name,
            done_bytes=job.done,
            total_bytes=job.file.size,
            speed_bps=job.speed,
            eta_s=eta,
            state=job.state,
            error=job.error,
            path=job.path,
        )

    def _set(self, job: _Job, state: State, error: str = "") -> None:
        with self._lock:
            job.state = state
            job.error = error
            if state != "downloading":
                job.speed = 0.0
            progress = self._progress(job)
        self._emit(progress)

    def _emit(self, progress: DownloadProgress) -> None:
        try:
            self._on_progress(progress)
        except Exception:
            log.exception("on_progress failed")

    # ------------------------------------------------------------------ worker thread
    def _run(self, job: _Job) -> None:
        """Worker thread: wait for a slot, transfer, verify, install."""
        with self._slots:
            try:
                if job.stop:
                    raise _Stop
                self._set(job, "downloading")
                for index in range(len(job.file.parts)):
                    self._transfer(job, index)
                self._verify(job)
                if job.stop:
                    # Verified parts stay in staging; a resume re-checks and installs them.
                    raise _Stop
                self._install(job)
            except _Stop:
                self._finish_stop(job)
            except DownloadError as exc:
                log.warning("Download of %s failed: %s", job.file.name, exc)
                self._set(job, "failed", str(exc))
                self._save()
            except Exception as exc:
                log.exception("Download of %s failed", job.file.name)
                self._set(job, "failed", f"{type(exc).__name__}: {clean_text(str(exc))}")
                self._save()

    def _transfer(self, job: _Job, index: int) -> None:
        """Worker thread: bring part ``index`` to its full size, resuming with Range."""
        part, size = job.file.parts[index], job.file.sizes[index]
        path = self._part_path(job, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > size:
            path.unlink()
        what = f"download {part}"
        attempt = 0
        while True:
            if job.stop:
                raise _Stop
            have = path.stat().st_size if path.exists() else 0
            if have >= size:
                return
            body: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_CHUNKS)
            abandoned = threading.Event()
            reader = threading.Thread(
                target=self._read_body,
                args=(job.file.repo_id, part, job.revision, have, body, abandoned),
                name=f"download-{job.id}-reader",
                daemon=True,
            )
            reader.start()
            try:
                meta = self._receive(job, body)
                if isinstance(meta, BaseException):
                    raise meta
                if job.revision == "main" and meta.commit_hash:
                    job.revision = meta.commit_hash
                    self._save()
                start = self._body_start(meta, part, size, have)
                got = self._write_body(job, body, path, start, index)
                if got < size:
                    raise _ShortBody(f"the hub ended the transfer of {part} early")
                attempt = 0
            except _Stop:
                raise
            except _Oversize as exc:
                # Bytes from a server that broke its own announcement are not worth keeping.
                path.unlink(missing_ok=True)
                with self._lock:
                    job.done = self._bytes_on_disk(job)
                raise DownloadError(
                    f"The server sent more than the {size:,} bytes it announced for {part}, "
                    "so Hearth stopped and deleted what it had sent. The repository may have "
                    "changed since it was listed: list its files again, or try again later."
                ) from exc
            except DownloadError:
                raise  # Hearth's own verdict (disk full, a refused answer): retrying won't help
            except Exception as exc:
                if job.stop:
                    raise _Stop from exc
                error = (
                    DownloadError(f"Could not {what}: {exc}.")
                    if isinstance(exc, _ShortBody)
                    else hub_error(exc, self.endpoint, what)
                )
                status = getattr(getattr(exc, "response", None), "status_code", 0)
                if (status and status < 500) or attempt >= MAX_RETRIES:
                    raise error from exc
                attempt += 1
                delay = min(8.0, 0.25 * 2**attempt)
                log.warning("%s; retry %d of %d in %.1f s", error, attempt, MAX_RETRIES, delay)
                if job.wake.wait(delay) and job.stop:
                    raise _Stop from exc
            finally:
                # The reader ends at its next chunk, or at the stall timeout on a silent server.
                abandoned.set()

    @staticmethod
    def _body_start(meta: _Meta, part: str, size: int, have: int) -> int:
        """Where the body's first byte goes in the part: ``have`` (a range) or 0 (the file).

        Raises:
            _Oversize: the body is announced longer than the part.
            DownloadError: the server sent a range that was not asked for.
        """
        start = meta.range_start if meta.status_code == 206 else 0
        if start not in (0, have):
            raise DownloadError(
                f"Could not download {part}: the server sent other bytes than those asked "
                "for. Try again later."
            )
        if meta.body_length is not None and start + meta.body_length > size:
            raise _Oversize
        return start

    def _read_body(
        self,
        repo_id: str,
        part: str,
        revision: str,
        start: int,
        body: queue.Queue[Any],
        abandoned: threading.Event,
    ) -> None:
        """Reader thread: one metadata call and one ranged GET, handed over through ``body``.

        Puts a :class:`_Meta`, then ``bytes`` chunks, then ``None`` at the end; any error
        is put instead and ends the exchange. Stops as soon as ``abandoned`` is set.
        """
        from huggingface_hub import hf_hub_url
        from huggingface_hub.file_download import get_hf_file_metadata
        from huggingface_hub.utils import build_hf_headers

        def hand_over(item: Any) -> bool:
            while not abandoned.is_set():
                try:
                    body.put(item, timeout=_POLL_S)
                except queue.Full:
                    continue
                return True
            return False

        try:
            url = hf_hub_url(repo_id, part, revision=revision, endpoint=self.endpoint)
            meta = get_hf_file_metadata(
                url, timeout=self.stall_timeout_s + 5, endpoint=self.endpoint
            )
            if abandoned.is_set():
                return
            headers = build_hf_headers()
            headers["Accept-Encoding"] = "identity"
            headers["Range"] = f"bytes={start}-"
            # No deadline: a large model takes as long as it takes; the stall timeout and
            # the announced size bound it. Redirect bodies are left unread (open_answer).
            with open_answer(
                meta.location,
                what=f"download {part}",
                deadline=math.inf,
                headers=headers,
                read_timeout=self.stall_timeout_s,
            ) as response:
                length = response.headers.get("Content-Length", "")
                info = _Meta(
                    commit_hash=meta.commit_hash,
                    status_code=response.status_code,
                    body_length=int(length) if length.isdigit() else None,
                    range_start=range_start(response),
                )
                if not hand_over(info):
                    return
                # Raw bytes as received: no decoding to inflate them, and nothing buffered
                # is lost when the connection drops.
                for chunk in response.iter_raw():
                    if not hand_over(chunk):
                        return
            hand_over(None)
        except Exception as exc:
            hand_over(exc)

    def _receive(self, job: _Job, body: queue.Queue[Any]) -> Any:
        """Worker thread: the reader's next item, giving up at once when a stop is asked."""
        while True:
            if job.stop:
                raise _Stop
            try:
                return body.get(timeout=_POLL_S)
            except queue.Empty:
                continue

    def _write_body(
        self, job: _Job, body: queue.Queue[Any], path: Path, start: int, index: int
    ) -> int:
        """Worker thread: write the reader's chunks into the part from ``start``; returns its size.

        Unbuffered, so that a full disk shows at the write that failed and never later,
        at a close that would lose which bytes made it to the disk.
        """
        try:
            out = path.open("ab" if start else "wb", buffering=0)
        except OSError as exc:
            raise self._write_error(job, job.file.parts[index], exc) from exc
        with out:
            return self._copy(job, body, out, start, index)

    def _copy(self, job: _Job, body: queue.Queue[Any], out: Any, have: int, index: int) -> int:
        """Worker thread: write the reader's chunks to ``out``; returns the part's bytes on disk.

        Raises:
            _Oversize: the server sent more than the part's listed size (nothing past it
                is written).
            DownloadError: the disk is full, or about to be.
        """
        part, size = job.file.parts[index], job.file.sizes[index]
        before = sum(job.file.sizes[:index])
        last_emit = window_start = time.monotonic()
        window_bytes = 0
        unchecked = DISK_CHECK_BYTES  # look at the free space before the first write
        while True:
            chunk = self._receive(job, body)
            if chunk is None:
                break
            if isinstance(chunk, BaseException):
                raise chunk
            if have + len(chunk) > size:
                raise _Oversize
            if unchecked >= DISK_CHECK_BYTES:
                self._check_space_left(job, part, job.file.size - before - have)
                unchecked = 0
            try:
                self._write_all(out, chunk)
            except OSError as exc:
                with self._lock:  # what reached the disk, a partial write included
                    job.done = before + out.tell()
                raise self._write_error(job, part, exc) from exc
            unchecked += len(chunk)
            have += len(chunk)
            window_bytes += len(chunk)
            now = time.monotonic()
            with self._lock:
                job.done = before + have
                if now - window_start >= 1.0:
                    job.speed = window_bytes / (now - window_start)
                    window_start, window_bytes = now, 0
                elif job.speed == 0 and now > window_start:
                    job.speed = window_bytes / (now - window_start)
            if now - last_emit >= _PROGRESS_INTERVAL:
                last_emit = now
                self._emit(self._progress(job))
        if job.stop:
            raise _Stop
        return have

    @staticmethod
    def _write_all(out: Any, chunk: bytes) -> None:
        """Write all of ``chunk`` to an unbuffered file, which may take part of it per call."""
        view = memoryview(chunk)
        while view:
            view = view[out.write(view) :]

    def _check_space_left(self, job: _Job, part: str, still_to_come: int) -> None:
        """Worker thread: stop, keeping the bytes, when the rest can no longer fit on the disk."""
        free = shutil.disk_usage(self.staging_dir).free
        if free < still_to_come:
            raise DownloadError(
                f"Not enough free disk space to finish {part}: {format_bytes(free)} is free "
                f"in {self.models_dir} and {format_bytes(still_to_come)} is still to come. "
                f"The {format_bytes(job.done)} downloaded so far are kept: free some space, "
                "then resume the download."
            )

    def _write_error(self, job: _Job, part: str, exc: OSError) -> DownloadError:
        """The message for a part that could not be written (a full disk above all)."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DownloadError(
                f"The disk is full: {part} could not be written in {self.models_dir}. "
                f"The {format_bytes(job.done)} downloaded so far are kept: free some space, "
                "then resume the download."
            )
        return DownloadError(
            f"Could not write {part} in {self.models_dir}: {exc.strerror or exc}. "
            "Check the models folder in Settings, then resume the download."
        )

    def _verify(self, job: _Job) -> None:
        self._set(job, "verifying")
        with self._lock:
            job.done = 0
        last_emit = time.monotonic()
        for index, part in enumerate(job.file.parts):
            path = self._part_path(job, index)
            expected = job.file.sha256[index].lower()
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while block := f.read(CHUNK * 4):
                    if job.stop:
                        raise _Stop
                    digest.update(block)
                    with self._lock:
                        job.done += len(block)
                    if time.monotonic() - last_emit >= _PROGRESS_INTERVAL:
                        last_emit = time.monotonic()
                        self._emit(self._progress(job))
            if not expected or digest.hexdigest() != expected:
                shutil.rmtree(self.staging_dir / job.id, ignore_errors=True)
                with self._lock:
                    job.done = 0
                reason = (
                    "the hub gave no sha256 to check it against"
                    if not expected
                    else "its sha256 does not match the hub's (corrupted in transfer)"
                )
                raise DownloadError(
                    f"The downloaded file {part} was deleted: {reason}. Try the download again."
                )

    def _install(self, job: _Job) -> None:
        targets = [self._final_path(job.file, p) for p in job.file.parts]
        for index, target in enumerate(targets):
            target.parent.mkdir(parents=True, exist_ok=True)
            self._part_path(job, index).replace(target)
        sidecar = targets[0].with_name(targets[0].name + ".download.json")
        sidecar.write_text(
            json.dumps(
                {
                    "repo_id": job.file.repo_id,
                    "revision": job.revision,
                    "parts": list(job.file.parts),
                    "sha256": list(job.file.sha256),
                    "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                indent=1,
            ),
            encoding="utf-8",
        )
        shutil.rmtree(self.staging_dir / job.id, ignore_errors=True)
        with self._lock:
            job.path = str(targets[0])
            job.done = job.file.size
        self._set(job, "done")
        self._save()
        log.info("Installed %s/%s at %s", job.file.repo_id, job.file.name, targets[0])
