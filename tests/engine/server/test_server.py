"""`hearth-cli serve` as other tools use it: the official `openai` client against a real
server process, the real engine and the 135M test model; and the refusals that keep it
safe (wrong token, foreign Host header, oversized or malformed bodies, an open bind
without a token)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from engine.data.config import get_paths
from engine.server.token import api_token, token_file

pytestmark = pytest.mark.slow

TOKEN = "test-token-0123456789abcdef"
SHORT = {"max_tokens": 12, "temperature": 0}


@dataclass
class Served:
    """A running `hearth-cli serve`."""

    process: subprocess.Popen[str]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, token: str = TOKEN) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=token, max_retries=0, timeout=120)

    def raw(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, object]]:
        """A request as sent by hand (a foreign Host header, a broken body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        sent.update(headers or {})
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = json.loads(response.read() or b"{}")
        connection.close()
        return response.status, data


@contextlib.contextmanager
def serve(home: Path, model: Path, *options: str) -> Iterator[Served]:
    """`hearth-cli serve` on a free port, serving ``model``, until the block ends."""
    env = {**os.environ, "HEARTH_HOME": str(home), "HEARTH_STARTER_MODEL": str(model)}
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", "--port", "0", "--token", TOKEN, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Hearth API: http://127.0.0.1:"), (first, process.stderr.read())
    port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
    try:
        yield Served(process, port)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, smollm2: Path) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("serve-home"), smollm2) as server:
        yield server


def test_models_chat_and_usage_through_the_openai_client(served: Served) -> None:
    client = served.client()
    ids = [m.id for m in client.models.list().data]
    assert ids, "the installed models are listed"
    reply = client.chat.completions.create(
        model=ids[0], messages=[{"role": "user", "content": "Say hello."}], **SHORT
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None and reply.usage.prompt_tokens > 5
    assert 0 < reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_with_usage_and_a_stop_string(served: Served) -> None:
    client = served.client()
    stream = client.chat.completions.create(
        model="",
        messages=[{"role": "user", "content": "Count from one to ten, in words."}],
        stream=True,
        stream_options={"include_usage": True},
        **SHORT,
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    text = "".join(pieces)
    assert text.strip() and finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0

    # The same answer, cut by a stop string taken from its middle.
    stop = text.strip().split()[1] if len(text.split()) > 1 else text.strip()[:2]
    cut = client.chat.completions.create(
        model="",
        messages=[{"role": "user", "content": "Count from one to ten, in words."}],
        stop=[stop],
        **SHORT,
    )
    assert stop not in (cut.choices[0].message.content or "")
    assert cut.choices[0].finish_reason == "stop"


def test_completions(served: Served) -> None:
    client = served.client()
    done = client.completions.create(model="", prompt="The capital of France is", **SHORT)
    assert done.choices[0].text.strip() and done.usage is not None


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_from_an_embedding_model_beside_the_chat_model(
    served: Served, embedding_model: Path
) -> None:
    client = served.client()
    texts = ["a cat sits on the mat", "a kitten is on the rug", "stock markets fell today"]
    # The openai client asks for base64 unless told otherwise, and decodes it.
    reply = client.embeddings.create(model=str(embedding_model), input=texts)
    assert [d.index for d in reply.data] == [0, 1, 2]
    cat, kitten, stocks = (d.embedding for d in reply.data)
    assert len(cat) == 384 and abs(_cos(cat, cat) - 1) < 1e-4
    assert _cos(cat, kitten) > _cos(cat, stocks) + 0.2
    assert reply.usage.prompt_tokens == reply.usage.total_tokens == 8 + 8 + 6
    assert reply.model

    floats = client.embeddings.create(
        model=str(embedding_model), input="a cat sits on the mat", encoding_format="float"
    )
    assert len(floats.data) == 1 and _cos(floats.data[0].embedding, cat) > 0.9999
    assert floats.usage.prompt_tokens == 8
    by_ids = client.embeddings.create(model=str(embedding_model), input=[[101, 7592, 2088, 102]])
    assert len(by_ids.data[0].embedding) == 384 and by_ids.usage.prompt_tokens == 4

    # The chat model still answers.
    answer = client.chat.completions.create(
        model="", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4
    )
    assert answer.choices[0].message.content is not None

    # Refused, with what to do: a model that writes text, bad inputs.
    with pytest.raises(openai.BadRequestError, match="does not make embeddings"):
        client.embeddings.create(model="", input="hello")
    with pytest.raises(openai.BadRequestError, match="Input 0 is empty"):
        client.embeddings.create(model=str(embedding_model), input="")
    with pytest.raises(openai.BadRequestError, match="'input' must be"):
        client.embeddings.create(model=str(embedding_model), input=[])
    with pytest.raises(openai.BadRequestError, match="encoding_format"):
        client.embeddings.create(
            model=str(embedding_model),
            input="x",
            encoding_format="int8",  # type: ignore[arg-type]
        )
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 24},
        "age": {"type": "integer"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
ASK_PERSON = [{"role": "user", "content": "Describe a person called Ada: her name and age."}]


def _person(text: str) -> dict[str, object]:
    value = json.loads(text)
    assert isinstance(value, dict) and set(value) == {"name", "age"}, value
    assert isinstance(value["name"], str) and isinstance(value["age"], int)
    return value


def test_json_mode_holds_answers_to_a_schema(served: Served) -> None:
    client = served.client()
    schema_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    reply = client.chat.completions.create(
        model="",
        messages=ASK_PERSON,  # type: ignore[arg-type]
        response_format=schema_format,  # type: ignore[arg-type]
        max_tokens=100,
        temperature=0,
    )
    _person(reply.choices[0].message.content or "")
    assert reply.choices[0].finish_reason == "stop"

    stream = client.chat.completions.create(
        model="",
        messages=ASK_PERSON,  # type: ignore[arg-type]
        response_format=schema_format,  # type: ignore[arg-type]
        max_tokens=100,
        temperature=0.8,
        seed=3,
        stream=True,
    )
    _person("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    done = client.completions.create(
        model="",
        prompt="A person, as JSON:",
        max_tokens=100,
        extra_body={"response_format": schema_format},
    )
    _person(done.choices[0].text)

    anything = client.chat.completions.create(
        model="",
        messages=ASK_PERSON,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
        max_tokens=150,
        temperature=0,
    )
    text = anything.choices[0].message.content or ""
    assert text.lstrip().startswith("{")
    if anything.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)


def test_json_mode_refuses_what_it_cannot_follow(served: Served) -> None:
    client = served.client()
    refusals = [
        ({"type": "json_schema", "json_schema": {"name": "x"}}, "json_schema.schema must be"),
        ({"type": "xml"}, "type 'xml' is not one Hearth knows"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "blob"}}},
            "cannot be used to constrain",
        ),
        (
            {"type": "json_object", "schema": {"type": "array", "maxItems": 10**9}},
            "maxItems",
        ),
    ]
    for response_format, message in refusals:
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError, match=message):
                client.chat.completions.create(
                    model="",
                    messages=ASK_PERSON,  # type: ignore[arg-type]
                    response_format=response_format,  # type: ignore[arg-type]
                    max_tokens=8,
                    stream=stream,
                )
    assert served.process.poll() is None


def test_json_mode_on_the_pytorch_backend_is_refused(tmp_path: Path, smollm2: Path) -> None:
    pytest.importorskip("torch", reason="pip install torch==2.13.0 (the CPU build)")
    with serve(tmp_path, smollm2, "--backend", "torch", "--ctx", "512") as server:
        client = server.client()
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError, match="needs the llama\\.cpp backend"):
                client.chat.completions.create(
                    model="",
                    messages=ASK_PERSON,  # type: ignore[arg-type]
                    response_format={"type": "json_object"},
                    max_tokens=8,
                    stream=stream,
                )
        # Free text still works there.
        reply = client.chat.completions.create(model="", messages=ASK_PERSON, max_tokens=4)  # type: ignore[arg-type]
        assert reply.choices[0].message.content is not None


def test_two_clients_at_once_both_get_answers(served: Served) -> None:
    answers: list[str] = []

    def ask(question: str) -> None:
        reply = served.client().chat.completions.create(
            model="", messages=[{"role": "user", "content": question}], **SHORT
        )
        answers.append(reply.choices[0].message.content or "")

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("Name a colour.", "Name a fish.")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(answers) == 2 and all(a.strip() for a in answers)


def test_a_client_that_goes_away_mid_stream_frees_the_engine(served: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    # Past the end of the answer (llama-server's ignore_eos): uncancelled, 2000 tokens
    # would keep the engine busy for half a minute or more.
    body = json.dumps(
        {"prompt": "1, 2, 3, 4, 5,", "max_tokens": 2000, "ignore_eos": True, "stream": True}
    )
    connection.request(
        "POST",
        "/v1/completions",
        body=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    assert response.status == 200 and response.fp is not None
    for _ in range(6):
        response.fp.readline()  # a few events: generation is under way
    assert served.raw("GET", "/health")[1]["busy"] is True
    if connection.sock is not None:
        connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    deadline = time.monotonic() + 15
    while served.raw("GET", "/health")[1]["busy"]:
        assert time.monotonic() < deadline, "the engine still generates for a client gone"
        time.sleep(0.1)
    reply = served.client().chat.completions.create(
        model="", messages=[{"role": "user", "content": "Say yes."}], max_tokens=4
    )
    assert reply.choices[0].message.content is not None


def test_wrong_token_foreign_host_big_and_broken_bodies_are_refused(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError):
        served.client(token="not-the-token-at-all").models.list()
    status, data = served.raw("GET", "/v1/models", headers={"Host": "evil.example"})
    assert status == 403 and data["error"]["code"] == "host_not_allowed"  # type: ignore[index]
    status, data = served.raw("POST", "/v1/chat/completions", body=b"x" * (5 * 1024 * 1024))
    assert status == 413 and data["error"]["code"] == "request_too_large"  # type: ignore[index]
    status, data = served.raw("POST", "/v1/chat/completions", body=b"{not json")
    assert status == 400 and "not valid JSON" in data["error"]["message"]  # type: ignore[index]
    status, data = served.raw("POST", "/v1/chat/completions", body=b'{"messages": []}')
    assert status == 400
    # Still serving, and /health needs no token.
    status, data = served.raw("GET", "/health", headers={"Authorization": ""})
    assert status == 200 and data["status"] == "ok"
    assert served.process.poll() is None


def test_an_open_bind_without_a_token_is_refused() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "engine", "serve", "--host", "0.0.0.0", "--no-token"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "--no-token is refused" in run.stderr


def test_a_generated_token_is_kept_private_and_reused() -> None:
    paths = get_paths()
    token, made = api_token(paths)
    assert made and token.startswith("hearth-") and len(token) > 32
    assert stat.S_IMODE(token_file(paths).stat().st_mode) == 0o600
    assert api_token(paths) == (token, False)
