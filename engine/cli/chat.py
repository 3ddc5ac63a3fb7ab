"""``hearth-cli chat``: ask the model and stream the answer.

Each turn is stored in the history database the window reads (``--no-history`` keeps
nothing), so a conversation started in a terminal is listed in the window, and
``--conversation ID`` continues one from the window or the terminal: its branch on screen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from engine.cli.common import (
    add_backend_option,
    add_load_options,
    check_argument,
    print_json,
    sampling_flag,
    setting_flag,
)
from engine.data.history import History
from engine.data.history_tree import conversation_title
from engine.errors import HistoryError, UsageError
from engine.types import (
    MAX_STOP_CHARS,
    ChatMessage,
    GenerationResult,
    SamplingParams,
    TokenEvent,
    sampling_problem,
)

if TYPE_CHECKING:
    from engine.runtime.model_defaults import ModelDefaults

#: The longest answer when neither the flag nor the model's settings say.
DEFAULT_MAX_TOKENS = 512


def add_parser(sub: Any) -> None:
    """The ``chat`` command."""
    chat = sub.add_parser("chat", help="ask the model and stream the answer")
    chat.add_argument("prompt", help="the message to send")
    chat.add_argument("--model", help="model id, file name or path (default: starter model)")
    chat.add_argument("--system", help="system prompt (default: the model's own, if set)")
    # An absent flag takes the model's own value (`hearth-cli models settings`), then its
    # GGUF's recommendation, then the engine's default, which the Chat pane starts from too.
    chat.add_argument("--max-tokens", type=sampling_flag("max_tokens", int), default=None)
    for flag, name, kind in (
        ("--temperature", "temperature", float),
        ("--top-p", "top_p", float),
        ("--top-k", "top_k", int),
        ("--min-p", "min_p", float),
        ("--repeat-penalty", "repeat_penalty", float),
    ):
        chat.add_argument(flag, type=sampling_flag(name, kind), default=None)
    chat.add_argument("--seed", type=sampling_flag("seed", int), default=-1)
    chat.add_argument(
        "--stop", type=_stop_string, action="append", default=[], help="stop string (repeatable)"
    )
    add_load_options(chat)
    chat.add_argument(
        "--gpu-offload",
        type=setting_flag("gpu_offload", str),
        default="auto",
        help="auto, off, or a number of layers",
    )
    add_backend_option(chat)
    chat.add_argument("--json", action="store_true", help="print one JSON object at the end")
    chat.add_argument(
        "--lookup",
        action="store_true",
        help="prompt lookup: answers that copy the prompt come faster (the same answer)",
    )
    stored = chat.add_mutually_exclusive_group()
    stored.add_argument(
        "--conversation",
        type=int,
        metavar="ID",
        help="continue this stored conversation (its branch on screen; see `history list`)",
    )
    stored.add_argument(
        "--no-history",
        action="store_true",
        help="store nothing in the history (by default each turn is stored, as the window does)",
    )
    thinking = chat.add_mutually_exclusive_group()
    thinking.add_argument(
        "--think",
        dest="thinking",
        action="store_const",
        const=True,
        help="a reasoning model thinks first (where its chat template has the switch)",
    )
    thinking.add_argument(
        "--no-think",
        dest="thinking",
        action="store_const",
        const=False,
        help="a reasoning model answers without thinking (where its template has the switch)",
    )
    answer = chat.add_mutually_exclusive_group()
    answer.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: the answer is a JSON object, held to it by a grammar (llama.cpp backend)",
    )
    answer.add_argument(
        "--json-schema",
        metavar="FILE",
        help="the answer is JSON matching the JSON schema in FILE (llama.cpp backend)",
    )
    chat.add_argument(
        "--show-thinking",
        action="store_true",
        help="print a reasoning model's thinking to standard error as it streams",
    )


def _stop_string(text: str) -> str:
    """One ``--stop`` string; how many there may be is checked with the other sampling values."""
    if sampling_problem("stop", [text]) is not None:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_STOP_CHARS} characters long")
    return text


#: The largest JSON schema file read (a schema is a few kilobytes).
MAX_SCHEMA_BYTES = 1024 * 1024


def _read_schema(path: str) -> dict[str, Any]:
    """The JSON schema in ``path``.

    Raises:
        UsageError: the file cannot be read, is too large, or holds no JSON object.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SCHEMA_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"Cannot read the JSON schema {path}: {exc.strerror}.") from exc
    if len(data) > MAX_SCHEMA_BYTES:
        raise UsageError(f"The JSON schema {path} is larger than {MAX_SCHEMA_BYTES:,} bytes.")
    try:
        schema = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"The JSON schema {path} is not valid JSON: {exc}.") from exc
    if not isinstance(schema, dict):
        raise UsageError(f"The JSON schema {path} must hold a JSON object.")
    return schema


def _sampling(args: argparse.Namespace, defaults: ModelDefaults) -> SamplingParams:
    """The flags given, else the model's own values, else the engine's defaults."""
    base = defaults.sampling(SamplingParams(max_tokens=DEFAULT_MAX_TOKENS))
    given = {
        name: getattr(args, name)
        for name in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")
        if getattr(args, name) is not None
    }
    return replace(base, seed=args.seed, stop=tuple(args.stop), lookup=args.lookup, **given)


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli chat``; returns the exit status."""
    check_argument("prompt", args.prompt)
    check_argument("system prompt", args.system or "")
    schema = _read_schema(args.json_schema) if args.json_schema else None
    history = None if args.no_history else _open_history(args)
    try:
        return await _chat(args, schema, history)
    finally:
        if history is not None:
            history.close()


def _open_history(args: argparse.Namespace) -> History | None:
    """The history database, or None (with a warning) when it cannot be used.

    The window carries on without it too; only continuing a stored conversation needs it.

    Raises:
        HistoryError: it cannot be used and ``--conversation`` asks for a stored one.
    """
    from engine.data.config import get_paths

    try:
        return History(get_paths().database)
    except HistoryError as exc:
        if args.conversation is not None:
            raise
        _not_stored(exc)
        return None


def _earlier_turns(history: History | None, conversation_id: int | None) -> list[ChatMessage]:
    """The stored conversation's branch on screen, as the model is sent it (no system prompt).

    Raises:
        EngineError: there is no such conversation.
    """
    if history is None or conversation_id is None:
        return []
    history.conversation(conversation_id)  # raises when it does not exist
    return [
        ChatMessage(m.role, m.content)  # type: ignore[arg-type]  # filtered just here
        for m in history.messages(conversation_id)
        if m.role in ("user", "assistant")
    ]


async def _chat(
    args: argparse.Namespace, schema: dict[str, Any] | None, history: History | None
) -> int:
    """Load the model, send the conversation, stream the answer and store the turn."""
    from engine.data.config import get_paths
    from engine.runtime.client import EngineClient
    from engine.runtime.model_defaults import model_defaults

    earlier = _earlier_turns(history, args.conversation)
    system = args.system
    if system is None and history is not None and args.conversation is not None:
        system = history.conversation(args.conversation).system_prompt
    async with EngineClient() as client:
        info = await client.load(
            args.model,
            n_ctx=args.ctx,
            threads=args.threads,
            gpu_offload=args.gpu_offload,
            backend=args.backend,
        )
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        defaults = await asyncio.to_thread(model_defaults, get_paths(), info.path)
        params = _sampling(args, defaults)
        if system is None:
            system = defaults.system_prompt("")
        thinking = args.thinking if args.thinking is not None else defaults.thinking(None)
        messages = [ChatMessage("system", system)] if system else []
        messages += earlier
        messages.append(ChatMessage("user", args.prompt))
        if args.format == "json" or schema is not None:
            params = replace(params, grammar=await client.json_grammar(schema))
        # Stored once the model is loaded, so a model that fails to load leaves no
        # empty conversation behind.
        turn = _store_question(history, args, system or "", info.model_id)
        if turn is None:
            history = None  # it failed: the answer is still given
        result: GenerationResult | None = None
        pieces: list[str] = []
        try:
            async for event in client.chat(messages, params, thinking=thinking):
                if isinstance(event, TokenEvent):
                    # Thinking is never the answer: standard error, and only when asked for.
                    out = sys.stderr if event.reasoning else sys.stdout
                    if not event.reasoning:
                        pieces.append(event.text)
                    if not args.json and (args.show_thinking or not event.reasoning):
                        out.write(event.text)
                        out.flush()
                else:
                    result = event
        finally:
            if history is not None and turn is not None:
                # Interrupted too (Ctrl+C, a crash): what was streamed is kept, as the
                # window keeps it, and shown as interrupted (no stats).
                try:
                    history.update_message(
                        turn[1],
                        result.text if result is not None else "".join(pieces),
                        stats=asdict(result.stats) if result is not None else None,
                        reasoning=result.reasoning if result is not None else None,
                    )
                except (OSError, sqlite3.Error) as exc:
                    _not_stored(exc)
        assert result is not None
    if args.json:
        s = result.stats
        print_json(
            {
                "text": result.text,
                "reasoning": result.reasoning,
                "model": info.model_id,
                "backend": info.backend,
                "device": info.device,
                "prompt_tokens": s.prompt_tokens,
                "generated_tokens": s.generated_tokens,
                "reasoning_tokens": s.reasoning_tokens,
                "draft_tokens": s.draft_tokens,
                "accepted_tokens": s.accepted_tokens,
                "ttft_s": s.ttft_s,
                "tokens_per_s": s.tokens_per_s,
                "stop_reason": s.stop_reason,
                "conversation_id": turn[0] if turn is not None else None,
                "message_id": turn[1] if turn is not None else None,
            }
        )
    else:
        print()
    return 0


def _store_question(
    history: History | None, args: argparse.Namespace, system: str, model_id: str
) -> tuple[int, int] | None:
    """Store the question and an empty answer; returns (conversation id, answer id).

    Returns None (after a warning) when the database fails: the answer is still given.
    """
    if history is None:
        return None
    try:
        return _store_turn(history, args, system, model_id)
    except (OSError, sqlite3.Error) as exc:
        _not_stored(exc)
        return None


def _not_stored(error: BaseException) -> None:
    print(
        f"hearth-cli: warning: {error} This conversation is not stored "
        "(--no-history says not to try).",
        file=sys.stderr,
    )


def _store_turn(
    history: History, args: argparse.Namespace, system: str, model_id: str
) -> tuple[int, int]:
    conversation_id = args.conversation
    if conversation_id is None:
        conversation_id = history.create_conversation(
            conversation_title(args.prompt), model_id=model_id, system_prompt=system
        )
    else:
        history.set_model(conversation_id, model_id)
        history.set_system_prompt(conversation_id, system)
    # Both after the leaf on screen: the next message continues the branch shown.
    history.add_message(conversation_id, "user", args.prompt)
    return conversation_id, history.add_message(conversation_id, "assistant", "")
