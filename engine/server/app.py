"""The OpenAI-compatible API: routes, request checks and response shapes.

Endpoints: ``GET /health``, ``GET /v1/models``, ``POST /v1/chat/completions`` and
``POST /v1/completions`` (each streamed over server-sent events or not), and
``POST /v1/embeddings``, shaped as the official ``openai`` client parses them. Every
request runs through the one :class:`EngineClient`, so the server shares the worker and
the loaded model with whatever else uses that client; requests queue on it in arrival
order.

JSON mode: ``response_format`` ``{"type": "json_object"}`` or ``{"type": "json_schema",
"json_schema": {"schema": ...}}`` holds the answer to JSON (to the schema) with llama.cpp's
grammar sampler, on chat and text completions alike; a schema the converter cannot follow
is a 400 that says why, and so is a model on the PyTorch backend, which has no grammar.

Embeddings come from an embedding model (a GGUF whose header declares a pooling, such as
all-MiniLM-L6-v2): the request's ``model`` names one, loaded beside the chat model and kept,
or the loaded model is one. A model that writes text is refused with a 400 (as
llama-server refuses embeddings unless started for them): mean-pooled states of a chat
model make poor embeddings. Vectors have unit length, as OpenAI's do; ``encoding_format``
``base64`` (the ``openai`` client's default) is little-endian float32.

Safe by default (:class:`Guard`, outermost): the ``Host`` header must name the address
the server listens on (DNS rebinding), every route but ``/health`` needs the bearer
token, a body larger than ``max_body_bytes`` is refused before it is read, and no CORS
headers are sent unless origins are listed. A malformed request gets a 400 with an
OpenAI-style error and one log line; an unexpected failure a 500, never a traceback.

Thread: the asyncio loop the ASGI server runs on.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import hmac
import ipaddress
import json
import logging
import sys
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
#: The most texts one embeddings request may carry (OpenAI's own limit).
MAX_EMBED_INPUTS = 2048
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


def _embedding_inputs(raw: Any) -> list[str | list[int]]:
    """OpenAI's ``input``: a text, a list of texts, a list of token ids, or a list of those."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(_is_token(t) for t in raw):
            return [list(raw)]
        if len(raw) > MAX_EMBED_INPUTS:
            raise ApiError(
                400,
                f"At most {MAX_EMBED_INPUTS} inputs per request; send the rest in another.",
                kind="invalid_request_error",
            )
        inputs: list[str | list[int]] = []
        for item in raw:
            if isinstance(item, str):
                inputs.append(item)
            elif isinstance(item, list) and item and all(_is_token(t) for t in item):
                inputs.append(list(item))
            else:
                break
        else:
            return inputs
    raise ApiError(
        400,
        "'input' must be a text, a list of texts, a list of token ids, or a list of lists "
        "of token ids (none of them empty).",
        kind="invalid_request_error",
    )


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _base64_floats(vector: tuple[float, ...]) -> str:
    """A vector as OpenAI's ``encoding_format: base64`` sends it: little-endian float32."""
    floats = array.array("f", vector)
    if sys.byteorder == "big":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")


def _response_format(data: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """Whether the answer must be JSON, and the schema it must match (None: any object).

    OpenAI's ``{"type": "json_object"}`` and ``{"type": "json_schema", "json_schema":
    {"name", "schema", "strict"}}``; llama-server's ``{"type": "json_object", "schema"}``
    too. ``{"type": "text"}`` or none: free text.
    """
    fmt = data.get("response_format")
    if fmt is None:
        return False, None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return False, None
    if kind == "json_object":
        schema = fmt.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise ApiError(
                400, "response_format.schema must be a JSON schema object.", **_FORMAT_ERROR
            )
        return True, schema
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ApiError(
                400,
                "response_format.json_schema.schema must be a JSON schema object.",
                **_FORMAT_ERROR,
            )
        return True, schema
    raise ApiError(
        400,
        f"response_format type {kind!r} is not one Hearth knows: use 'text', 'json_object' "
        "or 'json_schema'.",
        **_FORMAT_ERROR,
    )


_FORMAT_ERROR: dict[str, Any] = {"kind": "invalid_request_error", "code": "invalid_response_format"}


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

    async def embeddings(self, request: Request) -> Response:
        data = await _body(request)
        inputs = _embedding_inputs(data.get("input"))
        encoding = data.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise ApiError(
                400, "encoding_format must be 'float' or 'base64'.", kind="invalid_request_error"
            )
        if data.get("dimensions") is not None:
            raise ApiError(
                400,
                "dimensions is not supported: Hearth returns the model's own vectors.",
                kind="invalid_request_error",
            )
        wanted = data.get("model")
        if wanted is not None and not isinstance(wanted, str):
            raise ApiError(400, "'model' must be text.", kind="invalid_request_error")
        loaded = self._client.model
        named = wanted or None
        if loaded is not None and named in (loaded.model_id, loaded.path):
            named = None
        if named is not None and not self._config.load_models:
            raise ApiError(
                404,
                f"The model {named!r} is not loaded; this server serves "
                f"{loaded.model_id if loaded else 'no model'}.",
                kind="invalid_request_error",
                code="model_not_found",
            )
        try:
            result = await self._client.embed(inputs, model=named)
        except EngineError as exc:
            raise _engine_error(exc) from exc
        items = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _base64_floats(v) if encoding == "base64" else list(v),
            }
            for i, v in enumerate(result.vectors)
        ]
        usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
        return JSONResponse(
            {"object": "list", "data": items, "model": result.model_id, "usage": usage}
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
        json_mode = _response_format(data)
        model = await self._model(data)
        params = await self._constrained(params, *json_mode)
        events = self._client.chat(messages, params)
        return await self._answer(request, data, model, events, chat=True)

    async def _constrained(
        self, params: SamplingParams, json_mode: bool, schema: dict[str, Any] | None
    ) -> SamplingParams:
        """``params`` holding the answer to JSON (matching ``schema``) when asked."""
        if not json_mode:
            return params
        loaded = self._client.model
        if loaded is not None and loaded.backend != "llamacpp":
            raise ApiError(
                400,
                f"JSON mode needs the llama.cpp backend, and {loaded.model_id} runs on "
                f"{loaded.backend}, which cannot hold an answer to a grammar. Serve the "
                "model with --backend llamacpp.",
                kind="invalid_request_error",
                code="response_format_unsupported",
            )
        try:
            grammar = await self._client.json_grammar(schema)
            return replace(params, grammar=grammar)
        except EngineError as exc:
            raise ApiError(
                400, str(exc), kind="invalid_request_error", code="invalid_response_format"
            ) from exc

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
        json_mode = _response_format(data)
        model = await self._model(data)
        params = await self._constrained(params, *json_mode)
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
            # The first event before the status line: an engine that refuses the request
            # (a grammar it cannot follow, no model) answers with an error status, not
            # with a 200 whose stream holds the error.
            first = await _unless_gone(request, anext(events))
            if first is _GONE:
                return Response(status_code=499)
            assert isinstance(first, TokenEvent | GenerationResult)
            return StreamingResponse(
                self._stream(first, events, shape, usage=usage), media_type="text/event-stream"
            )
        result = await _unless_gone(request, _collect(events))
        if result is _GONE:
            return Response(status_code=499)
        assert isinstance(result, GenerationResult)
        return JSONResponse(shape.whole(result))

    async def _stream(
        self,
        first: TokenEvent | GenerationResult,
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
                async for event in _chain(first, stream):
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


#: What :func:`_unless_gone` returns when the client went away first.
_GONE = object()


async def _unless_gone(request: Request, work: Awaitable[Any]) -> Any:
    """``work``'s result, or :data:`_GONE` (``work`` cancelled) if the client goes away first.

    Raises:
        ApiError: ``work`` raised an EngineError (as its OpenAI-style status).
    """
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if task not in done:
        # The client went away: stop generating for it now.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, EngineError, StopAsyncIteration):
            await task
        return _GONE
    try:
        return task.result()
    except EngineError as exc:
        raise _engine_error(exc) from exc
    except StopAsyncIteration:  # pragma: no cover - a stream always ends with a result
        raise ApiError(
            500, "The engine ended a generation without a result.", kind="server_error"
        ) from None


async def _chain(
    first: TokenEvent | GenerationResult, rest: AsyncIterator[TokenEvent | GenerationResult]
) -> AsyncIterator[TokenEvent | GenerationResult]:
    """``first``, then the events of ``rest``."""
    yield first
    async for event in rest:
        yield event


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
