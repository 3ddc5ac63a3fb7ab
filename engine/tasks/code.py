"""Code tasks for a local model: generate, explain, fix, write tests, review, complete.

Owns the prompts (one per task, shaped by the language: its name, its fence tag, its
usual test framework), the diff of a fix against the code it was asked to fix, and the
advice to load a code model when a general chat model is loaded. Turning an answer back
into code lives in :mod:`engine.tasks.code_blocks`, completion at a cursor in
:mod:`engine.tasks.code_fim`; both are re-exported here. The desktop's Code pane and
``hearth-cli code`` both run tasks through :func:`run_task`.

Thread: the coroutines run on the caller's event loop.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.errors import ContextOverflow, EngineError
from engine.runtime.context import output_reserve
from engine.tasks.code_blocks import FencedBlock, answer_code, extract_code_blocks
from engine.tasks.code_fim import (
    Completion,
    FimReason,
    FimSupport,
    complete_at_cursor,
    fill_in_the_middle,
    fim_support,
    fit_completion,
    split_at,
    trim_overlap,
)
from engine.tasks.programming_languages import LANGUAGES
from engine.types import (
    ChatMessage,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    SamplingParams,
    TokenEvent,
)

if TYPE_CHECKING:
    from engine.models.catalog import CatalogEntry
    from engine.models.hardware import Hardware
    from engine.runtime.client import EngineClient

TASKS = ("generate", "explain", "fix", "tests", "review")
#: Tasks whose answer is code (the others answer in prose).
CODE_TASKS = ("generate", "fix", "tests")

#: Answer length per task, in tokens (a fix rewrites the whole code: see _max_tokens).
MAX_TOKENS = {"generate": 1024, "explain": 768, "fix": 1536, "tests": 1280, "review": 768}
#: Code wants focused sampling, and no repetition penalty (code repeats names on purpose).
_TEMPERATURE = {"generate": 0.2, "explain": 0.3, "fix": 0.1, "tests": 0.2, "review": 0.3}

#: The usual unit-test framework of a language, named in the "tests" prompt.
TEST_FRAMEWORKS = {
    "python": "pytest",
    "javascript": "Jest",
    "typescript": "Jest (with TypeScript types)",
    "java": "JUnit 5",
    "kotlin": "JUnit 5",
    "go": "the standard testing package",
    "rust": "a #[cfg(test)] module with #[test] functions",
    "c": "plain assert() calls in a main() test runner",
    "cpp": "GoogleTest",
    "csharp": "xUnit",
    "php": "PHPUnit",
    "ruby": "RSpec",
    "swift": "XCTest",
    "bash": "bats",
    "sql": "queries that check the results, with the expected rows in comments",
}

#: Fence tags a model understands best, where they differ from the canonical name.
_FENCE_TAG = {"bash": "bash", "cpp": "cpp", "csharp": "csharp", "text": ""}

#: A run of this many characters seen three times in an answer is a loop (LoopGuard).
LOOP_SPAN = 120
LOOP_CHECK_EVERY = 40

#: On a computer without a GPU and with at most this many cores, the advice prefers
#: code models of at most SMALL_CPU_PARAMETERS.
SMALL_CPU_CORES = 4
SMALL_CPU_PARAMETERS = 3e9

_CODE_MODEL_NAME = re.compile(
    r"coder|codestral|starcoder|codellama|code-?llama|codegemma|codeqwen|deepseek-?coder"
    r"|granite[-\w]*code|wizardcoder|stable-?code|codegeex|\bcode\b",
    re.IGNORECASE,
)


# -- requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRequest:
    """One code task as the user asked it.

    Attributes:
        task: one of :data:`TASKS`.
        language: a canonical language name (``engine.tasks.programming_languages``); "text"
            if unknown.
        code: the code to work on (the editor or its selection); empty for "generate".
        instruction: what to generate; for the other tasks an optional extra request.
        error: for "fix", an error message or traceback (optional).
        filename: the code's file name, if it has one (the model sees it).
        first_line: the line number of the code's first line in its file, so that a
            review of a selection points at the editor's lines.
    """

    task: str
    language: str
    code: str = ""
    instruction: str = ""
    error: str = ""
    filename: str = ""
    first_line: int = 1

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"Unknown code task {self.task!r}; use one of {', '.join(TASKS)}.")
        if self.task == "generate":
            if not self.instruction.strip():
                raise ValueError("Describe the code to generate.")
        elif not self.code.strip():
            raise ValueError("There is no code to work on: open a file or type some code.")


def language_name(language: str) -> str:
    """The language's name in a prompt ("Python", "C++"), "code" for plain text."""
    if language == "text":
        return "code"
    return LANGUAGES.get(language, language.capitalize())


def fence_tag(language: str) -> str:
    """The info string to open a Markdown fence of ``language`` with."""
    return _FENCE_TAG.get(language, language)


def _fence_for(code: str) -> str:
    """A backtick fence longer than any backtick run in ``code``."""
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    return "`" * max(3, longest + 1)


def _fenced(code: str, language: str, *, numbered_from: int = 0) -> str:
    body = code.rstrip("\n")
    if numbered_from:
        lines = body.split("\n")
        width = len(str(numbered_from + len(lines) - 1))
        body = "\n".join(f"{numbered_from + i:>{width}}| {line}" for i, line in enumerate(lines))
    fence = _fence_for(body)
    return f"{fence}{fence_tag(language)}\n{body}\n{fence}"


def build_messages(request: CodeRequest) -> list[ChatMessage]:
    """The conversation that asks the model for ``request``."""
    lang = language_name(request.language)
    tag = fence_tag(request.language)
    where = f" (from {request.filename})" if request.filename else ""
    extra = request.instruction.strip()
    system = (
        f"You are an expert {lang if lang != 'code' else 'software'} engineer. "
        "You write correct, idiomatic, complete code and explain it briefly and precisely. "
        "Put all code in fenced Markdown code blocks."
    )
    if request.task == "generate":
        user = (
            f"Write {lang} code for this task:\n\n{extra}\n\n"
            f"Answer with one complete ```{tag} code block that can be used as it is, "
            "then at most three sentences on how to use it."
        )
    elif request.task == "explain":
        user = (
            f"Explain what this {lang} code{where} does. Start with a short summary "
            "paragraph, then go through the important parts, citing line numbers "
            "(the numbers before '|').\n\n"
            + _fenced(request.code, request.language, numbered_from=request.first_line)
        )
        if extra:
            user += f"\n\nIn particular: {extra}"
    elif request.task == "fix":
        user = f"Fix the bugs in this {lang} code{where}."
        if request.error.strip():
            error = request.error.strip()
            user += f" Running it gives this error:\n\n{_fenced(error, 'text')}"
        if extra:
            user += f"\n\nAlso: {extra}"
        user += (
            f"\n\n{_fenced(request.code, request.language)}\n\n"
            f"Answer with the complete corrected code in one ```{tag} block (all of it, "
            "not only the changed lines), then list what you changed and why."
        )
    elif request.task == "tests":
        framework = TEST_FRAMEWORKS.get(request.language, "the usual test framework")
        user = (
            f"Write unit tests with {framework} for this {lang} code{where}. Cover the "
            "normal cases, edge cases and errors.\n\n"
            f"{_fenced(request.code, request.language)}\n\n"
            f"Answer with one complete ```{tag} block of test code, then one sentence on "
            "how to run it."
        )
        if extra:
            user += f"\n\nAlso: {extra}"
    else:  # review
        user = (
            f"Review this {lang} code{where} for bugs, security problems, performance and "
            "readability. List each issue on its own line as "
            "'- Line N: the problem. The fix.' (N is the number before '|'), the most "
            "serious first. If the code has no issues, say so.\n\n"
            + _fenced(request.code, request.language, numbered_from=request.first_line)
        )
        if extra:
            user += f"\n\nFocus on: {extra}"
    return [ChatMessage("system", system), ChatMessage("user", user)]


def sampling_for(task: str, *, code_tokens: int = 0) -> SamplingParams:
    """Sampling for a task: low temperature, no repetition penalty, room for the answer.

    Args:
        task: one of :data:`TASKS`.
        code_tokens: the size of the code sent, so a fix has room to write it all again.
    """
    max_tokens = MAX_TOKENS[task]
    if task == "fix":
        max_tokens = max(max_tokens, int(code_tokens * 1.3) + 256)
    return SamplingParams(
        temperature=_TEMPERATURE[task],
        top_p=0.95,
        top_k=40,
        min_p=0.05,
        repeat_penalty=1.0,
        max_tokens=max_tokens,
        # A fix, tests, a review or an explanation copies the code it was given: prompt
        # lookup writes those stretches several tokens per step (benchmarks/lookup.md).
        lookup=task != "generate",
    )


# -- answers ---------------------------------------------------------------------------


def match_final_newline(original: str, code: str) -> str:
    """``code`` ending with a newline exactly when ``original`` does."""
    code = code.rstrip("\n")
    return code + "\n" if original.endswith("\n") else code


def unified_diff(old: str, new: str, filename: str = "code") -> str:
    """A unified diff from ``old`` to ``new`` ("" when they are the same).

    A relative ``filename`` is kept (so ``git apply`` finds it from where it was
    given); an absolute one is shortened to its base name.
    """
    relative = filename and not os.path.isabs(filename) and ".." not in filename.split("/")
    name = (filename.replace(os.sep, "/") if relative else os.path.basename(filename)) or "code"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:  # the last line of a file without a final newline
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """Every line of ``old`` and ``new`` in order, marked " " (both), "-" (old) or "+" (new)."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend((" ", line) for line in a[i1:i2])
        else:
            rows.extend(("-", line) for line in a[i1:i2])
            rows.extend(("+", line) for line in b[j1:j2])
    return rows


# -- running a task --------------------------------------------------------------------


@dataclass(frozen=True)
class CodeResult:
    """A finished (or stopped) code task.

    Attributes:
        request: what was asked.
        text: the whole answer, Markdown.
        code: the code the answer proposes ("generate", "fix", "tests"), else None.
        diff: for "fix", the unified diff from the request's code to ``code``; "".
        stats: the generation's figures.
        stop_reason: why it ended ("eos", "length", "cancelled"…).
    """

    request: CodeRequest
    text: str
    code: str | None
    diff: str
    stats: GenerationStats
    stop_reason: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (``hearth-cli code --json``)."""
        return {
            "task": self.request.task,
            "language": self.request.language,
            "filename": self.request.filename,
            "answer": self.text,
            "code": self.code,
            "diff": self.diff,
            "stop_reason": self.stop_reason,
            "stats": self.stats.to_dict(),
        }


def result_of(request: CodeRequest, text: str, stats: GenerationStats) -> CodeResult:
    """Read the code (and for a fix, the diff) out of an answer."""
    code = answer_code(text, request.language) if request.task in CODE_TASKS else None
    diff = ""
    if request.task == "fix" and code is not None:
        code = match_final_newline(request.code, code)
        diff = unified_diff(request.code, code, request.filename or "code")
    return CodeResult(request, text, code, diff, stats, stats.stop_reason)


async def run_task(
    client: EngineClient,
    request: CodeRequest,
    *,
    on_token: Callable[[str], None] | None = None,
    params: SamplingParams | None = None,
) -> CodeResult:
    """Run one code task with the loaded model, streaming the answer.

    Args:
        client: the engine, with a model loaded.
        request: the task.
        on_token: called on the loop with each piece of the answer.
        params: sampling to use instead of :func:`sampling_for`'s.

    Returns:
        The answer, the code it proposes and, for a fix, the diff. A generation stopped
        with ``client.cancel()`` returns what was written (stop_reason "cancelled").

    Raises:
        NoModelLoaded: no model is loaded.
        ContextOverflow: the code does not fit in the model's context with the answer.
        EngineError: the engine failed (EngineCrashed when its worker died).
        asyncio.CancelledError: the task was cancelled; the generation stops too.
    """
    messages = build_messages(request)
    prompt_tokens, n_ctx = await client.count_chat_tokens(messages)
    if params is None:
        code_tokens = await client.count_tokens(request.code) if request.task == "fix" else 0
        params = sampling_for(request.task, code_tokens=code_tokens)
    answer_room = output_reserve(n_ctx, params.max_tokens)
    if prompt_tokens + min(answer_room, 256) > n_ctx:
        raise ContextOverflow(
            f"The code and the request come to {prompt_tokens:,} tokens; this model's "
            f"context holds {n_ctx:,} with room for the answer. Select a part of the code, "
            "or load the model with a larger context (Settings)."
        )
    if prompt_tokens + params.max_tokens > n_ctx:
        params = replace(params, max_tokens=max(256, n_ctx - prompt_tokens))
    stream = client.chat(messages, params, policy="stop")
    result: GenerationResult | None = None
    guard = LoopGuard()
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, TokenEvent):
                if event.reasoning:  # thinking: never the answer, nor checked for loops
                    continue
                if on_token is not None and not guard.looping:
                    on_token(event.text)
                if guard.feed(event.text):
                    await client.cancel()
            else:
                result = event
    if result is None:  # pragma: no cover - the client always ends with a result
        raise EngineError("The engine ended a generation without a result.")
    if guard.looping:
        return replace(result_of(request, guard.text, result.stats), stop_reason="repetition")
    return result_of(request, result.text, result.stats)


class LoopGuard:
    """Notices an answer going round in a loop (small models repeat a paragraph forever).

    Code sampling has no repetition penalty (code repeats names on purpose), so the
    loop is caught in the text instead: when the last :data:`LOOP_SPAN` characters have
    already appeared twice before, the answer is cut after the first turn of the loop.
    """

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._length = 0
        self._checked = 0
        self.looping = False
        #: The answer up to where the loop began (when looping), else everything.
        self.text = ""

    def feed(self, piece: str) -> bool:
        """Add a piece of the answer; True when it has just started looping."""
        if self.looping:
            return False
        self._pieces.append(piece)
        self._length += len(piece)
        if self._length - self._checked < LOOP_CHECK_EVERY:
            return False
        self._checked = self._length
        text = "".join(self._pieces)
        self._pieces = [text]
        self.text = text
        tail = text[-LOOP_SPAN:]
        if len(text) < 3 * LOOP_SPAN or not tail.strip():
            return False
        first = text.find(tail)
        second = text.find(tail, first + 1)
        if second < 0 or second + len(tail) >= len(text):
            return False  # seen twice at most (the tail itself is one)
        # The loop's period is second - first; find where the repeating began, keep
        # one turn of it (up to a line end), and no code block the loop opened.
        period = second - first
        start = first
        while start > 0 and text[start - 1] == text[start - 1 + period]:
            start -= 1
        cut = start + period
        line_end = text.rfind("\n", start, cut + 1)
        kept = text[: line_end if line_end > start else cut]
        blocks = extract_code_blocks(kept)
        if blocks and not blocks[-1].closed:
            if blocks[-1].start >= start:
                kept = kept[: blocks[-1].start]
            else:
                kept = kept.rstrip("\n") + "\n```"
        self.looping = True
        self.text = kept.rstrip()
        return True


# -- model advice ----------------------------------------------------------------------


def is_code_model(model: ModelInfo) -> bool:
    """Whether the loaded model is made for code (its name, or its FIM tokens, say so)."""
    name = f"{model.model_id} {os.path.basename(model.path)}"
    return model.fim or _CODE_MODEL_NAME.search(name) is not None


def code_model_advice(
    model: ModelInfo | None,
    entries: Sequence[CatalogEntry],
    hardware: Hardware,
    n_ctx: int,
) -> CatalogEntry | None:
    """A catalog code model that fits this computer, when the loaded model is not one.

    Returns:
        None when a code model is loaded or nothing fits; else the best fitting entry
        made for code (listed "code" first), or the best fitting entry that handles code.
    """
    from engine.models.catalog import recommend

    if model is not None and is_code_model(model):
        return None
    fitting = recommend(entries, task="code", hardware=hardware, n_ctx=n_ctx)
    made_for_code = [e for e in fitting if e.tasks and e.tasks[0] == "code"]
    if not hardware.gpus and hardware.cpu.physical_cores <= SMALL_CPU_CORES:
        # A few CPU cores write a 7 B model's answer at a few tokens a second: a small
        # coder that answers at reading speed serves better.
        quick = [e for e in made_for_code if e.parameters <= SMALL_CPU_PARAMETERS]
        made_for_code = quick + [e for e in made_for_code if e not in quick]
    if made_for_code:
        return made_for_code[0]
    return fitting[0] if fitting else None


__all__ = [
    "CODE_TASKS",
    "TASKS",
    "TEST_FRAMEWORKS",
    "CodeRequest",
    "CodeResult",
    "Completion",
    "FencedBlock",
    "FimReason",
    "FimSupport",
    "answer_code",
    "build_messages",
    "code_model_advice",
    "complete_at_cursor",
    "diff_lines",
    "extract_code_blocks",
    "fence_tag",
    "fill_in_the_middle",
    "fim_support",
    "fit_completion",
    "is_code_model",
    "language_name",
    "match_final_newline",
    "result_of",
    "run_task",
    "sampling_for",
    "split_at",
    "trim_overlap",
    "unified_diff",
]
