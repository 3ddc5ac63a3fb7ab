"""The prompts of Ask: answer from passages with source tags, and the whole-document pass.

Tried by hand on the starter model (Qwen2.5-Coder-1.5B-Instruct) in English and Chinese.
What helped: every passage opens with its tag on a line of its own, exactly as the
answer should cite it; the question comes after the passages, then the instruction once
more with an example tag taken from the passages shown; and the map step of the
whole-document pass is told to copy facts, one a line, each with its tag, or to write
NONE, which it then does reliably.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from engine.tasks.doc_index import Passage
from engine.types import ChatMessage, SamplingParams

__all__ = [
    "NONE_MARK",
    "answer_prompt",
    "asks_for_everything",
    "map_prompt",
    "notes_prompt",
    "params",
    "render_passages",
]

#: What the map step writes when a group of passages holds nothing that answers.
NONE_MARK: Final = "NONE"
_EVERYTHING_EN: Final = re.compile(r"\b(all|every|list|enumerate|everything)\b", re.I)
_EVERYTHING_ZH: Final = re.compile(r"所有|全部|列出|每个|每一|每项|一切|列举|有哪些")

_SYSTEM: Final = {
    "en": (
        "You answer questions about documents using only the passages given. Each passage "
        "starts with its source tag in square brackets. After every fact you use, write the "
        "source tag of the passage it comes from. If the passages do not contain the answer, "
        "say that the documents do not say."
    ),
    "zh": (
        "你根据给出的文档段落回答问题，只能使用这些段落的内容。每个段落开头的方括号里是它的出处标签。"
        "你用到的每个事实后面都要写上它所在段落的出处标签。如果段落里没有答案，就说文档中没有提到。"
    ),
}


def asks_for_everything(question: str) -> bool:
    """Whether a question needs the whole document ("list every deadline", "所有…")."""
    return bool(_EVERYTHING_EN.search(question) or _EVERYTHING_ZH.search(question))


def render_passages(passages: Sequence[Passage]) -> str:
    """Passages, each under its tag; consecutive passages with the same tag share one."""
    parts: list[str] = []
    last = ""
    for p in passages:
        if p.label == last:
            parts[-1] += "\n\n" + p.text
        else:
            parts.append(f"{p.label}\n{p.text}")
            last = p.label
    return "\n\n".join(parts)


def answer_prompt(
    question: str, passages_text: str, example_tag: str, language: str
) -> list[ChatMessage]:
    """The conversation that answers ``question`` from rendered passages (or map notes)."""
    if language == "zh":
        user = (
            f"<段落>\n{passages_text}\n</段落>\n\n问题：{question}\n\n"
            "请只根据上面的段落，用中文简要回答（一到两句话），每句话的末尾写出它所在段落的出处标签，"
            f"例如：……{example_tag}"
        )
    else:
        user = (
            f"<passages>\n{passages_text}\n</passages>\n\nQuestion: {question}\n\n"
            "Answer in one or two sentences using only the passages above. End each sentence "
            f"with the source tag of the passage it comes from, like this: ... {example_tag}"
        )
    return [ChatMessage("system", _SYSTEM[language]), ChatMessage("user", user)]


def notes_prompt(question: str, notes: str, example_tag: str, language: str) -> list[ChatMessage]:
    """The last step of the whole-document pass: one answer from the facts every part gave.

    Asked to "answer briefly" from the notes, the starter model kept one item of a list
    and dropped the rest; told that the notes come from every part and that a list must
    keep every item, it keeps them.
    """
    if language == "zh":
        user = (
            f"<笔记>\n{notes}\n</笔记>\n\n问题：{question}\n\n"
            "上面的笔记是从文档的每个部分摘出的事实。只根据这些笔记用中文回答问题。如果问题要求列出"
            f"多项内容，就把笔记中每一项符合的内容都列出来，每行一项，并在末尾写出它的出处标签，例如：……{example_tag}"
        )
    else:
        user = (
            f"<notes>\n{notes}\n</notes>\n\nQuestion: {question}\n\n"
            "The notes above are the facts found in every part of the documents. Answer the "
            "question using only these notes. If the question asks for a list, give every item "
            "in the notes that answers it, one per line, each ending with its source tag, like "
            f"this: ... {example_tag}"
        )
    return [ChatMessage("system", _SYSTEM[language]), ChatMessage("user", user)]


def map_prompt(question: str, passages_text: str, language: str) -> list[ChatMessage]:
    """The map step of the whole-document pass: copy what answers, with tags, or NONE."""
    if language == "zh":
        user = (
            f"<段落>\n{passages_text}\n</段落>\n\n问题：{question}\n\n"
            "从上面的段落中找出所有能回答这个问题的事实，每行写一个，保留原文中的名字、日期和数字，"
            f"并在每行末尾写出出处标签。如果没有任何相关的事实，只写 {NONE_MARK}。"
        )
    else:
        user = (
            f"<passages>\n{passages_text}\n</passages>\n\nQuestion: {question}\n\n"
            "Copy every fact from the passages above that helps answer the question, one per "
            "line, keeping names, dates and numbers exactly, and end each line with its source "
            f"tag. If no passage helps, write only {NONE_MARK}."
        )
    return [ChatMessage("system", _SYSTEM[language]), ChatMessage("user", user)]


def params(max_tokens: int) -> SamplingParams:
    """Sampling for answers: near-greedy, so the model stays on the passages."""
    return SamplingParams(
        temperature=0.1, top_p=0.9, repeat_penalty=1.1, repeat_last_n=128, max_tokens=max_tokens
    )
