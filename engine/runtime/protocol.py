"""The engine worker's message protocol: one JSON object per line, in both directions.

Requests (client → worker) carry ``id`` and ``op``:
  ``load``      the fields of :class:`engine.types.LoadRequest` (unknown ones are refused;
                notices as {code, params})
  ``chat``      {messages: [{role, content}], params: SamplingParams, policy}
  ``complete``  {prompt, params}
  ``infill``    {prefix, suffix, params}: fill in the middle with the model's FIM tokens
  ``complete_many`` {prompts: [str | [{role, content}]], params}: several continuations
                decoded at once; a list of messages is rendered with the chat template
  ``render_chat`` {messages}: the templated prompt text, generation prompt included
  ``tokenize``  {text, add_special, parse_special}
  ``chat_tokens`` {messages}: how many tokens the conversation renders to
  ``json_grammar`` {schema: a JSON schema, or null for any JSON object}: the GBNF grammar
                that ``params.grammar`` takes for JSON mode (no model needed)
  ``embed``     {inputs: [str | [int]], model: a ``load`` request's fields or null}: unit
                vectors {vectors, tokens: per input}; ``model`` is an embedding model kept
                loaded beside the loaded model, null the loaded model itself
  ``unload``, ``ping``, ``shutdown``
  ``cancel``    {target}: stop request ``target`` (handled as soon as it arrives)

Events (worker → client) carry the request's ``id`` and ``event``:
  ``hello``     (id 0) sent once at start: {pid, protocol, llama: build info}
                (:class:`WorkerHello`); a client refuses a worker of another protocol
                version before it asks anything
  ``token``     {text}; for ``complete_many`` also {index}: which prompt it continues
  ``seq_done``  {index, text, stats}: one sequence of ``complete_many`` finished
  ``result``    {value}: the answer to a non-streaming request
  ``done``      {text, stats}: the end of a generation; for ``complete_many``
                {results: [{text, stats}] in prompt order, n_parallel, total_s}
  ``error``     {type, message}: the request failed with an EngineError subclass
  ``alive``     (id 0) every ``HEARTBEAT_S`` or less while a request runs, from a thread
                of its own: the worker is working, even inside one long native call

Both sides read a line with a bounded reader: a request longer than
:data:`MAX_REQUEST_BYTES` or an event longer than :data:`MAX_EVENT_BYTES` is refused
without being held in memory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from engine.errors import EngineError
from engine.models.hardware import LlamaBuild

#: The version of this protocol, compared in the hello: a worker and a client of two
#: installations (an update half done, a stray PYTHONPATH) must not misread each other.
#: Raised whenever a request or event changes shape.
PROTOCOL_VERSION = 3
_MIB = 1024 * 1024
#: The longest request line (client → worker). An input at the 4 MB text cap (the
#: command line's, the chat input's) fits with JSON's escapes and a conversation around
#: it. Not more: the worker's memory grows with the text it tokenizes and fits (a chat of
#: one 16 MB message peaked at 1.35 GB, 250 MB of it the model).
MAX_REQUEST_BYTES = 16 * _MIB
#: The longest event line (worker → client). The largest answer is the token ids of a
#: request-sized text: at worst one token per byte, up to seven bytes per id in JSON.
MAX_EVENT_BYTES = 8 * MAX_REQUEST_BYTES
#: Seconds between the worker's ``alive`` events while a request runs: the client's
#: liveness deadline (EngineClient) is many of these, so a busy machine that delays a
#: few does not look like a stopped worker.
HEARTBEAT_S = 1.0
#: Environment variables EngineClient sets for its worker: its own process id (so a
#: worker that lost its client before it could follow it exits) and the heartbeat interval.
CLIENT_PID_ENV = "HEARTH_CLIENT_PID"
HEARTBEAT_ENV = "HEARTH_WORKER_HEARTBEAT_S"
#: Bytes read at a time while the rest of an over-long line is skipped.
_SKIP_CHUNK = _MIB
#: A request line starts with its id (``encode`` keeps the key order), so an over-long
#: one can still be answered: this much of its head is kept to find the id.
_HEAD_BYTES = 64
_ID_AT_START = re.compile(rb'^\{"id":(\d{1,18})[,}]')


class LineTooLong(ValueError):
    """A line longer than the limit was read and skipped.

    Attributes:
        head: the line's first bytes (enough to find a request's id).
        size: how long the line was, newline included.
    """

    def __init__(self, head: bytes, size: int, limit: int) -> None:
        super().__init__(f"a protocol line of {size:,} bytes is longer than {limit:,}")
        self.head = head
        self.size = size

    def request_id(self) -> int | None:
        """The id of the request the line carried, if its head shows one."""
        return request_id_of(self.head)


@dataclass(frozen=True)
class WorkerHello:
    """What the worker says once, as soon as it has started.

    Attributes:
        pid: the worker's process id.
        protocol: the protocol version it speaks.
        llama: its llama.cpp build. The GUI and CLI processes never import llama_cpp
            themselves (a CUDA build of it crashed beside a CUDA build of torch in one
            process): they learn it from here.
    """

    pid: int
    protocol: int
    llama: LlamaBuild

    def to_message(self) -> dict[str, Any]:
        """The ``hello`` event."""
        return {
            "id": 0,
            "event": "hello",
            "pid": self.pid,
            "protocol": self.protocol,
            "llama": self.llama.to_dict(),
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> WorkerHello:
        """Read a ``hello`` event, its protocol version first.

        Raises:
            EngineError: the worker speaks another protocol version, or its hello cannot
                be read.
        """
        version = message.get("protocol")
        # A bool is an int to Python, and True == 1: neither is a version.
        if type(version) is not int or version != PROTOCOL_VERSION:
            spoken = f"version {version}" if type(version) is int else "no version"
            raise EngineError(
                f"The engine worker speaks protocol {spoken}, but this Hearth speaks "
                f"version {PROTOCOL_VERSION}: they come from two different installations. "
                "Reinstall Hearth so that both are the same version."
            )
        try:
            return cls(
                pid=int(message["pid"]),
                protocol=version,
                llama=LlamaBuild.from_dict(message["llama"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(
                f"The engine worker's greeting could not be read ({exc}). Reinstall Hearth."
            ) from None


def request_id_of(line: bytes) -> int | None:
    """The id at the start of a request line that could not be parsed, if it shows one."""
    match = _ID_AT_START.match(line[:_HEAD_BYTES])
    return int(match.group(1)) if match else None


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of UTF-8 JSON.

    A lone surrogate (half of a UTF-16 pair, as a paste or a Qt string can carry) has no
    UTF-8 form: it is written as U+FFFD rather than failing the whole request.
    """
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n"
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Through UTF-16: a surrogate pair split in two is joined, a lone half replaced.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one line; raises ValueError if it is not a JSON object."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("protocol message is not a JSON object")
    return value


def read_line(stream: BinaryIO, limit: int) -> bytes:
    """Read one line of at most ``limit`` bytes (newline included) from a blocking stream.

    A longer line is read past in chunks, never held whole, and reported.

    Returns:
        The line, or ``b""`` at the end of the stream.

    Raises:
        LineTooLong: the line was longer than ``limit`` (it has been skipped).
    """
    line = stream.readline(limit)
    if len(line) < limit or line.endswith(b"\n"):
        return line
    head, size = line[:_HEAD_BYTES], len(line)
    del line
    while True:
        chunk = stream.readline(_SKIP_CHUNK)
        size += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            raise LineTooLong(head, size, limit)
