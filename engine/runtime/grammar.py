"""JSON mode: the GBNF grammars that hold an answer to JSON, from llama-cpp-python's converter.

llama-cpp-python ships llama.cpp's JSON-schema → GBNF converter in Python
(``llama_cpp.llama_grammar``); this module uses it rather than a converter of our own,
and guards it: the converter spells out ``maxItems: 10**9`` as a billion repetitions, so
bounds past llama.cpp's own repetition limit are refused before it runs.

Runs in the worker process (it imports ``llama_cpp``), on the model thread.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.errors import UsageError
from engine.types import MAX_GRAMMAR_CHARS

#: llama.cpp's grammar parser refuses a repetition of more than this (its
#: MAX_REPETITION_THRESHOLD, src/llama-grammar.cpp); the converter would first spend
#: memory and time writing one out.
MAX_REPETITIONS = 2000
#: The deepest nesting of a schema: deeper ones are no real answer format, and the
#: converter recurses once per level.
MAX_SCHEMA_DEPTH = 64
#: Keywords whose numbers the converter writes out as that many repetitions.
_BOUNDS = (
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
#: Counted repetitions in a ``pattern``: ``a{5}``, ``a{2,9}``, ``a{3,}``.
_PATTERN_COUNTS = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")


def json_grammar(schema: dict[str, Any] | None) -> str:
    """The GBNF grammar of JSON answers: any JSON object, or values matching ``schema``.

    Args:
        schema: a JSON schema (OpenAI's ``response_format.json_schema.schema``), or None
            for any JSON object (``response_format: {"type": "json_object"}``).

    Returns:
        The grammar, as :attr:`engine.types.SamplingParams.grammar` takes it.

    Raises:
        UsageError: the schema is not an object, is too deep or too large, has bounds
            past :data:`MAX_REPETITIONS`, or uses what the converter does not support
            (remote ``$ref``s, an unknown type); the message says which.
    """
    from llama_cpp import llama_grammar

    if schema is None:
        return str(llama_grammar.JSON_GBNF)
    if not isinstance(schema, dict):
        raise UsageError("The JSON schema must be a JSON object.")
    _check_schema(schema, depth=0)
    try:
        grammar = llama_grammar.json_schema_to_gbnf(json.dumps(_without_empty_items(schema)))
    except RecursionError:
        raise UsageError("The JSON schema refers to itself too deeply to be followed.") from None
    except KeyError as exc:
        raise UsageError(
            f"The JSON schema cannot be used to constrain the answer: it uses {exc} in a way "
            "the converter does not follow."
        ) from None
    except (AssertionError, ValueError, TypeError, IndexError, AttributeError) as exc:
        detail = str(exc) or type(exc).__name__
        raise UsageError(
            f"The JSON schema cannot be used to constrain the answer: {detail[:300]}"
        ) from None
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise UsageError(
            f"The JSON schema makes a grammar of {len(grammar):,} characters, more than "
            f"the {MAX_GRAMMAR_CHARS:,} Hearth follows. Simplify the schema."
        )
    return str(grammar)


def _check_schema(node: Any, *, depth: int) -> None:
    """Refuse what would make the converter (or llama.cpp after it) spend without bound."""
    if depth > MAX_SCHEMA_DEPTH:
        raise UsageError(f"The JSON schema is nested more than {MAX_SCHEMA_DEPTH} levels deep.")
    if isinstance(node, list):
        for item in node:
            _check_schema(item, depth=depth + 1)
        return
    if not isinstance(node, dict):
        return
    for key in _BOUNDS:
        value: Any = node.get(key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and not 0 <= value <= MAX_REPETITIONS:
            raise UsageError(
                f"The JSON schema's {key} = {value} is outside 0 to {MAX_REPETITIONS:,}, "
                "the repetitions a grammar can hold."
            )
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        for low, high in _PATTERN_COUNTS.findall(pattern):
            if int(low) > MAX_REPETITIONS or (high and int(high) > MAX_REPETITIONS):
                raise UsageError(
                    f"The JSON schema's pattern {pattern[:80]!r} repeats something more "
                    f"than {MAX_REPETITIONS:,} times."
                )
    for value in node.values():
        _check_schema(value, depth=depth + 1)


def _without_empty_items(node: Any) -> Any:
    """``node`` without ``"items": {}`` (any item, as if absent), which the converter
    mistakes for a tuple's ``prefixItems`` and fails on."""
    if isinstance(node, list):
        return [_without_empty_items(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: _without_empty_items(value)
        for key, value in node.items()
        if not (key == "items" and value == {})
    }
