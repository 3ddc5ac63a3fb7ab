"""Hybrid retrieval on the real engine: passages embedded by all-MiniLM-L6-v2 in the worker,
stored in a real index file, searched by full text, by vector and fused; recall@5 on the
labelled planted-fact set; a collection indexed with vectors; Ask using them."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.documents_bench import paraphrased, recall_at_k, write_corpus
from benchmarks.documents_corpus import EN_FACTS, english_pages
from engine.runtime.client import EngineClient
from engine.tasks.ask import AskOptions, ask
from engine.tasks.collections import add_collection, index_collection, list_collections
from engine.tasks.doc_index import DocumentIndex
from engine.tasks.documents import extract
from engine.tasks.retrieval import NO_EMBEDDING_MODEL, search
from tests.engine.tasks.test_documents import make_pdf

pytestmark = pytest.mark.slow


async def test_vectors_find_what_words_miss_and_fusion_keeps_both(
    client: EngineClient, embedding_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_corpus(folder)
    model = str(embedding_model)
    with DocumentIndex(tmp_path / "index.db") as index:
        add_collection(index, "labelled", [folder])
        report = await index_collection(index, "labelled", client=client, embed_model=model)
        assert report.vectors and report.embedded_tokens > 0
        [info] = list_collections(index, model)
        assert info.vectors == info.passages > 0

        recalls = {
            (r.language, r.method): r for r in await recall_at_k(client, index, "labelled", model)
        }
        en = {m: recalls["en", m].value for m in ("text", "vector", "fused")}
        # The figures in benchmarks/documents.md: fusion is at least as good as either alone.
        assert en["fused"] >= max(en["text"], en["vector"]) - 0.1
        assert en["fused"] >= 0.8
        assert recalls["zh", "text"].value == 1.0  # trigrams read Chinese

        # A question in other words than its page: vectors carry it.
        for fact in paraphrased(EN_FACTS)[:2]:
            found = await search(index, fact.question, "labelled", client=client, embed_model=model)
            assert found.used_vectors and found.note == ""
            assert any(fact.text in p.text for p in found.passages[:5]), fact.question

        words_only = await search(index, EN_FACTS[0].question, "labelled")
        assert not words_only.used_vectors and words_only.note == NO_EMBEDDING_MODEL


async def test_ask_a_collection_with_vectors(
    client: EngineClient, embedding_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(make_pdf(english_pages(12, sentences=6)))
    with DocumentIndex(tmp_path / "index.db") as index:
        add_collection(index, "labelled", [folder])
        await index_collection(index, "labelled", client=client, embed_model=str(embedding_model))
        await client.load(None, n_ctx=1024)  # the chat model, beside the embedding model
        fact = EN_FACTS[1]
        result = await ask(
            client, fact.question, index=index, collection="labelled",
            options=AskOptions(embed_model=str(embedding_model), max_tokens=32),
        )  # fmt: skip
        assert result.mode == "retrieval" and result.used_vectors
        assert any(fact.text in p.text for p in result.passages)
    # Attached documents are embedded for the one question, in a private index.
    report = extract(folder / "report.pdf")
    attached = await ask(
        client, fact.question, documents=[report],
        options=AskOptions(embed_model=str(embedding_model), max_tokens=32),
    )  # fmt: skip
    assert attached.used_vectors and any(fact.text in p.text for p in attached.passages)
