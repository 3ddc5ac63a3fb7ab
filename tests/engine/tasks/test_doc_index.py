"""Chunking with pages and headings, the SQLite document index (full text in English and
Chinese, vectors), and citation checking: real documents written in tmp_path, a real
SQLite file, no model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.documents_corpus import EN_FACTS, ZH_FACTS, chinese_pages, english_pages
from engine.tasks.chunks import CHUNK_TOKENS, chunk_document, estimate_tokens
from engine.tasks.citations import resolve_citations
from engine.tasks.doc_index import DocumentIndex, Passage, rrf
from engine.tasks.documents import Document, extract, from_text
from engine.tasks.search_terms import fts_query
from tests.engine.tasks.test_documents import make_pdf


def _report(tmp_path: Path) -> Document:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(english_pages()))
    return extract(path)


def _chinese(tmp_path: Path) -> Document:
    path = tmp_path / "报告.md"
    path.write_text(
        "\n\n".join(f"## 第{i}节\n\n{t}" for i, t in enumerate(chinese_pages(), 1)),
        encoding="utf-8",
    )
    return extract(path)


def _index(path: Path | str, *documents: Document, collection: str = "") -> DocumentIndex:
    index = DocumentIndex(path)
    for doc in documents:
        index.add_document(
            collection, doc.path, doc.name, doc.kind, size=doc.size, mtime_ns=0,
            sha256=doc.sha256, chunks=chunk_document(doc),
        )  # fmt: skip
    return index


def test_chunks_keep_pages_and_headings_and_the_documents_own_text(tmp_path: Path) -> None:
    report = _report(tmp_path)
    chunks = chunk_document(report)
    assert {c.page for c in chunks} == set(range(1, 43))
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert all(c.tokens <= CHUNK_TOKENS * 1.25 for c in chunks)
    whole = re.sub(r"\s+", " ", report.text)
    assert all(re.sub(r"\s+", " ", c.text) in whole for c in chunks)
    fact = EN_FACTS[0]
    assert [c.page for c in chunks if fact.answer in c.text] == [fact.page]
    assert chunks[0].label == "[report.pdf p. 1]"

    chinese = chunk_document(_chinese(tmp_path))
    assert chinese[1].heading == "第2节" and ZH_FACTS[0].text in chinese[1].text
    assert chinese[1].page is None and chinese[1].label == "[报告.md part 2]"
    # A Chinese character is a token: a long Chinese text makes chunks under the limit.
    assert estimate_tokens("合同规定付款日期") == 8
    long_zh = chunk_document(from_text("合同规定付款日期为每年六月三十日。" * 300, name="长.txt"))
    assert len(long_zh) > 10 and all(len(c.text) <= CHUNK_TOKENS * 1.25 for c in long_zh)
    assert all(c.text.endswith("。") for c in long_zh)  # cut at sentence ends


def test_full_text_finds_the_page_of_a_fact_in_english_and_chinese(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    with _index(db, _report(tmp_path), _chinese(tmp_path)) as index:
        for fact in EN_FACTS:
            if fact.paraphrase:
                continue
            found = index.search_text(fact.question, "", limit=5)
            assert found and found[0].page == fact.page, fact.question
        for fact in ZH_FACTS:
            found = index.search_text(fact.question, "", limit=5)
            assert found and fact.text in found[0].text, fact.question
        # Two characters are below a trigram: found by substring all the same.
        assert fts_query("北京")[0] == ""
        assert any("王丽华" in p.text for p in index.search_text("丽华", "", limit=3))
        # Query syntax is never obeyed: quotes, operators and stars are just words.
        assert index.search_text('launch" OR code* NEAR(', "") != []
        assert index.search_text("zzzqqq", "") == []
    # The file is a real SQLite database that keeps what was added.
    with DocumentIndex(db) as index:
        assert index.counts("")[:2] == (2, len(index.passages(index.doc_ids(""))))


def test_documents_are_replaced_and_removed_with_their_passages_and_vectors(
    tmp_path: Path,
) -> None:
    report = _report(tmp_path)
    with _index(tmp_path / "index.db", report, collection="work") as index:
        ids = index.doc_ids("work")
        passages = index.passages(ids)
        index.add_vectors("m", [(p.chunk_id, np.ones(4) / 2) for p in passages])
        assert index.counts("work", "m") == (1, len(passages), len(passages))
        assert index.remove_document("work", report.path)
        assert index.counts("work", "m") == (0, 0, 0)
        assert index.query("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'Kestrel'") == [
            (0,)
        ]
        assert not index.remove_document("work", report.path)


def test_vectors_are_searched_exactly_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.tasks import doc_index

    monkeypatch.setattr(doc_index, "VECTOR_BATCH", 7)  # many batches over 60 passages
    with _index(":memory:", _report(tmp_path)) as index:
        passages = index.passages(index.doc_ids(""))
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(len(passages), 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.add_vectors("m", [(p.chunk_id, v) for p, v in zip(passages, vectors, strict=True)])
        target = 23
        found = index.search_vectors(vectors[target], "", "m", limit=5)
        assert found[0].chunk_id == passages[target].chunk_id
        expected = np.argsort(-(vectors @ vectors[target]))[:5]
        assert [p.chunk_id for p in found] == [passages[i].chunk_id for i in expected]
        assert index.search_vectors(vectors[target], "", "other-model") == []


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = rrf([[1, 2, 3], [3, 1, 4]])
    assert [item for item, _ in fused] == [1, 3, 2, 4]


def _passage(seq: int, page: int | None, text: str, name: str = "report.pdf") -> Passage:
    return Passage(seq + 100, 1, name, f"/d/{name}", seq, page, "", text, 10)


def test_citations_resolve_to_passages_that_were_read_or_are_removed() -> None:
    p3 = _passage(2, 3, "The launch code for Project Kestrel is VIOLET-9317. Other things.")
    p11 = _passage(10, 11, "The backup generator was serviced by Halvorsen Electric.")
    answer = (
        "The code is VIOLET-9317 [report.pdf, page 3]. Halvorsen Electric did it [report.pdf p. 3]."
        " The moon is cheese [report.pdf p. 99]."
    )
    cited = resolve_citations(answer, [p3, p11])
    assert "[report.pdf p. 99]" not in cited.text and cited.unresolved == ("[report.pdf p. 99]",)
    assert "VIOLET-9317 [report.pdf p. 3]." in cited.text
    by_page = {c.page: c for c in cited.citations}
    assert by_page[3].quote == "The launch code for Project Kestrel is VIOLET-9317."
    assert by_page[3].quote in p3.text and not by_page[3].moved_from
    # A tag copied from the example, on words that are on another page, moves there.
    assert by_page[11].moved_from == "[report.pdf p. 3]" and by_page[11].quote in p11.text
    # No tag at all: the passage the answer draws from is named, marked inferred.
    inferred = resolve_citations("Halvorsen Electric serviced it.", [p3, p11])
    assert [(c.page, c.inferred) for c in inferred.citations] == [(11, True)]
    # Chinese tags and parts of documents without pages.
    zh = _passage(13, None, "合同规定付款日期为每年六月三十日。", "报告.md")
    cited_zh = resolve_citations("每年六月三十日。【报告.md part 14】", [zh])
    assert cited_zh.text == "每年六月三十日。[报告.md part 14]" and cited_zh.citations[0].seq == 13
