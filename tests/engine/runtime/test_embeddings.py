"""Embeddings through the engine: all-MiniLM-L6-v2 (a real BERT embedding model, built by
`make embed-model`) in the real worker, beside a loaded chat model or loaded alone; texts
that mean the same come out close; what cannot be embedded is refused clearly."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams

pytestmark = pytest.mark.slow

CAT = "a cat sits on the mat"
KITTEN = "a kitten is on the rug"
STOCKS = "stock markets fell today"
#: BERT's uncased WordPiece ids: [CLS] hello world [SEP].
HELLO_WORLD_IDS = [101, 7592, 2088, 102]


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


def _cos(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


async def test_an_embedding_model_beside_a_chat_model(
    client: EngineClient, embedding_model: Path
) -> None:
    chat_model = await client.load(None, n_ctx=1024)
    result = await client.embed([CAT, KITTEN, STOCKS], model=embedding_model)
    cat, kitten, stocks = result.vectors
    assert len(cat) == 384
    for vector in result.vectors:
        assert math.isclose(math.sqrt(_cos(vector, vector)), 1.0, abs_tol=1e-5)
    assert _cos(cat, kitten) > _cos(cat, stocks) + 0.2
    assert _cos(cat, kitten) > _cos(kitten, stocks) + 0.2
    # [CLS] a cat sits on the mat [SEP] + [CLS] a kitten is on the rug [SEP] + ... 5 words.
    assert result.prompt_tokens == 8 + 8 + 6

    # One at a time, the same vectors as in the batch.
    alone = await client.embed([KITTEN], model=embedding_model)
    assert _cos(alone.vectors[0], kitten) > 0.9999
    assert alone.prompt_tokens == 8
    # Token ids are read as the model's own.
    by_ids = await client.embed([HELLO_WORLD_IDS, "hello world"], model=embedding_model)
    assert _cos(*by_ids.vectors) > 0.9999 and by_ids.prompt_tokens == 8

    # The chat model is still loaded and answers.
    assert client.model is not None and client.model.model_id == chat_model.model_id
    result_chat = None
    async for event in client.chat([ChatMessage("user", "Say hi.")], SamplingParams(max_tokens=4)):
        if isinstance(event, GenerationResult):
            result_chat = event
    assert result_chat is not None and result_chat.stats.generated_tokens > 0

    # Many texts: more than one batch's sequences, in order.
    many = [f"sentence number {i}" for i in range(70)] + [CAT]
    big = await client.embed(many, model=embedding_model)
    assert len(big.vectors) == 71 and _cos(big.vectors[-1], cat) > 0.9999


async def test_what_cannot_be_embedded_is_refused(
    client: EngineClient, embedding_model: Path, gemma: Path
) -> None:
    await client.load(None, n_ctx=1024)
    with pytest.raises(UsageError, match="writes text; it does not make embeddings"):
        await client.embed([CAT])
    with pytest.raises(UsageError, match="not an embedding model"):
        await client.embed([CAT], model=gemma)
    with pytest.raises(UsageError, match="Input 1 is empty"):
        await client.embed([CAT, ""], model=embedding_model)
    with pytest.raises(UsageError, match="reads at most 512"):
        await client.embed(["word " * 600], model=embedding_model)
    with pytest.raises(UsageError, match="outside this model's vocabulary"):
        await client.embed([[101, 10**6, 102]], model=embedding_model)
    with pytest.raises(UsageError, match="at least one text"):
        await client.embed([], model=embedding_model)
    # Still serving.
    assert len((await client.embed([CAT], model=embedding_model)).vectors) == 1


async def test_an_embedding_model_loaded_alone_embeds_and_does_not_write(
    client: EngineClient, embedding_model: Path
) -> None:
    info = await client.load(embedding_model)
    assert info.embedding and info.n_ctx == 512 and not info.warnings
    result = await client.embed([CAT, KITTEN])
    assert _cos(*result.vectors) > 0.5 and result.model_id == info.model_id
    with pytest.raises(UsageError, match="embedding model: it turns text into vectors"):
        async for _ in client.chat([ChatMessage("user", "Hi")], SamplingParams(max_tokens=4)):
            pass
