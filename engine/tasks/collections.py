"""Collections: folders Hearth keeps searchable, indexed incrementally and resumably.

A collection is a name and one or more folders, stored in the index file. Indexing walks
the folders and compares each document with what the index holds: the same size and
modification time is unchanged; a new time with the same size is hashed, and only new
bytes are read again; files gone from the folders lose their passages. Each file is
committed on its own, so a run that is killed keeps every file it finished, and the
next run starts where it stopped (the ``jobs`` row says a run did not finish).

Nothing in a folder can crash it or exhaust memory: symbolic links are followed once
(a loop is seen by the folder's device and inode), only regular files are opened (never
a FIFO or a device), files over the size limit are skipped before a byte is read,
at most :attr:`Limits.max_files` files are indexed, and every file Hearth cannot read
is skipped with the reason Summarize gives. The report counts what was skipped by
reason and names the first :attr:`Limits.max_reported` files.

Memory is bounded by the number of files (one row each, for the comparison) plus one
document at a time; passages are embedded :data:`~engine.tasks.retrieval.EMBED_BATCH`
at a time after the walk.

Thread: :func:`index_collection` runs on the loop that owns the EngineClient; reading,
hashing and database work run on worker threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from engine.errors import DocumentError, UsageError
from engine.tasks.chunks import chunk_document
from engine.tasks.doc_index import DocumentIndex
from engine.tasks.documents import CODE_EXTENSIONS, extract
from engine.tasks.retrieval import EmbedProgress, embed_passages

if TYPE_CHECKING:
    from engine.runtime.client import EngineClient

__all__ = [
    "CollectionInfo",
    "IndexProgress",
    "IndexReport",
    "Limits",
    "Skipped",
    "add_collection",
    "collection_roots",
    "index_collection",
    "list_collections",
    "remove_collection",
]

log = logging.getLogger("engine.collections")

_MIB: Final = 1024 * 1024
#: Extensions of the documents a collection indexes; other files are skipped unread.
DOCUMENT_EXTENSIONS: Final = frozenset(
    {"pdf", "docx", "html", "htm", "xhtml", "md", "markdown", "mdown", "mkd", "txt", "text",
     "log", "csv", "tsv"}
    | CODE_EXTENSIONS
)  # fmt: skip
#: Folders that hold tools' data, not the user's documents.
_SKIPPED_FOLDERS: Final = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})
#: Files indexed between two updates of the job's row.
_JOB_EVERY: Final = 25


@dataclass(frozen=True)
class Limits:
    """What one collection may hold.

    Attributes:
        max_file_bytes: larger files are skipped before they are read.
        max_files: documents indexed at most; the rest are counted as skipped.
        max_depth: folder levels below a collection's folder.
        max_reported: skipped files named in the report (all are counted).
    """

    max_file_bytes: int = 50 * _MIB
    max_files: int = 50_000
    max_depth: int = 32
    max_reported: int = 200


@dataclass(frozen=True)
class Skipped:
    """A file or folder not indexed, and why (a sentence for the user)."""

    path: str
    reason: str


@dataclass(frozen=True)
class IndexProgress:
    """Where indexing a collection stands.

    Attributes:
        stage: "scan" (walking and reading), "embed", or "done".
        done: files handled (scan) or passages embedded (embed).
        total: files found so far (scan; grows as the walk goes) or passages to embed.
        path: the file just handled ("" when none).
        action: what happened to it: "indexed", "unchanged", "skipped", "removed" or "".
        message: one English line for a status bar.
    """

    stage: str
    done: int
    total: int
    path: str
    action: str
    message: str


@dataclass(frozen=True)
class IndexReport:
    """What one indexing run did.

    Attributes:
        collection: the collection's name.
        files: documents found in its folders (within the limits).
        indexed: documents read and indexed (new or changed).
        unchanged: documents the index already held as they are.
        removed: documents gone from the folders, removed from the index.
        skipped: the first files skipped, with why.
        skipped_by_reason: how many were skipped for each reason, most first.
        chunks: passages added.
        embedded_tokens: tokens the embedding model read (0 without one).
        vectors: whether the passages have vectors (an embedding model was used).
        seconds: wall time.
    """

    collection: str
    files: int
    indexed: int
    unchanged: int
    removed: int
    skipped: tuple[Skipped, ...]
    skipped_by_reason: tuple[tuple[str, int], ...]
    chunks: int
    embedded_tokens: int
    vectors: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the job row, ``hearth-cli collections index --json``)."""
        return {
            "collection": self.collection,
            "files": self.files,
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "skipped_by_reason": dict(self.skipped_by_reason),
            "chunks": self.chunks,
            "embedded_tokens": self.embedded_tokens,
            "vectors": self.vectors,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class CollectionInfo:
    """A collection as listed.

    Attributes:
        name: its name.
        roots: its folders.
        documents: documents indexed.
        passages: passages indexed.
        vectors: passages with a vector from the embedding model asked about.
        state: "new" (never indexed), "done", or "interrupted" (a run did not finish;
            indexing again resumes it).
        last: the last finished run's report, as stored (empty when none).
    """

    name: str
    roots: tuple[str, ...]
    documents: int
    passages: int
    vectors: int
    state: str
    last: dict[str, Any] = field(default_factory=dict)


def add_collection(index: DocumentIndex, name: str, folders: Sequence[Path]) -> tuple[str, ...]:
    """Create a collection, or give an existing one these folders.

    Returns:
        The folders, as absolute paths.

    Raises:
        UsageError: a bad name, no folder, or a folder that does not exist.
    """
    name = name.strip()
    if not name or len(name) > 80 or any(ord(ch) < 32 for ch in name):
        raise UsageError("A collection's name is 1 to 80 printable characters.")
    if not folders:
        raise UsageError("Give at least one folder for the collection.")
    roots = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UsageError(f"{folder} is not a folder. Give the folder of the documents.")
        roots.append(os.path.abspath(path))
    with index.transaction() as db:
        db.execute(
            "INSERT INTO collections(name, roots, created) VALUES (?,?,?) ON CONFLICT(name) "
            "DO UPDATE SET roots = excluded.roots",
            (name, json.dumps(roots), time.time()),
        )
    return tuple(roots)


def collection_roots(index: DocumentIndex) -> dict[str, tuple[str, ...]]:
    """Every collection's folders, by name."""
    rows = index.query("SELECT name, roots FROM collections ORDER BY name")
    return {name: tuple(json.loads(roots)) for name, roots in rows}


def remove_collection(index: DocumentIndex, name: str) -> bool:
    """Forget a collection with its passages and vectors (the files stay); whether it existed."""
    index.remove_collection_documents(name)
    with index.transaction() as db:
        db.execute("DELETE FROM jobs WHERE collection = ?", (name,))
        return db.execute("DELETE FROM collections WHERE name = ?", (name,)).rowcount > 0


def list_collections(index: DocumentIndex, embed_model: str = "") -> list[CollectionInfo]:
    """Every collection with its counts and the state of its indexing."""
    out = []
    for name, roots in collection_roots(index).items():
        docs, passages, vectors = index.counts(name, embed_model)
        job = index.query("SELECT state, report FROM jobs WHERE collection = ?", (name,))
        state = "new" if not job else ("interrupted" if job[0][0] == "running" else job[0][0])
        last = json.loads(job[0][1]) if job else {}
        out.append(CollectionInfo(name, roots, docs, passages, vectors, state, last))
    return out


def _set_job(
    index: DocumentIndex, name: str, state: str, done: int, report: dict[str, Any]
) -> None:
    now = time.time()
    with index.transaction() as db:
        db.execute(
            "INSERT INTO jobs(collection, state, started, updated, files_done, report) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(collection) DO UPDATE SET state = excluded.state, "
            "updated = excluded.updated, files_done = excluded.files_done, "
            "report = CASE WHEN excluded.state = 'running' THEN jobs.report "
            "ELSE excluded.report END",
            (name, state, now, now, done, json.dumps(report)),
        )


class _Skips:
    """Skipped files: all counted by reason, the first few named."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.named: list[Skipped] = []
        self.counts: Counter[str] = Counter()

    def add(self, path: str, reason: str, kind: str = "") -> None:
        self.counts[kind or reason] += 1
        if len(self.named) < self.limit:
            self.named.append(Skipped(path, reason))


def _walk(
    roots: Sequence[str], limits: Limits, skips: _Skips
) -> Iterator[tuple[str, os.stat_result]]:
    """Document files under ``roots`` with their stat, each real folder visited once."""
    seen: set[tuple[int, int]] = set()
    for root in roots:
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                st = os.stat(folder)
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    skips.add(folder, "a link to a folder already indexed (a loop)", "link loop")
                    continue
                seen.add(key)
                with os.scandir(folder) as entries:
                    listing = sorted(entries, key=lambda e: e.name)
            except OSError as exc:
                skips.add(folder, f"cannot be read ({exc.strerror or exc})", "unreadable folder")
                continue
            folders = []
            for entry in listing:
                if entry.name.startswith(".") or entry.name in _SKIPPED_FOLDERS:
                    continue  # hidden and tool folders: never the user's documents
                try:
                    entry_st = entry.stat()  # follows links
                except OSError as exc:
                    skips.add(entry.path, f"cannot be read ({exc.strerror or exc})", "unreadable")
                    continue
                if stat.S_ISDIR(entry_st.st_mode):
                    if depth + 1 > limits.max_depth:
                        skips.add(entry.path, "nested too deeply", "too deep")
                    else:
                        folders.append((entry.path, depth + 1))
                elif not stat.S_ISREG(entry_st.st_mode):
                    skips.add(entry.path, "not a regular file", "not a regular file")
                elif not _is_document(entry.name):
                    skips.add(entry.path, "not a kind of document Hearth reads", "not a document")
                else:
                    yield entry.path, entry_st
            stack.extend(reversed(folders))


def _is_document(name: str) -> bool:
    lower = name.lower()
    ext = lower.rpartition(".")[2] if "." in lower else ""
    return ext in DOCUMENT_EXTENSIONS or lower in ("makefile", "dockerfile", "cmakelists.txt")


def _sha256(path: str, limit: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_MIB), b""):
            digest.update(block)
            if f.tell() > limit:
                break
    return digest.hexdigest()


def _size(n: int) -> str:
    return f"{n / _MIB:,.0f} MB" if n >= _MIB else f"{n:,} bytes"


async def index_collection(
    index: DocumentIndex,
    name: str,
    *,
    client: EngineClient | None = None,
    embed_model: str | None = None,
    limits: Limits = Limits(),  # frozen, so sharing the default is safe
    on_progress: Callable[[IndexProgress], None] | None = None,
) -> IndexReport:
    """Bring a collection's index up to date with its folders; resumes an interrupted run.

    Args:
        index: the index holding the collection.
        name: the collection.
        client: the engine, for embeddings (None: full text only).
        embed_model: the embedding model (None: full text only).
        limits: sizes and counts the collection may reach.
        on_progress: called on the loop after each file and each batch embedded. What it
            raises (``Cancelled``) stops the run; every finished file is kept.

    Returns:
        What was indexed, unchanged, removed and skipped.

    Raises:
        UsageError: there is no such collection.
    """
    started = time.perf_counter()
    roots = collection_roots(index).get(name)
    if roots is None:
        raise UsageError(f'There is no collection "{name}". Add it first.')
    known = {d.path: d for d in await asyncio.to_thread(index.documents, name)}
    _set_job(index, name, "running", 0, {})
    skips = _Skips(limits.max_reported)
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    chunks_added = 0
    walk = _walk(roots, limits, skips)

    def emit(stage: str, done: int, total: int, path: str, action: str, message: str) -> None:
        if on_progress is not None:
            on_progress(IndexProgress(stage, done, total, path, action, message))

    while True:
        item = await asyncio.to_thread(next, walk, None)
        if item is None:
            break
        path, st = item
        if len(seen) >= limits.max_files:
            skips.add(path, f"over the collection's limit of {limits.max_files:,} files", "limit")
            continue
        seen.add(path)
        action, added = await _index_file(index, name, path, st, known.get(path), limits, skips)
        counts[action] += 1
        chunks_added += added
        done = len(seen)
        emit("scan", done, done, path, action, f"{action.capitalize()} {Path(path).name}")
        if done % _JOB_EVERY == 0:
            _set_job(index, name, "running", done, {})
    # A folder that is missing now (an unplugged drive) keeps its documents until it is back.
    present = [r for r in roots if await asyncio.to_thread(os.path.isdir, r)]
    for path in sorted(set(known) - seen):
        if any(path.startswith(r.rstrip(os.sep) + os.sep) for r in present):
            await asyncio.to_thread(index.remove_document, name, path)
            counts["removed"] += 1
            emit("scan", len(seen), len(seen), path, "removed", f"Removed {Path(path).name}")
    tokens = 0
    if client is not None and embed_model is not None:

        def on_embed(p: EmbedProgress) -> None:
            emit("embed", p.done, p.total, "", "", f"Embedded {p.done:,} of {p.total:,} passages")

        tokens = await embed_passages(client, index, name, embed_model, on_progress=on_embed)
    report = IndexReport(
        collection=name,
        files=len(seen),
        indexed=counts["indexed"],
        unchanged=counts["unchanged"],
        removed=counts["removed"],
        skipped=tuple(skips.named),
        skipped_by_reason=tuple(skips.counts.most_common()),
        chunks=chunks_added,
        embedded_tokens=tokens,
        vectors=embed_model is not None and client is not None,
        seconds=time.perf_counter() - started,
    )
    _set_job(index, name, "done", len(seen), report.to_dict())
    emit("done", len(seen), len(seen), "", "", f"Indexed {name}: {len(seen):,} documents")
    return report


async def _index_file(
    index: DocumentIndex,
    name: str,
    path: str,
    st: os.stat_result,
    old: Any,
    limits: Limits,
    skips: _Skips,
) -> tuple[str, int]:
    """Index one file if it is new or changed: (what happened, passages added)."""
    if st.st_size > limits.max_file_bytes:
        skips.add(
            path, f"larger than {_size(limits.max_file_bytes)} ({_size(st.st_size)})", "too large"
        )
        if old is not None:
            await asyncio.to_thread(index.remove_document, name, path)
        return "skipped", 0
    if old is not None and old.size == st.st_size:
        if old.mtime_ns == st.st_mtime_ns:
            return "unchanged", 0
        try:
            digest = await asyncio.to_thread(_sha256, path, limits.max_file_bytes)
        except OSError:
            digest = ""
        if digest == old.sha256:
            await asyncio.to_thread(index.touch_document, old.doc_id, mtime_ns=st.st_mtime_ns)
            return "unchanged", 0
    try:
        document = await asyncio.to_thread(extract, Path(path), max_bytes=limits.max_file_bytes)
    except DocumentError as exc:
        skips.add(path, str(exc), "could not be read")
        if old is not None:
            await asyncio.to_thread(index.remove_document, name, path)
        return "skipped", 0
    chunks = await asyncio.to_thread(chunk_document, document)
    await asyncio.to_thread(
        index.add_document, name, path, document.name, document.kind, size=st.st_size,
        mtime_ns=st.st_mtime_ns, sha256=document.sha256, chunks=chunks, notes=document.notes,
    )  # fmt: skip
    return "indexed", len(chunks)
