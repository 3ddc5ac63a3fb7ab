"""A remote model through EngineClient, against a real `hearth-cli serve` process on the
135M test model: its models listed, answers streamed, a cancel that closes the stream and
frees the server's engine, token counts from its /tokenize; and the failures a user meets
(a wrong key, a server that is down, a model that is gone, offline mode) as clear errors
that leave the client usable."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import RemoteError, UsageError
from engine.runtime.client import EngineClient
from engine.runtime.remote import (
    NetworkPolicy,
    RemoteEndpoint,
    check_allowed,
    is_remote_id,
    list_models,
    normalize_url,
)
from engine.tasks.code import CodeRequest, run_task
from engine.tasks.summarize import SummaryOptions, summarize
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent
from tests.served import TOKEN, Served, serve_hearth

SHORT = SamplingParams(max_tokens=12, temperature=0)
HELLO = [ChatMessage("user", "Say hello.")]


def endpoint_of(served: Served, key: str = TOKEN) -> RemoteEndpoint:
    return RemoteEndpoint.parse(served.url + "/v1", key)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, smollm2: Path) -> Iterator[Served]:
    with serve_hearth(tmp_path_factory.mktemp("remote-home"), smollm2) as running:
        yield running


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def collect(client: EngineClient, messages: list[ChatMessage]) -> GenerationResult:
    result = None
    async for event in client.chat(messages, SHORT):
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None
    return result


# -- the address and offline mode (no server needed) ---------------------------------------


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        (" http://127.0.0.1:8080/v1/ ", "http://127.0.0.1:8080"),
        ("https://box.lan/proxy/v1", "https://box.lan/proxy"),
    ],
)
def test_an_address_is_read_with_or_without_v1(typed: str, base: str) -> None:
    assert normalize_url(typed) == base


@pytest.mark.parametrize(
    "typed", ["", "127.0.0.1:8080", "ftp://host/v1", "http://", "http://user:pw@host/v1"]
)
def test_what_is_not_an_address_is_refused_with_what_to_write(typed: str) -> None:
    with pytest.raises(UsageError):
        normalize_url(typed)


def test_the_key_never_appears_in_a_repr() -> None:
    endpoint = RemoteEndpoint.parse("http://127.0.0.1:8080", "sk-secret-value")
    assert "sk-secret-value" not in repr(endpoint)


async def test_offline_mode_allows_loopback_and_lan_only_when_asked() -> None:
    offline = NetworkPolicy(offline=True)
    lan = NetworkPolicy(offline=True, allow_lan=True)
    for url in ("http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        await check_allowed(RemoteEndpoint.parse(url), offline)
    for url in ("http://192.168.1.20:8080", "http://10.0.0.5", "http://172.16.3.4"):
        with pytest.raises(RemoteError, match="local network"):
            await check_allowed(RemoteEndpoint.parse(url), offline)
        await check_allowed(RemoteEndpoint.parse(url), lan)
    with pytest.raises(RemoteError, match="outside"):
        await check_allowed(RemoteEndpoint.parse("http://8.8.8.8"), lan)
    # Online, anything goes (and nothing is resolved).
    await check_allowed(RemoteEndpoint.parse("http://8.8.8.8"), NetworkPolicy())


# -- against a served Hearth -------------------------------------------------------------------


@pytest.mark.slow
async def test_models_listed_and_an_answer_streamed(served: Served) -> None:
    models = await list_models(endpoint_of(served), NetworkPolicy(offline=True))
    assert models, "the served model is listed"
    loaded = [m for m in models if m.n_ctx]
    async with EngineClient() as client:
        info = await client.load_remote(endpoint_of(served), models[0].name)
        assert is_remote_id(info.model_id) and info.backend == "remote"
        assert client.model == info and client.remote == endpoint_of(served)
        if loaded:
            assert info.n_ctx == loaded[0].n_ctx or models[0].n_ctx == 0
        pieces = []
        result = None
        async for event in client.chat(HELLO, SHORT):
            if isinstance(event, TokenEvent):
                pieces.append(event.text)
            else:
                result = event
        assert result is not None and result.text.strip()
        assert "".join(pieces) == result.text
        assert result.stats.stop_reason in ("eos", "length")
        assert 0 < result.stats.generated_tokens <= 12
        assert result.stats.prompt_tokens > 0
        # Token counts come from the server's own tokenizer.
        assert len(await client.tokenize("Hello, world")) > 1
        used, n_ctx = await client.count_chat_tokens(HELLO)
        assert 0 < used < n_ctx
        # A raw completion and a batch run on the same model.
        texts = await client.complete_many(["The capital of France is", HELLO], SHORT)
        assert len(texts) == 2 and all(r.text for r in texts)
        # The worker was never started for any of it.
        assert client.worker_pid is None


@pytest.mark.slow
async def test_cancel_closes_the_stream_and_the_server_is_free_again(served: Served) -> None:
    async with EngineClient() as client:
        models = await list_models(endpoint_of(served), NetworkPolicy())
        await client.load_remote(endpoint_of(served), models[0].name)
        story = [ChatMessage("user", "Write a long story about a dragon and a knight.")]
        result = None
        async for event in client.chat(story, SamplingParams(max_tokens=400, temperature=0)):
            if isinstance(event, TokenEvent) and result is None:
                await client.cancel()
            if isinstance(event, GenerationResult):
                result = event
        assert result is not None and result.stats.stop_reason == "cancelled"
        assert result.stats.generated_tokens < 400
        # The server noticed the closed connection and stopped generating.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (await asyncio.to_thread(served.health))["busy"]:
            assert loop.time() < deadline, "the server kept generating after the cancel"
            await asyncio.sleep(0.05)
        # And the next answer comes as usual.
        assert (await collect(client, HELLO)).text


@pytest.mark.slow
async def test_a_consumer_that_stops_listening_closes_the_stream(served: Served) -> None:
    async with EngineClient() as client:
        models = await list_models(endpoint_of(served), NetworkPolicy())
        await client.load_remote(endpoint_of(served), models[0].name)
        story = [ChatMessage("user", "Write a long story about a dragon.")]
        stream = client.chat(story, SamplingParams(max_tokens=400, temperature=0))
        async for _event in stream:
            break
        await stream.aclose()
        assert not client.busy
        assert (await collect(client, HELLO)).text


@pytest.mark.slow
async def test_a_wrong_key_is_refused_clearly_and_the_model_stays(served: Served) -> None:
    async with EngineClient() as client:
        models = await list_models(endpoint_of(served), NetworkPolicy())
        await client.load_remote(endpoint_of(served), models[0].name)
        with pytest.raises(RemoteError, match="refused the API key") as refused:
            await client.load_remote(endpoint_of(served, "wrong-key"), models[0].name)
        assert "wrong-key" not in str(refused.value)
        assert client.remote == endpoint_of(served)
        assert (await collect(client, HELLO)).text


@pytest.mark.slow
async def test_a_model_the_server_does_not_serve_is_named(served: Served) -> None:
    async with EngineClient() as client:
        with pytest.raises(RemoteError, match="does not serve 'no-such-model'"):
            await client.load_remote(endpoint_of(served), "no-such-model")
        assert client.model is None


async def test_a_server_that_is_down_is_a_clear_error() -> None:
    endpoint = RemoteEndpoint.parse(f"http://127.0.0.1:{free_port()}/v1")
    async with EngineClient() as client:
        with pytest.raises(RemoteError, match=r"Cannot reach 127\.0\.0\.1"):
            await client.load_remote(endpoint, "any")
        assert client.model is None and client.remote is None


async def test_offline_mode_refuses_a_public_endpoint_before_connecting() -> None:
    async with EngineClient() as client:
        with pytest.raises(RemoteError, match="Offline mode"):
            await client.load_remote(
                RemoteEndpoint.parse("http://203.0.113.9:8080"), "m", policy=NetworkPolicy(True)
            )


@dataclass(frozen=True)
class _Document:
    name: str
    text: str


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_summarize_and_code_run_on_a_remote_model(served: Served) -> None:
    """The Summarize and Code panes' tasks, unchanged, on a served model: a document too
    long for one pass is split with the server's token counts, mapped and reduced."""
    facts = [
        f"Station {i} of the northern line opened in {1900 + i} and serves {i * 1000} riders "
        f"a day; its architect was Mira Holt {i}."
        for i in range(1, 150)
    ]
    document = _Document("stations.txt", "\n\n".join(facts))
    async with EngineClient() as client:
        models = await list_models(endpoint_of(served), NetworkPolicy())
        await client.load_remote(endpoint_of(served), models[0].name)
        steps: list[str] = []
        summary = await summarize(
            client,
            document,
            SummaryOptions(length="short"),
            on_progress=lambda p: steps.append(p.stage),
        )
        assert summary.chunks > 1 and summary.levels >= 2  # the whole document, map-reduce
        assert summary.tokens_read > 3000
        assert len(summary.partials) >= summary.chunks
        assert summary.text.strip() and steps[-1] == "done"

        pieces: list[str] = []
        request = CodeRequest("explain", "python", code="def add(a, b):\n    return a + b\n")
        result = await run_task(client, request, on_token=pieces.append, params=SHORT)
        assert result.text.strip() and "".join(pieces).strip()
        assert client.worker_pid is None  # all of it on the server
