"""The Hugging Face hub, read-only: GGUF repository search, file listings, remote GGUF headers, fit.

Everything goes through huggingface_hub's HTTP session and error types, then is
re-raised as Hearth's :class:`~engine.errors.DownloadError` family with a message a
user can act on. Offline mode (``Settings.offline``) refuses every call before a
socket is opened. Methods block on the network: call them off the GUI thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from engine.config import Settings
from engine.errors import DownloadError, ModelFileError, OfflineError
from engine.gguf_info import GGUFHeaderIncomplete, GGUFInfo, parse_gguf
from engine.hardware import Hardware
from engine.plan import fit_badge

log = logging.getLogger("engine.download")

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Seconds to wait for a connection; short so that no network fails fast.
CONNECT_TIMEOUT = 5.0
#: Seconds to wait for an answer once connected.
READ_TIMEOUT = 20.0
#: First bytes fetched for a remote header; most GGUF headers fit.
HEADER_FIRST_BYTES = 2 * 1024 * 1024
#: Never fetch more than this for a header (a vocabulary of millions of tokens).
HEADER_MAX_BYTES = 64 * 1024 * 1024

SORTS = {"downloads": "downloads", "likes": "likes", "recent": "lastModified"}

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.gguf$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Z0-9]{1,2})*|BF16|F16|FP16|F32|TQ\d_\d)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_DRIVE = re.compile(r"^[A-Za-z]:")


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
    """A hub file name that stays inside the folder it is saved in.

    Refused: empty names, absolute paths, backslashes, drive letters, ``..`` or ``.``
    components, empty components and control characters.
    """
    if not name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        return False
    if any(ord(c) < 32 or c == "\x7f" for c in name):
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
    for name, size, sha in entries:
        if not name.lower().endswith(".gguf"):
            continue
        if not is_safe_name(name):
            log.warning("Ignoring the unsafe file name %r in %s", name, repo_id)
            continue
        match = _SPLIT.match(name)
        if match:
            key = (match.group("stem"), int(match.group("total")))
            splits.setdefault(key, {})[int(match.group("index"))] = (name, size, sha)
            continue
        singles.append(HubFile(repo_id, name, (name,), (size,), (sha,), quant_of(name)))
    for (_stem, total), parts in splits.items():
        if sorted(parts) != list(range(1, total + 1)):
            log.warning("Ignoring %s in %s: parts are missing", _stem, repo_id)
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

    host = urlsplit(endpoint).netloc or endpoint
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
    if isinstance(exc, httpx2.HTTPError | OSError):
        return DownloadError(
            f"Cannot reach {host}: {exc or type(exc).__name__}; "
            "check the connection or turn on offline mode."
        )
    return DownloadError(f"Could not {what}: {type(exc).__name__}: {exc}")


def http_timeout(read: float = READ_TIMEOUT) -> Any:
    """An httpx timeout with the short connect timeout and the given read timeout."""
    import httpx2

    return httpx2.Timeout(read, connect=CONNECT_TIMEOUT)


def resolve_endpoint(endpoint: str | None) -> str:
    """The hub address: ``endpoint``, else ``$HF_ENDPOINT``, else huggingface.co."""
    import os

    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


class Hub:
    """Read-only access to the Hugging Face hub for GGUF models.

    Every method blocks on the network: call it from a worker thread. With
    ``settings.offline`` every method raises :class:`OfflineError` before any
    connection is made.
    """

    def __init__(self, settings: Settings, *, endpoint: str | None = None) -> None:
        self.settings = settings
        self.endpoint = resolve_endpoint(endpoint)

    def _online(self, what: str) -> None:
        if self.settings.offline:
            raise offline_error(what)

    def search(self, query: str, *, sort: str = "downloads", limit: int = 30) -> list[HubRepo]:
        """Search GGUF repositories.

        Args:
            query: words in the repository id ("" lists the most popular).
            sort: "downloads", "likes" or "recent".
            limit: at most this many results.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: the hub could not be reached or refused.
        """
        self._online("search the hub")
        if sort not in SORTS:
            raise DownloadError(f"Unknown sort {sort!r}; use downloads, likes or recent.")
        from huggingface_hub import ModelInfo
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        params: dict[str, Any] = {
            "filter": "gguf",
            "sort": SORTS[sort],
            "direction": -1,
            "limit": max(1, limit),
            "search": query,
        }
        try:
            response = get_session().get(
                f"{self.endpoint}/api/models",
                params=params,
                headers=build_hf_headers(),
                timeout=http_timeout(),
            )
            hf_raise_for_status(response)
            items = response.json()
        except Exception as exc:
            raise hub_error(exc, self.endpoint, "search the hub") from exc
        repos = []
        for item in items[:limit]:
            info = ModelInfo(**item)
            repos.append(
                HubRepo(
                    repo_id=info.id,
                    downloads=int(info.downloads or 0),
                    likes=int(info.likes or 0),
                    last_modified=info.last_modified.isoformat() if info.last_modified else "",
                    gated=bool(info.gated),
                )
            )
        return repos

    def files(self, repo_id: str) -> list[HubFile]:
        """Every GGUF model of a repository, split parts grouped, with sizes and sha256.

        Names that could escape the models folder are dropped with a warning.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: unreachable, not found, gated, or a server error.
        """
        what = f"list the files of {repo_id}"
        self._online(what)
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HFValidationError

        try:
            info = HfApi(endpoint=self.endpoint).model_info(
                repo_id, files_metadata=True, timeout=CONNECT_TIMEOUT + READ_TIMEOUT
            )
        except HFValidationError as exc:
            raise DownloadError(
                f"{repo_id!r} is not a repository name like publisher/repo."
            ) from exc
        except Exception as exc:
            raise hub_error(exc, self.endpoint, what) from exc
        entries = []
        for sibling in info.siblings or []:
            lfs = sibling.lfs
            size = lfs.size if lfs else (sibling.size or 0)
            entries.append((sibling.rfilename, int(size), lfs.sha256 if lfs else ""))
        return group_gguf_files(repo_id, entries)

    def file_url(self, repo_id: str, name: str, revision: str = "main") -> str:
        """The resolve URL of a file."""
        from huggingface_hub import hf_hub_url

        return hf_hub_url(repo_id, name, revision=revision, endpoint=self.endpoint)

    def header(self, file: HubFile) -> GGUFInfo:
        """Read a model's GGUF header with HTTP Range requests, without downloading it.

        Starts with the first :data:`HEADER_FIRST_BYTES` and fetches more while the
        header is longer, up to :data:`HEADER_MAX_BYTES`.

        Raises:
            OfflineError: offline mode is on.
            DownloadError: the hub could not be reached or refused, or the header is huge.
            ModelFileError: the bytes are not a GGUF file Hearth can use.
        """
        what = f"read the header of {file.name}"
        self._online(what)
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        url = self.file_url(file.repo_id, file.parts[0])
        total = file.sizes[0]
        data = bytearray()
        want = min(HEADER_FIRST_BYTES, total)
        headers = build_hf_headers()
        headers["Accept-Encoding"] = "identity"
        while True:
            try:
                headers["Range"] = f"bytes={len(data)}-{want - 1}"
                response = get_session().get(url, headers=headers, timeout=http_timeout())
                hf_raise_for_status(response)
            except Exception as exc:
                raise hub_error(exc, self.endpoint, what) from exc
            chunk = response.content
            if response.status_code == 200:
                data = bytearray(chunk[:want])  # the server ignored Range
            else:
                data += chunk
            if len(data) < want:
                raise DownloadError(f"Could not {what}: the hub sent fewer bytes than asked for.")
            try:
                return parse_gguf(bytes(data), total, f"{file.repo_id}/{file.parts[0]}")
            except GGUFHeaderIncomplete as exc:
                if exc.needed > HEADER_MAX_BYTES or exc.needed <= len(data):
                    raise ModelFileError(
                        f"The header of {file.name} is larger than "
                        f"{HEADER_MAX_BYTES // (1024 * 1024)} MB; Hearth cannot check it remotely."
                    ) from exc
                want = exc.needed

    @staticmethod
    def fit(info: GGUFInfo, hardware: Hardware, n_ctx: int) -> str:
        """The fit badge ("gpu", "ram" or "too_large") for a header on this hardware."""
        return fit_badge(hardware, info, n_ctx)
