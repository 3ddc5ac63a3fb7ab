"""Summarizing whole documents on the real starter model: chunking, map-reduce, one pass, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import engine.tasks.summarize as summarize_module
from engine.errors import DocumentError, UsageError
from engine.runtime.client import EngineClient
from engine.tasks.summarize import (
    SummaryOptions,
    SummaryProgress,
    chunk_headers,
    detect_language,
    split_into_chunks,
    summarize,
)
from engine.types import ChatMessage, GenerationResult, SamplingParams

CRAFTS = ("glass", "clock", "cheese", "boat", "violin", "kite", "lantern", "map", "bell", "tea")
CITIES = (
    "Avalon",
    "Brightwater",
    "Cedar Falls",
    "Dunmore",
    "Elmstead",
    "Foxhollow",
    "Glenrock",
    "Harborview",
    "Ironbridge",
    "Juniper",
)


@dataclass(frozen=True)
class Doc:
    """A document as engine.tasks.documents makes them, for the parts summarize reads."""

    name: str
    text: str


def city_guide(pages: int, paragraphs: int = 3) -> str:
    """Pages with distinct facts each, separated by "[Page N]" marker lines."""
    parts: list[str] = []
    for i in range(pages):
        city, craft = CITIES[i % len(CITIES)], CRAFTS[i % len(CRAFTS)]
        parts.append(f"[Page {i + 1}]")
        for k in range(paragraphs):
            parts.append(
                f"The city of {city} is famous for its {craft} makers. In the year "
                f"{1800 + i * 7 + k}, the mayor of {city} opened a new market on the river, "
                f"and the number of workers grew to {1000 * (i + 1) + k * 13}. Travelers say "
                f"the streets of {city} smell of bread in the morning, and the old bridge is "
                "painted blue every spring."
            )
    return "\n\n".join(parts)


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


def check_progress(events: list[SummaryProgress]) -> None:
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions), fractions
    assert fractions[-1] == 1.0 and fractions.count(1.0) == 1
    assert events[-1].stage == "done"
    assert all(0.0 <= f <= 1.0 for f in fractions)


# -- no model needed ------------------------------------------------------------------


def test_language_is_detected_from_the_share_of_chinese_characters() -> None:
    assert detect_language("The quick brown fox jumps over the lazy dog.") == "en"
    assert detect_language("马罗溪镇建于1852年，最早的居民是伐木工人。") == "zh"
    # A Chinese text quoting some English stays Chinese; an English one naming a Chinese
    # city stays English.
    assert detect_language("这个项目使用 Python 和 llama.cpp 在本地运行模型。") == "zh"
    assert detect_language("We visited 北京 last year and loved the food there a lot.") == "en"


def test_options_are_checked_and_serialized() -> None:
    assert SummaryOptions().to_dict() == {
        "length": "medium",
        "style": "bullets",
        "language": "auto",
    }
    with pytest.raises(UsageError, match="length 'huge'"):
        SummaryOptions(length="huge")
    with pytest.raises(UsageError, match="style"):
        SummaryOptions(style="poem")


def test_chunk_headers_say_which_pages_a_chunk_covers() -> None:
    chunks = [
        "Preface text.",
        "[Page 1]\nIntro.\n\n[Page 2]\nMore.",
        "Rest of page two.",
        "End of two.\n\n[Page 3]\nThree.",
        "[Page 4]\nFour.",
    ]
    assert chunk_headers(chunks) == [
        "",
        "[Page 1]–[Page 2]",
        "[Page 2]",
        "[Page 2]–[Page 3]",
        "[Page 4]",
    ]


# -- the real starter model -------------------------------------------------------------


@pytest.mark.slow
async def test_chunks_fit_the_budget_keep_every_word_and_start_at_markers(
    client: EngineClient,
) -> None:
    await client.load(None, n_ctx=1024)
    text = city_guide(8)
    budget = 200
    chunks = await split_into_chunks(client, text, budget)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(await client.tokenize(chunk)) <= budget
    assert " ".join(chunks).split() == text.split()
    # A "[Page N]" line never ends a chunk: it stays with the page it introduces.
    for chunk in chunks:
        assert not chunk.rstrip().endswith("]")


@pytest.mark.slow
async def test_chinese_without_paragraphs_is_cut_at_chinese_sentence_ends(
    client: EngineClient,
) -> None:
    await client.load(None, n_ctx=1024)
    sentence = "马罗溪镇建于一八五二年，最早的居民是沿河北上的伐木工人。"
    text = "".join(f"{sentence[:-1]}，第{i}段；这是记录。" for i in range(60))
    chunks = await split_into_chunks(client, text, 150)
    assert len(chunks) > 2
    assert "".join(c.replace("\n", "") for c in chunks) == text
    # Every cut falls after Chinese punctuation, not inside a sentence.
    assert all(c.rstrip()[-1] in "。；" for c in chunks[:-1])
    for chunk in chunks:
        assert len(await client.tokenize(chunk)) <= 150


@pytest.mark.slow
async def test_text_with_no_boundaries_is_hard_cut_to_the_budget(client: EngineClient) -> None:
    await client.load(None, n_ctx=1024)
    text = "x7q" * 2000
    chunks = await split_into_chunks(client, text, 120)
    assert "".join(c.replace("\n", "") for c in chunks) == text
    for chunk in chunks:
        assert len(await client.tokenize(chunk)) <= 120


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_document_longer_than_the_context_is_summarized_chunk_by_chunk(
    client: EngineClient,
) -> None:
    await client.load(None, n_ctx=512)
    text = city_guide(6)
    events: list[SummaryProgress] = []
    streamed: list[str] = []
    result = await summarize(
        client,
        Doc("guide.txt", text),
        SummaryOptions(length="short"),
        on_progress=events.append,
        on_token=streamed.append,
        map_parallel=1,
    )
    assert result.tokens_read > 512 * 2
    assert result.chunks > 2 and len(result.partials) == result.chunks
    # One "map" event per chunk, in order, each carrying that chunk's summary.
    maps = [e for e in events if e.stage == "map"]
    assert [e.done for e in maps] == list(range(1, result.chunks + 1))
    assert all(e.total == result.chunks for e in maps)
    assert [e.partial for e in maps] == list(result.partials)
    # Every page was in some chunk: the partial summaries say where they came from.
    headers = "\n".join(p.split("\n", 1)[0] for p in result.partials)
    assert "[Page 1]" in headers and "[Page 6]" in headers
    assert all(p.split("\n", 1)[0].startswith("[Page ") for p in result.partials)
    # Partials that do not fit one context together were combined in reduce levels.
    reduces = [e for e in events if e.stage == "reduce"]
    assert (result.levels > 2) == bool(reduces)
    assert result.text and "".join(streamed).strip() == result.text
    assert result.language == "en" and result.seconds > 0
    check_progress(events)
    assert any(e.eta_s > 0 for e in events if e.stage == "map")


@pytest.mark.slow
async def test_a_short_document_is_summarized_in_one_pass(client: EngineClient) -> None:
    await client.load(None, n_ctx=2048)
    events: list[SummaryProgress] = []
    streamed: list[str] = []
    result = await summarize(
        client,
        Doc("note.txt", city_guide(1, paragraphs=2)),
        SummaryOptions(length="short", style="tldr"),
        on_progress=events.append,
        on_token=streamed.append,
    )
    assert result.chunks == 1 and result.levels == 1 and result.partials == ()
    assert not [e for e in events if e.stage in ("map", "reduce")]
    assert [e.stage for e in events][-1] == "done" and any(e.stage == "final" for e in events)
    assert result.text and "".join(streamed).strip() == result.text
    check_progress(events)


@pytest.mark.slow
async def test_a_chinese_document_gets_a_chinese_summary(client: EngineClient) -> None:
    await client.load(None, n_ctx=2048)
    text = (
        "马罗溪镇建于1852年，最早的居民是沿河北上的伐木工人。第一家锯木厂由格兰特建造，"
        "为1871年通到山谷的铁路提供木板。\n\n"
        "铁路改变了一切。十年之内，人口从三百人增长到四千人，主街上建起了砖砌的学校、银行和两座教堂。\n\n"
        "1903年，一场大火烧毁了东区大部分木制建筑。此后镇议会规定所有新建筑必须使用砖或石头。\n\n"
        "今天，马罗溪以苹果园和秋季节日闻名，每年十月吸引约两万名游客。"
    )
    result = await summarize(client, Doc("马罗溪.txt", text), SummaryOptions(length="short"))
    assert result.language == "zh"
    assert detect_language(result.text) == "zh", result.text


@pytest.mark.slow
async def test_an_empty_document_is_refused(client: EngineClient) -> None:
    await client.load(None, n_ctx=512)
    with pytest.raises(DocumentError, match=r"empty\.txt has no text"):
        await summarize(client, Doc("empty.txt", " \n\n "))


@pytest.mark.slow
async def test_cancel_mid_map_stops_the_chunk_and_keeps_the_worker(
    client: EngineClient,
) -> None:
    await client.load(None, n_ctx=512)
    events: list[SummaryProgress] = []
    first_map = asyncio.Event()

    def on_progress(event: SummaryProgress) -> None:
        events.append(event)
        if event.stage == "map":
            first_map.set()

    task = asyncio.create_task(
        summarize(client, Doc("guide.txt", city_guide(8)), on_progress=on_progress, map_parallel=1)
    )
    await asyncio.wait_for(first_map.wait(), 300)
    # The second chunk is being summarized now: cancel in the middle of it.
    await asyncio.sleep(0.3)
    pid = client.worker_pid
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 60)
    # What was done stays visible: the first chunk's summary came with its event.
    maps = [e for e in events if e.stage == "map"]
    assert maps and maps[0].partial.startswith("[Page 1]")
    assert events[-1].stage != "done" and events[-1].fraction < 1.0
    # The worker stopped the chunk it was on: the client kills a worker that does not
    # honour a cancel within its deadline, and this one is still there and answers.
    result: GenerationResult | None = None
    async for event in client.chat([ChatMessage("user", "Hi")], SamplingParams(max_tokens=8)):
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None and result.stats.stop_reason in ("eos", "length")
    assert client.worker_pid == pid


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    not hasattr(EngineClient, "complete_many"), reason="EngineClient.complete_many not there yet"
)
async def test_the_parallel_map_visits_every_chunk_too(
    client: EngineClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.load(None, n_ctx=512)
    monkeypatch.setattr(summarize_module, "MIN_PARALLEL_CHUNK", 32)  # a 512-token context
    events: list[SummaryProgress] = []
    result = await summarize(
        client,
        Doc("guide.txt", city_guide(5, paragraphs=2)),
        SummaryOptions(length="short"),
        on_progress=events.append,
        map_parallel=4,
    )
    maps = [e for e in events if e.stage == "map"]
    assert result.chunks > 1 and [e.done for e in maps] == list(range(1, result.chunks + 1))
    assert len(result.partials) == result.chunks
    assert all(p.startswith("[Page ") for p in result.partials)
    assert set(result.partials) == {e.partial for e in maps}
    check_progress(events)
    # Four chunks share the context: each is at most a quarter of it.
    assert result.chunks >= 4


async def test_parallel_map_chunks_share_the_context(client: EngineClient) -> None:
    await client.load(None, n_ctx=4096)
    options = SummaryOptions(length="short")

    async def budget(parallel: int) -> tuple[int, int]:
        run = summarize_module._Run(
            client, options, "en", summarize_module._Progress(None), parallel
        )
        return await run.map_budget(), run.map_parallel

    whole, one = await budget(1)
    assert one == 1 and 3500 < whole < 4096
    # Four slices of 1,024 tokens leave less than MIN_PARALLEL_CHUNK of text each
    # once the template and the answer are counted: three share the context.
    share, three = await budget(4)
    assert three == 3
    assert summarize_module.MIN_PARALLEL_CHUNK <= share < 4096 // 3
    assert whole - share == 4096 - 4096 // 3
