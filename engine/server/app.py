"""The OpenAI-compatible API: routes, request checks and response shapes.

Endpoints: ``GET /health``, ``GET /v1/models``, ``POST /v1/chat/completions`` and
``POST /v1/completions`` (each streamed over server-sent events or not), shaped as the
official ``openai`` client parses them. ``POST /v1/embeddings`` answers that Hearth does
not make embeddings yet. Every request runs through the one :class:`EngineClient`, so the
server shares the worker and the loaded model with whatever else uses that client;
requests queue on it in arrival order.

Safe by default (:class:`Guard`, outermost): the ``Host`` header must name the address
the server listens on (DNS rebinding), every route but ``/health`` needs the bearer
token, a body larger than ``max_body_bytes`` is refused before it is read, and no CORS
headers are sent unless origins are listed. A malformed request gets a 400 with an
OpenAI-style error and one log line; an unexpected failure a 500, never a traceback.

Thread: the asyncio loop the ASGI server runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.errors import (
    EngineCrashed,
    EngineError,
    ModelFileError,
    ModelNotFound,
    NoModelLoaded,
    UsageError,
)
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

log = logging.getLogger("engine.server")

#: The largest request body read, in bytes.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: The most tokens one answer may ask for.
MAX_TOKENS = 8192
#: The most messages one chat request may carry.
MAX_MESSAGES = 1000
#: Why a generation stopped, as OpenAI says it.
FINISH_REASONS = {
    "eos": "stop",
    "stop_string": "stop",
    "cancelled": "stop",
    "length": "length",
    "context": "length",
}
#: The roles a request may use; "developer" is OpenAI's newer name for "system".
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class ServerConfig:
    """How the server checks requests.

    Attributes:
        host: the address it listens on (a name or an IP address).
        port: its port.
        token: the bearer token every request but ``/health`` must carry; "" for none
            (loopback only: the command line refuses it elsewhere).
        cors_origins: browser origins allowed to call the API; none by default.
        max_body_bytes: the largest request body.
        max_tokens: the most tokens one answer may ask for.
        load_models: a request naming another installed model loads it (else: 404).
    """

    host: str
    port: int
    token: str
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES
    max_tokens: int = MAX_TOKENS
    load_models: bool = True
    #: Extra names the Host header may carry (tests; a reverse proxy's name).
    extra_hosts: tuple[str, ...] = field(default=())

    @property
    def loopback(self) -> bool:
        """Whether the server listens on this computer only."""
        return is_loopback(self.host)

    def allowed_hosts(self) -> set[str]:
        """The Host header values accepted (with and without the port)."""
        names = {self.host.lower(), *(h.lower() for h in self.extra_hosts)}
        if self.loopback:
            names |= {"localhost", "127.0.0.1", "::1"}
        allowed = set()
        for name in names:
            shown = f"[{name}]" if ":" in name else name
            allowed |= {shown, f"{shown}:{self.port}"}
        return allowed


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) is this computer only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered, for a request log.

    Attributes:
        method: the HTTP method.
        path: the path asked for.
        status: the response's status (0: none was sent).
        seconds: how long the answer took.
        prompt_tokens: the prompt's tokens, for a generation (else 0).
        completion_tokens: the tokens generated, for a generation (else 0).
    """

    method: str
    path: str
    status: int
    seconds: float
    prompt_tokens: int = 0
    completion_tokens: int = 0


#: Where a generation's token counts wait in the request's scope for the request log.
_USAGE_KEY = "hearth_usage"


async def _counted(
    events: AsyncIterator[TokenEvent | GenerationResult], request: Request
) -> AsyncIterator[TokenEvent | GenerationResult]:
    """``events``, leaving the result's token counts in ``request.state`` for the log."""
    # aclosing: closing this stream (a client gone) closes the engine's, which cancels.
    async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
        async for event in stream:
            if isinstance(event, GenerationResult):
                stats = event.stats
                counts = (stats.prompt_tokens, stats.generated_tokens)
                request.scope.setdefault("state", {})[_USAGE_KEY] = counts
            yield event


class ApiError(Exception):
    """A request the API refuses: an HTTP status and an OpenAI-style error body."""

    def __init__(self, status: int, message: str, *, kind: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.code = code

    def response(self) -> JSONResponse:
        """The error as OpenAI's clients expect it."""
        return error_response(self.status, str(self), kind=self.kind, code=self.code)


def error_response(
    status: int, message: str, *, kind: str, code: str | None = None
) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}`` with ``status``."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def _engine_error(exc: EngineError) -> ApiError:
    if isinstance(exc, ModelNotFound):
        return ApiError(404, str(exc), kind="invalid_request_error", code="model_not_found")
    if isinstance(exc, UsageError | ModelFileError):
        return ApiError(400, str(exc), kind="invalid_request_error")
    if isinstance(exc, EngineCrashed | NoModelLoaded):
        return ApiError(503, str(exc), kind="server_error", code="engine_unavailable")
    return ApiError(500, str(exc), kind="server_error")


# -- the guard -------------------------------------------------------------------------


class Guard:
    """ASGI middleware: Host check, bearer token and body size, before any route runs.

    Args:
        app: the application it guards.
        config: what it checks against.
        on_request: told of every request when it has been answered, for a log.
    """

    def __init__(
        self,
        app: Any,
        config: ServerConfig,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self._app = app
        self._config = config
        self._hosts = config.allowed_hosts()
        self._on_request = on_request

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Refuse what is not allowed; pass the rest on, counting the body's bytes."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0
        # Starlette's request.state is this dict: a route leaves the token counts here.
        state = scope.setdefault("state", {})

        async def send_counted(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send_counted)
                return
            await self._app(scope, self._capped(receive), send_counted)
        finally:
            if self._on_request is not None:
                prompt, completion = state.get(_USAGE_KEY, (0, 0))
                self._on_request(
                    RequestRecord(
                        scope["method"],
                        scope["path"],
                        status,
                        time.monotonic() - started,
                        prompt,
                        completion,
                    )
                )

    def _refusal(self, scope: dict[str, Any]) -> Response | None:
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        host = headers.get("host", b"").decode("latin-1").lower()
        if host not in self._hosts:
            return error_response(
                403,
                f"Host {host!r} is not this server's address. Hearth only answers requests "
                "addressed to the address it listens on.",
                kind="invalid_request_error",
                code="host_not_allowed",
            )
        if self._config.token and scope["path"] != "/health":
            given = headers.get("authorization", b"").decode("latin-1")
            expected = f"Bearer {self._config.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return error_response(
                    401,
                    "Missing or wrong API key: send 'Authorization: Bearer <token>' with the "
                    "token `hearth-cli serve` printed (or $HEARTH_API_TOKEN).",
                    kind="invalid_request_error",
                    code="invalid_api_key",
                )
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size < 0 or size > self._config.max_body_bytes:
                return self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return error_response(
            413,
            f"The request body is larger than {self._config.max_body_bytes:,} bytes.",
            kind="invalid_request_error",
            code="request_too_large",
        )

    def _capped(self, receive: Any) -> Any:
        """``receive``, failing a chunked body once it passes the size limit."""
        seen = 0
        limit = self._config.max_body_bytes

        async def receive_capped() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(
                        413,
                        f"The request body is larger than {limit:,} bytes.",
                        kind="invalid_request_error",
                        code="request_too_large",
                    )
            return message

        return receive_capped


# -- reading requests -----------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400, f"The body is not valid JSON: {exc}", kind="invalid_request_error"
        ) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.", kind="invalid_request_error")
    return data


def _text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(
                    400,
                    "Only text message parts are supported.",
                    kind="invalid_request_error",
                )
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise ApiError(400, "A message's content must be text.", kind="invalid_request_error")


def _messages(data: dict[str, Any]) -> list[ChatMessage]:
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list.", kind="invalid_request_error")
    if len(raw) > MAX_MESSAGES:
        raise ApiError(
            400, f"At most {MAX_MESSAGES} messages per request.", kind="invalid_request_error"
        )
    messages = []
    for item in raw:
        role = _ROLES.get(str(item.get("role"))) if isinstance(item, dict) else None
        if role is None:
            raise ApiError(
                400,
                "Each message needs a role: system, developer, user or assistant.",
                kind="invalid_request_error",
            )
        messages.append(ChatMessage(role, _text_of(item.get("content"))))  # type: ignore[arg-type]
    return messages


def _params(data: dict[str, Any], config: ServerConfig) -> SamplingParams:
    """Sampling settings from OpenAI's names, within Hearth's checks and the token cap."""
    values: dict[str, Any] = {}
    # OpenAI's names, and three of llama-server's extensions (top_k, min_p, ignore_eos).
    for name in ("temperature", "top_p", "seed", "top_k", "min_p", "ignore_eos"):
        if data.get(name) is not None:
            values[name] = data[name]
    limit = data.get("max_completion_tokens", data.get("max_tokens"))
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ApiError(
                400, "max_tokens must be a positive whole number.", kind="invalid_request_error"
            )
        values["max_tokens"] = min(limit, config.max_tokens)
    else:
        values["max_tokens"] = min(SamplingParams().max_tokens, config.max_tokens)
    stop = data.get("stop")
    if stop is not None:
        values["stop"] = (stop,) if isinstance(stop, str) else stop
    try:
        return replace(SamplingParams(), **values)
    except (UsageError, TypeError) as exc:
        raise ApiError(400, str(exc), kind="invalid_request_error") from exc


def _check_format(data: dict[str, Any]) -> None:
    fmt = data.get("response_format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind != "text":
        raise ApiError(
            400,
            f"response_format {kind!r} is not supported yet: Hearth answers in text.",
            kind="invalid_request_error",
            code="unsupported_response_format",
        )


# -- the application ------------------------------------------------------------------


def create_app(
    client: EngineClient,
    config: ServerConfig,
    *,
    list_models: Callable[[], Awaitable[list[str]]],
    on_request: Callable[[RequestRecord], None] | None = None,
) -> Any:
    """The ASGI application, guarded.

    Args:
        client: the engine client every request runs through.
        config: the address, token and limits.
        list_models: the ids of the installed models (for ``/v1/models``).
        on_request: told of every request when it has been answered (a
            :class:`RequestRecord`, with the token counts of a generation).
    """
    api = _Api(client, config, list_models)
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/completions", api.completions, methods=["POST"]),
        Route("/v1/embeddings", api.embeddings, methods=["POST"]),
        Route("/tokenize", api.tokenize, methods=["POST"]),
    ]
    middleware = []
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: _on_api_error,
            Exception: _on_unexpected,
        },
    )
    return Guard(app, config, on_request)


async def _on_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    log.info("refused: %s", exc)
    return exc.response()


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    log.error("request failed: %s: %s", type(exc).__name__, exc)
    return error_response(500, "Hearth could not answer this request.", kind="server_error")


class _Api:
    """The routes' handlers."""

    def __init__(
        self,
        client: EngineClient,
        config: ServerConfig,
        list_models: Callable[[], Awaitable[list[str]]],
    ) -> None:
        self._client = client
        self._config = config
        self._list_models = list_models
        self._created = int(time.time())

    async def health(self, _request: Request) -> Response:
        model = self._client.model
        return JSONResponse(
            {
                "status": "ok",
                "model": model.model_id if model else None,
                "busy": self._client.busy,
            }
        )

    async def models(self, _request: Request) -> Response:
        ids = await self._list_models()
        loaded = self._client.model.model_id if self._client.model else None
        if loaded is not None and loaded not in ids:
            ids = [loaded, *ids]
        data: list[dict[str, Any]] = [
            {"id": i, "object": "model", "created": self._created, "owned_by": "hearth"}
            for i in ids
        ]
        model = self._client.model
        for item in data:
            if model is not None and item["id"] == model.model_id:
                # llama-server's field: a remote client (Hearth's own) sizes its budgets by it.
                item["meta"] = {"n_ctx": model.n_ctx, "n_ctx_train": model.n_ctx_train}
        return JSONResponse({"object": "list", "data": data})

    async def tokenize(self, request: Request) -> Response:
        """llama-server's ``/tokenize`` (``content`` in, ``tokens`` out) with the loaded
        model's tokenizer, so a remote client counts tokens as the server will."""
        data = await _body(request)
        content = data.get("content")
        if not isinstance(content, str):
            raise ApiError(400, "'content' must be text.", kind="invalid_request_error")
        add_special = data.get("add_special", False)
        if not isinstance(add_special, bool):
            raise ApiError(
                400, "'add_special' must be true or false.", kind="invalid_request_error"
            )
        await self._model({})
        try:
            tokens = await self._client.tokenize(content, add_special=add_special)
        except EngineError as exc:
            raise _engine_error(exc) from exc
        return JSONResponse({"tokens": tokens})

    async def embeddings(self, _request: Request) -> Response:
        raise ApiError(
            400,
            "Hearth does not make embeddings yet.",
            kind="invalid_request_error",
            code="embeddings_unsupported",
        )

    async def _model(self, data: dict[str, Any]) -> str:
        """The model the request names, loaded (the loaded one when it names none)."""
        wanted = data.get("model")
        loaded = self._client.model
        if wanted is not None and not isinstance(wanted, str):
            raise ApiError(400, "'model' must be text.", kind="invalid_request_error")
        if loaded is not None and (not wanted or wanted in (loaded.model_id, loaded.path)):
            return loaded.model_id
        if loaded is not None and not self._config.load_models:
            raise ApiError(
                404,
                f"The model {wanted!r} is not loaded; this server serves {loaded.model_id}.",
                kind="invalid_request_error",
                code="model_not_found",
            )
        try:
            info = await self._client.load(wanted or None)
        except EngineError as exc:
            raise _engine_error(exc) from exc
        return info.model_id

    async def chat(self, request: Request) -> Response:
        data = await _body(request)
        messages = _messages(data)
        params = _params(data, self._config)
        _check_format(data)
        model = await self._model(data)
        events = self._client.chat(messages, params)
        return await self._answer(request, data, model, events, chat=True)

    async def completions(self, request: Request) -> Response:
        data = await _body(request)
        prompt = data.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str) or not prompt:
            raise ApiError(
                400, "'prompt' must be one non-empty string.", kind="invalid_request_error"
            )
        params = _params(data, self._config)
        model = await self._model(data)
        events = self._client.complete(prompt, params)
        return await self._answer(request, data, model, events, chat=False)

    async def _answer(
        self,
        request: Request,
        data: dict[str, Any],
        model: str,
        events: AsyncIterator[TokenEvent | GenerationResult],
        *,
        chat: bool,
    ) -> Response:
        shape = _Shape(model, chat=chat)
        events = _counted(events, request)
        if data.get("stream"):
            options = data.get("stream_options") or {}
            usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return StreamingResponse(
                self._stream(events, shape, usage=usage), media_type="text/event-stream"
            )
        collect = asyncio.ensure_future(_collect(events))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            done, _ = await asyncio.wait({collect, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if collect not in done:
            # The client went away: stop generating for it now.
            collect.cancel()
            with contextlib.suppress(asyncio.CancelledError, EngineError):
                await collect
            return Response(status_code=499)
        try:
            result = collect.result()
        except EngineError as exc:
            raise _engine_error(exc) from exc
        return JSONResponse(shape.whole(result))

    async def _stream(
        self,
        events: AsyncIterator[TokenEvent | GenerationResult],
        shape: _Shape,
        *,
        usage: bool,
    ) -> AsyncIterator[str]:
        # aclosing: a client that disconnects cancels this generator, and the engine
        # stream's own cleanup then cancels the generation in the worker.
        async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
            try:
                yield _sse(shape.chunk(role=True))
                async for event in stream:
                    if isinstance(event, TokenEvent):
                        yield _sse(shape.chunk(text=event.text, reasoning=event.reasoning))
                    else:
                        yield _sse(shape.chunk(finish=event))
                        if usage:
                            yield _sse(shape.usage_chunk(event))
            except EngineError as exc:
                error = _engine_error(exc)
                yield _sse({"error": {"message": str(error), "type": error.kind}})
        yield "data: [DONE]\n\n"


async def _collect(events: AsyncIterator[TokenEvent | GenerationResult]) -> GenerationResult:
    result: GenerationResult | None = None
    async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
        async for event in stream:
            if isinstance(event, GenerationResult):
                result = event
    if result is None:  # pragma: no cover - the client always ends with a result
        raise EngineError("The engine ended a generation without a result.")
    return result


async def _disconnected(request: Request) -> None:
    """Return when the client has gone (the body was read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


class _Shape:
    """Hearth's results in OpenAI's response shapes."""

    def __init__(self, model: str, *, chat: bool) -> None:
        self.model = model
        self.chat = chat
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())

    def _head(self, chunk: bool) -> dict[str, Any]:
        if self.chat:
            kind = "chat.completion.chunk" if chunk else "chat.completion"
        else:
            kind = "text_completion"
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    @staticmethod
    def usage(result: GenerationResult) -> dict[str, Any]:
        """Token counts, as measured by the engine."""
        s = result.stats
        usage: dict[str, Any] = {
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.generated_tokens,
            "total_tokens": s.prompt_tokens + s.generated_tokens,
        }
        if s.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": s.reasoning_tokens}
        return usage

    def whole(self, result: GenerationResult) -> dict[str, Any]:
        """A whole (not streamed) response."""
        finish = FINISH_REASONS.get(result.stats.stop_reason, "stop")
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": result.text}
            if result.reasoning:
                message["reasoning_content"] = result.reasoning
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        else:
            choice = {"index": 0, "text": result.text, "finish_reason": finish, "logprobs": None}
        return {**self._head(False), "choices": [choice], "usage": self.usage(result)}

    def chunk(
        self,
        *,
        role: bool = False,
        text: str = "",
        reasoning: bool = False,
        finish: GenerationResult | None = None,
    ) -> dict[str, Any]:
        """One streamed chunk: the role, a piece of text (or thinking), or the end."""
        reason = FINISH_REASONS.get(finish.stats.stop_reason, "stop") if finish else None
        if self.chat:
            delta: dict[str, Any] = {}
            if role:
                delta = {"role": "assistant", "content": ""}
            elif text:
                delta = {"reasoning_content" if reasoning else "content": text}
            choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}
        else:
            shown = "" if reasoning else text
            choice = {"index": 0, "text": shown, "finish_reason": reason, "logprobs": None}
        return {**self._head(True), "choices": [choice]}

    def usage_chunk(self, result: GenerationResult) -> dict[str, Any]:
        """The last chunk when the client asked for usage: no choices, the counts."""
        return {**self._head(True), "choices": [], "usage": self.usage(result)}


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_TOKENS",
    "ApiError",
    "Guard",
    "RequestRecord",
    "ServerConfig",
    "create_app",
    "error_response",
    "is_loopback",
]
