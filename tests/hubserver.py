"""A fake Hugging Face hub on 127.0.0.1 for tests: the HTTP calls huggingface_hub makes.

It speaks what Hearth's hub client and downloader use: ``GET /api/models`` (search),
``GET /api/models/{repo}`` with LFS sha256 and sizes (``?blobs=True``),
``GET /api/models/{repo}/tree/{revision}`` (the file listing, paged like the hub's at
1,000 files with a ``Link: rel="next"`` header), and
``HEAD``/``GET /{repo}/resolve/{revision}/{path}``, which redirects (302, with
``X-Repo-Commit``, ``X-Linked-Etag`` and ``X-Linked-Size``) to ``/cdn/{repo}/{path}``,
which serves the bytes with ``Range`` support.

Per-file misbehaviours are switched on by tests: stall mid-transfer, pause until a gate
opens, drop the connection after N bytes, serve corrupted bytes, ignore Range, send more
bytes than announced, answer an HTTP error; a repo can advertise extra (e.g.
path-traversal) names. The JSON endpoints can misbehave too (:class:`ApiTrouble`): an
answer that never ends, one that trickles a byte at a time, an error or a redirect with
an endless body. Requests and bytes served are counted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import Counter
from collections.abc import Iterator
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
    """What goes wrong when a file is served; each ``*_once`` trouble happens on one GET only.

    Attributes:
        stall_after: stop sending after this many bytes of the file, then close.
        drop_after: close the connection after this many bytes of the file.
        pause_after: stop after this many bytes of the file until ``gate`` is set, then
            go on with the same answer (once).
        gate: opened by the test to end a ``pause_after`` pause.
        corrupt: flip the first 4 kB.
        ignore_range: answer 200 with the whole file whatever Range asks.
        endless: after the file's bytes, send zeros until the client hangs up (and no
            Content-Length: the hub's listing and X-Linked-Size still announce the file's size).
        status: answer this HTTP status instead.
    """

    stall_after: int | None = None
    stall_once: bool = True
    drop_after: int | None = None
    drop_once: bool = True
    pause_after: int | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    corrupt: bool = False
    ignore_range: bool = False
    endless: bool = False
    status: int = 0


@dataclass
class ApiTrouble:
    """What goes wrong on the JSON endpoints (search, listing, model info).

    Attributes:
        endless: the answer never ends: valid JSON items, one after another, until the
            client hangs up (no Content-Length).
        trickle_s: send the answer one byte at a time, this many seconds apart.
        status: answer this HTTP status (with ``endless``: an error body that never ends).
        redirect: answer 302 to the same address with an endless body.
        one_page: send a listing in one page, however long, instead of pages of 1,000.
        after_pages: misbehave only from this page of a listing on (0: from the first).
        next_host: send a listing's next-page links to this ``scheme://host`` instead.
    """

    endless: bool = False
    trickle_s: float = 0.0
    status: int = 0
    redirect: bool = False
    one_page: bool = False
    after_pages: int = 0
    next_host: str = ""


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
        self.api_trouble = ApiTrouble()
        self._sha: dict[int, tuple[bytes, str]] = {}
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

    def misbehave_api(self, **kwargs: object) -> ApiTrouble:
        """Make every JSON answer misbehave (see :class:`ApiTrouble`)."""
        self.api_trouble = ApiTrouble(**kwargs)  # type: ignore[arg-type]
        return self.api_trouble

    def sha256(self, data: bytes) -> str:
        """The sha256 of file bytes, computed once per bytes object (a listing may repeat one)."""
        with self._lock:
            known = self._sha.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._sha[id(data)] = (data, digest)
        return digest

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

    def _json(
        self,
        h: BaseHTTPRequestHandler,
        value: object,
        status: int = 200,
        *,
        link: str = "",
        more: Iterator[object] | None = None,
        behave: bool = False,
    ) -> None:
        """Send a JSON answer, or misbehave as :attr:`api_trouble` says (unless ``behave``).

        ``more`` yields further list items that an endless answer sends after ``value``'s.
        """
        trouble = ApiTrouble() if behave else self.api_trouble
        if trouble.redirect:
            h.send_response(302)
            h.send_header("Location", h.path)
            h.end_headers()
            self._send_endless(h, b'{"redirect": "' + b"x" * 65536)
            return
        if trouble.status:
            h.send_response(trouble.status)
            h.send_header("Content-Type", "application/json")
            h.end_headers()
            self._send_endless(h, b'{"error": "' + b"x" * 65536)
            return
        body = json.dumps(value).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if link:
            h.send_header("Link", f'<{link}>; rel="next"')
        if trouble.endless and isinstance(value, list | dict):
            h.end_headers()
            self._send_endless_json(h, value, more)
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if trouble.trickle_s:
            for i in range(len(body)):
                if self.release.wait(trouble.trickle_s) or not self._write(h, body[i : i + 1]):
                    return
            return
        h.wfile.write(body)

    def _write(self, h: BaseHTTPRequestHandler, data: bytes) -> bool:
        """Send bytes; False once the client has hung up."""
        try:
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True
            return False
        return True

    def _send_endless(self, h: BaseHTTPRequestHandler, first: bytes, filler: bytes = b"") -> None:
        """Send ``first``, then ``filler`` (default: more of ``first``) until the client leaves."""
        h.close_connection = True
        if not self._write(h, first):
            return
        while not self.release.is_set() and self._write(h, filler or first):
            pass

    def _send_endless_json(
        self,
        h: BaseHTTPRequestHandler,
        value: list[object] | dict[str, object],
        more: Iterator[object] | None,
    ) -> None:
        """A list (or a dict whose last key is a list) whose items never end.

        After ``value``'s own items come ``more``'s, then ``value``'s again, forever.
        """
        h.close_connection = True
        items = value if isinstance(value, list) else next(reversed(value.values()))
        assert isinstance(items, list), "an endless dict answer ends with its list"
        head = json.dumps(value).encode()
        cut = head.rindex(b"]")  # the list's end (the dict's last value for an object)
        if not self._write(h, head[:cut] + (b"," if items else b"")):
            return
        source = itertools.chain(more or (), itertools.cycle(items or [{}]))
        batch: list[bytes] = []
        for item in source:
            batch.append(json.dumps(item).encode())
            if len(batch) >= 256:
                if self.release.is_set() or not self._write(h, b",".join(batch) + b","):
                    return
                batch = []

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
        elif path.startswith("/api/models/") and "/tree/" in path:
            self._tree(h, path.removeprefix("/api/models/"), parse_qs(url.query))
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
            sha = self.sha256(data)
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

    #: Files in one page of a listing, as on the hub.
    PAGE = 1000

    def _tree(self, h: BaseHTTPRequestHandler, rest: str, query: dict[str, list[str]]) -> None:
        repo = self._repo_or_error(h, rest.split("/tree/")[0])
        if repo is None:
            return
        if self.api_trouble.one_page:
            self._json(h, list(self._tree_entries(repo)))
            return
        start = int(query.get("cursor", ["0"])[0])
        page = list(itertools.islice(self._tree_entries(repo), start, start + self.PAGE + 1))
        link = ""
        if len(page) > self.PAGE:
            page.pop()
            host = self.api_trouble.next_host or self.endpoint
            link = f"{host}/api/models/{quote(rest)}?cursor={start + self.PAGE}"
        behave = start < self.api_trouble.after_pages * self.PAGE
        self._json(h, page, link=link, more=self._tree_entries(repo), behave=behave)

    def _tree_entries(self, repo: FakeRepo) -> Iterator[dict[str, object]]:
        """The listing's entries, made as they are sent (a listing may hold 100,000 files)."""
        for name, data in repo.files.items():
            sha = self.sha256(data)
            yield {
                "type": "file",
                "oid": sha[:40],
                "size": len(data),
                "path": name,
                "lfs": {"oid": sha, "size": len(data), "pointerSize": 134},
            }
        for name in repo.advertised:
            yield {
                "type": "file",
                "oid": "0" * 40,
                "size": 10,
                "path": name,
                "lfs": {"oid": "0" * 64, "size": 10, "pointerSize": 134},
            }

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
        sha = self.sha256(data)
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
        sha = self.sha256(data)
        trouble = self.trouble.get(name, Misbehaviour())
        if trouble.corrupt:
            data = bytes(b ^ 0xFF for b in data[:4096]) + data[4096:]
        start, end = 0, len(data) - 1
        ranged = "" if trouble.ignore_range else h.headers.get("Range", "")
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
        if not trouble.endless:
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
        elif trouble.pause_after is not None:
            stop_at, mode = trouble.pause_after, "pause"
            trouble.pause_after = None
        limit = len(body) if stop_at is None else max(0, min(len(body), stop_at - start))
        if not self._send_file(h, name, body[:limit]):
            return
        if mode == "stall":
            self.release.wait(60)
            h.close_connection = True
        elif mode == "drop":
            h.close_connection = True
        elif mode == "pause":
            trouble.gate.wait(60)
            self._send_file(h, name, body[limit:])
        if trouble.endless:
            self._send_endless(h, b"", bytes(65536))

    def _send_file(self, h: BaseHTTPRequestHandler, name: str, body: memoryview) -> bool:
        """Send file bytes, counted; False once the client has hung up."""
        sent = 0
        while sent < len(body):
            chunk = body[sent : sent + 65536]
            if not self._write(h, chunk):
                return False
            sent += len(chunk)
            with self._lock:
                self._stats.bytes_served[name] += len(chunk)
        return True
