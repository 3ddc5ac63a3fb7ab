"""A reasoning model's thinking through the real worker: apart from the answer, counted,
switchable where the template allows, and never in ``--json``'s text or a task's result.

The model is the 135M test model with a reasoning model's chat template: like Qwen3's,
it opens the thinking block itself unless ``enable_thinking`` is false, and then writes
an empty block. The small model never closes the block, so what it writes is thinking.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent
from tests.engine import gguf_factory as gf

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage("user", "Count from one to twenty, in words.")]
SHORT = SamplingParams(temperature=0, max_tokens=12)


@pytest.fixture(scope="module")
def thinker(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("thinker")
    return gf.thinking_model(smollm2, folder / "thinker.gguf")


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


async def run(
    client: EngineClient, *, thinking: bool | None = None
) -> tuple[list[TokenEvent], GenerationResult]:
    events: list[TokenEvent] = []
    result: GenerationResult | None = None
    async for event in client.chat(QUESTION, SHORT, thinking=thinking):
        if isinstance(event, TokenEvent):
            events.append(event)
        else:
            result = event
    assert result is not None
    return events, result


async def test_thinking_cut_by_the_token_limit_is_never_the_answer(
    client: EngineClient, thinker: Path
) -> None:
    await client.load(str(thinker))
    events, result = await run(client)
    assert events and all(e.reasoning for e in events)
    assert result.text == ""
    assert result.reasoning.strip() and "<think>" not in result.reasoning
    assert "".join(e.text for e in events).strip() == result.reasoning.strip()
    if result.stats.stop_reason == "length":
        # Every token was spent thinking.
        assert result.stats.reasoning_tokens == result.stats.generated_tokens == 12


async def test_the_switch_turns_thinking_off_where_the_template_has_it(
    client: EngineClient, thinker: Path
) -> None:
    await client.load(str(thinker))
    events, result = await run(client, thinking=False)
    assert result.reasoning == "" and result.stats.reasoning_tokens == 0
    assert result.text.strip() and not any(e.reasoning for e in events)


async def test_a_task_batch_keeps_thinking_out_of_its_results(
    client: EngineClient, thinker: Path
) -> None:
    await client.load(str(thinker))
    results = await client.complete_many([QUESTION, QUESTION], SHORT)
    for result in results:
        assert result.text == "" and result.reasoning.strip()


async def test_a_model_that_does_not_think_is_unchanged(client: EngineClient) -> None:
    await client.load(None)
    events, result = await run(client)
    assert result.reasoning == "" and result.stats.reasoning_tokens == 0
    assert "".join(e.text for e in events) == result.text and result.text


#: A channel model's template (gpt-oss writes its turns this way); the 135M model does
#: not know the format and answers plainly, which must come through as the answer.
CHANNEL_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% if m['role'] == 'assistant' %}<|channel|>final<|message|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


async def test_a_channel_model_streams_special_tokens_to_the_splitter_not_to_the_answer(
    client: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    model = gf.with_string_metadata(
        smollm2, tmp_path / "channels.gguf", "tokenizer.chat_template", CHANNEL_TEMPLATE
    )
    info = await client.load(str(model))
    assert info.thinks and not info.thinking_switch
    events, result = await run(client)
    assert result.text.strip() and result.reasoning == ""
    assert "".join(e.text for e in events).strip() == result.text
    assert "<|" not in result.text  # special tokens rendered for the splitter, kept out


def test_chat_json_puts_thinking_under_its_own_key(thinker: Path) -> None:
    def cli(*flags: str) -> dict[str, object]:
        run = subprocess.run(
            [
                *(sys.executable, "-m", "engine", "chat", "--json", "--model", str(thinker)),
                *("--temperature", "0", "--max-tokens", "12", *flags, "Count to twenty."),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ.copy(),
        )
        assert run.returncode == 0, run.stderr
        data: dict[str, object] = json.loads(run.stdout)
        return data

    thought = cli()
    assert thought["text"] == "" and str(thought["reasoning"]).strip()
    assert "<think>" not in str(thought["reasoning"])
    direct = cli("--no-think")
    assert direct["reasoning"] == "" and str(direct["text"]).strip()
