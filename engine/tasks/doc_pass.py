"""The whole-document pass: a question put to every passage, the answers combined.

For questions that need the whole ("list every deadline in this contract") over documents
longer than the context. The passages, in document order, are packed into groups that
fill the context (the map budget, counted with the model's tokenizer); each group is
asked the question and answers with the facts it holds, each line tagged with its
passage, or NONE (the map step). The facts kept are combined into one answer (the
reduce step); when they are themselves too long for one context they are packed and
condensed again, level by level.

A map line without a tag that resolves is given the tag of the passage of its group it
draws most words from, so every fact that reaches the answer still points at a passage.

Thread: the loop that owns the EngineClient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from engine.tasks import ask_prompts
from engine.tasks.citations import resolve_citations, word_overlap
from engine.tasks.doc_index import Passage
from engine.tasks.summarize import generate

if TYPE_CHECKING:
    from engine.tasks.ask import AskResult, _Run

__all__ = ["pack", "whole_document_pass"]

#: Reduce levels at most; past them the notes are cut to fit.
_MAX_LEVELS: Final = 4


def pack(costs: Sequence[int], budget: int) -> list[list[int]]:
    """Consecutive items (by index) in groups whose costs stay within ``budget``."""
    groups: list[list[int]] = []
    size = 0
    for i, cost in enumerate(costs):
        if groups and size + cost <= budget:
            groups[-1].append(i)
            size += cost
        else:
            groups.append([i])
            size = cost
    return groups


async def whole_document_pass(
    run: _Run, passages: Sequence[Passage], answer_budget: int, reason: str
) -> AskResult:
    """Map the question over every passage, keep what answers it, reduce to one answer.

    Args:
        run: the question in progress (engine, options, progress, token totals).
        passages: every passage of the documents, in order.
        answer_budget: tokens of text that fit in the final prompt.
        reason: why this mode, for the result.

    Returns:
        The answer, citing the passages the kept facts came from; ``notes`` holds them.
    """
    client = run.client
    info = client.model
    assert info is not None
    empty = ask_prompts.map_prompt(run.question, "", run.language)
    overhead, n_ctx = await client.count_chat_tokens(empty)
    from engine.runtime.context import output_reserve

    map_budget = max(64, n_ctx - output_reserve(n_ctx, run.options.map_tokens) - overhead - 16)
    costs = [await client.count_tokens(f"{p.label}\n{p.text}\n\n") for p in passages]
    tokens_read = sum(costs)
    groups = pack(costs, map_budget)
    notes: list[str] = []
    params = ask_prompts.params(run.options.map_tokens)
    for number, group in enumerate(groups, 1):
        shown = [passages[i] for i in group]
        run.progress("map", number - 1, len(groups), f"Reading part {number} of {len(groups)}…")
        messages = ask_prompts.map_prompt(
            run.question, ask_prompts.render_passages(shown), run.language
        )
        result = await generate(client, messages, params)
        run.count(result.stats.prompt_tokens, result.stats.generated_tokens)
        notes += _kept_lines(result.text, shown, result.stats.stop_reason == "length")
    run.progress("map", len(groups), len(groups), f"Read all {len(groups)} parts")
    if not notes:
        notes_text = "(No passage holds anything that answers the question.)"
    else:
        notes_text = await _reduce(run, notes, answer_budget)
    answer = await run.final(passages, tokens_read, "pass", reason, text=notes_text, notes=notes)
    return replace(answer, passages=tuple(passages))


def _kept_lines(text: str, shown: Sequence[Passage], cut: bool) -> list[str]:
    """The map answer's fact lines, each ending with a tag that resolves in its group."""
    lines = [line.strip(" -*•\t") for line in text.strip().splitlines()]
    if cut and len(lines) > 1:
        lines = lines[:-1]  # the last line was cut off mid-fact
    kept: list[str] = []
    for line in lines:
        if not line or line.upper().startswith(ask_prompts.NONE_MARK) or line in ("无", "没有"):
            continue
        cited = resolve_citations(line, shown)
        if not cited.text:
            continue
        if any(not c.inferred for c in cited.citations):
            kept.append(cited.text)
            continue
        best = max(shown, key=lambda p: word_overlap(cited.text, p.text))
        if word_overlap(cited.text, best.text) >= 0.3:
            kept.append(f"{cited.text} {best.label}")
    return kept


async def _reduce(run: _Run, notes: list[str], budget: int) -> str:
    """The notes joined, condensed level by level until they fit in ``budget`` tokens."""
    client = run.client
    current = notes
    for level in range(_MAX_LEVELS):
        joined = "\n".join(current)
        if await client.count_tokens(joined) <= budget:
            return joined
        costs = [await client.count_tokens(line + "\n") for line in current]
        groups = pack(costs, budget)
        condensed: list[str] = []
        for number, group in enumerate(groups, 1):
            run.progress("reduce", number - 1, len(groups), f"Combining notes (level {level + 1})…")
            text = "\n".join(current[i] for i in group)
            messages = ask_prompts.map_prompt(run.question, text, run.language)
            result = await generate(client, messages, ask_prompts.params(run.options.map_tokens))
            run.count(result.stats.prompt_tokens, result.stats.generated_tokens)
            condensed += [
                line.strip(" -*•\t")
                for line in result.text.splitlines()
                if line.strip() and not line.strip().upper().startswith(ask_prompts.NONE_MARK)
            ]
        if len(condensed) >= len(current):
            break
        current = condensed
    # Still too long: keep the first notes that fit (they are in document order).
    kept: list[str] = []
    used = 0
    for line in current:
        cost = await client.count_tokens(line + "\n")
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return "\n".join(kept)
