"""The Hugging Face hub, read-only: GGUF repository search, file listings, remote GGUF headers, fit.

Every request uses huggingface_hub's HTTP session, headers and error types, read with
the bounds of :mod:`engine.models.hub_http` (a byte cap and a deadline for every answer), and
failures are re-raised as Hearth's DownloadError family with a message a user can act
on. Text from the hub is checked where it is parsed, so that neither the command line
nor the window ever shows a terminal escape: repository ids and file names that are not
plain names are dropped, other text is cleaned by :func:`clean_text`. Offline mode
(``Settings.offline``) refuses every call before a socket is opened. Methods block on
the network: call them off the GUI thread.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from engine.data.config import Settings
from engine.errors import DownloadError, ModelFileError, OfflineError, UsageError
from engine.models.gguf_info import GGUFHeaderIncomplete, GGUFInfo, parse_gguf
from engine.models.hardware import Hardware
from engine.models.hub_http import (
    ANSWER_DEADLINE_S,
    get_json,
    host_of,
    open_answer,
    read_at_most,
    too_slow,
)
from engine.models.hub_text import MAX_TEXT, clean_text, is_plain
from engine.models.plan import fit_badge
from engine.notices import Notice, NoticeCode, render_notice
from engine.types import MAX_SEARCH_RESULTS

log = logging.getLogger("engine.download")

DEFAULT_ENDPOINT = "https://huggingface.co"
#: First bytes fetched for a remote header; most GGUF headers fit.
HEADER_FIRST_BYTES = 2 * 1024 * 1024
#: Never fetch more than this for a header (a vocabulary of millions of tokens).
HEADER_MAX_BYTES = 64 * 1024 * 1024
#: Remote headers one Hub reads at the same time. Each can hold HEADER_MAX_BYTES twice
#: while it is parsed; four keep a listing's fit checks under ~0.5 GB on any number of
#: cores, and a listing's checks are network-bound anyway.
HEADER_READS_AT_ONCE = 4
#: Bytes of one search answer: the hub sends about a kilobyte per repository (tags
#: included), so 100 results are ~100 kB; 4 MB leaves room and stops an endless answer.
MAX_SEARCH_BYTES = 4 * 1024 * 1024
#: Bytes of one page of a file listing: the hub pages listings at 1,000 files of ~300
#: bytes each with their LFS hashes (~300 kB a page); 4 MB leaves room.
MAX_LISTING_PAGE_BYTES = 4 * 1024 * 1024
#: Pages of a listing read: ten of the hub's pages of 1,000 files.
MAX_LISTING_PAGES = 10
#: Files of a repository read from its listing (ten full pages). GGUF repositories hold
#: tens to a few hundred files; this bounds what a hub that never stops paging costs.
MAX_LISTED_FILES = 10_000
#: GGUF models (a file, or a split file's parts) one listing returns. A repository offers
#: a few dozen quantizations, and every model listed costs a remote header read for its fit.
MAX_LISTED_MODELS = 100

SORTS = {"downloads": "downloads", "likes": "likes", "recent": "lastModified"}

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.gguf$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Z0-9]{1,2})*|BF16|F16|FP16|F32|TQ\d_\d)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_repo_id(text: str) -> bool:
    """A hub repository id, ``publisher/repo``, by huggingface_hub's own rules (ASCII only)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return "/" in text


@dataclass(frozen=True)
class HubRepo:
    """A GGUF repository found by a search.

    Attributes:
        repo_id: ``publisher/repo``.
        downloads: downloads in the last month.
        likes: likes.
        last_modified: ISO 8601 time of the last commit, or "".
        gated: the repository asks users to accept terms before downloading.
    """

    repo_id: str
    downloads: int
    likes: int
    last_modified: str
    gated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "repo_id": self.repo_id,
            "downloads": self.downloads,
            "likes": self.likes,
            "last_modified": self.last_modified,
            "gated": self.gated,
        }


@dataclass(frozen=True)
class HubFile:
    """One GGUF model in a repository: a single file, or the parts of a split file.

    Attributes:
        repo_id: ``publisher/repo``.
        name: the file name (the first part's name for a split model).
        parts: every part's name in order (one element for a single file).
        sizes: each part's size in bytes.
        sha256: each part's LFS sha256 ("" where the hub gave none).
        quant: the quantization read from the name ("Q4_K_M", "IQ4_XS", "F16", ...) or "".
    """

    repo_id: str
    name: str
    parts: tuple[str, ...]
    sizes: tuple[int, ...]
    sha256: tuple[str, ...]
    quant: str

    @property
    def size(self) -> int:
        """Bytes of all parts together."""
        return sum(self.sizes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also what the download manager persists)."""
        return {
            "repo_id": self.repo_id,
            "name": self.name,
            "parts": list(self.parts),
            "sizes": list(self.sizes),
            "sha256": list(self.sha256),
            "quant": self.quant,
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HubFile:
        """Rebuild from :meth:`to_dict`; names are validated again."""
        parts = tuple(str(p) for p in data["parts"])
        for part in parts:
            if not is_safe_name(part):
                raise DownloadError(f"Refusing the unsafe file name {part!r}.")
        return cls(
            repo_id=str(data["repo_id"]),
            name=str(data["name"]),
            parts=parts,
            sizes=tuple(int(s) for s in data["sizes"]),
            sha256=tuple(str(s) for s in data["sha256"]),
            quant=str(data.get("quant", "")),
        )


def quant_of(name: str) -> str:
    """The quantization named in a GGUF file name ("Q4_K_M", "IQ4_XS", "BF16", ...), or ""."""
    base = PurePosixPath(name).name
    match = _SPLIT.match(base)
    stem = match.group("stem") if match else base.removesuffix(".gguf").removesuffix(".GGUF")
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else ""


def is_safe_name(name: str) -> bool:
    """A hub file name that stays inside the folder it is saved in, and prints as it reads.

    Refused: empty names, absolute paths, backslashes, drive letters, ``..`` or ``.``
    components, empty components, and control characters (C0 and C1: terminal escapes
    begin with them) or bidirectional overrides.
    """
    if not name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        return False
    if not is_plain(name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def group_gguf_files(repo_id: str, entries: list[tuple[str, int, str]]) -> list[HubFile]:
    """Group a repository's ``.gguf`` files into models (split parts together).

    Args:
        repo_id: the repository.
        entries: (name, size, sha256) of every file.

    Returns:
        One :class:`HubFile` per model, sorted by name; unsafe names are dropped with a
        warning, and split models with missing parts are left out.
    """
    singles: list[HubFile] = []
    splits: dict[tuple[str, int], dict[int, tuple[str, int, str]]] = {}
    unsafe: list[str] = []
    for name, size, sha in entries:
        if not name.lower().endswith(".gguf"):
            continue
        if not is_safe_name(name):
            unsafe.append(name)
            continue
        match = _SPLIT.match(name)
        if match:
            key = (match.group("stem"), int(match.group("total")))
            splits.setdefault(key, {})[int(match.group("index"))] = (name, size, sha)
            continue
        singles.append(HubFile(repo_id, name, (name,), (size,), (sha,), quant_of(name)))
    if unsafe:  # one line however many: a hostile listing must not flood the log
        log.warning(
            "Ignoring %d unsafe file name(s) in %s, e.g. %s",
            len(unsafe),
            repo_id,
            ", ".join(repr(n[:MAX_TEXT]) for n in unsafe[:3]),
        )
    for (_stem, total), parts in splits.items():
        if sorted(parts) != list(range(1, total + 1)):
            log.warning("Ignoring %r in %s: parts are missing", _stem[:MAX_TEXT], repo_id)
            continue
        ordered = [parts[i] for i in range(1, total + 1)]
        singles.append(
            HubFile(
                repo_id,
                ordered[0][0],
                tuple(p[0] for p in ordered),
                tuple(p[1] for p in ordered),
                tuple(p[2] for p in ordered),
                quant_of(ordered[0][0]),
            )
        )
    singles.sort(key=lambda f: f.name.lower())
    return singles


def offline_error(what: str) -> OfflineError:
    """The refusal raised for a network operation in offline mode."""
    return OfflineError(
        f"Offline mode is on, so Hearth did not {what}. "
        "Turn offline mode off in Settings to use the Hugging Face hub."
    )


def hub_error(exc: BaseException, endpoint: str, what: str) -> DownloadError:
    """Turn a huggingface_hub / httpx error into a DownloadError that says what to do.

    Errors that are already Hearth's pass through. Text that came from the network is
    cleaned (:func:`clean_text`).

    Args:
        exc: the library's exception.
        endpoint: the hub's address, for the "cannot reach" message.
        what: what was being done, e.g. "list the files of org/repo".
    """
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(exc, DownloadError):
        return exc
    host = host_of(endpoint)
    if isinstance(exc, OfflineModeIsEnabled):
        return offline_error(what)
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if isinstance(exc, GatedRepoError) or status in (401, 403):
            return DownloadError(
                f"Could not {what}: the repository is gated or private (HTTP {status}). "
                "Accept its terms on huggingface.co and log in with `hf auth login`, "
                "or choose another model."
            )
        if isinstance(exc, RepositoryNotFoundError):
            return DownloadError(
                f"Could not {what}: the repository does not exist (or is private). Check the name."
            )
        if status == 404:
            return DownloadError(f"Could not {what}: the file is not on the hub (HTTP 404).")
        if status >= 500:
            return DownloadError(
                f"Could not {what}: the hub had a server error (HTTP {status}). Try again later."
            )
        return DownloadError(f"Could not {what}: the hub answered HTTP {status}.")
    reason = clean_text(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx2.HTTPError | OSError):
        return DownloadError(
            f"Cannot reach {host}: {reason}; check the connection or turn on offline mode."
        )
    return DownloadError(f"Could not {what}: {type(exc).__name__}: {reason}")


def resolve_endpoint(endpoint: str | None) -> str:
    """The hub address: ``endpoint``, else ``$HF_ENDPOINT``, else huggingface.co."""
    import os

    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _count(value: Any) -> int:
    """A non-negative count from the hub, or 0 for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _repo_from(item: Any) -> HubRepo | None:
    """One search result, or None when it is not a repository Hearth can show."""
    if not isinstance(item, dict):
        return None
    repo_id = item.get("id", item.get("modelId"))
    if not isinstance(repo_id, str) or not is_repo_id(repo_id):
        log.warning("Ignoring a search result with an invalid repository id %.300r", repo_id)
        return None
    return HubRepo(
        repo_id=repo_id,
        downloads=_count(item.get("downloads")),
        likes=_count(item.get("likes")),
        last_modified=_iso_time(item.get("lastModified")),
        gated=item.get("gated") not in (None, False, "false", ""),
    )


def _iso_time(value: Any) -> str:
    """The hub's time stamp in ISO 8601 (as huggingface_hub parses it), or "" for anything else."""
    from huggingface_hub.utils import parse_datetime

    try:
        return parse_datetime(value).isoformat() if isinstance(value, str) else ""
    except ValueError:
        return ""


def _entry_from(item: Any) -> tuple[str, int, str] | None:
    """(name, size, sha256) of one file of a listing page, or None for anything else."""
    if not isinstance(item, dict) or item.get("type", "file") != "file":
        return None
    name, size, lfs = item.get("path"), item.get("size"), item.get("lfs")
    sha = ""
    if isinstance(lfs, dict):
        size = lfs.get("size", size)
        oid = lfs.get("oid", lfs.get("sha256"))
        sha = oid.lower() if isinstance(oid, str) and _SHA256.match(oid.lower()) else ""
    if not isinstance(name, str) or not isinstance(size, int) or isinstance(size, bool):
        return None
    return (name, size, sha) if size >= 0 else None


def range_start(response: Any) -> int:
    """Where a 206 answer's bytes start in the file; 0 for a whole-file (200) answer."""
    if response.status_code != 206:
        return 0
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class HubListing:
    """A repository's GGUF models, as much of them as Hearth reads.

    Attributes:
        repo_id: ``publisher/repo``.
        files: the models shown, sorted by name (at most :data:`MAX_LISTED_MODELS`).
        models_found: GGUF models found among the files read (may exceed ``files``).
        files_read: entries of the listing read.
        complete: the whole listing was read; False when Hearth stopped early.
        stopped_because: why the listing was not read to its end, or None.
    """

    repo_id: str
    files: tuple[HubFile, ...]
    models_found: int
    files_read: int
    complete: bool
    stopped_because: Notice | None = None

    def notices(self) -> tuple[Notice, ...]:
        """What is not shown, and why; empty when everything is."""
        notes = []
        if self.models_found > len(self.files):
            notes.append(
                Notice(
                    NoticeCode.LISTING_CAPPED,
                    {"shown": len(self.files), "found": self.models_found, "repo": self.repo_id},
                )
            )
        if not self.complete:
            reason = self.stopped_because or _stopped_at_most()
            notes.append(
                Notice(
                    NoticeCode.LISTING_INCOMPLETE,
                    {"read": self.files_read, "repo": self.repo_id, "reason": reason},
                )
            )
        return tuple(notes)

    def note(self) -> str:
        """The notices in English, on one line; "" when everything is shown."""
        return " ".join(render_notice(n) for n in self.notices())


def _stopped_at_most() -> Notice:
    """Why a listing stopped at :data:`MAX_LISTED_FILES` files."""
    return Notice(NoticeCode.LISTING_STOPPED_AT_MOST, {"limit": MAX_LISTED_FILES})


class Hub:
    """Read-only access to the Hugging Face hub for GGUF models.

    Every method blocks on the network: call it from a worker thread. With
    ``settings.offline`` every method raises :class:`OfflineError` before any
    connection is made.
    """

    def __init__(self, settings: Settings, *, endpoint: str | None = None) -> None:
        self.settings = settings
        self.endpoint = resolve_endpoint(endpoint)
        self._header_slots = threading.BoundedSemaphore(HEADER_READS_AT_ONCE)

    def _online(self, what: str) -> None:
        if self.settings.offline:
            raise offline_error(what)

    def search(self, query: str, *, sort: str = "downloads", limit: int = 30) -> list[HubRepo]:
        """Search GGUF repositories.

        Args:
            query: words in the repository id ("" lists the most popular).
            sort: "downloads", "likes" or "recent".
            limit: at most this many results (1 to :data:`MAX_SEARCH_RESULTS`).

        Raises:
            OfflineError: offline mode is on.
            UsageError: ``limit`` is more than :data:`MAX_SEARCH_RESULTS`.
            DownloadError: the hub could not be reached, refused, or answered too much,
                too slowly or something that is not a search result.
        """
        what = "search the hub"
        self._online(what)
        if sort not in SORTS:
            raise DownloadError(f"Unknown sort {sort!r}; use downloads, likes or recent.")
        if limit > MAX_SEARCH_RESULTS:
            raise UsageError(
                f"A search shows at most {MAX_SEARCH_RESULTS} results; ask for that many or fewer."
            )
        params: dict[str, Any] = {
            "filter": "gguf",
            "sort": SORTS[sort],
            "direction": -1,
            "limit": max(1, limit),
            "search": query,
        }
        deadline = time.monotonic() + ANSWER_DEADLINE_S
        try:
            items, _ = get_json(
                f"{self.endpoint}/api/models",
                what=what,
                limit=MAX_SEARCH_BYTES,
                deadline=deadline,
                params=params,
            )
        except Exception as exc:
            raise hub_error(exc, self.endpoint, what) from exc
        if not isinstance(items, list):
            raise DownloadError(
                f"Could not {what}: {host_of(self.endpoint)} did not answer with a list of "
                "repositories. Check HF_ENDPOINT, or try again later."
            )
        repos = (_repo_from(item) for item in items[: max(1, limit)])
        return [r for r in repos if r is not None]

    def files(self, repo_id: str) -> list[HubFile]:
        """The GGUF models of a repository (see :meth:`listing`, which says what was left out)."""
        return list(self.listing(repo_id).files)

    def listing(self, repo_id: str) -> HubListing:
        """A repository's GGUF models, split parts grouped, with sizes and sha256.

        Reads the hub's paged file listing up to :data:`MAX_LISTED_FILES` files and returns
        the first :data:`MAX_LISTED_MODELS` models by name; the result says when it stopped
        early. Names that could escape the models folder are dropped with a warning.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: unreachable, not found, gated, a server error, or a first page
                that is too large, too slow or not a listing.
        """
        what = f"list the files of {repo_id}"
        self._online(what)
        if not is_repo_id(repo_id):
            raise DownloadError(f"{repo_id!r} is not a repository name like publisher/repo.")
        deadline = time.monotonic() + ANSWER_DEADLINE_S
        url: str | None = f"{self.endpoint}/api/models/{repo_id}/tree/main"
        params: dict[str, Any] | None = {"recursive": "true", "expand": "false"}
        entries: list[tuple[str, int, str]] = []
        pages, stopped = 0, None
        while url is not None:
            if pages >= MAX_LISTING_PAGES or len(entries) >= MAX_LISTED_FILES:
                stopped = _stopped_at_most()
                break
            try:
                page, url = self._listing_page(url, params, what, deadline)
            except DownloadError as exc:
                if not pages:
                    raise
                # What was read is still worth showing; the note says the rest is missing.
                log.warning("Stopped listing %s: %s", repo_id, exc)
                stopped = Notice(NoticeCode.LISTING_STOPPED_UNREADABLE)
                break
            pages, params = pages + 1, None  # the next page's address carries the query
            found = (_entry_from(item) for item in page[: MAX_LISTED_FILES - len(entries)])
            entries.extend(e for e in found if e is not None)
            if url is not None and urlsplit(url)[:2] != urlsplit(self.endpoint)[:2]:
                # Following it would send the hub's headers (a token) to another host.
                log.warning("Not following %s's next page to %.300r", repo_id, url)
                stopped = Notice(NoticeCode.LISTING_STOPPED_OTHER_HOST)
                break
        models = group_gguf_files(repo_id, entries)
        return HubListing(
            repo_id=repo_id,
            files=tuple(models[:MAX_LISTED_MODELS]),
            models_found=len(models),
            files_read=len(entries),
            complete=stopped is None,
            stopped_because=stopped,
        )

    def _listing_page(
        self, url: str, params: dict[str, Any] | None, what: str, deadline: float
    ) -> tuple[list[Any], str | None]:
        """One page of a listing and the next page's address, or errors."""
        try:
            page, next_url = get_json(
                url, what=what, limit=MAX_LISTING_PAGE_BYTES, deadline=deadline, params=params
            )
        except Exception as exc:
            raise hub_error(exc, self.endpoint, what) from exc
        if not isinstance(page, list):
            raise DownloadError(
                f"Could not {what}: {host_of(self.endpoint)} did not answer with a file "
                "listing. Check HF_ENDPOINT, or try again later."
            )
        return page, next_url

    def file_url(self, repo_id: str, name: str, revision: str = "main") -> str:
        """The resolve URL of a file."""
        from huggingface_hub import hf_hub_url

        return hf_hub_url(repo_id, name, revision=revision, endpoint=self.endpoint)

    def header(self, file: HubFile, *, deadline: float | None = None) -> GGUFInfo:
        """Read a model's GGUF header with HTTP Range requests, without downloading it.

        Starts with the first :data:`HEADER_FIRST_BYTES` and fetches more while the
        header is longer, up to :data:`HEADER_MAX_BYTES`. Each answer is read up to the
        bytes asked for and no further, also from a server that ignores Range.

        Args:
            file: the model (its first part holds the header).
            deadline: ``time.monotonic()`` by which to give up; at most
                :data:`ANSWER_DEADLINE_S` from now. Callers reading many headers pass one
                deadline for all of them.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: the hub could not be reached, refused, or was too slow.
            ModelFileError: the bytes are not a GGUF file Hearth can use, or the header is huge.
        """
        what = f"read the header of {file.name}"
        self._online(what)
        own = time.monotonic() + ANSWER_DEADLINE_S
        deadline = own if deadline is None else min(deadline, own)
        with self._header_slots:
            return self._read_header(file, what, deadline)

    def _read_header(self, file: HubFile, what: str, deadline: float) -> GGUFInfo:
        from huggingface_hub.utils import build_hf_headers

        url = self.file_url(file.repo_id, file.parts[0])
        total = file.sizes[0]
        data = b""
        want = min(HEADER_FIRST_BYTES, total)
        headers = build_hf_headers()
        headers["Accept-Encoding"] = "identity"
        while True:
            if time.monotonic() > deadline:
                raise too_slow(what, url)
            headers["Range"] = f"bytes={len(data)}-{want - 1}"
            try:
                with open_answer(url, what=what, deadline=deadline, headers=headers) as response:
                    start = range_start(response)
                    if start == len(data):
                        chunk, _ = read_at_most(
                            response, want - len(data), what=what, deadline=deadline
                        )
                        data += chunk
                    elif start == 0:  # Range ignored: the body is the file from its start
                        data, _ = read_at_most(response, want, what=what, deadline=deadline)
                    else:
                        raise DownloadError(
                            f"Could not {what}: the hub sent other bytes than those asked for."
                        )
            except Exception as exc:
                raise hub_error(exc, self.endpoint, what) from exc
            if len(data) < want:
                raise DownloadError(f"Could not {what}: the hub sent fewer bytes than asked for.")
            try:
                return parse_gguf(data, total, f"{file.repo_id}/{file.parts[0]}")
            except GGUFHeaderIncomplete as exc:
                if exc.needed > HEADER_MAX_BYTES or exc.needed <= len(data):
                    raise ModelFileError(
                        f"The header of {file.name} is larger than "
                        f"{HEADER_MAX_BYTES // (1024 * 1024)} MB; Hearth cannot check it remotely."
                    ) from exc
                want = exc.needed
            except ModelFileError as exc:
                # The reason quotes the file's own text (keys, names): cleaned like all hub text.
                raise ModelFileError(clean_text(str(exc), 1000)) from exc

    @staticmethod
    def fit(info: GGUFInfo, hardware: Hardware, n_ctx: int) -> str:
        """The fit badge ("gpu", "ram" or "too_large") for a header on this hardware."""
        return fit_badge(hardware, info, n_ctx)
