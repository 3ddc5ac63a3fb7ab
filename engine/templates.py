"""Chat templates from GGUF files, rendered only in a bounded Jinja2 sandbox.

A GGUF's ``tokenizer.chat_template`` is code written by whoever made the file.
llama-cpp-python once rendered it in an unsandboxed environment and that was a
remote-code-execution hole (CVE-2024-34359), so here it runs in Jinja2's
immutable sandbox, with ``range`` bounded, the output size bounded, and the
render time bounded by a watchdog.
"""

from __future__ import annotations

import ctypes
import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import TemplateError

#: Templates bigger than this are refused outright (real ones are a few KiB).
MAX_TEMPLATE_CHARS = 256 * 1024
#: Seconds one render may take before the template is declared hostile.
RENDER_TIMEOUT_S = 2.0
#: Iterations ``range`` may produce over one render.
MAX_RANGE_ITEMS = 100_000

#: The format used when a model has no chat template, or its template was refused.
#: Plain role-prefixed turns work with base (non-instruction) models too; the
#: generation stops at the next "User:" turn (see FALLBACK_STOP).
FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n"
    "{% else %}Assistant: {{ message['content'] }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
FALLBACK_STOP: tuple[str, ...] = ("\nUser:", "\nAssistant:")


class _RenderBudget:
    """Counts what one render consumes, so loops cannot run away."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.range_items = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateError("the model's chat template took too long to render and was stopped")

    def bounded_range(self, *args: int) -> Iterator[int]:
        for value in range(*args):
            self.range_items += 1
            if self.range_items > MAX_RANGE_ITEMS:
                raise TemplateError("the model's chat template loops too many times")
            if self.range_items % 1024 == 0:
                self.check_time()
            yield value


def _raise_exception(message: str) -> None:
    raise TemplateError(f"the model's chat template refused the conversation: {message}")


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    # Hugging Face's templates expect tojson to keep non-ASCII text as is.
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    """A compiled chat template that renders conversations into prompt text.

    Runs on whichever thread calls :meth:`render` (the worker's model thread).

    Args:
        source: the Jinja2 template text.
        bos_token: text of the model's BOS token, passed to the template.
        eos_token: text of the model's EOS token, passed to the template.
        is_fallback: whether this is Hearth's fallback format rather than the model's.

    Raises:
        TemplateError: the template is too large or does not compile.
    """

    def __init__(
        self, source: str, *, bos_token: str = "", eos_token: str = "", is_fallback: bool = False
    ) -> None:
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateError(
                f"the model's chat template is {len(source):,} characters long; "
                f"Hearth refuses templates over {MAX_TEMPLATE_CHARS:,}"
            )
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.is_fallback = is_fallback
        self._env = _BoundedSandbox(
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.loopcontrols"],
            autoescape=False,
        )
        self._env.filters["tojson"] = _tojson
        self._env.globals["raise_exception"] = _raise_exception
        self._env.globals["strftime_now"] = _strftime_now
        try:
            self._template = self._env.from_string(source)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"the model's chat template does not compile: {exc}") from exc

    @classmethod
    def fallback(cls) -> ChatTemplate:
        """Hearth's documented format for models without a usable template."""
        return cls(FALLBACK_TEMPLATE, is_fallback=True)

    def render(
        self,
        messages: Sequence[dict[str, str]],
        *,
        add_generation_prompt: bool = True,
        timeout_s: float = RENDER_TIMEOUT_S,
    ) -> str:
        """Render a conversation into prompt text.

        The render runs on a helper thread so a template that never finishes can be
        abandoned; the output is bounded to a generous multiple of the input size.

        Args:
            messages: dicts with "role" and "content".
            add_generation_prompt: end with the assistant's turn opener.
            timeout_s: how long the render may take.

        Returns:
            The prompt text.

        Raises:
            TemplateError: the template raised, tried something the sandbox forbids,
                looped too long, produced too much text, or timed out.
        """
        input_chars = sum(len(m.get("content", "")) for m in messages)
        max_chars = 4 * input_chars + 64 * 1024 + 8 * len(self.source)
        budget = _RenderBudget(time.monotonic() + timeout_s)
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(self._render(messages, add_generation_prompt, budget, max_chars))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run, name="chat-template", daemon=True)
        thread.start()
        thread.join(timeout_s + 0.2)
        if thread.is_alive() and thread.ident is not None:
            # A loop that produces no output never reaches our checks; interrupt the
            # thread at its next bytecode with an asynchronous exception.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(_RenderInterrupted)
            )
            thread.join(1.0)
        if thread.is_alive():
            # Stuck inside C code: the caller treats the template as hostile and the
            # worker restarts (see worker.py), which frees the stuck thread.
            raise TemplateRenderHung(
                "the model's chat template did not finish rendering and was refused"
            )
        result = outcome[0] if outcome else _RenderInterrupted()
        if isinstance(result, _RenderInterrupted):
            raise TemplateError("the model's chat template took too long to render and was refused")
        if isinstance(result, TemplateError):
            raise result
        if isinstance(result, jinja2.exceptions.SecurityError):
            raise TemplateError(
                f"the model's chat template tried something unsafe and was refused ({result})"
            ) from result
        if isinstance(result, BaseException):
            raise TemplateError(f"the model's chat template failed: {result}") from result
        return str(result)

    def _render(
        self,
        messages: Sequence[dict[str, str]],
        add_generation_prompt: bool,
        budget: _RenderBudget,
        max_chars: int,
    ) -> str:
        context = {
            "messages": [dict(m) for m in messages],
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "range": budget.bounded_range,
        }
        pieces: list[str] = []
        size = 0
        for piece in self._template.generate(**context):
            pieces.append(piece)
            size += len(piece)
            if size > max_chars:
                raise TemplateError("the model's chat template produced far too much text")
            budget.check_time()
        return "".join(pieces)


class _RenderInterrupted(Exception):
    """Raised inside a render thread that ran past its time."""


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` unable to build gigantic values."""

    intercepted_binops = frozenset(["*", "**"])

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox returns an Undefined that renders as "": a template that
        # reaches for internals is hostile, so refuse it outright instead.
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateError("the model's chat template computes an absurd power")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(count, int)
                    and len(seq) * count > 1_000_000
                ):
                    raise TemplateError("the model's chat template builds an absurdly long value")
        return super().call_binop(context, operator, left, right)


class TemplateRenderHung(TemplateError):
    """A render did not finish; its thread is still running and the process should restart."""


def probe_template(template: ChatTemplate) -> None:
    """Render a small sample conversation to refuse broken or hostile templates at load.

    Raises:
        TemplateError: the template cannot render an ordinary conversation.
    """
    sample = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ]
    try:
        template.render(sample)
    except TemplateError as first:
        # Some templates reject a system role; that alone is not a reason to refuse them.
        if isinstance(first, TemplateRenderHung):
            raise
        template.render(sample[1:])
