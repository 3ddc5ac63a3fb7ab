"""A fake Hugging Face hub on 127.0.0.1 for tests: the HTTP calls huggingface_hub makes.

It speaks what Hearth's hub client and downloader use: ``GET /api/models`` (search),
``GET /api/models/{repo}`` with LFS sha256 and sizes (``?blobs=True``), and
``HEAD``/``GET /{repo}/resolve/{revision}/{path}``, which redirects (302, with
``X-Repo-Commit``, ``X-Linked-Etag`` and ``X-Linked-Size``) to ``/cdn/{repo}/{path}``,
which serves the bytes with ``Range`` support.

Per-file misbehaviours are switched on by tests: stall mid-transfer, drop the
connection after N bytes, serve corrupted bytes, answer an HTTP error; a repo can
advertise extra (e.g. path-traversal) names. Requests and bytes served are counted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, quote, unquote, urlsplit


@dataclass
class FakeRepo:
    """One repository on the fake hub."""

    repo_id: str
    files: dict[str, bytes]
    downloads: int = 0
    likes: int = 0
    gated: bool = False
    last_modified: str = "2025-01-01T00:00:00.000Z"
    #: names listed in the file listing that have no bytes (e.g. "../../evil.gguf")
    advertised: tuple[str, ...] = ()
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    #: HTTP status every request for this repo gets (401, 404, 500), or 0
    status: int = 0


@dataclass
class Misbehaviour:
    """What goes wrong when a file is served; each ``*_once`` trouble happens on one GET only."""

    stall_after: int | None = None
    stall_once: bool = True
    drop_after: int | None = None
    drop_once: bool = True
    corrupt: bool = False
    status: int = 0


@dataclass
class _Stats:
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    bytes_served: Counter[str] = field(default_factory=Counter)


class FakeHub:
    """A threaded fake hub; use as a context manager, read ``endpoint``.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``.
        repos: registered repositories by id.
        trouble: misbehaviours by file name.
    """

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.trouble: dict[str, Misbehaviour] = {}
        self._stats = _Stats()
        self._lock = threading.Lock()
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ set-up
    def add_repo(self, repo_id: str, files: dict[str, bytes], **kwargs: object) -> FakeRepo:
        """Register a repository with real file bytes."""
        repo = FakeRepo(repo_id, dict(files), **kwargs)  # type: ignore[arg-type]
        self.repos[repo_id] = repo
        return repo

    def misbehave(self, name: str, **kwargs: object) -> Misbehaviour:
        """Make a file misbehave (see :class:`Misbehaviour`)."""
        trouble = Misbehaviour(**kwargs)  # type: ignore[arg-type]
        self.trouble[name] = trouble
        return trouble

    # ------------------------------------------------------------------ counters
    def bytes_served(self, name: str) -> int:
        """File bytes sent so far for ``name``, over all requests."""
        with self._lock:
            return self._stats.bytes_served[name]

    def requests(self, method: str | None = None, contains: str = "") -> list[tuple[str, str, str]]:
        """Requests seen: (method, path, Range header)."""
        with self._lock:
            return [
                r
                for r in self._stats.requests
                if (method is None or r[0] == method) and contains in r[1]
            ]

    def reset_counts(self) -> None:
        """Forget the requests and bytes counted so far."""
        with self._lock:
            self._stats = _Stats()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; stalled connections are let go."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ serving
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests read the request counts, not a log."""

            def do_HEAD(self) -> None:
                hub._serve(self, head=True)

            def do_GET(self) -> None:
                hub._serve(self, head=False)

        return Handler

    def _json(self, h: BaseHTTPRequestHandler, value: object, status: int = 200) -> None:
        body = json.dumps(value).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str = "") -> None:
        body = json.dumps({"error": f"fake hub error {status}"}).encode()
        h.send_response(status)
        if code:
            h.send_header("X-Error-Code", code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _serve(self, h: BaseHTTPRequestHandler, *, head: bool) -> None:
        url = urlsplit(h.path)
        path = unquote(url.path)
        with self._lock:
            self._stats.requests.append((h.command, path, h.headers.get("Range", "")))
        if path == "/api/models":
            self._search(h, parse_qs(url.query))
        elif path.startswith("/api/models/"):
            self._info(h, path.removeprefix("/api/models/"))
        elif "/resolve/" in path:
            self._resolve(h, path)
        elif path.startswith("/cdn/"):
            self._cdn(h, path.removeprefix("/cdn/"), head=head)
        else:
            self._error(h, 404)

    def _repo_or_error(self, h: BaseHTTPRequestHandler, repo_id: str) -> FakeRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(h, 404, "RepoNotFound")
            return None
        if repo.status:
            code = {401: "GatedRepo", 403: "GatedRepo", 404: "RepoNotFound"}.get(repo.status, "")
            self._error(h, repo.status, code)
            return None
        return repo

    def _search(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        text = query.get("search", [""])[0].lower()
        sort = query.get("sort", ["downloads"])[0]
        limit = int(query.get("limit", ["1000"])[0])
        gguf_only = "gguf" in query.get("filter", [])
        found = [
            r
            for r in self.repos.values()
            if text in r.repo_id.lower()
            and (not gguf_only or any(n.endswith(".gguf") for n in r.files))
        ]
        key = {"likes": "likes", "lastModified": "last_modified"}.get(sort, "downloads")
        found.sort(key=lambda r: getattr(r, key), reverse=True)
        self._json(
            h,
            [
                {
                    "id": r.repo_id,
                    "modelId": r.repo_id,
                    "downloads": r.downloads,
                    "likes": r.likes,
                    "lastModified": r.last_modified,
                    "gated": r.gated,
                    "private": False,
                    "tags": ["gguf"],
                }
                for r in found[:limit]
            ],
        )

    def _info(self, h: BaseHTTPRequestHandler, rest: str) -> None:
        repo = self._repo_or_error(h, rest.split("/revision/")[0])
        if repo is None:
            return
        siblings = []
        for name, data in repo.files.items():
            sha = hashlib.sha256(data).hexdigest()
            siblings.append(
                {
                    "rfilename": name,
                    "size": len(data),
                    "blobId": sha[:40],
                    "lfs": {"size": len(data), "sha256": sha, "pointerSize": 134},
                }
            )
        for name in repo.advertised:
            siblings.append(
                {
                    "rfilename": name,
                    "size": 10,
                    "blobId": "0" * 40,
                    "lfs": {"size": 10, "sha256": "0" * 64, "pointerSize": 134},
                }
            )
        self._json(
            h,
            {
                "id": repo.repo_id,
                "sha": repo.commit,
                "private": False,
                "gated": repo.gated,
                "downloads": repo.downloads,
                "likes": repo.likes,
                "lastModified": repo.last_modified,
                "tags": ["gguf"],
                "siblings": siblings,
            },
        )

    def _split_repo(self, rest: str) -> tuple[str, str]:
        owner, name, *tail = rest.split("/")
        return f"{owner}/{name}", "/".join(tail)

    def _resolve(self, h: BaseHTTPRequestHandler, path: str) -> None:
        repo_part, _, tail = path.lstrip("/").partition("/resolve/")
        _revision, _, name = tail.partition("/")
        repo = self._repo_or_error(h, repo_part)
        if repo is None:
            return
        trouble = self.trouble.get(name)
        if trouble and trouble.status:
            self._error(h, trouble.status)
            return
        data = repo.files.get(name)
        if data is None:
            self._error(h, 404, "EntryNotFound")
            return
        sha = hashlib.sha256(data).hexdigest()
        h.send_response(302)
        h.send_header("Location", f"/cdn/{repo.repo_id}/{quote(name)}")
        h.send_header("X-Repo-Commit", repo.commit)
        h.send_header("X-Linked-Etag", f'"{sha}"')
        h.send_header("X-Linked-Size", str(len(data)))
        h.send_header("ETag", '"0123abcd"')
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _cdn(self, h: BaseHTTPRequestHandler, rest: str, *, head: bool) -> None:
        repo_id, name = self._split_repo(rest)
        repo = self.repos.get(repo_id)
        data = repo.files.get(name) if repo else None
        if repo is None or data is None:
            self._error(h, 404)
            return
        sha = hashlib.sha256(data).hexdigest()
        trouble = self.trouble.get(name, Misbehaviour())
        if trouble.corrupt:
            data = bytes(b ^ 0xFF for b in data[:4096]) + data[4096:]
        start, end = 0, len(data) - 1
        ranged = h.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first, _, last = ranged.removeprefix("bytes=").partition("-")
            start = int(first) if first else 0
            end = min(int(last), len(data) - 1) if last else len(data) - 1
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        h.send_response(206 if ranged else 200)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(end - start + 1))
        if ranged:
            h.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        h.send_header("ETag", f'"{sha}"')
        h.send_header("X-Repo-Commit", repo.commit)
        h.send_header("X-Linked-Etag", f'"{sha}"')
        h.send_header("X-Linked-Size", str(len(data)))
        h.end_headers()
        if head:
            return
        body = memoryview(data)[start : end + 1]
        stop_at = None
        mode = ""
        if trouble.stall_after is not None:
            stop_at, mode = trouble.stall_after, "stall"
            if trouble.stall_once:
                trouble.stall_after = None
        elif trouble.drop_after is not None:
            stop_at, mode = trouble.drop_after, "drop"
            if trouble.drop_once:
                trouble.drop_after = None
        limit = len(body) if stop_at is None else max(0, min(len(body), stop_at - start))
        sent = 0
        try:
            while sent < limit:
                chunk = body[sent : min(limit, sent + 65536)]
                h.wfile.write(chunk)
                sent += len(chunk)
                with self._lock:
                    self._stats.bytes_served[name] += len(chunk)
            h.wfile.flush()
            if mode == "stall":
                self.release.wait(60)
                h.close_connection = True
            elif mode == "drop":
                h.close_connection = True
        except OSError:
            h.close_connection = True
