"""The engine worker's message protocol: one JSON object per line, in both directions.

Requests (client → worker) carry ``id`` and ``op``:
  ``load``      {path, model_id, n_ctx, n_gpu_layers, n_threads, n_threads_batch, plan_reason,
                n_parallel (sequences decoded at once, default 4), ...}
  ``chat``      {messages: [{role, content}], params: SamplingParams, policy}
  ``complete``  {prompt, params}
  ``infill``    {prefix, suffix, params}: fill in the middle with the model's FIM tokens
  ``complete_many`` {prompts: [str | [{role, content}]], params}: several continuations
                decoded at once; a list of messages is rendered with the chat template
  ``render_chat`` {messages}: the templated prompt text, generation prompt included
  ``tokenize``  {text, add_special, parse_special}
  ``chat_tokens`` {messages}: how many tokens the conversation renders to
  ``unload``, ``ping``, ``shutdown``
  ``cancel``    {target}: stop request ``target`` (handled as soon as it arrives)

Events (worker → client) carry the request's ``id`` and ``event``:
  ``hello``     (id 0) sent once at start: {pid, llama: build info}
  ``token``     {text}; for ``complete_many`` also {index}: which prompt it continues
  ``seq_done``  {index, text, stats}: one sequence of ``complete_many`` finished
  ``result``    {value}: the answer to a non-streaming request
  ``done``      {text, stats}: the end of a generation; for ``complete_many``
                {results: [{text, stats}] in prompt order, n_parallel, total_s}
  ``error``     {type, message}: the request failed with an EngineError subclass
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL_VERSION = 1
#: A line longer than this is a protocol violation (a prompt of a few MB still fits).
MAX_LINE_BYTES = 256 * 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of UTF-8 JSON."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one line; raises ValueError if it is not a JSON object."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("protocol message is not a JSON object")
    return value
