"""Hybrid retrieval: full text and embedding vectors, fused by reciprocal rank.

Full text (FTS5 BM25 over trigrams, :class:`~engine.tasks.doc_index.DocumentIndex`)
finds the passages that share the question's words; vectors from an embedding model run
in the engine worker (:meth:`EngineClient.embed <engine.runtime.client.EngineClient.embed>`)
find those that mean the same in other words. The two rankings are fused by reciprocal
rank (Cormack et al., 2009: each list adds 1 / (60 + rank)), which needs no score
calibration between BM25 and cosine similarity.

With no embedding model, search is full text alone and the result says so, and why.

Thread: coroutines run on the loop that owns the EngineClient; database work runs on
a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from engine.errors import UsageError
from engine.tasks.doc_index import DocumentIndex, Passage, rrf

if TYPE_CHECKING:
    from engine.data.config import Paths
    from engine.runtime.client import EngineClient

__all__ = [
    "EMBEDDING_ARCHITECTURES",
    "EmbedProgress",
    "SearchResult",
    "embed_passages",
    "find_embedding_model",
    "search",
]

log = logging.getLogger("engine.retrieval")

#: GGUF architectures that are sentence embedders (BERT-style encoders with a pooling).
EMBEDDING_ARCHITECTURES: Final = frozenset(
    {
        "bert",
        "nomic-bert",
        "nomic-bert-moe",
        "jina-bert-v2",
        "jina-bert-v3",
        "modern-bert",
        "neo-bert",
    }
)
#: Passages embedded per request.
EMBED_BATCH: Final = 32
#: Candidates each ranking contributes to the fusion.
CANDIDATES: Final = 30
#: What a search without vectors says, for a UI to show beside the results.
NO_EMBEDDING_MODEL: Final = (
    "Searched by words only: no embedding model is installed. An embedding model "
    "(such as all-MiniLM-L6-v2, or a multilingual one for Chinese) also finds passages "
    "that say the same thing in other words."
)

Method = Literal["hybrid", "text", "vector"]


@dataclass(frozen=True)
class SearchResult:
    """Passages found for a question.

    Attributes:
        passages: the best first.
        used_vectors: whether vector similarity took part.
        note: why vectors did not take part ("" when they did).
        text_ranked: chunk ids ranked by full text (for measuring recall).
        vector_ranked: chunk ids ranked by vector similarity (empty without vectors).
    """

    passages: tuple[Passage, ...]
    used_vectors: bool
    note: str
    text_ranked: tuple[int, ...] = ()
    vector_ranked: tuple[int, ...] = ()


@dataclass(frozen=True)
class EmbedProgress:
    """Passages embedded so far.

    Attributes:
        done: passages embedded.
        total: passages to embed in this run.
        tokens: tokens the embedding model read so far.
    """

    done: int
    total: int
    tokens: int


def find_embedding_model(paths: Paths) -> str | None:
    """The id of an installed embedding model (the first by id), or None.

    An embedding model is one whose GGUF architecture is a sentence embedder's
    (:data:`EMBEDDING_ARCHITECTURES`).
    """
    from engine.models.store import ModelStore

    for model in sorted(ModelStore.configured(paths).list(), key=lambda m: m.id):
        if model.info is not None and model.info.architecture in EMBEDDING_ARCHITECTURES:
            return model.id
    return None


async def embed_passages(
    client: EngineClient,
    index: DocumentIndex,
    collection: str,
    model: str,
    *,
    on_progress: Callable[[EmbedProgress], None] | None = None,
) -> int:
    """Embed the passages of a collection that have no vector from ``model`` yet.

    Bounded in memory: :data:`EMBED_BATCH` passages at a time, each batch stored at once
    (so a run cut short keeps what it embedded).

    Args:
        client: the engine (the embedding model is loaded beside any chat model).
        index: the index.
        collection: the collection ("" for attached documents).
        model: the embedding model's id or path.
        on_progress: called after each batch.

    Returns:
        Tokens the embedding model read.

    Raises:
        UsageError: ``model`` is not an embedding model.
        ModelNotFound, ModelFileError: ``model`` names no usable file.
    """
    _, total_chunks, have = await asyncio.to_thread(index.counts, collection, model)
    total = total_chunks - have
    done = tokens = 0
    last = -1
    while True:
        batch = await asyncio.to_thread(
            index.chunks_without_vectors, collection, model, EMBED_BATCH, last
        )
        if not batch:
            return tokens
        last = batch[-1][0]
        vectors, used = await _embed(client, [text for _, text in batch], model)
        await asyncio.to_thread(
            index.add_vectors, model, [(cid, v) for (cid, _), v in zip(batch, vectors, strict=True)]
        )
        done += len(batch)
        tokens += used
        if on_progress is not None:
            on_progress(EmbedProgress(done, max(total, done), tokens))


async def _embed(
    client: EngineClient, texts: Sequence[str], model: str
) -> tuple[list[tuple[float, ...]], int]:
    """Vectors of ``texts``; a text longer than the model reads is embedded by its start."""
    try:
        result = await client.embed(list(texts), model=model)
        return list(result.vectors), result.prompt_tokens
    except UsageError as exc:
        if "reads at most" not in str(exc):
            raise
    vectors: list[tuple[float, ...]] = []
    tokens = 0
    for text in texts:
        while True:
            try:
                one = await client.embed([text], model=model)
                break
            except UsageError as exc:
                if "reads at most" not in str(exc) or len(text) < 2:
                    raise
                text = text[: len(text) * 3 // 4]
        vectors.append(one.vectors[0])
        tokens += one.prompt_tokens
    return vectors, tokens


async def search(
    index: DocumentIndex,
    question: str,
    collection: str,
    *,
    client: EngineClient | None = None,
    embed_model: str | None = None,
    limit: int = 8,
    method: Method = "hybrid",
) -> SearchResult:
    """The passages of a collection most relevant to ``question``.

    Args:
        index: the index.
        question: the user's words.
        collection: the collection ("" for attached documents).
        client: the engine, to embed the question; None: full text only.
        embed_model: the embedding model the passages were embedded with; None: full text.
        limit: passages returned at most.
        method: "hybrid" (fused), "text" or "vector" alone (for measuring them).

    Returns:
        The passages, best first, and whether vectors took part.
    """
    if not question.strip():
        raise UsageError("Type a question or some words to search for.")
    text_hits: list[Passage] = []
    if method != "vector":
        text_hits = await asyncio.to_thread(index.search_text, question, collection, CANDIDATES)
    vector_hits: list[Passage] = []
    note = ""
    if method == "text":
        note = "Searched by words only, as asked."
    elif client is None or embed_model is None:
        note = NO_EMBEDDING_MODEL
    else:
        if not await asyncio.to_thread(index.has_vectors, collection, embed_model):
            note = "Searched by words only: the passages have no vectors yet (index them again)."
        else:
            query = (await client.embed([question[:2000]], model=embed_model)).vectors[0]
            vector_hits = await asyncio.to_thread(
                index.search_vectors, query, collection, embed_model, CANDIDATES
            )
    by_id = {p.chunk_id: p for p in text_hits + vector_hits}
    text_ids = [p.chunk_id for p in text_hits]
    vector_ids = [p.chunk_id for p in vector_hits]
    fused = rrf([ids for ids in (text_ids, vector_ids) if ids])[:limit]
    passages = tuple(_with_score(by_id[cid], score) for cid, score in fused)
    return SearchResult(passages, bool(vector_hits), note, tuple(text_ids), tuple(vector_ids))


def _with_score(passage: Passage, score: float) -> Passage:
    from dataclasses import replace

    return replace(passage, score=score)
