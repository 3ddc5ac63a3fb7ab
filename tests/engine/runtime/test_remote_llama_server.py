"""A remote model through EngineClient against llama.cpp's own llama-server, built by
`make llama-server` from the llama.cpp source inside the pinned llama-cpp-python sdist, on
the 135M test model: listed, streamed, counted with its /tokenize, cancelled.

CI does not build llama-server (one more build of several minutes on a 2-core machine), so
this test skips when the binary is missing; run `make llama-server` first to include it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime.client import EngineClient
from engine.runtime.remote import NetworkPolicy, RemoteEndpoint, list_models
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
LLAMA_SERVER = ROOT / "build" / "llama-bench" / "bin" / "llama-server"
KEY = "llama-server-test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            return int(response.status) == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def llama_server(smollm2: Path) -> Iterator[str]:
    if not LLAMA_SERVER.exists():
        pytest.skip(f"{LLAMA_SERVER} is not built: run `make llama-server` (minutes; not in CI)")
    port = free_port()
    process = subprocess.Popen(
        [
            str(LLAMA_SERVER),
            "-m",
            str(smollm2),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            "2048",
            "--api-key",
            KEY,
            "-t",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                pytest.fail(f"llama-server exited with {process.returncode}")
            if ready(url):
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)  # a wait that ends early if the server exits
        else:
            pytest.fail("llama-server did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_llama_server_answers_counts_and_cancels(llama_server: str) -> None:
    endpoint = RemoteEndpoint.parse(llama_server, KEY)
    models = await list_models(endpoint, NetworkPolicy(offline=True))
    assert models and models[0].n_ctx > 0
    async with EngineClient() as client:
        info = await client.load_remote(endpoint, models[0].name)
        assert info.n_ctx == models[0].n_ctx
        result = None
        async for event in client.chat(
            [ChatMessage("user", "Say hello.")], SamplingParams(max_tokens=12, temperature=0)
        ):
            if isinstance(event, GenerationResult):
                result = event
        assert result is not None and result.text.strip()
        assert 0 < result.stats.generated_tokens <= 12
        assert len(await client.tokenize("Hello, world")) > 1

        story = [ChatMessage("user", "Write a long story about a dragon.")]
        cancelled = None
        async for event in client.chat(story, SamplingParams(max_tokens=400, temperature=0)):
            if isinstance(event, TokenEvent) and cancelled is None:
                await client.cancel()
            if isinstance(event, GenerationResult):
                cancelled = event
        assert cancelled is not None and cancelled.stats.stop_reason == "cancelled"
        # The server is free for the next request.
        again = await asyncio.wait_for(
            client.count_chat_tokens([ChatMessage("user", "Hi")]), timeout=60
        )
        assert again[0] > 0
