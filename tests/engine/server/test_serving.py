"""The API served on the caller's own event loop and engine client (as the window serves it):
the official async ``openai`` client gets answers, each request is reported with its token
counts, stopping frees the port, and a port in use is a PortInUse error, not an exit."""

from __future__ import annotations

import socket

import openai
import pytest

from engine.errors import PortInUse
from engine.runtime.client import EngineClient
from engine.server.app import RequestRecord, ServerConfig
from engine.server.serving import ApiServer, listen

pytestmark = pytest.mark.slow

TOKEN = "test-token-0123456789abcdef"


async def no_models() -> list[str]:
    return []


async def test_served_on_this_loop_through_the_same_client() -> None:
    records: list[RequestRecord] = []
    activity: list[int] = []
    async with EngineClient() as client:
        info = await client.load(None)
        server = ApiServer(
            client,
            ServerConfig(host="127.0.0.1", port=0, token=TOKEN, load_models=False),
            list_models=no_models,
            on_request=records.append,
            on_activity=activity.append,
        )
        await server.start()
        port = server.config.port
        assert port != 0 and server.running
        assert server.url == f"http://127.0.0.1:{port}/v1"
        api = openai.AsyncOpenAI(base_url=server.url, api_key=TOKEN, max_retries=0, timeout=120)
        models = await api.models.list()
        assert [m.id for m in models.data] == [info.model_id]
        stream = await api.chat.completions.create(
            model=info.model_id,
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        usage = None
        async for chunk in stream:
            usage = chunk.usage or usage
        assert usage is not None and usage.completion_tokens > 0
        # The client the server uses is free for anyone else on this loop.
        assert not client.busy
        await api.close()
        await server.stop()
        assert not server.running

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/v1/models", 200),
        ("POST", "/v1/chat/completions", 200),
    ]
    assert records[0].completion_tokens == 0
    assert records[1].completion_tokens == usage.completion_tokens
    assert records[1].prompt_tokens == usage.prompt_tokens
    assert activity == [1, 0, 1, 0]


async def test_a_port_in_use_raises_port_in_use() -> None:
    with listen("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse) as caught:
            listen("127.0.0.1", port)
        assert caught.value.port == port
        async with EngineClient() as client:
            server = ApiServer(
                client,
                ServerConfig(host="127.0.0.1", port=port, token=TOKEN),
                list_models=no_models,
            )
            with pytest.raises(PortInUse):
                await server.start()
            assert not server.running
            await server.stop()  # harmless when it never ran


async def test_stopping_mid_answer_frees_the_engine_and_the_port() -> None:
    async with EngineClient() as client:
        await client.load(None)
        server = ApiServer(
            client,
            ServerConfig(host="127.0.0.1", port=0, token=TOKEN),
            list_models=no_models,
        )
        await server.start()
        port = server.config.port
        api = openai.AsyncOpenAI(base_url=server.url, api_key=TOKEN, max_retries=0, timeout=120)
        stream = await api.chat.completions.create(
            model="",
            messages=[{"role": "user", "content": "Count to a thousand."}],
            max_tokens=4000,
            extra_body={"ignore_eos": True},
            stream=True,
        )
        async for _chunk in stream:
            assert client.busy
            break  # the answer is under way
        await server.stop()  # cuts it off after the grace period
        assert not server.running
        # The engine is free for the window's own requests.
        result = await client.tokenize("still here")
        assert result
        await stream.close()
        await api.close()
    with socket.socket() as sock:
        # The connection the server cut lingers in TIME_WAIT; a server (Hearth's too)
        # binds over it with SO_REUSEADDR.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
