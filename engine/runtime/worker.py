"""The engine worker process: owns the model, serves one request at a time over JSON lines.

Started as ``python -m engine.runtime.worker`` (or ``hearth --engine-worker`` when frozen).
A crafted or corrupt GGUF can crash llama.cpp (llama.cpp's SECURITY.md tells users to
sandbox untrusted models), so the model lives here and a crash costs the GUI nothing.

Threads: the main thread is the model thread — it loads, generates and unloads. A
reader thread parses stdin and sets the cancel flag the moment a ``cancel`` arrives. A
heartbeat thread says the worker is alive while a request runs, even when the model
thread is inside one long native call (a model load, a long prompt's evaluation).

The worker does not outlive its client: on Linux the kernel kills it when the client
dies, and everywhere the end of stdin (the client closed it, or died) stops it within
:data:`EOF_GRACE_S`, whatever the model thread is doing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.errors import Cancelled, EngineError, NoModelLoaded, TemplateError, UsageError
from engine.models.hardware import probe_llama_build
from engine.notices import Notice, NoticeCode, render_notice
from engine.runtime import protocol
from engine.runtime.backends.base import Backend, BackendLoadParams, LoadedModelFacts, RawGeneration
from engine.runtime.chat_prompt import ChatPromptEncoder, PlainTextMemo
from engine.runtime.chat_templates import (
    FALLBACK_STOP,
    ChatTemplate,
    TemplateRenderHung,
    probe_template,
)
from engine.runtime.context import fit_conversation, output_reserve
from engine.runtime.reasoning import (
    Channel,
    HarmonySplitter,
    ReasoningSplitter,
    prompt_opens_thinking,
    split_reasoning,
    template_can_think,
    template_has_thinking_switch,
    template_writes_channels,
)
from engine.runtime.template_budget import TemplateRefused
from engine.types import ChatMessage, GenerationStats, LoadRequest, SamplingParams

if TYPE_CHECKING:
    from engine.runtime.backends.llamacpp import LlamaCppBackend

log = logging.getLogger("engine.worker")

#: Token events are sent at most this often (after the first): one per token would
#: wake the client for every token, which costs decode speed when llama.cpp's threads
#: use every core.
TOKEN_FLUSH_S = 0.05
#: After stdin ends the model thread has this long to finish cleanly before the process
#: exits anyway: a model load or a long tokenization cannot be interrupted, and a worker
#: with no client must not hold its memory for the minute such a call can take.
EOF_GRACE_S = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
#: The keys every request carries besides its own fields.
_ENVELOPE = ("id", "op")


class _TokenBatcher:
    """Sends a request's generated text in batches, as ``token`` events (model thread).

    The first piece goes out at once (time to first token); later ones at most every
    :data:`TOKEN_FLUSH_S`, so the client is not woken for every token. Used as a context
    manager, it sends what is left when the generation ends, however it ends.
    """

    def __init__(self, send: Callable[[dict[str, Any]], None], rid: int) -> None:
        self._send = send
        self._rid = rid
        #: Text not sent yet, by sequence (None: the request's only sequence) and whether
        #: it is thinking; thinking is queued before the answer that follows it.
        self._pending: dict[tuple[int | None, bool], list[str]] = {}
        self._last_sent = 0.0

    def add(self, text: str, *, reasoning: bool = False) -> None:
        """Queue ``text`` of the request's only sequence; send everything if it is time."""
        self.add_to(None, text, reasoning=reasoning)

    def add_to(self, index: int | None, text: str, *, reasoning: bool = False) -> None:
        """Queue ``text`` of sequence ``index`` (thinking if ``reasoning``); send everything
        if it is time."""
        self._pending.setdefault((index, reasoning), []).append(text)
        if not self._last_sent or time.perf_counter() - self._last_sent >= TOKEN_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Send every piece queued so far."""
        if not self._pending:
            return
        for (index, reasoning), pieces in self._pending.items():
            where = {} if index is None else {"index": index}
            kind = {"reasoning": True} if reasoning else {}
            self._send(
                {"id": self._rid, "event": "token", **where, **kind, "text": "".join(pieces)}
            )
        self._pending.clear()
        self._last_sent = time.perf_counter()

    def __enter__(self) -> _TokenBatcher:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.flush()


class Worker:
    """Serves requests; every method runs on the model thread unless it says otherwise."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._out_lock = threading.Lock()
        self._backend: Backend | None = None
        self._facts: LoadedModelFacts | None = None
        #: An embedding model loaded beside the model (``embed`` with a model named), and
        #: its file: embeddings for a search index while a chat model stays loaded.
        self._embedder: tuple[str, LlamaCppBackend] | None = None
        self._template: ChatTemplate | None = None
        self._plain_memo: tuple[Backend | None, PlainTextMemo] = (None, PlainTextMemo())
        self._model_id = ""
        self._current_id = -1
        self._cancel = threading.Event()
        self._cancelled_ids: set[int] = set()
        self._state_lock = threading.Lock()
        self.exit_after_reply = False

    # -- output ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a request is being served (any thread)."""
        return self._current_id != -1

    def send(self, message: dict[str, Any]) -> None:
        """Write one message (any thread); exit if the client is gone."""
        data = protocol.encode(message)
        if len(data) > protocol.MAX_EVENT_BYTES:
            data = protocol.encode(_too_large_answer(message, len(data)))
        try:
            with self._out_lock:
                self._out.write(data)
                self._out.flush()
        except (BrokenPipeError, ConnectionResetError):
            # Nobody reads the answers any more: stop now rather than finish the work.
            os._exit(0)

    def refuse_line(self, rid: int | None, problem: str) -> None:
        """Answer a request line that could not be read (reader thread)."""
        log.error("Refused a request line: %s", problem)
        if rid is not None:
            self._send_error(rid, UsageError(problem))

    # -- cancel (reader thread) ----------------------------------------------------

    def cancel(self, target: int) -> None:
        """Stop request ``target`` if it is running, or skip it when it starts."""
        with self._state_lock:
            if target == self._current_id:
                self._cancel.set()
            else:
                self._cancelled_ids.add(target)

    def cancel_current(self) -> None:
        """Stop whatever request is running (the client went away)."""
        with self._state_lock:
            self._cancel.set()

    # -- dispatch ------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> None:
        """Serve one request, always answering with a result, done or error."""
        rid = int(request.get("id", -1))
        op = request.get("op")
        with self._state_lock:
            self._current_id = rid
            self._cancel = threading.Event()
            if rid in self._cancelled_ids:
                self._cancelled_ids.discard(rid)
                self._cancel.set()
        try:
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                raise EngineError(f"The engine does not know the request {op!r}.")
            handler(rid, request)
        except TemplateRenderHung as exc:
            self.exit_after_reply = True
            self._send_error(rid, exc)
        except EngineError as exc:
            self._send_error(rid, exc)
        except MemoryError:
            self._send_error(rid, EngineError("The engine ran out of memory."))
        except Exception as exc:  # a bug: report it with its type, keep serving
            log.exception("Request %s (%s) failed", rid, op)
            self._send_error(rid, EngineError(f"Internal error: {type(exc).__name__}: {exc}"))
        finally:
            with self._state_lock:
                self._current_id = -1

    def _send_error(self, rid: int, exc: EngineError) -> None:
        self.send({"id": rid, "event": "error", "type": type(exc).__name__, "message": str(exc)})

    # -- operations ------------------------------------------------------------------

    def _op_ping(self, rid: int, _req: dict[str, Any]) -> None:
        self.send({"id": rid, "event": "result", "value": "pong"})

    def _op_load(self, rid: int, req: dict[str, Any]) -> None:
        request = LoadRequest.from_dict({k: v for k, v in req.items() if k not in _ENVELOPE})
        self._unload()
        params = BackendLoadParams(
            path=request.path,
            n_ctx=request.n_ctx,
            n_gpu_layers=request.n_gpu_layers,
            n_threads=request.n_threads,
            n_threads_batch=request.n_threads_batch,
            flash_attn=request.flash_attn,
            n_seq_max=request.n_parallel,
        )
        warnings = list(request.warning_notices)
        reason = request.plan_notice
        device = request.device
        t0 = time.perf_counter()
        loaded: tuple[Backend, LoadedModelFacts] | None = None
        name = "llamacpp"
        if request.backend == "torch":
            torch = self._load_torch(params, device, request.torch_weights)
            if isinstance(torch, Notice):
                warnings.append(torch)
                reason = Notice(NoticeCode.TORCH_FAILED_SO_LLAMA)
                params = replace(params, n_gpu_layers=0)
            else:
                name = "torch"
                loaded, memory = torch[:2], torch[2]
                reason = Notice(NoticeCode.WITH_TORCH_MEMORY, {"reason": reason, "memory": memory})
        if loaded is None:
            loaded = self._load_llama(params, warnings)
        backend, facts = loaded
        if request.chat_template_override:
            # The user's choice for this model (engine.runtime.chat_formats) in place of
            # the GGUF's: checked and sandboxed exactly like the GGUF's own.
            facts = replace(facts, chat_template=request.chat_template_override)
        self._backend = backend
        self._facts = facts
        self._model_id = request.model_id or params.path
        self._template, template_warning, refused = self._choose_template(
            facts, force_fallback=request.fallback_template
        )
        if template_warning is not None and not facts.embedding:
            warnings.append(template_warning)
        if facts.n_gpu_layers <= 0:
            device = "cpu"
        thinks = not self._template.is_fallback and template_can_think(self._template.source)
        info = {
            "model_id": self._model_id,
            "path": params.path,
            "architecture": request.architecture,
            "n_ctx": facts.n_ctx,
            "n_ctx_train": facts.n_ctx_train,
            "backend": name,
            "device": device,
            "n_gpu_layers": facts.n_gpu_layers,
            "n_threads": params.n_threads,
            "plan_notice": reason.to_dict(),
            "chat_template": _template_kind(self._template, request),
            "fim": facts.fim is not None,
            "embedding": facts.embedding,
            "template_refused": refused,
            "thinks": thinks,
            "parameters": request.parameters,
            "thinking_switch": thinks and template_has_thinking_switch(self._template.source),
            "warning_notices": [w.to_dict() for w in warnings],
            "load_s": time.perf_counter() - t0,
        }
        self.send({"id": rid, "event": "result", "value": info})

    def _load_llama(
        self, params: BackendLoadParams, warnings: list[Notice]
    ) -> tuple[Backend, LoadedModelFacts]:
        from engine.runtime.backends.llamacpp import LlamaCppBackend

        backend = LlamaCppBackend()
        try:
            facts = backend.load(params)
        except EngineError as first:
            if params.n_gpu_layers <= 0:
                raise
            # A GPU failure at load falls back to the CPU, and says why.
            log.warning("GPU load failed (%s); retrying on the CPU", first)
            facts = backend.load(replace(params, n_gpu_layers=0))
            warnings.append(Notice(NoticeCode.GPU_LOAD_FAILED, {"error": str(first)}))
        return backend, facts

    def _load_torch(
        self, params: BackendLoadParams, device: str, weights: str
    ) -> tuple[Backend, LoadedModelFacts, Notice] | Notice:
        """Load with the PyTorch backend: the backend, the model's facts and what its weights
        and cache take; or, if it cannot, the warning that says why.

        torch is imported here, in the worker only, and only when the plan chose it.
        Cancelled loads are not failures: they propagate.
        """
        try:
            from engine.runtime.backends.torch_llama import TorchLlamaBackend
        except ImportError as exc:
            return Notice(
                NoticeCode.TORCH_IMPORT_FAILED,
                {"error": str(exc), "command": "pip install hearth[torch]"},
            )
        backend = TorchLlamaBackend(device=device, weights=weights)
        try:
            facts = backend.load(params)
        except Cancelled:
            raise
        except (EngineError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError):
                log.exception("The PyTorch backend failed to load %s", params.path)
            backend.close()
            return Notice(NoticeCode.TORCH_LOAD_FAILED, {"error": str(exc)})
        assert backend.memory_notice is not None, "set by every load that returns"
        return backend, facts, backend.memory_notice

    def _choose_template(
        self, facts: LoadedModelFacts, *, force_fallback: bool
    ) -> tuple[ChatTemplate, Notice | None, bool]:
        """The chat template to use, a notice for the user (or None), and whether the
        model's own template was refused."""
        if force_fallback or not facts.chat_template:
            note = None if force_fallback else Notice(NoticeCode.NO_CHAT_TEMPLATE)
            return ChatTemplate.fallback(), note, False
        try:
            template = ChatTemplate(
                facts.chat_template, bos_token=facts.bos_text, eos_token=facts.eos_text
            )
            probe_template(template)
        except TemplateRenderHung as exc:
            self.exit_after_reply = True
            return ChatTemplate.fallback(), _refusal_note(exc), True
        except TemplateError as exc:
            return ChatTemplate.fallback(), _refusal_note(exc), True
        return template, None, False

    def _unload(self) -> None:
        """Free the model (an embedding model kept beside it stays: see :meth:`close`)."""
        if self._backend is not None:
            self._backend.close()
        self._backend = None
        self._facts = None
        self._template = None
        self._model_id = ""

    def _unload_embedder(self) -> None:
        if self._embedder is not None:
            self._embedder[1].close()
            self._embedder = None

    def _op_unload(self, rid: int, _req: dict[str, Any]) -> None:
        self._unload()
        self._unload_embedder()
        self.send({"id": rid, "event": "result", "value": None})

    def _loaded(self) -> tuple[Backend, LoadedModelFacts, ChatTemplate]:
        if self._backend is None or self._facts is None or self._template is None:
            raise NoModelLoaded("No model is loaded. Choose a model first.")
        return self._backend, self._facts, self._template

    @contextmanager
    def _chat_prompts(self) -> Iterator[ChatPromptEncoder]:
        """An encoder for this request's chat prompts; a hostile template is retired.

        A template that passed the probe at load can still turn hostile on a real
        conversation (it may test the messages' text). It is refused then, and the
        model goes on with the fallback format rather than refusing every request.
        """
        backend, facts, template = self._loaded()
        if self._plain_memo[0] is not backend:  # what is plain depends on the vocabulary
            self._plain_memo = (backend, PlainTextMemo())
        try:
            yield ChatPromptEncoder(
                template,
                backend,
                add_bos=facts.add_bos,
                bos_text=facts.bos_text,
                memo=self._plain_memo[1],
            )
        except TemplateRefused as exc:
            if template.is_fallback or isinstance(exc, TemplateRenderHung):
                raise  # a hung render restarts the worker (see handle)
            self._template = ChatTemplate.fallback()
            retired = Notice(NoticeCode.TEMPLATE_RETIRED, {"detail": _sentence(str(exc))})
            raise TemplateError(render_notice(retired)) from exc

    def _prompt_tokens(self, text: str) -> list[int]:
        backend, facts, _ = self._loaded()
        # Templates that already write the BOS text must not get a second BOS.
        add_bos = facts.add_bos and not (facts.bos_text and text.startswith(facts.bos_text))
        return backend.tokenize(text, add_special=add_bos, parse_special=True)

    def _op_tokenize(self, rid: int, req: dict[str, Any]) -> None:
        backend, _, _ = self._loaded()
        tokens = backend.tokenize(
            str(req["text"]),
            add_special=bool(req.get("add_special", False)),
            parse_special=bool(req.get("parse_special", True)),
        )
        self.send({"id": rid, "event": "result", "value": tokens})

    def _op_embed(self, rid: int, req: dict[str, Any]) -> None:
        """Embed texts (or token ids): ``{inputs, model}``, ``model`` a load request for an
        embedding model kept beside the loaded one, or null for the loaded model."""
        inputs = req.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise UsageError("Give one text, or a list of texts, to embed.")
        backend = self._embedding_backend(req.get("model"))
        token_lists: list[list[int]] = []
        for index, item in enumerate(inputs):
            if not item:
                raise UsageError(f"Input {index} is empty: there is nothing to embed.")
            if isinstance(item, str):
                # Texts never become control tokens; the model's own markers are added.
                token_lists.append(backend.tokenize(item, add_special=True, parse_special=False))
            elif isinstance(item, list) and all(_is_token(t) for t in item):
                token_lists.append([int(t) for t in item])
            else:
                raise UsageError("Each input must be a text or a list of token ids.")
        vectors = backend.embed(token_lists)
        value = {"vectors": vectors, "tokens": [len(t) for t in token_lists]}
        self.send({"id": rid, "event": "result", "value": value})

    def _embedding_backend(self, model: Any) -> LlamaCppBackend:
        """The backend that embeds: the loaded model, or the embedding model ``model``
        names (loaded now if it is not already)."""
        from engine.runtime.backends.llamacpp import LlamaCppBackend

        if model is None:
            backend = self._backend
            if backend is None:
                raise NoModelLoaded("No model is loaded. Choose an embedding model first.")
            if not isinstance(backend, LlamaCppBackend) or not backend.embedding:
                raise UsageError(
                    f"The loaded model {self._model_id} writes text; it does not make "
                    "embeddings. Name an embedding model (such as all-MiniLM-L6-v2)."
                )
            return backend
        request = LoadRequest.from_dict(model)
        main = self._backend
        if (
            isinstance(main, LlamaCppBackend)
            and main.embedding
            and self._facts is not None
            and self._model_id in (request.model_id, request.path)
        ):
            return main
        if self._embedder is not None and self._embedder[0] == request.path:
            return self._embedder[1]
        self._unload_embedder()
        backend = LlamaCppBackend()
        facts = backend.load(
            BackendLoadParams(
                path=request.path,
                n_ctx=request.n_ctx,
                n_gpu_layers=request.n_gpu_layers,
                n_threads=request.n_threads,
                n_threads_batch=request.n_threads_batch,
                flash_attn=request.flash_attn,
            )
        )
        if not facts.embedding:
            backend.close()
            name = request.model_id or os.path.basename(request.path)
            raise UsageError(
                f"{name} writes text; it is not an embedding model (its header declares no "
                "pooling). Name an embedding model, such as all-MiniLM-L6-v2."
            )
        self._embedder = (request.path, backend)
        return backend

    def _op_json_grammar(self, rid: int, req: dict[str, Any]) -> None:
        """The GBNF grammar of JSON answers matching ``schema`` (any JSON object if None)."""
        from engine.runtime.grammar import json_grammar

        schema = req.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise UsageError("The JSON schema must be a JSON object.")
        self.send({"id": rid, "event": "result", "value": json_grammar(schema)})

    def _op_chat_tokens(self, rid: int, req: dict[str, Any]) -> None:
        _, facts, _ = self._loaded()
        with self._chat_prompts() as prompts:
            _, tokens = prompts.encode(req["messages"])
        value = {"tokens": len(tokens), "n_ctx": facts.n_ctx}
        self.send({"id": rid, "event": "result", "value": value})

    def _op_render_chat(self, rid: int, req: dict[str, Any]) -> None:
        _, _, template = self._loaded()
        with self._chat_prompts():
            text = template.render(req["messages"])
        value = {"text": text, "fallback": template.is_fallback}
        self.send({"id": rid, "event": "result", "value": value})

    def _op_chat(self, rid: int, req: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        backend, facts, template = self._loaded()
        params = SamplingParams.from_dict(req.get("params", {}))
        if template.is_fallback:
            params = replace(params, stop=params.stop + FALLBACK_STOP)
        messages = [ChatMessage(m["role"], m["content"]) for m in req["messages"]]
        thinking = req.get("thinking")
        if params.grammar:
            # JSON mode: the grammar holds the answer from its first token, so there is no
            # room to think first; a template with the switch is told so, and what comes
            # out is the answer (a lazy grammar that starts after the thinking, as
            # llama-server has, would keep the thinking).
            thinking = False
        template.enable_thinking = thinking if isinstance(thinking, bool) else None
        try:
            with self._chat_prompts() as prompts:
                fitted = fit_conversation(
                    messages,
                    render=prompts.render,
                    tokenize=prompts.tokenize,
                    detokenize=backend.detokenize,
                    n_ctx=facts.n_ctx,
                    max_tokens=params.max_tokens,
                    policy=req.get("policy", "truncate"),
                )
        finally:
            template.enable_thinking = None
        splitter: ReasoningSplitter | HarmonySplitter | None = None
        # In JSON mode the answer is what the grammar allowed, all of it.
        own_template = not template.is_fallback and not params.grammar
        if own_template and template_writes_channels(template.source):
            splitter = HarmonySplitter()
        elif own_template and template_can_think(template.source):
            splitter = ReasoningSplitter(opened=prompt_opens_thinking(fitted.text))
        self._generate(
            rid, t0, fitted.tokens, params, fitted.dropped_messages, fitted.truncated, splitter
        )

    def _op_complete(self, rid: int, req: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        _, facts, _ = self._loaded()
        params = SamplingParams.from_dict(req.get("params", {}))
        tokens = self._prompt_tokens(str(req["prompt"]))
        budget = facts.n_ctx - output_reserve(facts.n_ctx, params.max_tokens)
        truncated = len(tokens) > budget
        if truncated:
            tokens = tokens[-budget:]  # keep the end: that is what the completion continues
        self._generate(rid, t0, tokens, params, 0, truncated)

    def _op_infill(self, rid: int, req: dict[str, Any]) -> None:
        """Fill in the middle: the text between ``prefix`` and ``suffix`` (code completion).

        The prompt is the model's FIM tokens around the two texts (prefix, suffix,
        middle order) after the BOS only where the vocabulary adds one, the texts
        tokenized without special-token parsing so code that happens to contain a
        token's spelling stays text. It ends at the model's end, FIM pad or file
        separator token (``FimTokens.stops``). When it does not fit, the end of the
        prefix (three quarters of the room) and the start of the suffix are kept.
        """
        t0 = time.perf_counter()
        backend, facts, _ = self._loaded()
        fim = facts.fim
        if fim is None:
            raise EngineError(
                "The loaded model has no fill-in-the-middle tokens; load a code model "
                "that has them (Qwen2.5-Coder, StarCoder2, CodeGemma…)."
            )
        params = SamplingParams.from_dict(req.get("params", {}))
        prefix = backend.tokenize(str(req["prefix"]), add_special=False, parse_special=False)
        suffix = backend.tokenize(str(req["suffix"]), add_special=False, parse_special=False)
        room = facts.n_ctx - output_reserve(facts.n_ctx, params.max_tokens) - 3 - len(fim.head)
        keep_suffix = min(len(suffix), max(room // 4, room - len(prefix)))
        keep_prefix = min(len(prefix), room - keep_suffix)
        truncated = keep_prefix < len(prefix) or keep_suffix < len(suffix)
        tokens = [
            *fim.head,
            fim.prefix,
            *prefix[len(prefix) - keep_prefix :],
            fim.suffix,
            *suffix[:keep_suffix],
            fim.middle,
        ]
        self._generate(rid, t0, tokens, params, 0, truncated)

    def _op_complete_many(self, rid: int, req: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        backend, facts, _ = self._loaded()
        params = SamplingParams.from_dict(req.get("params", {}))
        budget = facts.n_ctx - output_reserve(facts.n_ctx, params.max_tokens)
        prompts: list[list[int]] = []
        truncated: list[bool] = []
        _, _, template = self._loaded()
        # JSON mode: no thinking first (see _op_chat); the answer is all the grammar allowed.
        thinks = (
            not params.grammar and not template.is_fallback and template_can_think(template.source)
        )
        #: Per conversation prompt of a reasoning model: whether the prompt opened the
        #: thinking block (None: a raw prompt, or a model that does not think).
        opened: list[bool | None] = []
        template.enable_thinking = False if params.grammar else None
        try:
            with self._chat_prompts() as chats:
                for prompt in req["prompts"]:
                    # A prompt is raw text, or a conversation (a list of messages) whose
                    # texts must not become control tokens.
                    if isinstance(prompt, list):
                        text, tokens = chats.encode(prompt)
                        opened.append(prompt_opens_thinking(text) if thinks else None)
                    else:
                        tokens = self._prompt_tokens(str(prompt))
                        opened.append(None)
                    truncated.append(len(tokens) > budget)
                    prompts.append(tokens[-budget:] if len(tokens) > budget else tokens)
        finally:
            template.enable_thinking = None
        if template.is_fallback and any(isinstance(p, list) for p in req["prompts"]):
            params = replace(params, stop=params.stop + FALLBACK_STOP)

        def stats_of(index: int, raw: RawGeneration) -> dict[str, Any]:
            return GenerationStats(
                prompt_tokens=raw.prompt_tokens,
                cached_tokens=0,
                generated_tokens=raw.generated_tokens,
                ttft_s=(t_gen - t0) + raw.ttft_s,
                tokens_per_s=_rate(raw.generated_tokens - 1, raw.decode_s),
                prompt_tokens_per_s=_rate(raw.prompt_tokens, raw.prompt_eval_s),
                total_s=time.perf_counter() - t0,
                stop_reason=raw.stop_reason,
                truncated=truncated[index],
            ).to_dict()

        finished: dict[int, dict[str, Any]] = {}
        batcher = _TokenBatcher(self.send, rid)

        def result_of(index: int, raw: RawGeneration) -> dict[str, Any]:
            if opened[index] is None:
                return {"text": raw.text, "stats": stats_of(index, raw)}
            # A reasoning model's thinking is never part of the answer (a summary's).
            reasoning, answer = split_reasoning(raw.text, opened=bool(opened[index]))
            return {"text": answer, "reasoning": reasoning, "stats": stats_of(index, raw)}

        def on_done(index: int, raw: RawGeneration) -> None:
            batcher.flush()  # this sequence's last text goes out before its result
            finished[index] = result_of(index, raw)
            self.send({"id": rid, "event": "seq_done", "index": index, **finished[index]})

        t_gen = time.perf_counter()
        with batcher:
            raws = backend.generate_many(prompts, params, self._cancel, batcher.add_to, on_done)
        results = [finished.get(i) or result_of(i, raw) for i, raw in enumerate(raws)]
        self.send(
            {
                "id": rid,
                "event": "done",
                "results": results,
                "n_parallel": backend.n_seq_max,
                "total_s": time.perf_counter() - t0,
            }
        )

    def _generate(
        self,
        rid: int,
        t0: float,
        tokens: list[int],
        params: SamplingParams,
        dropped: int,
        truncated: bool,
        splitter: ReasoningSplitter | HarmonySplitter | None = None,
    ) -> None:
        """Generate and stream; with a ``splitter``, a reasoning model's thinking is sent
        and counted apart from the answer."""
        backend, _, _ = self._loaded()
        t_gen = time.perf_counter()
        reasoning_tokens = 0

        def on_text(text: str) -> None:
            nonlocal reasoning_tokens
            if splitter is None:
                batcher.add(text)
                return
            # The backend calls once per token: a token read while thinking is thinking's
            # (the closing marker's included).
            if splitter.thinking or not (splitter.answer or splitter.reasoning):
                reasoning_tokens += 1
            for piece in splitter.feed(text):
                batcher.add(piece.text, reasoning=piece.channel is Channel.REASONING)

        try:
            with _TokenBatcher(self.send, rid) as batcher:
                raw = backend.generate(
                    tokens,
                    params,
                    self._cancel,
                    on_text,
                    special=isinstance(splitter, HarmonySplitter),
                )
                if splitter is not None:
                    for piece in splitter.finish():
                        batcher.add(piece.text, reasoning=piece.channel is Channel.REASONING)
        except Cancelled:
            stats = GenerationStats(
                prompt_tokens=len(tokens),
                cached_tokens=0,
                generated_tokens=0,
                ttft_s=0.0,
                tokens_per_s=0.0,
                prompt_tokens_per_s=0.0,
                total_s=time.perf_counter() - t0,
                stop_reason="cancelled",
                dropped_messages=dropped,
                truncated=truncated,
            )
            self.send({"id": rid, "event": "done", "text": "", "stats": stats.to_dict()})
            return
        evaluated = raw.prompt_tokens - raw.cached_tokens
        stats = GenerationStats(
            prompt_tokens=raw.prompt_tokens,
            cached_tokens=raw.cached_tokens,
            generated_tokens=raw.generated_tokens,
            ttft_s=(t_gen - t0) + raw.ttft_s,
            tokens_per_s=_rate(raw.generated_tokens - 1, raw.decode_s),
            prompt_tokens_per_s=_rate(evaluated, raw.prompt_eval_s),
            total_s=time.perf_counter() - t0,
            stop_reason=raw.stop_reason,
            dropped_messages=dropped,
            truncated=truncated,
            reasoning_tokens=reasoning_tokens if splitter and splitter.reasoning else 0,
            draft_tokens=raw.draft_tokens,
            accepted_tokens=raw.accepted_tokens,
        )
        done: dict[str, Any] = {"id": rid, "event": "done", "text": raw.text}
        if splitter is not None:
            done["text"] = splitter.answer.strip()
            done["reasoning"] = splitter.reasoning.rstrip()
        self.send({**done, "stats": stats.to_dict()})

    def close(self) -> None:
        """Free the model and the embedding model (model thread)."""
        self._unload()
        self._unload_embedder()


def _sentence(text: str) -> str:
    """``text`` with a capital first letter, to open a sentence."""
    return f"{text[:1].upper()}{text[1:]}"


def _template_kind(template: ChatTemplate, request: LoadRequest) -> str:
    """What ModelInfo.chat_template says: "fallback", "override" (the user's) or "gguf"."""
    if template.is_fallback:
        return "fallback"
    return "override" if request.chat_template_override else "gguf"


def _refusal_note(exc: TemplateError) -> Notice:
    """The warning for a template refused at load: what it did, and what Hearth does instead.

    Either code tells the client never to run that template again after a restart (see
    EngineClient.load).
    """
    if isinstance(exc, TemplateRefused):  # "the model's chat template ...; Hearth refused it"
        return Notice(NoticeCode.TEMPLATE_REFUSED, {"detail": _sentence(str(exc))})
    return Notice(NoticeCode.TEMPLATE_FAILED, {"error": str(exc)})


def _is_token(value: object) -> bool:
    """A token id as JSON carries one (a bool is no token)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 and count > 0 else 0.0


def _too_large_answer(message: dict[str, Any], size: int) -> dict[str, Any]:
    """The error sent instead of an answer longer than the client reads."""
    limit = protocol.MAX_EVENT_BYTES // (1024 * 1024)
    text = (
        f"The engine's answer is {size / (1024 * 1024):,.0f} MB, more than the {limit} MB "
        "it sends at once. Ask about less text at a time."
    )
    return {"id": message.get("id", 0), "event": "error", "type": "UsageError", "message": text}


def _too_long_problem(size: int) -> str:
    limit = protocol.MAX_REQUEST_BYTES // (1024 * 1024)
    return (
        f"The request is {size / (1024 * 1024):,.1f} MB, more than the {limit} MB the engine "
        "reads at once. Send less text at a time."
    )


def _follow_parent() -> None:
    """On Linux, have the kernel kill this process when the client that started it dies.

    The kernel signals when the *thread* that started the worker ends; EngineClient
    starts it from its event loop's thread, which lives as long as the client does.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning("Could not follow the client's lifetime: errno %s", ctypes.get_errno())
    client = os.environ.get(protocol.CLIENT_PID_ENV, "")
    if client.isdigit() and os.getppid() != int(client):
        os._exit(0)  # the client died before the request to follow it took effect


def _heartbeat_interval() -> float:
    try:
        interval = float(os.environ.get(protocol.HEARTBEAT_ENV, protocol.HEARTBEAT_S))
    except ValueError:
        return protocol.HEARTBEAT_S
    return interval if 0 < interval <= protocol.HEARTBEAT_S else protocol.HEARTBEAT_S


def _beat(worker: Worker, interval: float) -> None:
    """Say "alive" while a request runs (heartbeat thread).

    It needs the GIL only for a moment, which a native call (llama.cpp, torch) releases,
    so a client hears it while the model thread is busy; a stopped or wedged process
    sends nothing, and the client restarts it.
    """
    never = threading.Event()  # waited on as a timer: nothing sets it
    while not never.wait(interval):
        if worker.busy:
            worker.send({"id": 0, "event": "alive"})


def _read_requests(
    worker: Worker, requests: queue.Queue[dict[str, Any] | None], stopped: threading.Event
) -> None:
    """Queue the requests read from stdin, act on cancels at once, exit when stdin ends.

    Runs on the reader thread.
    """
    stdin = sys.stdin.buffer
    while True:
        try:
            line = protocol.read_line(stdin, protocol.MAX_REQUEST_BYTES)
        except protocol.LineTooLong as exc:
            worker.refuse_line(exc.request_id(), _too_long_problem(exc.size))
            continue
        if not line:
            break
        try:
            message = protocol.decode(line)
        except ValueError:
            worker.refuse_line(
                protocol.request_id_of(line), "The engine received a request it could not read."
            )
            continue
        if message.get("op") == "cancel":
            worker.cancel(int(message.get("target", -1)))
        else:
            requests.put(message)
    # The client is gone: stop what is running rather than talk to nobody, and exit even
    # if the model thread is inside a call that cannot be cancelled.
    worker.cancel_current()
    requests.put(None)
    if not stopped.wait(EOF_GRACE_S):
        os._exit(0)


def _open_protocol_channel() -> BinaryIO:
    """Take stdout for the protocol and point file descriptor 1 at stderr.

    Native code that prints to stdout would otherwise corrupt the JSON stream; this
    keeps everything it prints in the log (stderr), which the client captures.
    """
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "wb", buffering=0)


def main() -> int:
    """Run the worker until stdin closes or a ``shutdown`` request arrives."""
    out = _open_protocol_channel()
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("HEARTH_WORKER_LOG_LEVEL", "INFO"),
        format="%(levelname)s %(name)s: %(message)s",
    )
    _follow_parent()
    worker = Worker(out)
    requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
    stopped = threading.Event()
    threading.Thread(
        target=_read_requests, args=(worker, requests, stopped), name="protocol-reader", daemon=True
    ).start()
    threading.Thread(
        target=_beat, args=(worker, _heartbeat_interval()), name="heartbeat", daemon=True
    ).start()
    llama = probe_llama_build()
    if llama.available:
        from engine.runtime.backends.llamacpp import route_native_log

        route_native_log()
    hello = protocol.WorkerHello(os.getpid(), protocol.PROTOCOL_VERSION, llama)
    worker.send(hello.to_message())

    while True:
        request = requests.get()
        if request is None or request.get("op") == "shutdown":
            break
        worker.handle(request)
        if worker.exit_after_reply:
            log.error("A chat template could not be stopped; restarting the engine")
            out.flush()
            os._exit(75)
    worker.close()
    stopped.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
