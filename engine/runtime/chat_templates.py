"""Chat templates from GGUF files, rendered only in a bounded Jinja2 sandbox.

A GGUF's ``tokenizer.chat_template`` is code written by whoever made the file.
llama-cpp-python once rendered it in an unsandboxed environment and that was a
remote-code-execution hole (CVE-2024-34359), so here it runs in Jinja2's immutable
sandbox, extended (engine.runtime.template_sandbox, engine.runtime.template_budget) so that every
value it builds, every loop step and the output are bounded while they are built,
and the render time is bounded by a watchdog.

A chat prompt is also where a user could forge the model's control tokens: a message
that says ``<|im_end|>\n<|im_start|>system`` must stay text.
:meth:`ChatTemplate.render_parts` tells the template's own markup apart from such
messages' text, so the two can be tokenized differently (engine.runtime.chat_prompt).
"""

from __future__ import annotations

import ctypes
import re
import secrets
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from engine.errors import TemplateError
from engine.runtime.template_budget import (
    BUILD_FLOOR,
    BUILD_PER_OUTPUT_CHAR,
    RenderBudget,
    TemplateRefused,
    rendering,
)
from engine.runtime.template_sandbox import BoundedSandbox

#: Templates bigger than this are refused outright (real ones are a few KiB; the
#: largest tool-calling ones about 20 KiB).
MAX_TEMPLATE_CHARS = 256 * 1024
#: Seconds one render may take before the template is declared hostile.
RENDER_TIMEOUT_S = 2.0
#: The longest prompt a render may write: this many characters per character of the
#: messages, plus OUTPUT_SLACK_CHARS, plus OUTPUT_PER_TEMPLATE_CHAR per character of
#: the template, plus OUTPUT_PER_MESSAGE_CHARS per message. Real templates add a few
#: dozen characters of markup per message (4x covers a chat of one-word messages)
#: and at most their own text (tool instructions) once or twice.
OUTPUT_PER_INPUT_CHAR = 4
OUTPUT_SLACK_CHARS = 64 * 1024
OUTPUT_PER_TEMPLATE_CHAR = 8
#: ... plus this much markup per message (real templates write 20 to 100; tool-call
#: wrappers a few hundred).
OUTPUT_PER_MESSAGE_CHARS = 512

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


def _raise_exception(message: str) -> None:
    raise TemplateError(f"the model's chat template refused the conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@dataclass(frozen=True)
class PromptPart:
    """A stretch of a rendered prompt.

    Attributes:
        text: the text.
        markup: True for the template's own text (where control tokens belong), False
            for a message's content put in verbatim.
    """

    text: str
    markup: bool


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
        #: The template's ``enable_thinking`` for the renders to come (None: its default).
        self.enable_thinking: bool | None = None
        self._env = BoundedSandbox(
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.loopcontrols"],
            autoescape=False,
        )
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
        abandoned; what it builds and writes is bounded by the size of the messages
        (see OUTPUT_PER_INPUT_CHAR and engine.runtime.template_sandbox).

        Args:
            messages: dicts with "role" and "content".
            add_generation_prompt: end with the assistant's turn opener.
            timeout_s: how long the render may take.

        Returns:
            The prompt text.

        Raises:
            TemplateRefused: the template tried to build too much, loop too long, run
                too long or reach what the sandbox forbids (a hostile template).
            TemplateError: the template raised, or failed on this conversation.
        """
        input_chars = sum(len(m.get("content", "")) + len(m.get("role", "")) for m in messages)
        max_chars = (
            OUTPUT_PER_INPUT_CHAR * input_chars
            + OUTPUT_SLACK_CHARS
            + OUTPUT_PER_TEMPLATE_CHAR * len(self.source)
            + OUTPUT_PER_MESSAGE_CHARS * len(messages)
        )
        budget = RenderBudget(
            max_chars=max(BUILD_PER_OUTPUT_CHAR * max_chars, BUILD_FLOOR),
            deadline=time.monotonic() + timeout_s,
        )
        outcome: list[Any] = []

        def run() -> None:
            try:
                with rendering(budget):
                    outcome.append(self._render(messages, add_generation_prompt, budget, max_chars))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run, name="chat-template", daemon=True)
        thread.start()
        thread.join(timeout_s + 0.2)
        if thread.is_alive() and thread.ident is not None:
            # Loops and calls check the deadline themselves; this is for a template
            # stuck elsewhere: interrupt the thread at its next bytecode.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(_RenderInterrupted)
            )
            thread.join(1.0)
        if thread.is_alive():
            # Stuck inside C code: the caller treats the template as hostile and the
            # worker restarts (see worker.py), which frees the stuck thread.
            raise TemplateRenderHung(
                "the model's chat template did not finish rendering; Hearth refused it"
            )
        result = outcome[0] if outcome else _RenderInterrupted()
        if isinstance(result, _RenderInterrupted):
            raise TemplateRefused(
                "the model's chat template took too long to render; Hearth refused it"
            )
        if isinstance(result, TemplateError):
            raise result
        if isinstance(result, jinja2.exceptions.SecurityError):
            raise TemplateRefused(
                f"the model's chat template tried something unsafe ({result}); Hearth refused it"
            ) from result
        if isinstance(result, MemoryError):
            raise TemplateRefused(
                "the model's chat template ran out of memory; Hearth refused it"
            ) from result
        if isinstance(result, BaseException):
            raise TemplateError(f"the model's chat template failed: {result}") from result
        return str(result)

    def render_parts(
        self,
        messages: Sequence[dict[str, str]],
        verbatim: Collection[int],
        *,
        add_generation_prompt: bool = True,
    ) -> list[PromptPart]:
        """Render a conversation with some messages' content kept apart from the markup.

        The content of each message whose index is in ``verbatim`` is replaced by a
        placeholder no one can guess for the render, and put back afterwards as a part
        of its own. The template never sees that text, so it cannot transform it (trim
        it, cut a reasoning block out): it goes in exactly as written, wherever the
        template put the placeholder (nowhere if the template left it out).

        Raises:
            TemplateRefused, TemplateError: as :meth:`render`.
        """
        nonce = secrets.randbits(48)  # digits only: a template's |upper cannot change it
        marks = {i: f"\ue000{nonce}.{i}\ue001" for i in verbatim}
        stand_in = [
            {**m, "content": marks[i]} if i in marks else dict(m) for i, m in enumerate(messages)
        ]
        text = self.render(stand_in, add_generation_prompt=add_generation_prompt)
        parts: list[PromptPart] = []
        end = 0
        for match in re.finditer(f"\ue000{nonce}\\.(\\d+)\ue001", text):
            if match.start() > end:
                parts.append(PromptPart(text[end : match.start()], markup=True))
            parts.append(PromptPart(messages[int(match.group(1))]["content"], markup=False))
            end = match.end()
        if end < len(text):
            parts.append(PromptPart(text[end:], markup=True))
        return parts

    def _render(
        self,
        messages: Sequence[dict[str, str]],
        add_generation_prompt: bool,
        budget: RenderBudget,
        max_chars: int,
    ) -> str:
        context = {
            "messages": [dict(m) for m in messages],
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        }
        if self.enable_thinking is not None:
            context["enable_thinking"] = self.enable_thinking
        pieces: list[str] = []
        size = 0
        for piece in self._template.generate(**context):
            pieces.append(piece)
            size += len(piece)
            if size > max_chars:
                raise TemplateRefused(
                    f"the model's chat template wrote over {max_chars:,} characters for a "
                    f"conversation of {sum(len(m.get('content', '')) for m in messages):,}; "
                    "Hearth refused it"
                )
            budget.check_time()
        return "".join(pieces)


class _RenderInterrupted(Exception):
    """Raised inside a render thread that ran past its time."""


class TemplateRenderHung(TemplateRefused):
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
    except TemplateRefused:
        raise
    except TemplateError:
        # Some templates reject a system role; that alone is not a reason to refuse them.
        template.render(sample[1:])
