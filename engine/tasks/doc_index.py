"""The document index: passages in SQLite, searched by full text (FTS5 BM25) and by vector.

One SQLite file (``<data dir>/index.db``, or any path; ``":memory:"`` for documents
attached to one question) holds the documents, their passages with page and heading,
an FTS5 table over the passages, and the passages' embedding vectors.

Full text uses FTS5's ``trigram`` tokenizer: it needs no word segmentation, so Chinese
and Japanese are searched as well as English (a query term matches wherever its
characters occur). Trigrams cannot match a term shorter than three characters; a
two-character CJK word (北京, 合同) is found with ``LIKE`` instead, over the same scope,
and the two rankings are fused.

Vectors are float32 BLOBs in a plain table, searched by exact dot product with numpy,
:data:`VECTOR_BATCH` rows at a time. Why not ``sqlite-vec``: it is a loadable extension,
and the Python many users run (this one included) is built without
``enable_load_extension``; shipping ``apsw`` to load it would add a second SQLite binding
for a search that numpy does exactly and fast enough (100,000 passages of 384 dimensions
are 150 MB scanned in bounded batches, well under a second; benchmarks/documents.md).
Exact search also means no index to rebuild and no recall lost to approximation.

Thread: a :class:`DocumentIndex` is used by one thread at a time (a lock enforces it), and
its methods block: async callers run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from engine.errors import DocumentError
from engine.tasks.chunks import Chunk, citation_label
from engine.tasks.search_terms import fts_query

__all__ = ["VECTOR_BATCH", "DocumentIndex", "IndexedDocument", "Passage", "fts_query"]

#: Vectors scanned at a time: memory stays at this many rows (6 MB at 384 dimensions).
VECTOR_BATCH: Final = 4096
#: The documents of one collection (its name the query's parameter).
_SCOPE: Final = "(SELECT id FROM documents WHERE collection = ?)"
#: Rows a LIKE scan (two-character CJK terms) ranks at most.
_LIKE_LIMIT: Final = 2000
_SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    id INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '[]',
    chunks INTEGER NOT NULL DEFAULT 0,
    indexed_at REAL NOT NULL,
    UNIQUE(collection, path)
);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    page INTEGER,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, heading, content='chunks', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
        VALUES ('delete', old.id, old.text, old.heading);
END;
CREATE TABLE IF NOT EXISTS vectors(
    chunk_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS collections(
    name TEXT PRIMARY KEY,
    roots TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs(
    collection TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    files_done INTEGER NOT NULL DEFAULT 0,
    report TEXT NOT NULL DEFAULT '{}'
);
"""


@dataclass(frozen=True)
class Passage:
    """A passage found by a search, with where it is.

    Attributes:
        chunk_id: its row in the index (stable until its document is re-indexed).
        doc_id: its document's row.
        document: the document's name.
        path: the document's path ("" for pasted text).
        seq: its place in the document, from 0.
        page: its PDF page, or None.
        heading: the heading it is under, or "".
        text: the passage.
        tokens: its estimated length in tokens.
        score: the ranking's score (higher is better; comparable within one search only).
    """

    chunk_id: int
    doc_id: int
    document: str
    path: str
    seq: int
    page: int | None
    heading: str
    text: str
    tokens: int
    score: float = 0.0

    @property
    def label(self) -> str:
        """How an answer cites it: "[report.pdf p. 12]" or "[notes.md part 3]"."""
        return citation_label(self.document, self.page, self.seq)


@dataclass(frozen=True)
class IndexedDocument:
    """A document as the index knows it.

    Attributes:
        doc_id: its row.
        collection: the collection it belongs to ("" for attached documents).
        path: where it was read from.
        name: its file name.
        kind: "pdf", "docx", "html", "markdown", "text" or "code".
        size: bytes, when indexed.
        mtime_ns: modification time, when indexed.
        sha256: hex digest of its bytes.
        chunks: passages indexed.
        notes: what extraction left out.
    """

    doc_id: int
    collection: str
    path: str
    name: str
    kind: str
    size: int
    mtime_ns: int
    sha256: str
    chunks: int
    notes: tuple[str, ...]


class DocumentIndex:
    """Documents' passages in one SQLite file, searchable by full text and by vector.

    Use it as a context manager, or call :meth:`close`. Every method blocks.
    """

    def __init__(self, path: Path | str) -> None:
        """Open (creating if needed) the index at ``path`` (``":memory:"`` for a private one).

        Raises:
            DocumentError: the file cannot be opened or is not an index (says which).
        """
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)",
                    (str(_SCHEMA_VERSION),),
                )
        except (sqlite3.Error, OSError) as exc:
            raise DocumentError(
                f"The document index {self.path} cannot be opened ({exc}). Check the folder "
                "is writable, or move the file aside to start a new index."
            ) from exc
        self._closed = False

    def __enter__(self) -> DocumentIndex:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed on success and rolled back on error."""
        with self._lock, self._db:
            yield self._db

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (for collections and tests)."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- documents ---------------------------------------------------------------------

    def add_document(
        self,
        collection: str,
        path: str,
        name: str,
        kind: str,
        *,
        size: int,
        mtime_ns: int,
        sha256: str,
        chunks: Sequence[Chunk],
        notes: Sequence[str] = (),
    ) -> int:
        """Store a document and its passages in one transaction, replacing an older copy.

        Returns:
            The document's row id.
        """
        with self.transaction() as db:
            self._delete(db, collection, path)
            cur = db.execute(
                "INSERT INTO documents(collection, path, name, kind, size, mtime_ns, sha256, "
                "notes, chunks, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (collection, path, name, kind, size, mtime_ns, sha256, json.dumps(list(notes)),
                 len(chunks), time.time()),
            )  # fmt: skip
            doc_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO chunks(doc_id, seq, page, heading, text, tokens) VALUES (?,?,?,?,?,?)",
                [(doc_id, c.seq, c.page, c.heading, c.text, c.tokens) for c in chunks],
            )
        return doc_id

    def touch_document(self, doc_id: int, *, mtime_ns: int) -> None:
        """Record a new modification time for a document whose bytes did not change."""
        with self.transaction() as db:
            db.execute("UPDATE documents SET mtime_ns = ? WHERE id = ?", (mtime_ns, doc_id))

    def remove_document(self, collection: str, path: str) -> bool:
        """Remove a document with its passages and vectors; whether it was there."""
        with self.transaction() as db:
            return self._delete(db, collection, path)

    def remove_collection_documents(self, collection: str) -> int:
        """Remove every document of a collection; how many there were."""
        with self.transaction() as db:
            paths = [r[0] for r in db.execute(
                "SELECT path FROM documents WHERE collection = ?", (collection,)
            )]  # fmt: skip
            for path in paths:
                self._delete(db, collection, path)
        return len(paths)

    @staticmethod
    def _delete(db: sqlite3.Connection, collection: str, path: str) -> bool:
        row = db.execute(
            "SELECT id FROM documents WHERE collection = ? AND path = ?", (collection, path)
        ).fetchone()
        if row is None:
            return False
        db.execute(
            "DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)",
            (row[0],),
        )
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (row[0],))
        db.execute("DELETE FROM documents WHERE id = ?", (row[0],))
        return True

    def documents(self, collection: str) -> list[IndexedDocument]:
        """The documents of a collection, by path."""
        rows = self.query(
            "SELECT id, collection, path, name, kind, size, mtime_ns, sha256, chunks, notes "
            "FROM documents WHERE collection = ? ORDER BY path",
            (collection,),
        )
        return [
            IndexedDocument(
                doc_id=r[0], collection=r[1], path=r[2], name=r[3], kind=r[4], size=r[5],
                mtime_ns=r[6], sha256=r[7], chunks=r[8], notes=tuple(json.loads(r[9])),
            )
            for r in rows
        ]  # fmt: skip

    def passages(self, doc_ids: Sequence[int]) -> list[Passage]:
        """Every passage of these documents, in document order."""
        out: list[Passage] = []
        for doc_id in doc_ids:
            out += self._passages("c.doc_id = ? ORDER BY c.seq", (doc_id,))
        return out

    def passages_by_id(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        """Passages by their chunk ids (ids no longer in the index are left out)."""
        found: dict[int, Passage] = {}
        for start in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            for p in self._passages(f"c.id IN ({marks})", part):
                found[p.chunk_id] = p
        return found

    def _passages(self, where: str, args: Sequence[Any]) -> list[Passage]:
        rows = self.query(
            "SELECT c.id, c.doc_id, d.name, d.path, c.seq, c.page, c.heading, c.text, c.tokens "
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}",
            args,
        )
        return [Passage(*r) for r in rows]

    def doc_ids(self, collection: str) -> list[int]:
        """The row ids of a collection's documents."""
        return [r[0] for r in self.query(
            "SELECT id FROM documents WHERE collection = ?", (collection,)
        )]  # fmt: skip

    # -- search ------------------------------------------------------------------------

    def search_text(self, question: str, collection: str, limit: int = 20) -> list[Passage]:
        """Passages of these documents ranked by full text (BM25, then LIKE for short CJK).

        Args:
            question: the user's words; no query syntax is needed or obeyed.
            collection: the collection to search ("" for attached documents).
            limit: passages returned at most.

        Returns:
            The best passages first; empty when nothing matches.
        """
        match, short = fts_query(question)
        ranked: list[list[int]] = []
        if match:
            # The matches are ranked first and filtered by collection after: a rowid
            # constraint inside the MATCH makes FTS5 run the query once per rowid (12 s
            # on 10,000 passages, against milliseconds).
            rows = self.query(
                "WITH m AS MATERIALIZED (SELECT rowid AS id, bm25(chunks_fts) AS score "
                "FROM chunks_fts WHERE chunks_fts MATCH ?) "
                f"SELECT m.id FROM m JOIN chunks c ON c.id = m.id WHERE c.doc_id IN {_SCOPE} "
                "ORDER BY m.score LIMIT ?",
                (match, collection, limit),
            )
            ranked.append([r[0] for r in rows])
        if short:
            ranked.append(self._like(short, collection, limit))
        fused = rrf(ranked)[:limit]
        by_id = self.passages_by_id([cid for cid, _ in fused])
        return [_scored(by_id[cid], score) for cid, score in fused if cid in by_id]

    def _like(self, terms: list[str], collection: str, limit: int) -> list[int]:
        """Chunk ids holding the most of ``terms`` (substring match), best first."""
        hits = " + ".join("(instr(text, ?) > 0)" for _ in terms)
        rows = self.query(
            f"SELECT id, {hits} AS n FROM chunks WHERE doc_id IN {_SCOPE} AND n > 0 "
            "ORDER BY n DESC, id LIMIT ?",
            (*terms, collection, min(limit, _LIKE_LIMIT)),
        )
        return [r[0] for r in rows]

    # -- vectors -----------------------------------------------------------------------

    def chunks_without_vectors(
        self, collection: str, model: str, limit: int = 256, after: int = -1
    ) -> list[tuple[int, str]]:
        """(chunk id, text) of up to ``limit`` passages after ``after`` with no vector yet.

        Callers page through with ``after`` set to the last id they got, so each call
        reads on from there rather than from the first passage again.
        """
        # "+c.doc_id": walk the chunks in key order from ``after`` (the doc_id index would
        # make SQLite gather and sort the whole collection for every page).
        return self.query(
            f"SELECT c.id, c.text FROM chunks c WHERE c.id > ? AND +c.doc_id IN {_SCOPE} "
            "AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id AND v.model = ?) "
            "ORDER BY c.id LIMIT ?",
            (after, collection, model, limit),
        )

    def has_vectors(self, collection: str, model: str) -> bool:
        """Whether any passage of a collection has a vector from ``model``."""
        return bool(
            self.query(
                "SELECT 1 FROM vectors v CROSS JOIN chunks c ON c.id = v.chunk_id "
                f"WHERE v.model = ? AND c.doc_id IN {_SCOPE} LIMIT 1",
                (model, collection),
            )
        )

    def add_vectors(self, model: str, items: Sequence[tuple[int, Sequence[float]]]) -> None:
        """Store unit vectors of passages (replacing those of another model)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors(chunk_id, model, vector) VALUES (?,?,?)",
                [(cid, model, np.asarray(v, dtype=np.float32).tobytes()) for cid, v in items],
            )

    def counts(self, collection: str, model: str = "") -> tuple[int, int, int]:
        """(documents, passages, passages with a vector from ``model``) of a collection."""
        docs, chunks = self.query(
            "SELECT count(*), coalesce(sum(chunks), 0) FROM documents WHERE collection = ?",
            (collection,),
        )[0]
        row = self.query(
            "SELECT count(*) FROM vectors v JOIN chunks c ON c.id = v.chunk_id "
            f"WHERE v.model = ? AND c.doc_id IN {_SCOPE}",
            (model, collection),
        )
        return int(docs), int(chunks), int(row[0][0])

    def search_vectors(
        self, query: Sequence[float], collection: str, model: str, limit: int = 20
    ) -> list[Passage]:
        """Passages nearest to ``query`` (a unit vector of ``model``), by exact dot product.

        Vectors are read :data:`VECTOR_BATCH` at a time, so memory stays bounded
        whatever the collection's size.
        """
        q = np.asarray(query, dtype=np.float32)
        best_ids = np.empty(0, dtype=np.int64)
        best_scores = np.empty(0, dtype=np.float32)
        last = -1
        while True:
            # CROSS JOIN keeps the vectors table outside, read in its key order: joined the
            # other way SQLite scanned and sorted every passage for every batch.
            rows = self.query(
                "SELECT v.chunk_id, v.vector FROM vectors v CROSS JOIN chunks c "
                "ON c.id = v.chunk_id "
                f"WHERE v.model = ? AND v.chunk_id > ? AND c.doc_id IN {_SCOPE} "
                "ORDER BY v.chunk_id LIMIT ?",
                (model, last, collection, VECTOR_BATCH),
            )
            if not rows:
                break
            last = rows[-1][0]
            same = [r for r in rows if len(r[1]) == q.nbytes]  # another size: another model
            if not same:
                continue
            ids = np.array([r[0] for r in same], dtype=np.int64)
            matrix = np.frombuffer(b"".join(r[1] for r in same), dtype=np.float32)
            scores = matrix.reshape(len(same), len(q)) @ q
            best_ids = np.concatenate([best_ids, ids])
            best_scores = np.concatenate([best_scores, scores])
            if len(best_ids) > limit:
                keep = np.argpartition(-best_scores, limit)[:limit]
                best_ids, best_scores = best_ids[keep], best_scores[keep]
        order = np.argsort(-best_scores)
        by_id = self.passages_by_id([int(best_ids[i]) for i in order])
        return [
            _scored(by_id[int(best_ids[i])], float(best_scores[i]))
            for i in order
            if int(best_ids[i]) in by_id
        ]


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: (id, score) by the sum of 1 / (k + rank) over the rankings."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _scored(p: Passage, score: float) -> Passage:
    from dataclasses import replace

    return replace(p, score=score)
