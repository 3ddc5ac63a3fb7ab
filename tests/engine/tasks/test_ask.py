"""Ask on the real engine: the mode chosen and why, retrieval of the page that holds a planted
fact in a document longer than the context, the whole-document pass reaching the first and
last passages, Chinese, and citations that point at text the document holds.

SmolLM2 (fast) checks the mechanism; its answers are nonsense, so only the starter model's
test judges what the answer cites."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmarks.documents_corpus import DEADLINES, EN_FACTS, ZH_FACTS, chinese_pages, english_pages
from engine.errors import ContextOverflow, UsageError
from engine.runtime.client import EngineClient
from engine.tasks import doc_pass
from engine.tasks.ask import AskOptions, AskProgress, AskResult, ask
from engine.tasks.documents import Document, extract
from engine.types import ChatMessage
from tests.engine.tasks.test_documents import make_pdf

pytestmark = pytest.mark.slow


def _report(tmp_path: Path, pages: int = 42, sentences: int = 14) -> Document:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(english_pages(pages, sentences=sentences)))
    return extract(path)


def _chinese(tmp_path: Path) -> Document:
    path = tmp_path / "报告.md"
    text = "\n\n".join(f"## 第{i}节\n\n{t}" for i, t in enumerate(chinese_pages(), 1))
    path.write_text(text, encoding="utf-8")
    return extract(path)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _assert_citations_exist(result: AskResult, documents: Sequence[Document]) -> None:
    """Every citation names a passage read, and its quote is the document's own text."""
    texts = {d.name: _flat(d.text) for d in documents}
    read = {p.chunk_id: p for p in result.passages}
    for citation in result.citations:
        assert citation.chunk_id in read
        assert _flat(citation.quote) in texts[citation.document]
        assert citation.label in result.answer or citation.inferred
        if citation.page is not None:
            assert read[citation.chunk_id].page == citation.page


async def test_a_fact_on_one_page_of_a_long_document_is_found_by_retrieval(
    client: EngineClient, tmp_path: Path
) -> None:
    await client.load(None, n_ctx=1024)
    report = _report(tmp_path)
    fact = EN_FACTS[5]  # page 23 of 42
    events: list[AskProgress] = []
    result = await ask(
        client, fact.question, documents=[report], options=AskOptions(max_tokens=64),
        on_progress=events.append,
    )  # fmt: skip
    assert result.mode == "retrieval"
    assert "longer than the context" in result.reason
    assert fact.page in [p.page for p in result.passages]
    assert any(fact.text in p.text for p in result.passages)
    assert not result.used_vectors and "embedding model" in result.search_note
    document_tokens = await client.count_tokens(report.text)
    assert 0 < result.tokens_read < document_tokens
    assert result.generated_tokens > 0 and result.language == "en"
    _assert_citations_exist(result, [report])
    assert [e.stage for e in events][-1] == "done"
    assert "search" in {e.stage for e in events}


async def test_a_short_document_goes_in_whole_and_a_forced_whole_that_cannot_fit_is_refused(
    client: EngineClient, tmp_path: Path
) -> None:
    await client.load(None, n_ctx=2048)
    short = _report(tmp_path, pages=3)
    result = await ask(
        client, EN_FACTS[0].question, documents=[short], options=AskOptions(max_tokens=48)
    )
    assert result.mode == "whole" and "fits in the context" in result.reason
    assert [p.page for p in result.passages] == sorted({p.page for p in result.passages})
    assert {p.page for p in result.passages} == {1, 2, 3}
    _assert_citations_exist(result, [short])

    long = _report(tmp_path, pages=42)
    with pytest.raises(ContextOverflow, match="do not fit"):
        await ask(client, "Anything?", documents=[long], options=AskOptions(mode="whole"))
    with pytest.raises(UsageError, match="question"):
        await ask(client, "  ", documents=[long])
    with pytest.raises(UsageError):
        AskOptions(mode="everything")


@pytest.mark.timeout(900)  # five map steps on two busy cores
async def test_list_every_question_runs_the_whole_document_pass_over_first_and_last_passages(
    client: EngineClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.load(None, n_ctx=1024)
    report = _report(tmp_path, sentences=3)  # about 2,500 tokens: five map groups
    prompts: list[str] = []
    real = doc_pass.generate

    async def recording(c: EngineClient, messages: Sequence[ChatMessage], *args: object) -> object:
        prompts.append(messages[-1].content)
        return await real(c, messages, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(doc_pass, "generate", recording)
    events: list[AskProgress] = []
    result = await ask(
        client, DEADLINES[0].question, documents=[report],
        options=AskOptions(max_tokens=48, map_tokens=48), on_progress=events.append,
    )  # fmt: skip
    assert result.mode == "pass" and "asks for everything" in result.reason
    maps = [e for e in events if e.stage == "map"]
    groups = maps[-1].total
    assert groups >= 3 and len(prompts) >= groups
    # The map step read every passage: the first deadline in its first group, the last in
    # its last, and the middle one in between.
    map_prompts = prompts[:groups]
    assert DEADLINES[0].text in map_prompts[0]
    assert DEADLINES[-1].text in map_prompts[-1]
    assert any(DEADLINES[1].text in p for p in map_prompts[1:-1])
    assert {p.page for p in result.passages} == set(range(1, 43))
    assert result.tokens_read >= await client.count_tokens(report.text) * 0.9
    _assert_citations_exist(result, [report])
    # Every note kept carries a tag that names a page of the document.
    assert all(re.search(r"\[report\.pdf p\. \d+\]", note) for note in result.notes)


async def test_a_chinese_question_retrieves_the_chinese_passage(
    client: EngineClient, tmp_path: Path
) -> None:
    await client.load(None, n_ctx=1024)
    doc = _chinese(tmp_path)
    for fact in ZH_FACTS[3:]:
        result = await ask(
            client, fact.question, documents=[doc], options=AskOptions(max_tokens=32)
        )
        assert result.mode == "retrieval" and result.language == "zh"
        assert any(fact.text in p.text for p in result.passages), fact.question
        _assert_citations_exist(result, [doc])


@pytest.mark.starter
async def test_the_starter_model_answers_with_the_page_cited(
    client: EngineClient, tmp_path: Path, starter_model: Path
) -> None:
    await client.load(starter_model, n_ctx=2048)
    report = _report(tmp_path)
    zh = _chinese(tmp_path)
    for fact, doc in ((EN_FACTS[0], report), (EN_FACTS[2], report), (ZH_FACTS[4], zh)):
        result = await ask(
            client, fact.question, documents=[doc], options=AskOptions(max_tokens=80)
        )
        assert result.mode == "retrieval"
        _assert_citations_exist(result, [doc])
        right = [c for c in result.citations if fact.answer in c.quote]
        assert right, (fact.question, result.answer, result.citations)
        if doc is report:
            assert right[0].page == fact.page
