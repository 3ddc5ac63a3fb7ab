"""Remote engines: a model served by an OpenAI-compatible endpoint (llama-server, Hearth, vLLM).

:class:`~engine.runtime.client.EngineClient` hands its requests to a :class:`RemoteSession`
while a remote model is chosen, so the panes, the tasks and the CLI use the one client
whether the model runs in the local worker or on another machine. The session runs in the
client's own process, not in the worker: it loads no native code, so there is nothing for a
crash to take down, and an HTTP stream is naturally an asyncio one.

Over HTTP with httpx2 (the client huggingface_hub and openai already use here):
``GET /v1/models``, ``POST /v1/chat/completions`` and ``/v1/completions`` streamed as
server-sent events, and ``POST /tokenize`` where the server has it (llama-server and Hearth
do); elsewhere tokens are estimated (:func:`estimate_tokens`). Proxy variables from the
environment are ignored (``trust_env=False``): an endpoint the user named is reached
directly, and a loopback or LAN address never goes through a proxy that offline mode does
not know about.

Thread: every coroutine runs on the event loop of the client that owns the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import socket
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

from engine.errors import RemoteError, UsageError
from engine.notices import Notice, NoticeCode
from engine.types import (
    ChatMessage,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    SamplingParams,
    StopReason,
    TokenEvent,
)

log = logging.getLogger("engine.remote")

#: Model ids of remote models start with this; the rest is the name the server gives it.
REMOTE_PREFIX = "remote:"
#: The backend name a remote model's ModelInfo and results carry.
REMOTE_BACKEND = "remote"
#: The context assumed when the server does not say (``/v1/models`` without ``meta``):
#: small enough that a budget made with it fits every server Hearth is likely to meet.
DEFAULT_REMOTE_CONTEXT = 4096
#: Seconds to open a connection: a LAN server answers in milliseconds, a dead one never.
CONNECT_TIMEOUT_S = 10.0
#: Seconds a server may send nothing before the request is given up: a CPU server
#: evaluating a long prompt can be silent for minutes before its first token.
READ_TIMEOUT_S = 600.0
#: Seconds the model list may take (it is asked for while the window lists its models).
LIST_TIMEOUT_S = 10.0
#: The most models read from one ``/v1/models`` answer.
MAX_MODELS = 500
#: Characters per token assumed when the server cannot count them: deliberately low (real
#: tokenizers average about four characters of English per token, fewer for code and
#: Chinese) so a budget made from the estimate errs on the side of fitting.
CHARS_PER_TOKEN_ESTIMATE = 3
#: Tokens a chat template adds per message (role markers), for the estimate.
TOKENS_PER_MESSAGE_ESTIMATE = 8


def remote_model_id(name: str) -> str:
    """The model id of the remote model the server calls ``name``."""
    return REMOTE_PREFIX + name


def is_remote_id(model_id: str | None) -> bool:
    """Whether ``model_id`` names a remote model."""
    return bool(model_id) and str(model_id).startswith(REMOTE_PREFIX)


def remote_name(model_id: str) -> str:
    """The name the server gives the remote model ``model_id``."""
    return model_id.removeprefix(REMOTE_PREFIX)


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes, estimated from its length (see CHARS_PER_TOKEN_ESTIMATE)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)


def normalize_url(text: str) -> str:
    """The endpoint's base address, ending before ``/v1``.

    ``http://host:8080``, ``http://host:8080/`` and ``http://host:8080/v1`` are the same
    endpoint; a path in front of ``/v1`` (a reverse proxy's) is kept.

    Raises:
        UsageError: ``text`` is not an http or https address with a host.
    """
    raw = text.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{raw!r} is not an endpoint address: write it like http://192.168.1.20:8080/v1."
        )
    try:
        _ = parts.port
    except ValueError:
        raise UsageError(f"{raw!r} has an invalid port.") from None
    if parts.username or parts.password:
        raise UsageError("Put the API key in the key field, not in the address.")
    path = parts.path.rstrip("/").removesuffix("/v1").rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class RemoteEndpoint:
    """An OpenAI-compatible server: its address and the key it wants (if any).

    Attributes:
        url: the base address, as :func:`normalize_url` writes it.
        api_key: sent as ``Authorization: Bearer``; "" sends none. Never shown in a
            repr, a log line or an error message.
    """

    url: str
    api_key: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str, api_key: str = "") -> RemoteEndpoint:
        """An endpoint from what the user typed.

        Raises:
            UsageError: the address is not one (see :func:`normalize_url`).
        """
        return cls(normalize_url(url), api_key.strip())

    @property
    def host(self) -> str:
        """The host (and port) the endpoint is on, for messages."""
        return urlsplit(self.url).netloc

    @property
    def api_base(self) -> str:
        """The address the OpenAI routes live under (``…/v1``)."""
        return self.url + "/v1"


@dataclass(frozen=True)
class NetworkPolicy:
    """What offline mode allows a remote endpoint.

    Attributes:
        offline: offline mode is on: only this computer (loopback) may be reached...
        allow_lan: ...and, when this is on too, private LAN addresses (10/8, 172.16/12,
            192.168/16, link-local, IPv6 unique-local).
    """

    offline: bool = False
    allow_lan: bool = False


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, lan: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return True
    return lan and (address.is_private or address.is_link_local) and not address.is_global


async def check_allowed(endpoint: RemoteEndpoint, policy: NetworkPolicy) -> None:
    """Refuse an endpoint that offline mode forbids, before any request is sent.

    With offline mode on, the host must be loopback (or, with ``allow_lan``, a private LAN
    address). A host name is resolved first (on a thread: it may block) and every address
    it resolves to must qualify; ``localhost`` is loopback without asking anyone.

    Raises:
        RemoteError: offline mode forbids the endpoint, or its name does not resolve.
    """
    if not policy.offline:
        return
    host = urlsplit(endpoint.url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.to_thread(socket.getaddrinfo, host, None)
        except OSError as exc:
            raise RemoteError(f"Cannot find the endpoint's host {host}: {exc}.") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if addresses and all(_address_allowed(a, policy.allow_lan) for a in addresses):
        return
    if policy.allow_lan:
        raise RemoteError(
            f"Offline mode allows only this computer and your local network; "
            f"{endpoint.host} is outside them. Turn offline mode off in Settings to use it."
        )
    raise RemoteError(
        f"Offline mode allows only endpoints on this computer; {endpoint.host} is not. "
        "Allow local network addresses in Settings › Remote endpoint, or turn offline mode off."
    )


@dataclass(frozen=True)
class RemoteModel:
    """A model an endpoint serves.

    Attributes:
        name: the server's id for it (sent back as ``model``).
        n_ctx: its context in tokens, when the server says (llama-server's and Hearth's
            ``meta``); 0 when it does not.
    """

    name: str
    n_ctx: int = 0

    @property
    def model_id(self) -> str:
        """The id Hearth gives it (:data:`REMOTE_PREFIX` and its name)."""
        return remote_model_id(self.name)


def _http_client(endpoint: RemoteEndpoint, read_timeout_s: float) -> httpx2.AsyncClient:
    headers = {"Accept": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    return httpx2.AsyncClient(
        base_url=endpoint.url,
        headers=headers,
        timeout=httpx2.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S),
        trust_env=False,
        follow_redirects=False,
    )


def _error_text(body: bytes) -> str:
    """The message of an OpenAI-style (or llama-server) error body, or ""."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))[:500]
    if isinstance(error, str):
        return error[:500]
    return ""


def _status_error(
    endpoint: RemoteEndpoint, status: int, body: bytes, model: str = ""
) -> RemoteError:
    detail = _error_text(body)
    if status in (401, 403):
        return RemoteError(
            f"{endpoint.host} refused the API key ({status}). "
            "Check the key in Settings › Remote endpoint."
        )
    if status == 404 and model:
        return RemoteError(
            f"{endpoint.host} no longer serves {model!r}"
            + (f" ({detail})" if detail else "")
            + ". Choose another model in the model picker."
        )
    return RemoteError(f"{endpoint.host} answered {status}" + (f": {detail}" if detail else "."))


def _transport_error(endpoint: RemoteEndpoint, exc: Exception, *, streaming: bool) -> RemoteError:
    """The message for a failed connection, one that names the host and what to do."""
    if isinstance(exc, httpx2.ConnectTimeout | httpx2.ConnectError):
        return RemoteError(
            f"Cannot reach {endpoint.host}: the server does not answer. Check that it runs "
            "and the address in Settings › Remote endpoint."
        )
    if isinstance(exc, httpx2.TimeoutException):
        return RemoteError(f"{endpoint.host} stopped answering; try again.")
    if streaming:
        return RemoteError(
            f"The connection to {endpoint.host} was lost mid-answer; the text so far is kept."
        )
    return RemoteError(f"The connection to {endpoint.host} failed: {type(exc).__name__}.")


async def list_models(
    endpoint: RemoteEndpoint, policy: NetworkPolicy, *, timeout_s: float = LIST_TIMEOUT_S
) -> list[RemoteModel]:
    """The models ``endpoint`` serves (``GET /v1/models``).

    Raises:
        RemoteError: offline mode forbids it, it cannot be reached, it refused the key,
            or it answered something that is not a model list.
    """
    await check_allowed(endpoint, policy)
    async with _http_client(endpoint, timeout_s) as http:
        try:
            response = await http.get("/v1/models")
        except httpx2.HTTPError as exc:
            raise _transport_error(endpoint, exc, streaming=False) from exc
    if response.status_code != 200:
        raise _status_error(endpoint, response.status_code, response.content)
    try:
        data = response.json().get("data")
        if not isinstance(data, list):
            raise TypeError
    except (ValueError, TypeError, AttributeError):
        raise RemoteError(
            f"{endpoint.host} is not an OpenAI-compatible endpoint (no model list at /v1/models)."
        ) from None
    models = []
    for item in data[:MAX_MODELS]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            continue
        meta = item.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        n_ctx = meta.get("n_ctx") or meta.get("n_ctx_train") or 0
        models.append(RemoteModel(item["id"], n_ctx if isinstance(n_ctx, int) else 0))
    return models


def _finish_reason(reason: object) -> StopReason:
    if reason == "length":
        return "length"
    return "eos"


def _body_params(params: SamplingParams) -> dict[str, Any]:
    """The sampling settings as OpenAI's fields (and llama-server's own where OpenAI has none)."""
    body: dict[str, Any] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        # llama-server reads these; OpenAI-only servers ignore fields they do not know.
        "top_k": params.top_k,
        "min_p": params.min_p,
        "repeat_penalty": params.repeat_penalty,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed >= 0:
        body["seed"] = params.seed
    return body


class RemoteSession:
    """One remote model in use: generations stream from it, one at a time.

    Args:
        endpoint: the server.
        model: the model chosen on it.
        read_timeout_s: how long the server may send nothing before a request fails.

    Use :meth:`open` to make one (it checks the policy and that the model is served).
    """

    def __init__(
        self,
        endpoint: RemoteEndpoint,
        model: RemoteModel,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.endpoint = endpoint
        self.model = model
        self._http = _http_client(endpoint, read_timeout_s)
        self._cancelled = asyncio.Event()
        #: Whether the server counts tokens at /tokenize (None: not asked yet).
        self._can_tokenize: bool | None = None
        self.info = ModelInfo(
            model_id=model.model_id,
            path=endpoint.api_base,
            architecture="",
            n_ctx=model.n_ctx or DEFAULT_REMOTE_CONTEXT,
            n_ctx_train=model.n_ctx,
            backend=REMOTE_BACKEND,
            device=REMOTE_BACKEND,
            n_gpu_layers=0,
            n_threads=0,
            plan_notice=Notice(
                NoticeCode.PLAN_REMOTE, {"model": model.name, "host": endpoint.host}
            ),
            chat_template="remote",
        )

    @classmethod
    async def open(
        cls,
        endpoint: RemoteEndpoint,
        name: str,
        policy: NetworkPolicy,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> RemoteSession:
        """Check that ``endpoint`` is allowed and serves ``name``, and start using it.

        Raises:
            RemoteError: offline mode forbids the endpoint, it cannot be reached, it
                refused the key, or it does not serve ``name``.
        """
        models = await list_models(endpoint, policy)
        for model in models:
            if model.name == name:
                return cls(endpoint, model, read_timeout_s=read_timeout_s)
        raise RemoteError(
            f"{endpoint.host} does not serve {name!r}. Choose one of its models in the picker."
        )

    async def aclose(self) -> None:
        """Close the connections; safe to call twice."""
        await self._http.aclose()

    def cancel(self) -> None:
        """Stop the generation in progress: its HTTP stream is closed at once."""
        self._cancelled.set()

    # -- token counts -------------------------------------------------------------------

    async def tokenize(self, text: str) -> list[int] | None:
        """Tokens of ``text`` from the server's ``/tokenize``; None where it has none.

        Raises:
            RemoteError: the server cannot be reached or refused the key.
        """
        if not text:
            return []
        if self._can_tokenize is False:
            return None
        try:
            response = await self._http.post(
                "/tokenize", json={"content": text, "add_special": False}
            )
        except httpx2.HTTPError as exc:
            raise _transport_error(self.endpoint, exc, streaming=False) from exc
        if response.status_code in (404, 405, 501):
            log.info("%s has no /tokenize: token counts are estimated", self.endpoint.host)
            self._can_tokenize = False
            return None
        if response.status_code != 200:
            raise _status_error(self.endpoint, response.status_code, response.content)
        try:
            tokens = response.json()["tokens"]
            ids = [int(t if not isinstance(t, dict) else t["id"]) for t in tokens]
        except (ValueError, KeyError, TypeError):
            self._can_tokenize = False
            return None
        self._can_tokenize = True
        return ids

    async def count_tokens(self, text: str) -> int:
        """Tokens of ``text``: counted by the server, or estimated."""
        tokens = await self.tokenize(text)
        return len(tokens) if tokens is not None else estimate_tokens(text)

    async def count_chat_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the conversation takes, its messages counted and the template estimated."""
        text_tokens = await self.count_tokens("\n".join(m.content for m in messages))
        return text_tokens + TOKENS_PER_MESSAGE_ESTIMATE * (len(messages) + 1)

    # -- generation -----------------------------------------------------------------------

    def chat(
        self, messages: Sequence[ChatMessage], params: SamplingParams
    ) -> AsyncGenerator[TokenEvent | GenerationResult, None]:
        """Stream an answer: TokenEvents (thinking marked ``reasoning``), then the result."""
        body = {"messages": [m.to_dict() for m in messages], **_body_params(params)}
        return self._stream("/v1/chat/completions", body, chat=True)

    def complete(
        self, prompt: str, params: SamplingParams
    ) -> AsyncGenerator[TokenEvent | GenerationResult, None]:
        """Stream a raw continuation of ``prompt``."""
        return self._stream(
            "/v1/completions", {"prompt": prompt, **_body_params(params)}, chat=False
        )

    async def _stream(
        self, path: str, body: dict[str, Any], *, chat: bool
    ) -> AsyncGenerator[TokenEvent | GenerationResult, None]:
        """One streamed request. Closing the generator (or :meth:`cancel`) closes the HTTP
        stream, which is how an OpenAI-compatible server learns to stop generating.

        The response is read by a task of its own (:meth:`_read`): httpx's streams (their
        anyio cancel scopes) belong to the task that opened them, and cancelling that task
        is what closes the connection at once, even while the server is silent.
        """
        self._cancelled.clear()
        body = {
            "model": self.model.name,
            **body,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        t_send = time.perf_counter()
        t_first = 0.0
        pieces: list[str] = []
        thinking: list[str] = []
        usage: dict[str, Any] = {}
        finish: object = None
        count = 0
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        reader = asyncio.create_task(self._read(path, body, queue), name="remote-stream")
        waiter = asyncio.ensure_future(self._cancelled.wait())
        try:
            while True:
                if queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break  # cancelled: the reader is cancelled below
                    item = getter.result()
                else:
                    item = queue.get_nowait()
                if item is None:
                    break
                if isinstance(item, httpx2.HTTPError):
                    raise _transport_error(self.endpoint, item, streaming=bool(pieces))
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item.get("error"), dict | str):
                    raise RemoteError(
                        f"{self.endpoint.host} stopped the answer: "
                        f"{_error_text(json.dumps(item).encode())}"
                    )
                if isinstance(item.get("usage"), dict):
                    usage = item["usage"]
                for choice in item.get("choices") or ():
                    if not isinstance(choice, dict):
                        continue
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("delta") if chat else choice
                    if not isinstance(delta, dict):
                        continue
                    reasoning = delta.get("reasoning_content")
                    text = delta.get("content") if chat else delta.get("text")
                    for piece, is_reasoning in ((reasoning, True), (text, False)):
                        if not isinstance(piece, str) or not piece:
                            continue
                        if not t_first:
                            t_first = time.perf_counter()
                        count += 1
                        (thinking if is_reasoning else pieces).append(piece)
                        yield TokenEvent(piece, reasoning=is_reasoning)
        finally:
            waiter.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        cancelled = self._cancelled.is_set() and finish is None
        t_end = time.perf_counter()
        generated = int(usage.get("completion_tokens") or count)
        decode_s = t_end - t_first if t_first else 0.0
        stats = GenerationStats(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            cached_tokens=0,
            generated_tokens=generated,
            ttft_s=(t_first - t_send) if t_first else 0.0,
            tokens_per_s=(generated - 1) / decode_s if decode_s > 0 and generated > 1 else 0.0,
            prompt_tokens_per_s=0.0,
            total_s=t_end - t_send,
            stop_reason="cancelled" if cancelled else _finish_reason(finish),
        )
        yield GenerationResult(
            text="".join(pieces),
            stats=stats,
            model_id=self.info.model_id,
            backend=REMOTE_BACKEND,
            reasoning="".join(thinking),
        )

    async def _read(self, path: str, body: dict[str, Any], queue: asyncio.Queue[_Item]) -> None:
        """Send the request and put each server-sent event's JSON into ``queue``; then None
        (or the error that ended it). Cancelled, it closes the connection."""
        try:
            async with self._http.stream("POST", path, json=body) as response:
                if response.status_code != 200:
                    raw = await response.aread()
                    queue.put_nowait(
                        _status_error(
                            self.endpoint, response.status_code, raw, model=self.model.name
                        )
                    )
                    return
                # Read to the end, never break: httpx's byte-stream generators left
                # suspended would be finalized later on another task, where their anyio
                # lock and cancel scope refuse to close. A server closes the stream right
                # after [DONE]; a cancel ends the read by cancelling this task instead.
                done = False
                async for line in response.aiter_lines():
                    if done or not line.startswith("data:"):
                        continue  # after the end; comments, event names, blank separators
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        done = True
                        continue
                    try:
                        data = json.loads(payload)
                    except ValueError:
                        log.warning("Remote sent an unreadable event: %.200s", payload)
                        continue
                    if isinstance(data, dict):
                        queue.put_nowait(data)
        except httpx2.HTTPError as exc:
            queue.put_nowait(exc)
            return
        queue.put_nowait(None)

    async def complete_many(
        self,
        prompts: Sequence[str | Sequence[ChatMessage]],
        params: SamplingParams,
        on_event: Any = None,
    ) -> list[GenerationResult]:
        """Each prompt in turn (a conversation as a chat); after :meth:`cancel` the rest are
        cancelled results with no text. ``on_event`` as for EngineClient.complete_many."""
        results: list[GenerationResult] = []
        stopped = False
        for index, prompt in enumerate(prompts):
            if stopped:
                results.append(_cancelled(self.info.model_id))
                continue
            stream = (
                self.complete(prompt, params)
                if isinstance(prompt, str)
                else self.chat(list(prompt), params)
            )
            # Closed even when the caller is cancelled: that closes the HTTP stream.
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    if on_event is not None:
                        on_event(index, event)
                    if isinstance(event, GenerationResult):
                        results.append(event)
                        stopped = event.stats.stop_reason == "cancelled"
        return results


#: What the reader hands the stream: an event's JSON, an error, or None at the end.
_Item = dict[str, Any] | Exception | None


def _cancelled(model_id: str) -> GenerationResult:
    stats = GenerationStats(0, 0, 0, 0.0, 0.0, 0.0, 0.0, "cancelled")
    return GenerationResult("", stats, model_id, REMOTE_BACKEND)
