"""JSON mode in the engine: answers held to a grammar by llama.cpp's grammar sampler, on the
real worker and the 135M test model; schemas that cannot be followed, grammars llama.cpp
cannot parse and the PyTorch backend are refused with a message that says why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.errors import UsageError
from engine.runtime.client import EngineClient
from engine.runtime.grammar import MAX_REPETITIONS
from engine.types import ChatMessage, GenerationResult, SamplingParams
from tests.engine import gguf_factory as gf

pytestmark = pytest.mark.slow

#: An answer that must end: every string and number in it is bounded.
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 24},
        "age": {"type": "integer"},
        "colour": {"enum": ["red", "green", "blue"]},
    },
    "required": ["name", "age", "colour"],
    "additionalProperties": False,
}
ASK = [ChatMessage("user", "Describe a person called Ada: her name, age and favourite colour.")]


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


async def _answer(client: EngineClient, params: SamplingParams) -> GenerationResult:
    result = None
    async for event in client.chat(ASK, params):
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None
    return result


def _person(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict) and set(value) == {"name", "age", "colour"}, value
    assert isinstance(value["name"], str) and len(value["name"]) <= 24
    assert isinstance(value["age"], int) and value["colour"] in ("red", "green", "blue")
    return value


async def test_a_schema_holds_chat_and_batched_answers_to_it(client: EngineClient) -> None:
    await client.load(None, n_ctx=1024, backend="llamacpp")
    grammar = await client.json_grammar(PERSON)
    assert "root ::=" in grammar
    free = await _answer(client, SamplingParams(temperature=0, max_tokens=60))
    with pytest.raises(ValueError):
        json.loads(free.text)  # the model does not answer in JSON by itself

    held = await _answer(client, SamplingParams(temperature=0, max_tokens=120, grammar=grammar))
    _person(held.text)
    assert held.stats.stop_reason == "eos"
    # Sampled (not greedy) answers keep to it too, and so does every prompt of a batch.
    warm = SamplingParams(temperature=1.0, seed=7, max_tokens=120, grammar=grammar)
    _person((await _answer(client, warm)).text)
    results = await client.complete_many([ASK, ASK, ASK], warm)
    for result in results:
        _person(result.text)


async def test_any_json_object_without_a_schema(client: EngineClient) -> None:
    await client.load(None, n_ctx=1024, backend="llamacpp")
    grammar = await client.json_grammar(None)
    result = await _answer(client, SamplingParams(temperature=0, max_tokens=200, grammar=grammar))
    assert result.text.lstrip().startswith("{")
    if result.stats.stop_reason == "eos":
        assert isinstance(json.loads(result.text), dict)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array", "maxItems": 10**9}, f"outside 0 to {MAX_REPETITIONS:,}"),
        ({"type": "string", "pattern": "^a{1000000}$"}, "repeats something more"),
        ({"type": "blob"}, "cannot be used to constrain"),
        ({"$ref": "https://example.com/schema.json"}, "cannot be used to constrain"),
    ],
)
async def test_schemas_that_cannot_be_followed_are_refused(
    client: EngineClient, schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        await client.json_grammar(schema)


async def test_a_grammar_llama_cpp_cannot_parse_is_refused_and_the_engine_goes_on(
    client: EngineClient,
) -> None:
    await client.load(None, n_ctx=1024, backend="llamacpp")
    broken = SamplingParams(max_tokens=8, grammar='root ::= "a" undefined-rule')
    with pytest.raises(UsageError, match="not valid GBNF"):
        await _answer(client, broken)
    with pytest.raises(UsageError, match="not valid GBNF"):
        await client.complete_many(["Hello"], broken)
    assert (await _answer(client, SamplingParams(max_tokens=4))).text is not None


async def test_a_reasoning_model_answers_in_json_without_thinking(
    client: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    # The 135M model with a reasoning model's template (Qwen3's switch): its thinking would
    # swallow the answer; in JSON mode the answer is the JSON, in the text, never thinking.
    thinker = gf.thinking_model(smollm2, tmp_path / "thinker.gguf")
    info = await client.load(str(thinker))
    assert info.thinks
    grammar = await client.json_grammar(PERSON)
    params = SamplingParams(temperature=0, max_tokens=120, grammar=grammar)
    result = await _answer(client, params)
    _person(result.text)
    assert result.reasoning == "" and result.stats.reasoning_tokens == 0
    for batched in await client.complete_many([ASK, ASK], params):
        _person(batched.text)
        assert batched.reasoning == ""


async def test_the_pytorch_backend_refuses_a_grammar(client: EngineClient) -> None:
    pytest.importorskip("torch", reason="pip install torch==2.13.0 (the CPU build)")
    info = await client.load(None, n_ctx=512, backend="torch")
    assert info.backend == "torch"
    grammar = await client.json_grammar(PERSON)
    with pytest.raises(UsageError, match="PyTorch backend cannot"):
        await _answer(client, SamplingParams(max_tokens=8, grammar=grammar))
