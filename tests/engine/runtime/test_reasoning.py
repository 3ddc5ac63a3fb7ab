"""Thinking is separated from the answer however the stream is cut into pieces."""

from __future__ import annotations

import itertools

import pytest

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

QWEN3_OUTPUT = (
    "<think>\nThe user asks for the capital of France. That is Paris.\n</think>\n\n"
    "The capital of France is Paris."
)


def stream(text: str, cuts: list[int], *, opened: bool = False) -> tuple[str, str, list[Channel]]:
    """Feed ``text`` cut at ``cuts``; return (reasoning, answer, channel order)."""
    splitter = ReasoningSplitter(opened=opened)
    pieces = []
    bounds = [0, *cuts, len(text)]
    for a, b in itertools.pairwise(bounds):
        pieces += splitter.feed(text[a:b])
    pieces += splitter.finish()
    assert "".join(p.text for p in pieces if p.channel is Channel.REASONING) == splitter.reasoning
    assert "".join(p.text for p in pieces if p.channel is Channel.ANSWER) == splitter.answer
    return splitter.reasoning, splitter.answer, [p.channel for p in pieces]


def test_a_thinking_block_is_split_from_the_answer() -> None:
    reasoning, answer = split_reasoning(QWEN3_OUTPUT)
    assert reasoning == "The user asks for the capital of France. That is Paris."
    assert answer == "The capital of France is Paris."


@pytest.mark.parametrize("cut", range(1, len(QWEN3_OUTPUT)))
def test_any_single_cut_gives_the_same_split(cut: int) -> None:
    reasoning, answer, order = stream(QWEN3_OUTPUT, [cut])
    assert reasoning.rstrip() == "The user asks for the capital of France. That is Paris."
    assert answer == "The capital of France is Paris."
    # Thinking always comes before the answer, never interleaved.
    assert order == sorted(order, key=lambda c: c is Channel.ANSWER)


def test_one_character_at_a_time() -> None:
    reasoning, answer, _ = stream(QWEN3_OUTPUT, list(range(1, len(QWEN3_OUTPUT))))
    assert "<" not in reasoning and "think" not in answer
    assert answer == "The capital of France is Paris."


def test_a_template_that_opens_the_block_leaves_only_the_closing_marker() -> None:
    output = "Okay, 2 + 2 is 4.\n</think>\n\n4"
    for cut in range(1, len(output)):
        reasoning, answer, _ = stream(output, [cut], opened=True)
        assert reasoning.rstrip() == "Okay, 2 + 2 is 4."
        assert answer == "4"


def test_thinking_cut_by_the_token_limit_stays_thinking() -> None:
    reasoning, answer, order = stream("<think>\nLet me count: 1, 2, 3, </thi", [9, 20])
    assert reasoning == "Let me count: 1, 2, 3, </thi"
    assert answer == ""
    assert set(order) == {Channel.REASONING}


def test_a_marker_inside_an_answer_is_answer_text() -> None:
    text = "Use the <think> tag like this: <think>x</think>."
    reasoning, answer, _ = stream(text, [3, 10, 30])
    assert reasoning == ""
    assert answer == text


def test_an_answer_without_thinking_passes_through_unchanged() -> None:
    text = "  Paris is the capital.\n"
    reasoning, answer, _ = stream(text, [1, 2, 5])
    assert reasoning == ""
    assert answer == text


def test_an_answer_that_is_only_the_start_of_a_marker_is_kept() -> None:
    reasoning, answer, _ = stream("<thi", [2])
    assert (reasoning, answer) == ("", "<thi")


def test_an_empty_thinking_block_yields_no_reasoning() -> None:
    reasoning, answer = split_reasoning("<think>\n\n</think>\n\nHello!")
    assert (reasoning, answer) == ("", "Hello!")


def test_chinese_text_in_both_parts() -> None:
    reasoning, answer = split_reasoning("<think>用户问中国的首都。是北京。</think>北京")
    assert (reasoning, answer) == ("用户问中国的首都。是北京。", "北京")


def test_prompt_and_template_detection() -> None:
    assert prompt_opens_thinking("<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_thinking("<|im_start|>assistant\n")
    assert not prompt_opens_thinking("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    qwen3 = "{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>"
    assert template_can_think(qwen3) and template_has_thinking_switch(qwen3)
    r1 = "{{'<｜Assistant｜><think>\\n'}}"
    assert template_can_think(r1) and not template_has_thinking_switch(r1)
    assert not template_can_think("{{ message['content'] }}")


# -- models that answer in channels (gpt-oss) --------------------------------------------

GPT_OSS_OUTPUT = (
    "<|channel|>analysis<|message|>User asks the capital of France. Paris.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>The capital of France is **Paris**."
)


def channels(text: str, cuts: list[int]) -> tuple[str, str]:
    """Feed ``text`` to a channel splitter cut at ``cuts``; return (reasoning, answer)."""
    splitter = HarmonySplitter()
    pieces = []
    for a, b in itertools.pairwise([0, *cuts, len(text)]):
        pieces += splitter.feed(text[a:b])
    pieces += splitter.finish()
    assert "".join(p.text for p in pieces if p.channel is Channel.REASONING) == splitter.reasoning
    assert "".join(p.text for p in pieces if p.channel is Channel.ANSWER) == splitter.answer
    return splitter.reasoning, splitter.answer


@pytest.mark.parametrize("cut", range(1, len(GPT_OSS_OUTPUT)))
def test_the_analysis_channel_is_thinking_however_the_stream_is_cut(cut: int) -> None:
    assert channels(GPT_OSS_OUTPUT, [cut]) == (
        "User asks the capital of France. Paris.",
        "The capital of France is **Paris**.",
    )


def test_channels_one_character_at_a_time_and_thinking_cut_off() -> None:
    assert channels(GPT_OSS_OUTPUT, list(range(1, len(GPT_OSS_OUTPUT))))[1].endswith("**Paris**.")
    cut_off = GPT_OSS_OUTPUT[: GPT_OSS_OUTPUT.index("<|end|>") - 6]
    assert channels(cut_off, []) == ("User asks the capital of France. ", "")
    # A tool call's commentary is not thinking; an answer with no message at all is answer.
    call = "<|channel|>commentary to=functions.get <|constrain|>json<|message|>{}<|call|>"
    assert channels(call, []) == ("", "{}")
    assert channels("Just an answer, <|not a marker.", []) == (
        "",
        "Just an answer, <|not a marker.",
    )


def test_channel_templates_are_detected() -> None:
    gpt_oss = "{{- '<|start|>assistant<|channel|>final<|message|>' + message.content + '<|end|>' }}"
    assert template_writes_channels(gpt_oss) and template_can_think(gpt_oss)
    assert not template_writes_channels(QWEN3_OUTPUT)
