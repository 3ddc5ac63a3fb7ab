"""A model's own settings reach the real engine: context size, template override, sampling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.data.config import get_paths, update_settings
from engine.data.model_settings import ModelSettingsStore
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

pytestmark = pytest.mark.slow


async def _answer(client: EngineClient, question: str) -> GenerationResult:
    params = SamplingParams(temperature=0, max_tokens=8)
    result = None
    async for event in client.chat([ChatMessage("user", question)], params):
        if not isinstance(event, TokenEvent):
            result = event
    assert result is not None
    return result


async def test_the_models_context_size_beats_the_global_one(
    client: EngineClient, smollm2: Path
) -> None:
    update_settings(get_paths(), context_size=1024)
    info = await client.load(smollm2)
    assert info.n_ctx == 1024

    ModelSettingsStore.for_paths(get_paths()).update(smollm2, context_size=512)
    info = await client.load(smollm2)
    assert info.n_ctx == 512
    # A value given for one load (a command-line flag) still wins.
    info = await client.load(smollm2, n_ctx=768)
    assert info.n_ctx == 768


async def test_a_chosen_chat_format_replaces_the_ggufs_template(
    client: EngineClient, smollm2: Path
) -> None:
    info = await client.load(smollm2)
    assert info.chat_template == "gguf"
    own = await client.render_chat([ChatMessage("user", "Hi")])

    ModelSettingsStore.for_paths(get_paths()).update(smollm2, chat_template="llama3")
    info = await client.load(smollm2)
    assert info.chat_template == "override"
    chosen = await client.render_chat([ChatMessage("user", "Hi")])
    assert "<|start_header_id|>user<|end_header_id|>" in chosen
    assert chosen != own
    result = await _answer(client, "Hi")
    assert result.stats.prompt_tokens > 0


async def test_a_hostile_template_file_is_refused_like_a_ggufs(
    client: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile.jinja"
    hostile.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    ModelSettingsStore.for_paths(get_paths()).update(smollm2, chat_template=str(hostile))
    info = await client.load(smollm2)
    assert info.chat_template == "fallback"
    assert info.template_refused
    assert (await _answer(client, "Hi")).stats.generated_tokens > 0


async def test_a_missing_template_file_stops_the_load_with_a_clear_error(
    client: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    from engine.errors import UsageError

    ModelSettingsStore.for_paths(get_paths()).update(
        smollm2, chat_template=str(tmp_path / "gone.jinja")
    )
    with pytest.raises(UsageError, match=r"gone\.jinja cannot be read"):
        await client.load(smollm2)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
    )


def test_the_command_line_sets_and_uses_a_models_settings(smollm2: Path) -> None:
    ask = ("chat", "--json", "--model", str(smollm2), "Hi")
    before = json.loads(_cli(*ask, "--max-tokens", "4").stdout)

    run = _cli(
        "models",
        "settings",
        str(smollm2),
        "--set",
        "system_prompt=You are a pirate captain on the high seas. Answer every question "
        "the way an old pirate would, with plenty of nautical words.",
        "--set",
        "max_tokens=3",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    rows = {row["key"]: row for row in json.loads(run.stdout)["settings"]}
    assert rows["max_tokens"] == {"key": "max_tokens", "value": 3, "source": "model"}
    assert rows["temperature"]["source"] == "default"

    after = json.loads(_cli(*ask).stdout)
    # The model's system prompt (longer than the template's own default one) went in
    # front of the question, and its answer length held.
    assert after["prompt_tokens"] > before["prompt_tokens"]
    assert after["generated_tokens"] <= 3
    # A flag given for one chat wins over the model's value.
    flagged = json.loads(_cli(*ask, "--system", "", "--max-tokens", "4").stdout)
    assert flagged["prompt_tokens"] == before["prompt_tokens"]

    bad = _cli("models", "settings", str(smollm2), "--set", "top_p=2")
    assert bad.returncode == 2
    assert "top_p" in bad.stderr
