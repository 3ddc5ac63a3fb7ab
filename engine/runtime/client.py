"""EngineClient: the one asyncio facade through which the GUI, CLI and tests reach the engine.

It starts the worker process (engine/runtime/worker.py), speaks its JSON-lines protocol,
turns worker deaths into ``EngineCrashed`` with the reason and the last log lines,
and starts a fresh worker — reloading the model — on the next call. A worker that falls
silent while it serves a request (stopped, or wedged) is killed after the liveness
deadline and reported the same way. Requests larger than the protocol takes are refused
before they are sent.

Thread: every coroutine runs on the asyncio loop that created the client (in the
GUI, qasync's loop on the Qt thread); nothing here blocks that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import replace
from typing import Any

import engine
from engine.errors import (
    ERROR_TYPES,
    EngineCrashed,
    EngineError,
    NoModelLoaded,
    RemoteError,
    UsageError,
)
from engine.models.hardware import Hardware, probe_hardware
from engine.runtime import protocol
from engine.runtime.remote import NetworkPolicy, RemoteEndpoint, RemoteSession
from engine.types import (
    ChatMessage,
    ContextPolicy,
    Embeddings,
    GenerationResult,
    GenerationStats,
    LoadRequest,
    ModelInfo,
    SamplingParams,
    TokenEvent,
)

log = logging.getLogger("engine.client")

worker_log = logging.getLogger("engine.worker")

#: How long a worker may take to honour a cancel before it is killed.
CANCEL_DEADLINE_S = 1.5
#: How long a worker may take to start and say hello.
START_TIMEOUT_S = 60.0
#: How long a worker serving a request may stay silent (no token, no answer, no
#: heartbeat) before it is taken for stopped, killed and restarted. Its heartbeat thread
#: speaks every second even inside one long native call (a model load, a long prompt),
#: so thirty missed beats means a process that does not run (stopped, or wedged holding
#: the interpreter), not a slow machine.
LIVENESS_DEADLINE_S = 30.0
#: Heartbeats asked for per liveness deadline when the deadline is short (tests): a few
#: late ones must not look like silence.
_BEATS_PER_DEADLINE = 10
_LOG_TAIL = 200
#: Characters kept of one worker log line: native code can print a line of any length,
#: and the last 200 lines are kept for a crash report.
MAX_LOG_LINE_CHARS = 2000
_MIB = 1024 * 1024
#: Requests whose text is a conversation (the refusal says so).
_CONVERSATION_OPS = frozenset({"chat", "chat_tokens", "render_chat"})
#: The folder holding the ``engine`` package, so the worker imports the same code.
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(engine.__file__)))
# The worker's own INFO (llama.cpp's loader chatter) is DEBUG here; its warnings and errors
# keep their level.
_LEVEL_PREFIX = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.DEBUG,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}

Event = TokenEvent | GenerationResult
# A complete_many prompt as sent: raw text, or a conversation the worker renders.
_Prompt = str | list[dict[str, str]]


def worker_command() -> list[str]:
    """How to start the worker: ``python -m engine.runtime.worker``, or the frozen app with a
    flag."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--engine-worker"]
    return [sys.executable, "-m", "engine.runtime.worker"]


class KillReason(enum.Enum):
    """Why the client stopped its worker.

    The crash it reports says so in words ("stopped by Hearth: …", the value filled in
    with the client's limits); and a kill that ends a cancel is no crash at all.
    """

    CANCEL_IGNORED = "cancel was not honoured in time"
    START_TIMEOUT = "it did not start in time"
    START_CANCELLED = "start cancelled"
    HELLO_REFUSED = "its hello was refused"
    SILENT = "it stopped responding for {silent_s:g} s"
    OVERSIZED_EVENT = "it sent a message over {limit_mb} MB"
    RESTART = "restart requested"
    SHUTDOWN_TIMEOUT = "it did not shut down"


class _Crash:
    """Put into a request's queue when the worker dies."""

    def __init__(self, error: EngineCrashed) -> None:
        self.error = error


class _Worker:
    """One running worker process and its reader tasks."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pending: dict[int, asyncio.Queue[dict[str, Any] | _Crash]] = {}
        self.hello: asyncio.Future[protocol.WorkerHello] = (
            asyncio.get_running_loop().create_future()
        )
        self.log_tail: deque[str] = deque(maxlen=_LOG_TAIL)
        self.tasks: list[asyncio.Task[None]] = []
        self.killed_by_us: KillReason | None = None
        self.dead = False
        self.model_request: LoadRequest | None = None
        #: When the worker last wrote anything (the loop's clock), or a request was sent.
        self.last_heard = asyncio.get_running_loop().time()


class EngineClient:
    """Asyncio client of the engine worker.

    Args:
        command: the worker command line (defaults to :func:`worker_command`).
        env: extra environment variables for the worker.
        cancel_deadline_s: how long a cancel may take before the worker is killed.
        liveness_deadline_s: how long a worker serving a request may send nothing
            before it is killed (the request raises EngineCrashed) and restarted.
        max_request_bytes: the largest request sent to the worker; a larger one raises
            UsageError (capped at :data:`engine.runtime.protocol.MAX_REQUEST_BYTES`).

    Use as ``async with EngineClient() as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        cancel_deadline_s: float = CANCEL_DEADLINE_S,
        liveness_deadline_s: float = LIVENESS_DEADLINE_S,
        max_request_bytes: int = protocol.MAX_REQUEST_BYTES,
    ) -> None:
        self._command = list(command) if command else worker_command()
        self._env = env or {}
        self._cancel_deadline_s = cancel_deadline_s
        self._liveness_deadline_s = liveness_deadline_s
        self._max_request_bytes = min(max_request_bytes, protocol.MAX_REQUEST_BYTES)
        self._worker: _Worker | None = None
        self._lock = asyncio.Lock()
        self._next_id = 1
        self._current: int | None = None
        #: How many times cancel() found a request to stop (a batched request checks it).
        self._cancels = 0
        self._model_request: LoadRequest | None = None
        self._model_info: ModelInfo | None = None
        #: The load request of the embedding model last named to :meth:`embed`, by name.
        self._embedder: tuple[str, LoadRequest] | None = None
        self._closed = False
        self._last_log_tail: tuple[str, ...] = ()
        self._watchdogs: set[asyncio.Task[None]] = set()
        #: The remote model in use, when one is chosen instead of a local one: every
        #: generation then goes to it, and the worker holds no model.
        self._remote: RemoteSession | None = None

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- state --------------------------------------------------------------------

    @property
    def model(self) -> ModelInfo | None:
        """The model currently loaded (reloaded automatically after a crash)."""
        return self._model_info

    @property
    def remote(self) -> RemoteEndpoint | None:
        """The endpoint serving the current model, when it is a remote one."""
        return self._remote.endpoint if self._remote is not None else None

    @property
    def busy(self) -> bool:
        """Whether a request is running in the engine now (others wait their turn)."""
        return self._lock.locked()

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id, if one runs."""
        w = self._worker
        return w.proc.pid if w and not w.dead else None

    def log_tail(self) -> tuple[str, ...]:
        """The worker's last log lines (the current worker's, or the last one's)."""
        if self._worker is not None:
            return tuple(self._worker.log_tail)
        return self._last_log_tail

    # -- the worker process ---------------------------------------------------------

    async def _start_worker(self) -> _Worker:
        env = dict(os.environ)
        env.update(self._env)
        env["PYTHONUNBUFFERED"] = "1"
        env[protocol.CLIENT_PID_ENV] = str(os.getpid())
        heartbeat = min(protocol.HEARTBEAT_S, self._liveness_deadline_s / _BEATS_PER_DEADLINE)
        env[protocol.HEARTBEAT_ENV] = repr(heartbeat)
        if not getattr(sys, "frozen", False):
            root = _SOURCE_ROOT
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        proc = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            # asyncio's reader refuses a longer line, holding at most about twice this.
            limit=protocol.MAX_EVENT_BYTES,
        )
        worker = _Worker(proc)
        worker.tasks = [
            asyncio.create_task(self._read_stdout(worker), name="engine-stdout"),
            asyncio.create_task(self._read_stderr(worker), name="engine-stderr"),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(worker.hello), START_TIMEOUT_S)
        except asyncio.TimeoutError:
            await self._kill(worker, KillReason.START_TIMEOUT)
            raise EngineCrashed(
                "the engine did not start in time", tuple(worker.log_tail)
            ) from None
        except asyncio.CancelledError:
            # The caller gave up (the window closed while the engine started): leave
            # no orphan process behind.
            await self._kill(worker, KillReason.START_CANCELLED)
            raise
        except EngineError:
            # Another protocol version, or a hello that could not be read: nothing it
            # would say could be trusted. (A worker that died while starting is dead.)
            await self._kill(worker, KillReason.HELLO_REFUSED)
            raise
        log.info("Engine worker %s started", proc.pid)
        return worker

    async def _ensure_worker(self) -> _Worker:
        if self._closed:
            raise EngineError("The engine has been shut down.")
        worker = self._worker
        if worker is None or worker.dead or worker.proc.returncode is not None:
            worker = self._worker = await self._start_worker()
        return worker

    async def hello(self) -> protocol.WorkerHello:
        """Start the worker if needed and return what it reported at start (its llama.cpp build).

        Raises:
            EngineError: the worker speaks another protocol version (the message names
                both), or it could not be started.
        """
        worker = await self._ensure_worker()
        return await worker.hello

    async def hardware(self) -> Hardware:
        """This computer, probed now, with llama.cpp's build as the worker reports it.

        This process never loads llama.cpp itself: the worker does. Free memory changes
        while the app runs, so a caller that plans a load asks again.

        Raises:
            EngineError: the worker could not be started to ask it.
        """
        llama = (await self.hello()).llama
        return await asyncio.to_thread(probe_hardware, llama_probe=lambda: llama)

    async def _read_stdout(self, worker: _Worker) -> None:
        assert worker.proc.stdout is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                line = await worker.proc.stdout.readline()
                if not line:
                    break
                worker.last_heard = loop.time()
                self._dispatch(worker, line)
        except (ConnectionError, ValueError) as exc:
            # asyncio's reader raises ValueError for a line over its limit. A worker that
            # sends one is broken: stop it, so what it was asked fails instead of waiting.
            log.error("Engine output unreadable: %s", exc)
            worker.killed_by_us = KillReason.OVERSIZED_EVENT
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()
        await self._on_exit(worker)

    def _dispatch(self, worker: _Worker, line: bytes) -> None:
        """Hand one line from the worker to whoever waits for it."""
        try:
            message = protocol.decode(line)
        except ValueError:
            log.error("Engine sent a malformed line: %r", line[:200])
            return
        rid = message.get("id")
        event = message.get("event")
        if event == "hello":
            if not worker.hello.done():
                try:
                    worker.hello.set_result(protocol.WorkerHello.from_message(message))
                except EngineError as exc:
                    worker.hello.set_exception(exc)
            return
        if event == "alive":
            return  # a heartbeat: hearing it was the point
        queue = worker.pending.get(rid) if isinstance(rid, int) else None
        if queue is not None:
            queue.put_nowait(message)

    async def _read_stderr(self, worker: _Worker) -> None:
        assert worker.proc.stderr is not None
        while True:
            try:
                raw = await worker.proc.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not raw:
                return
            line = raw[: MAX_LOG_LINE_CHARS * 4].decode("utf-8", errors="replace").rstrip()
            line = line[:MAX_LOG_LINE_CHARS]
            worker.log_tail.append(line)
            # Lines without a level prefix are native output printed before the log
            # callback was installed (ggml's device list, say): informational.
            level = _LEVEL_PREFIX.get(line.split(" ", 1)[0], logging.INFO)
            worker_log.log(level, "%s", line)

    async def _on_exit(self, worker: _Worker) -> None:
        rc = await worker.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(worker.tasks[1]), 2.0)
        worker.dead = True
        self._last_log_tail = tuple(worker.log_tail)
        if worker.killed_by_us is not None:
            reason = self._kill_text(worker.killed_by_us)
        else:
            reason = _describe_exit(rc, worker.log_tail)
        error = EngineCrashed(reason, tuple(worker.log_tail)[-40:])
        if not worker.hello.done():
            worker.hello.set_exception(error)
            worker.hello.exception()  # mark retrieved: a start failure is raised by the caller
        for queue in worker.pending.values():
            queue.put_nowait(_Crash(error))
        if worker.pending:
            log.error("Engine worker %s died: %s", worker.proc.pid, reason)
        else:
            log.info("Engine worker %s exited: %s", worker.proc.pid, reason)

    def _kill_text(self, why: KillReason) -> str:
        """The crash reason of a worker this client stopped."""
        limits = {
            "silent_s": self._liveness_deadline_s,
            "limit_mb": protocol.MAX_EVENT_BYTES // _MIB,
        }
        return f"stopped by Hearth: {why.value.format(**limits)}"

    async def _kill(self, worker: _Worker, why: KillReason) -> None:
        if worker.dead:
            return
        worker.killed_by_us = why
        with contextlib.suppress(ProcessLookupError):
            worker.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.proc.wait(), 5.0)
        # Let the reader see the end of the output and fail what was pending, so the
        # next call starts a fresh worker instead of talking to this one.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(worker.tasks[0]), 5.0)
        worker.dead = True

    # -- requests -------------------------------------------------------------------

    def _send(self, worker: _Worker, op: str, fields: dict[str, Any]) -> int:
        """Send a request; raises UsageError, sending nothing, if it is too large."""
        rid = self._next_id
        data = protocol.encode({"id": rid, "op": op, **fields})
        if len(data) > self._max_request_bytes:
            raise UsageError(_too_large(op, len(data), self._max_request_bytes))
        self._next_id += 1
        worker.pending[rid] = asyncio.Queue()
        # The liveness deadline counts from here: an idle worker has no reason to speak.
        worker.last_heard = asyncio.get_running_loop().time()
        assert worker.proc.stdin is not None
        # On a broken pipe the reader notices the death and fails the request with the reason.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            worker.proc.stdin.write(data)
        return rid

    async def _next_event(self, worker: _Worker, rid: int) -> dict[str, Any]:
        item = await self._next_item(worker, worker.pending[rid])
        if isinstance(item, _Crash):
            raise item.error
        if item.get("event") == "error":
            cls = ERROR_TYPES.get(str(item.get("type")), EngineError)
            raise cls(str(item.get("message")))
        return item

    async def _next_item(
        self, worker: _Worker, queue: asyncio.Queue[dict[str, Any] | _Crash]
    ) -> dict[str, Any] | _Crash:
        """The next item for a request; a worker silent past the deadline is killed.

        Killing it makes the reader put the crash into every pending queue, so the
        request fails with EngineCrashed and the next call starts a fresh worker.
        """
        loop = asyncio.get_running_loop()
        while not worker.dead:
            if not queue.empty():  # the common case while tokens stream: no timer needed
                return queue.get_nowait()
            left = worker.last_heard + self._liveness_deadline_s - loop.time()
            if left <= 0:
                await self._kill(worker, KillReason.SILENT)
                break
            try:
                return await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                continue
        return await queue.get()

    async def _call(self, op: str, fields: dict[str, Any]) -> Any:
        """Send a request that answers with one result."""
        worker = await self._ensure_worker()
        rid = self._send(worker, op, fields)
        try:
            event = await self._next_event(worker, rid)
        finally:
            worker.pending.pop(rid, None)
        return event.get("value")

    async def _ensure_model(self) -> _Worker:
        """A worker with the current model loaded (reloading it after a crash)."""
        worker = await self._ensure_worker()
        if self._model_request is None:
            raise NoModelLoaded("No model is loaded. Choose a model first.")
        if worker.model_request is not self._model_request:
            log.info("Reloading %s in the new engine", self._model_request.model_id)
            value = await self._call("load", self._model_request.to_dict())
            worker.model_request = self._model_request
            self._model_info = ModelInfo.from_dict(value)
        return worker

    # -- public API -----------------------------------------------------------------

    async def load(
        self,
        model: str | os.PathLike[str] | None,
        *,
        n_ctx: int = 0,
        gpu_offload: str = "auto",
        threads: int = 0,
        backend: str = "auto",
        n_parallel: int = 4,
    ) -> ModelInfo:
        """Load a model (by store id or path), replacing the current one.

        ``n_parallel`` is how many prompts :meth:`complete_many` decodes at once (the
        context's ``n_seq_max``, 1 to :data:`~engine.types.MAX_PARALLEL`). It costs no
        memory: the sequences share the one KV cache of ``n_ctx`` cells, and a chat
        still has the whole context.

        The GGUF header is checked and the backend plan made before the worker sees
        the file. If loading fails the previous model stays loaded and usable.

        Raises:
            UsageError: ``n_parallel`` is out of range.
            ModelFileError: the file is missing, damaged or not a GGUF model.
            ModelLoadError: llama.cpp could not load it (memory, architecture).
            EngineCrashed: the worker died while loading (a crafted file, say).
        """
        from engine.runtime.loading import plan_load, resolve_model

        # The header is checked before any worker starts: a bad file fails fast.
        entry = await asyncio.to_thread(resolve_model, model)
        async with self._lock:
            hw = await self.hardware()  # free memory now, not at the last load
            request = await asyncio.to_thread(
                plan_load,
                entry,
                hw,
                n_ctx=n_ctx,
                gpu_offload=gpu_offload,
                threads=threads,
                backend=backend,
                n_parallel=n_parallel,
            )
            try:
                value = await self._call("load", request.to_dict())
            except EngineError:
                if self._worker is not None and not self._worker.dead:
                    self._worker.model_request = None
                previous = self._model_request
                if previous is not None:
                    # The worker dropped the old model before trying; put it back.
                    with contextlib.suppress(EngineError):
                        await self._ensure_model()
                raise
            info = ModelInfo.from_dict(value)
            if info.template_refused:
                # Never run a refused template again, not even in a restarted worker.
                request = replace(request, fallback_template=True)
            self._model_request = request
            assert self._worker is not None
            self._worker.model_request = request
            self._model_info = info
            await self._drop_remote()
            return info

    async def load_remote(
        self, endpoint: RemoteEndpoint, model: str, *, policy: NetworkPolicy | None = None
    ) -> ModelInfo:
        """Use the model ``model`` that ``endpoint`` serves, in place of the current one.

        Chat, complete, complete_many and the token counts then go to the endpoint over
        HTTP (engine/runtime/remote.py); a local model is unloaded from the worker to free
        its memory. If the endpoint cannot be used the current model stays.

        Args:
            endpoint: the OpenAI-compatible server.
            model: the name it gives the model (as its ``/v1/models`` lists it).
            policy: what offline mode allows (default: online).

        Raises:
            RemoteError: offline mode forbids the endpoint, it cannot be reached, it
                refused the key, or it does not serve ``model``.
        """
        session = await RemoteSession.open(endpoint, model, policy or NetworkPolicy())
        async with self._lock:
            previous = self._remote
            self._remote = session
            self._model_info = session.info
            if self._model_request is not None:
                self._model_request = None
                worker = self._worker
                if worker is not None and not worker.dead:
                    with contextlib.suppress(EngineError):
                        await self._call("unload", {})
                    worker.model_request = None
        if previous is not None:
            await previous.aclose()
        log.info("Using %s on %s", model, endpoint.host)
        return session.info

    async def _drop_remote(self) -> None:
        """Stop using the remote model, if one was in use."""
        session, self._remote = self._remote, None
        if session is not None:
            await session.aclose()

    async def unload(self) -> None:
        """Free the current model."""
        async with self._lock:
            self._model_request = None
            self._model_info = None
            await self._drop_remote()
            if self._worker is not None and not self._worker.dead:
                await self._call("unload", {})
                self._worker.model_request = None

    async def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """Tokens of ``text`` with the loaded model's tokenizer.

        Raises:
            RemoteError: the remote model's server has no tokenizer endpoint (use
                :meth:`count_tokens`), or could not be reached.
        """
        async with self._lock:
            if self._remote is not None:
                tokens = await self._remote.tokenize(text)
                if tokens is None:
                    raise RemoteError(f"{self._remote.endpoint.host} cannot count tokens.")
                return tokens
            await self._ensure_model()
            value = await self._call(
                "tokenize",
                {"text": text, "add_special": add_special, "parse_special": parse_special},
            )
        return [int(t) for t in value]

    async def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes: counted by the model's tokenizer, or estimated
        where a remote server cannot count them (engine.runtime.remote.estimate_tokens)."""
        if self._remote is not None:
            async with self._lock:
                if self._remote is not None:
                    return await self._remote.count_tokens(text)
        return len(await self.tokenize(text)) if text else 0

    async def embed(
        self,
        inputs: Sequence[str | Sequence[int]],
        *,
        model: str | os.PathLike[str] | None = None,
    ) -> Embeddings:
        """Embed texts (or token ids of the embedding model's vocabulary).

        An embedding model is one whose GGUF header declares a pooling (BERT-style
        sentence embedders, nomic-embed-text, ...). Named by ``model``, it is loaded in
        the worker beside the loaded model, which stays loaded (a chat model and an
        embedding model serve together), and kept for the next call. Without ``model``
        the loaded model embeds, if it is an embedding model.

        Args:
            inputs: the texts, or lists of token ids, in the order the vectors come back.
            model: an embedding model (store id, file name or path); None: the loaded one.

        Returns:
            Unit-length vectors (cosine similarity is their dot product) and the tokens read.

        Raises:
            UsageError: no input, an empty text, a text longer than the model reads, a
                token id outside its vocabulary, or a model that writes text rather than
                embeds (the message says which).
            ModelNotFound, ModelFileError: ``model`` names no usable model file.
            NoModelLoaded: no ``model`` given and none loaded.
        """
        items: list[str | list[int]] = [
            x if isinstance(x, str) else [int(t) for t in x] for x in inputs
        ]
        if not items:
            raise UsageError("Give at least one text to embed.")
        loaded = self._model_info
        named = os.fspath(model) if model is not None else None
        if loaded is not None and named in (loaded.model_id, loaded.path):
            model = None  # the loaded model itself
        request = await self._embedding_request(model) if model is not None else None
        async with self._lock:
            if request is None:
                await self._ensure_model()
            else:
                await self._ensure_worker()
            value = await self._call(
                "embed",
                {"inputs": items, "model": request.to_dict() if request is not None else None},
            )
        info = self._model_info
        model_id = request.model_id if request is not None else (info.model_id if info else "")
        return Embeddings(
            vectors=tuple(tuple(float(x) for x in v) for v in value["vectors"]),
            prompt_tokens=sum(int(n) for n in value["tokens"]),
            model_id=model_id,
        )

    async def _embedding_request(self, model: str | os.PathLike[str]) -> LoadRequest:
        """The load request of embedding model ``model``, planned once per name."""
        from engine.runtime.loading import plan_load, resolve_model

        name = os.fspath(model)
        if self._embedder is not None and self._embedder[0] == name:
            return self._embedder[1]
        entry = await asyncio.to_thread(resolve_model, model)
        hw = await self.hardware()
        request = await asyncio.to_thread(plan_load, entry, hw, backend="llamacpp", n_parallel=1)
        self._embedder = (name, request)
        return request

    async def json_grammar(self, schema: dict[str, Any] | None = None) -> str:
        """The grammar that holds answers to JSON, for :attr:`SamplingParams.grammar`.

        Made in the worker by llama-cpp-python's JSON-schema converter (this process never
        imports llama.cpp). Only the llama.cpp backend follows a grammar: a generation
        on another backend refuses it with UsageError.

        Args:
            schema: a JSON schema the answer must match; None for any JSON object.

        Raises:
            UsageError: the schema cannot be turned into a grammar (the message says why).
        """
        async with self._lock:
            await self._ensure_worker()
            value = await self._call("json_grammar", {"schema": schema})
        return str(value)

    async def count_chat_tokens(self, messages: Sequence[ChatMessage]) -> tuple[int, int]:
        """(tokens the conversation renders to, context size) — for a context meter.

        With a remote model the template's share is estimated (its server does not
        render templates for others)."""
        async with self._lock:
            if self._remote is not None:
                used = await self._remote.count_chat_tokens(messages)
                return used, self._remote.info.n_ctx
            await self._ensure_model()
            value = await self._call("chat_tokens", {"messages": [m.to_dict() for m in messages]})
        return int(value["tokens"]), int(value["n_ctx"])

    def chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams | None = None,
        *,
        policy: ContextPolicy = "truncate",
        thinking: bool | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Stream an answer: TokenEvents, then one GenerationResult.

        The conversation is fitted to the context first (see engine.runtime.context). Stop early
        with :meth:`cancel`; the result then has stop_reason "cancelled". A reasoning
        model's thinking streams as TokenEvents marked ``reasoning`` and ends in the
        result's ``reasoning``, never in its text; ``thinking`` turns it on or off where
        the chat template has the switch (``enable_thinking``; None: the template's default).
        """
        fields: dict[str, Any] = {
            "messages": [m.to_dict() for m in messages],
            "params": (params or SamplingParams()).to_dict(),
            "policy": policy,
        }
        if thinking is not None:
            fields["thinking"] = thinking
        sampling = params or SamplingParams()
        return self._stream("chat", fields, lambda remote: remote.chat(messages, sampling))

    def complete(
        self, prompt: str, params: SamplingParams | None = None
    ) -> AsyncGenerator[Event, None]:
        """Stream a raw continuation of ``prompt`` (no chat template)."""
        sampling = params or SamplingParams()
        return self._stream(
            "complete",
            {"prompt": prompt, "params": sampling.to_dict()},
            lambda remote: remote.complete(prompt, sampling),
        )

    def infill(
        self, prefix: str, suffix: str, params: SamplingParams | None = None
    ) -> AsyncGenerator[Event, None]:
        """Stream the text that goes between ``prefix`` and ``suffix`` (code completion).

        Needs a model with fill-in-the-middle tokens (``model.fim``); raises
        EngineError otherwise. Events as for :meth:`complete`.
        """
        request = {"prefix": prefix, "suffix": suffix}
        return self._stream("infill", {**request, "params": (params or SamplingParams()).to_dict()})

    async def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The conversation as the model's chat template writes it, ending with the
        assistant's turn opener, for display or a raw :meth:`complete`. Give
        :meth:`complete_many` the conversation itself: as raw text, a message that
        spells a control token (``<|im_end|>``) would become one.

        When the model has no usable template (``model.chat_template == "fallback"``)
        the text is Hearth's fallback format; add ``engine.runtime.chat_templates.FALLBACK_STOP`` to
        the stop strings so the answer ends at the next turn, as :meth:`chat` does.
        """
        async with self._lock:
            self._local_only("render_chat")
            await self._ensure_model()
            value = await self._call("render_chat", {"messages": [m.to_dict() for m in messages]})
        return str(value["text"])

    async def complete_many(
        self,
        prompts: Sequence[str | Sequence[ChatMessage]],
        params: SamplingParams | None = None,
        *,
        on_event: Callable[[int, TokenEvent | GenerationResult], None] | None = None,
    ) -> list[GenerationResult]:
        """Continue several raw prompts at once, decoded together in one llama.cpp context.

        Up to the ``n_parallel`` given to :meth:`load` are decoded at a time, as far
        as their prompts plus ``params.max_tokens`` fit in the context together; a
        finished one's slot takes the next prompt at once. A prompt longer than the
        context keeps its end, as with :meth:`complete`. The single-sequence KV cache
        is cleared (the next :meth:`chat` evaluates its prompt in full). Prompts that
        add up to more than one request takes are sent as several requests in turn.

        Args:
            prompts: raw prompt texts, or conversations: the worker renders those with
                the chat template, and the messages' text cannot forge control tokens
                (rendered text passed as a raw prompt could).
            params: sampling and stop settings, the same for every prompt.
            on_event: called on the event loop with ``(index, TokenEvent)`` as text
                arrives and ``(index, GenerationResult)`` when prompt ``index`` ends.

        Returns:
            One result per prompt, in the order of ``prompts``, with its own stats.
            After :meth:`cancel`, the unfinished ones have stop_reason "cancelled"
            and the text generated so far ("" if never started).

        Raises:
            UsageError: one prompt alone is larger than a request takes.
            EngineError: a prompt is empty, or llama.cpp failed.
            EngineCrashed: the worker died (not by a cancel) or stopped responding.
        """
        texts: list[_Prompt] = [
            p if isinstance(p, str) else [m.to_dict() for m in p] for p in prompts
        ]
        if not texts:
            return []
        sampling = (params or SamplingParams()).to_dict()
        results: list[GenerationResult] = []
        async with self._lock:
            if self._remote is not None:
                # One at a time: a remote server decodes in parallel on its own terms.
                return await self._remote.complete_many(
                    prompts, params or SamplingParams(), on_event
                )
            worker = await self._ensure_model()
            cancels = self._cancels
            for start, batch in self._request_batches(texts, sampling):
                if self._cancels != cancels:
                    # Cancelled: the prompts of later requests never start.
                    now = time.perf_counter()
                    results += [self._cancelled_result([], now, 0.0) for _ in batch]
                    continue
                shifted = None
                if on_event is not None:
                    shifted = functools.partial(_shift_event, on_event, start)
                results += await self._complete_batch(worker, batch, sampling, shifted)
        return results

    def _request_batches(
        self, texts: list[_Prompt], sampling: dict[str, Any]
    ) -> list[tuple[int, list[_Prompt]]]:
        """Prompts cut into runs, each with its first index, whose requests fit the cap.

        A document's chunks can add up to more than one request takes; each run is
        still decoded in parallel. A prompt too large alone gets a run of its own, which
        :meth:`_send` refuses.
        """
        empty = {"id": 2**53, "op": "complete_many", "prompts": [], "params": sampling}
        room = self._max_request_bytes - len(protocol.encode(empty))
        batches: list[tuple[int, list[_Prompt]]] = []
        used = 0
        for index, text in enumerate(texts):
            size = len(json.dumps(text, ensure_ascii=False).encode()) + 1  # and a comma
            if batches and used + size <= room:
                batches[-1][1].append(text)
                used += size
            else:
                batches.append((index, [text]))
                used = size
        return batches

    async def _complete_batch(
        self,
        worker: _Worker,
        texts: list[_Prompt],
        sampling: dict[str, Any],
        on_event: Callable[[int, TokenEvent | GenerationResult], None] | None,
    ) -> list[GenerationResult]:
        """One ``complete_many`` request (the caller holds the lock)."""
        t_send = time.perf_counter()
        pieces: dict[int, list[str]] = {}
        ended: dict[int, GenerationResult] = {}
        fields = {"prompts": texts, "params": sampling}
        # Closed even when this coroutine is cancelled: that cancels the request.
        async with contextlib.aclosing(
            self._request_events(worker, "complete_many", fields)
        ) as events:
            async for event in events:
                kind = event.get("event")
                if kind == "token":
                    index = int(event["index"])
                    text = str(event.get("text", ""))
                    pieces.setdefault(index, []).append(text)
                    if on_event is not None:
                        on_event(index, TokenEvent(text, reasoning=bool(event.get("reasoning"))))
                elif kind == "seq_done":
                    index = int(event["index"])
                    ended[index] = self._result_of(event)
                    if on_event is not None:
                        on_event(index, ended[index])
                elif kind == "done":
                    return [self._result_of(r) for r in event["results"]]
        # No "done": the worker was killed for not honouring a cancel.
        return [
            ended.get(i) or self._cancelled_result(pieces.get(i, []), t_send, 0.0)
            for i in range(len(texts))
        ]

    def _result_of(self, item: dict[str, Any]) -> GenerationResult:
        info = self._model_info
        return GenerationResult(
            text=str(item.get("text", "")),
            stats=GenerationStats.from_dict(item["stats"]),
            model_id=info.model_id if info else "",
            backend=info.backend if info else "",
            reasoning=str(item.get("reasoning", "")),
        )

    def _local_only(self, op: str) -> None:
        """Refuse ``op`` while a remote model is in use (the caller holds the lock)."""
        if self._remote is not None:
            raise RemoteError(f"A remote model cannot do this ({op}); choose a local model.")

    async def _stream(
        self,
        op: str,
        fields: dict[str, Any],
        remote: Callable[[RemoteSession], AsyncGenerator[Event, None]] | None = None,
    ) -> AsyncGenerator[Event, None]:
        async with self._lock:
            if self._remote is not None:
                if remote is None:
                    self._local_only(op)
                assert remote is not None
                # Closed even when our consumer stops early: that closes the HTTP stream,
                # and the server stops generating.
                async with contextlib.aclosing(remote(self._remote)) as remote_events:
                    async for remote_event in remote_events:
                        yield remote_event
                return
            worker = await self._ensure_model()
            t_send = time.perf_counter()
            pieces: list[str] = []
            thinking: list[str] = []
            t_first = 0.0
            # Closed even when our consumer stops early: that cancels the request.
            async with contextlib.aclosing(self._request_events(worker, op, fields)) as events:
                async for event in events:
                    kind = event.get("event")
                    if kind == "token":
                        if not t_first:
                            t_first = time.perf_counter()
                        text = str(event.get("text", ""))
                        if event.get("reasoning"):
                            thinking.append(text)
                            yield TokenEvent(text, reasoning=True)
                            continue
                        pieces.append(text)
                        yield TokenEvent(text)
                    elif kind == "done":
                        yield self._result(event, t_send, t_first)
                        return
            # No "done": the worker was killed for not honouring a cancel.
            yield replace(
                self._cancelled_result(pieces, t_send, t_first), reasoning="".join(thinking)
            )

    async def _request_events(
        self, worker: _Worker, op: str, fields: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The events of one streaming request, ``done`` last (the caller holds the lock).

        The stream also ends, without ``done``, when the worker was killed because it
        did not honour a cancel in time: the caller reports what it received as
        cancelled. Closed early (the consumer stopped listening), it cancels the request
        and waits for the worker to finish it, killing it past the cancel deadline.

        Raises:
            UsageError: the request is larger than the protocol takes (nothing was sent).
            EngineError: the worker answered with an error.
            EngineCrashed: the worker died (not by a cancel) or stopped responding.
        """
        rid = self._send(worker, op, fields)
        self._current = rid
        finished = False  # nothing left to cancel
        try:
            while not finished:
                try:
                    event = await self._next_event(worker, rid)
                except EngineCrashed:
                    if worker.killed_by_us is not KillReason.CANCEL_IGNORED:
                        raise
                    return
                except EngineError:
                    # The worker answered with an error: the request is over, and a
                    # cancel would go unanswered and get the worker killed.
                    finished = True
                    raise
                finished = event.get("event") == "done"
                yield event
        finally:
            self._current = None
            if not finished and not worker.dead:
                await self._abandon(worker, rid)
            worker.pending.pop(rid, None)

    def _result(self, event: dict[str, Any], t_send: float, t_first: float) -> GenerationResult:
        stats = GenerationStats.from_dict(event["stats"])
        t_end = time.perf_counter()
        if t_first:
            # Measured here, so IPC and the worker's own overhead are counted.
            decode_s = t_end - t_first
            rate = (stats.generated_tokens - 1) / decode_s if decode_s > 0 else 0.0
            stats = GenerationStats(
                **{
                    **stats.to_dict(),
                    "ttft_s": t_first - t_send,
                    "tokens_per_s": rate if stats.generated_tokens > 1 else 0.0,
                    "total_s": t_end - t_send,
                }
            )
        info = self._model_info
        return GenerationResult(
            text=str(event.get("text", "")),
            stats=stats,
            model_id=info.model_id if info else "",
            backend=info.backend if info else "",
            reasoning=str(event.get("reasoning", "")),
        )

    def _cancelled_result(
        self, pieces: list[str], t_send: float, t_first: float
    ) -> GenerationResult:
        now = time.perf_counter()
        stats = GenerationStats(
            prompt_tokens=0,
            cached_tokens=0,
            generated_tokens=len(pieces),
            ttft_s=(t_first - t_send) if t_first else 0.0,
            tokens_per_s=0.0,
            prompt_tokens_per_s=0.0,
            total_s=now - t_send,
            stop_reason="cancelled",
        )
        info = self._model_info
        return GenerationResult(
            "".join(pieces), stats, info.model_id if info else "", info.backend if info else ""
        )

    async def _abandon(self, worker: _Worker, rid: int) -> None:
        """The consumer stopped listening: cancel and wait for the worker to finish."""
        self._send_cancel(worker, rid)
        try:
            await asyncio.wait_for(self._drain(worker, rid), self._cancel_deadline_s)
        except (asyncio.TimeoutError, EngineError):
            await self._kill(worker, KillReason.CANCEL_IGNORED)

    async def _drain(self, worker: _Worker, rid: int) -> None:
        while True:
            event = await self._next_event(worker, rid)
            if event.get("event") == "done":
                return

    def _send_cancel(self, worker: _Worker, rid: int) -> None:
        assert worker.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            worker.proc.stdin.write(protocol.encode({"id": 0, "op": "cancel", "target": rid}))

    async def cancel(self) -> None:
        """Stop the generation in progress, if any.

        The worker stops between two tokens (or inside the prompt's evaluation); if
        it has not finished within the deadline it is killed, and the generation
        ends with stop_reason "cancelled" all the same.
        """
        if self._remote is not None:
            self._remote.cancel()
            return
        worker, rid = self._worker, self._current
        if worker is None or worker.dead or rid is None:
            return
        self._cancels += 1
        self._send_cancel(worker, rid)

        async def watchdog() -> None:
            await asyncio.sleep(self._cancel_deadline_s)
            if rid in worker.pending and not worker.dead:
                await self._kill(worker, KillReason.CANCEL_IGNORED)

        task = asyncio.create_task(watchdog(), name="engine-cancel-watchdog")
        self._watchdogs.add(task)
        task.add_done_callback(self._watchdogs.discard)

    async def restart(self) -> ModelInfo | None:
        """Stop the worker (if any), start a fresh one and reload the current model.

        Returns:
            The reloaded model, or None when no model was loaded.
        """
        async with self._lock:
            if self._remote is not None:
                return self._model_info  # the worker holds no model: nothing to restart
            if self._worker is not None and not self._worker.dead:
                await self._kill(self._worker, KillReason.RESTART)
            if self._model_request is None:
                await self._ensure_worker()
                return None
            await self._ensure_model()
            return self._model_info

    async def aclose(self) -> None:
        """Shut the worker down; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._watchdogs):
            task.cancel()
        await self._drop_remote()
        worker = self._worker
        if worker is None or worker.dead:
            return
        assert worker.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            worker.proc.stdin.write(protocol.encode({"id": 0, "op": "shutdown"}))
            worker.proc.stdin.close()
        try:
            await asyncio.wait_for(worker.proc.wait(), 5.0)
        except asyncio.TimeoutError:
            await self._kill(worker, KillReason.SHUTDOWN_TIMEOUT)
        for task in worker.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 2.0)


def _shift_event(
    on_event: Callable[[int, TokenEvent | GenerationResult], None],
    start: int,
    index: int,
    event: TokenEvent | GenerationResult,
) -> None:
    """Report an event of a batch's prompt ``index`` as the caller's prompt ``start + index``."""
    on_event(start + index, event)


def _too_large(op: str, size: int, limit: int) -> str:
    """The refusal of a request larger than ``limit`` bytes."""
    what, advice = "The text", "Shorten it or split it into parts."
    if op in _CONVERSATION_OPS:
        what = "The conversation"
        advice = "Shorten its longest messages or start a new conversation."
    return (
        f"{what} is {size / _MIB:.1f} MB, more than the {limit / _MIB:.1f} MB the engine "
        f"takes at once. {advice}"
    )


def _describe_exit(rc: int, log_tail: Sequence[str]) -> str:
    """One line saying how the worker ended, with its last error if it logged one."""
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        how = f"killed by {name}"
        if name == "SIGKILL":
            how += " — possibly out of memory"
        elif name == "SIGABRT":
            how += " — llama.cpp aborted"
        elif name == "SIGSEGV":
            how += " — llama.cpp crashed"
    else:
        how = f"exited with status {rc}"
    errors = [
        line
        for line in log_tail
        if any(k in line for k in ("ERROR", "GGML_ASSERT", "error", "Traceback"))
    ]
    return f"{how}; last error: {errors[-1][:300]}" if errors else how
