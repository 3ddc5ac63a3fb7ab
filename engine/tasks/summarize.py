"""The Summarize task: a whole document of any length, map-reduce sized to the context.

The document is split with the loaded model's own tokenizer on paragraph, then
sentence boundaries (Chinese punctuation included), then spaces, then anywhere, each
chunk is summarized (the map step), the partial summaries are combined group by group
until they fit in one context (the reduce levels), and a final pass writes the summary
in the requested length, style and language, streamed token by token. A document that
fits in the context is summarized in one pass.

Splitting is bounded in memory and time whatever the text: it walks the text once,
tokenizing one chunk-sized window at a time (never more than
:data:`MAX_TOKENIZE_CHARS` at once), and needs no line breaks. The first
:data:`SPLIT_AHEAD_CHARS` are split before the map step starts, so the chunk count is
exact for any ordinary document; past them chunks are split as the map step reaches
them, so a 95 MB one-line text starts being summarized at once.

Thread: everything runs on the asyncio loop that owns the EngineClient; the
callbacks are called on that loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Protocol

from engine.errors import ContextOverflow, DocumentError, EngineError, UsageError
from engine.runtime.context import output_reserve
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

if TYPE_CHECKING:
    from engine.runtime.client import EngineClient

log = logging.getLogger("engine.summarize")

LENGTHS = ("short", "medium", "long")
STYLES = ("bullets", "paragraphs", "tldr")
LANGUAGES = ("auto", "en", "zh")

#: Answer length of one chunk's summary (the map and reduce steps), by option.
MAP_MAX_TOKENS = {"short": 96, "medium": 160, "long": 256}
#: Answer length of the final summary, by option.
FINAL_MAX_TOKENS = {"short": 128, "medium": 256, "long": 512}
#: Chunks decoded together when the model runs on a GPU and the client can run several
#: sequences at once. On a CPU the map step stays sequential: prompt reading dominates
#: there and a batch of sequences decodes barely faster than one (benchmarks/summarize.md),
#: while sharing the context would cut the chunks to a quarter and multiply the summaries.
MAP_PARALLEL = 4
#: Smallest chunk worth a parallel map: below it the context is too small to share.
MIN_PARALLEL_CHUNK = 1024
#: A generated token costs about this many prompt tokens of time on a CPU; progress
#: and the ETA weigh the work with it.
GEN_WEIGHT = 10.0
#: Passes at most (map, reduce levels, final); each level divides the text by two or more,
#: so this is only reached by a model that answers longer than it is asked to.
_MAX_LEVELS = 8
#: Tokens kept free besides the template and the answer (boundary effects of joining).
_MARGIN = 8
#: The share of the map answers' length a summary usually takes, until measured.
_EXPECTED_FILL = 0.6
#: Share of CJK characters (among CJK characters and Latin letters) above which a
#: text is Chinese.
CJK_RATIO = 0.3
#: Characters tokenized in one request at most. The worker answers with the token ids as
#: a JSON list: a million characters make about 215,000 ids (1.5 MB of JSON); a 95 MB
#: one-line text sent whole made 20 million and held 3.7 GB across the two processes.
MAX_TOKENIZE_CHARS = 1_000_000
#: Characters split into chunks before the map step starts (about 500 pages; llama.cpp
#: tokenizes 1.5 MB/s here, so about 1.5 s). Past them, chunks are split as the map step
#: reaches them, a batch this size at a time.
SPLIT_AHEAD_CHARS = 2_000_000
#: No text we know averages more characters per token than this (English about 4.6,
#: code 3.5, Chinese 1.5): a text longer than this many per token of the budget cannot
#: fit in it, and is not tokenized whole to find out.
_MAX_CHARS_PER_TOKEN = 16
#: Characters per token assumed for the first chunk, before any is counted.
_FIRST_CHARS_PER_TOKEN = 3.0
#: A chunk is sized to this share of the budget by the latest characters-per-token, so
#: that most chunks fit on their first count.
_FILL = 0.95
#: A chunk under this share of the budget is grown once more, if the text goes on.
_FULL = 0.85
#: Counts tried to fill one chunk, besides those that shrink it to fit.
_GROW_TRIES = 2

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A line such as "[Page 3]" or "[Section 2: Results]" that Document.text puts
# between sections; it stays with the text after it.
_MARKER = re.compile(r"^\[[^\[\]\n]{1,80}\]$")
# After a sentence end: Latin punctuation followed by space, Chinese punctuation, a newline.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|\n")
_SPACE = re.compile(r"\s+")
_NOT_SPACE = re.compile(r"\S")
# Where a chunk may end, best first; each match's start is the end of the chunk.
_BOUNDARIES = (_PARAGRAPH_BREAK, _SENTENCE_END, _SPACE)


class DocumentLike(Protocol):
    """What summarize needs of a document (engine.tasks.documents.Document has it)."""

    @property
    def name(self) -> str:
        """A name to show (the file name)."""

    @property
    def text(self) -> str:
        """The whole text, with section marker lines such as "[Page 3]"."""


@dataclass(frozen=True)
class SummaryOptions:
    """How the summary should read.

    Attributes:
        length: "short", "medium" or "long".
        style: "bullets", "paragraphs" or "tldr" (a one-sentence TL;DR, then key points).
        language: "auto" (the document's own), "en" or "zh".

    Raises:
        UsageError: an option is not one of its choices.
    """

    length: str = "medium"
    style: str = "bullets"
    language: str = "auto"

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("length", self.length, LENGTHS),
            ("style", self.style, STYLES),
            ("language", self.language, LANGUAGES),
        ):
            if value not in choices:
                raise UsageError(f"Summary {name} {value!r} is not one of: {', '.join(choices)}.")

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form (stored with the summary in the history)."""
        return asdict(self)


@dataclass(frozen=True)
class SummaryProgress:
    """Where a summary stands.

    Attributes:
        stage: "extract", "chunk", "map", "reduce", "final" or "done".
        done: chunks mapped / groups reduced / tokens written so far at this stage.
        total: how many there are at this stage.
        fraction: overall progress 0..1; never goes back, 1.0 only at "done".
        eta_s: seconds left, estimated from the rate so far; -1 when unknown.
        message: one English line for a status bar.
        partial: the latest chunk summary (map and reduce), so a UI can show what
            was done even if the summary is cancelled.
    """

    stage: str
    done: int
    total: int
    fraction: float
    eta_s: float
    message: str
    partial: str = ""


@dataclass(frozen=True)
class SummaryResult:
    """A finished summary.

    Attributes:
        text: the summary.
        chunks: how many chunks the document was split into (1: one pass).
        tokens_read: the document's length in the model's tokens.
        seconds: wall time of the whole summary.
        levels: passes the text went through: 1 for one pass, 2 for chunk summaries
            then the final pass, 3 and more with reduce levels between.
        language: the summary's language, "en" or "zh".
        partials: the chunk summaries of the map step (empty for one pass).
        prompt_tokens: tokens the model read over all passes (the document, the
            chunk summaries it combined, the prompts' templates).
        generated_tokens: tokens the model wrote over all passes.
        parallel: chunks decoded together in the map step (1: one at a time).
    """

    text: str
    chunks: int
    tokens_read: int
    seconds: float
    levels: int
    language: str
    partials: tuple[str, ...]
    prompt_tokens: int = 0
    generated_tokens: int = 0
    parallel: int = 1


def extraction_progress(name: str) -> SummaryProgress:
    """The event a caller sends while it extracts ``name``'s text (before :func:`summarize`)."""
    return SummaryProgress("extract", 0, 1, 0.0, -1.0, f"Reading {name}…")


def detect_language(text: str) -> str:
    """ "zh" when CJK characters make up a good share of the text's letters, else "en"."""
    sample = text[:200_000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    # A Chinese character carries about a word; five Latin letters do.
    return "zh" if cjk and cjk / (cjk + latin / 5) >= CJK_RATIO else "en"


# -- prompts --------------------------------------------------------------------------
#
# Written for the 0.5B model that was the starter (Qwen2.5-Coder-0.5B-Instruct) and measured with
# benchmarks/quality.py. Asked only "summarize the text above", it copied the text's
# sentences or listed its headings. What helped: a system prompt that says what a
# summary is, the document fenced between tags with the request before and after it,
# an exact number of points, a length for each, and "in your own words" said outright.

_SYSTEM = {
    "en": "You summarize documents: a few short points, in your own words, never copied sentences.",
    "zh": "你负责总结文档：只写几个简短的要点，用自己的话表达，绝不照抄原文的句子。",
}
_LEAD = {
    "en": "Read the document below, then summarize it in your own words.",
    "zh": "阅读下面的文档，然后用自己的话总结。",
}
_COUNT = {"short": "3", "medium": "5", "long": "8"}
_PARAGRAPHS = {"short": "one short paragraph", "medium": "one paragraph", "long": "two paragraphs"}
_PARAGRAPHS_ZH = {"short": "一小段话", "medium": "一段话", "long": "两段话"}
_RULES = (
    "Rules:\n"
    "- each point is one sentence of at most 20 words;\n"
    "- say what is done, when, by whom, with the names and numbers that matter, not only "
    "a heading;\n"
    "- use your own words: do not copy sentences from the document."
)
_RULES_ZH = (
    "要求：\n"
    "- 每个要点一句话，不超过25个字；\n"
    "- 写出具体的做法、时间、数字或名字，不要只写小标题；\n"
    "- 用自己的话改写，不要照抄原文的句子。"
)


def map_instruction(language: str) -> str:
    """The instruction after a chunk (map) or a group of chunk summaries (reduce)."""
    if language == "zh":
        return (
            "用中文列出上面文档中最重要的3到5个事实。每个要点一句话，用自己的话写，保留名字和数字。"
        )
    return (
        "List the 3 to 5 most important facts of the document above as bullet points. Each "
        "point is one short sentence in your own words; keep names and numbers."
    )


def final_instruction(options: SummaryOptions, language: str) -> str:
    """The instruction after the text (or the combined chunk summaries) in the final pass."""
    length, style = options.length, options.style
    count = _COUNT[length]
    if language == "zh":
        if style == "paragraphs":
            return (
                f"用中文把上面的文档总结成{_PARAGRAPHS_ZH[length]}。用自己的话写，保留重要的名字和"
                "数字，不要照抄原文的句子。"
            )
        if style == "tldr":
            return f"先用一句中文概括上面的文档，再用中文写{count}个要点。{_RULES_ZH}"
        return f"用中文写{count}个要点，总结上面的文档。{_RULES_ZH}"
    if style == "paragraphs":
        return (
            f"Summarize the document above in {_PARAGRAPHS[length]}, in your own words. Keep "
            "the names and numbers that matter; do not copy sentences from the document."
        )
    if style == "tldr":
        return (
            "Write a one-sentence TL;DR of the document above, then exactly "
            f"{count} bullet points of its key facts. {_RULES}"
        )
    return f"Write exactly {count} bullet points that summarize the document above. {_RULES}"


def _prompt(text: str, instruction: str, language: str) -> list[ChatMessage]:
    return [
        ChatMessage("system", _SYSTEM[language]),
        ChatMessage(
            "user", f"{_LEAD[language]}\n\n<document>\n{text}\n</document>\n\n{instruction}"
        ),
    ]


def _params(max_tokens: int) -> SamplingParams:
    # Low temperature keeps the small model on the text; the repeat penalty stops it
    # from listing the same point again and again.
    return SamplingParams(
        temperature=0.25, top_p=0.9, repeat_penalty=1.15, repeat_last_n=128, max_tokens=max_tokens
    )


# -- chunking -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    text: str
    tokens: int


class _Tokens:
    """Token counts with the loaded model's tokenizer (a worker round trip, 1.5 MB/s)."""

    def __init__(self, client: EngineClient) -> None:
        self._client = client

    async def count(self, text: str) -> int:
        """Tokens in ``text``; over :data:`MAX_TOKENIZE_CHARS`, the sum over pieces of it.

        Pieces are cut at spaces where there are any, so the sum is within a token or
        two per million characters of the whole: close enough for a text that long,
        which is only ever compared with a budget far smaller.
        """
        total = 0
        start = 0
        while len(text) - start > MAX_TOKENIZE_CHARS:
            end = cut_at_boundary(text, start, start + MAX_TOKENIZE_CHARS)
            total += await self._tokenize_count(text[start:end])
            start = end
        return total + await self._tokenize_count(text[start:])

    async def _tokenize_count(self, text: str) -> int:
        return await self._client.count_tokens(text) if text else 0


def cut_at_boundary(text: str, start: int, stop: int) -> int:
    """Where a chunk from ``start`` ends, at ``stop`` at the latest.

    The last paragraph break in the window's second half, else the last sentence end
    there, else the last space; a line such as "[Page 3]" never ends a chunk. A window
    with none of them (one long word) is cut at ``stop``. The second half, so that a
    short paragraph before a long one does not make a chunk of its own: the long one's
    sentences fill the rest of the chunk.
    """
    if stop >= len(text):
        return len(text)
    least = start + (stop - start) // 2
    for boundary in _BOUNDARIES:
        ends = [m.start() for m in boundary.finditer(text, least, stop + 1)]
        for end in reversed(ends):
            if end > start and not _ends_with_marker(text, start, end):
                return end
    return stop


def _ends_with_marker(text: str, start: int, end: int) -> bool:
    line_start = max(start, text.rfind("\n", start, end) + 1)
    return bool(_MARKER.match(text[line_start:end].strip()))


class _Splitter:
    """Cuts a text into chunks of at most ``budget`` tokens, in order, one at a time.

    Each chunk is sized from the characters per token of the one before, cut at the
    best boundary in its window (see :func:`cut_at_boundary`), and counted: a chunk over the
    budget is cut shorter, one well under it is grown. Memory is the text and the
    chunk in hand; time is one or two tokenizer calls a chunk.
    """

    def __init__(self, text: str, budget: int, counter: _Tokens) -> None:
        self._text = text
        self.budget = budget
        self._counter = counter
        self._chars_per_token = _FIRST_CHARS_PER_TOKEN
        self._pos = _skip_space(text, 0)
        self.chunks = 0  # chunks made so far
        self.tokens = 0  # their tokens

    @property
    def done(self) -> bool:
        """Whether the whole text has been cut."""
        return self._pos >= len(self._text)

    def estimated_chunks(self) -> int:
        """Chunks made so far plus those the rest of the text will likely make."""
        if self.done or not self.chunks:
            return self.chunks + (0 if self.done else 1)
        per_chunk = self._pos / self.chunks
        return self.chunks + math.ceil((len(self._text) - self._pos) / per_chunk)

    def estimated_tokens_left(self) -> float:
        """Tokens in the text not cut yet, by the characters per token so far."""
        return (len(self._text) - self._pos) / self._chars_per_token

    async def take(
        self, chars: int, on_progress: Callable[[float], None] | None = None
    ) -> list[_Unit]:
        """Chunks until at least ``chars`` more characters are cut, or the text ends.

        ``on_progress`` is called with the share of that done after each chunk.
        """
        begin = self._pos
        stop = min(begin + chars, len(self._text))
        units: list[_Unit] = []
        while not self.done and self._pos < stop:
            units.append(await self.next())
            if on_progress is not None:
                on_progress(min(1.0, (self._pos - begin) / max(stop - begin, 1)))
        return units

    async def next(self) -> _Unit:
        """The next chunk (the text must not be :attr:`done`)."""
        text, start, budget = self._text, self._pos, self.budget
        limit = max(1, int(budget * self._chars_per_token * _FILL))
        fit: tuple[_Unit, int] | None = None
        grows = 0
        while True:
            end = cut_at_boundary(text, start, start + limit)
            piece = text[start:end].rstrip()
            tokens = await self._counter.count(piece)
            if tokens > budget and end - start > 1:
                if fit is not None:
                    break  # grown too far: keep the last chunk that fit
                # Shorter by the share it is over, and at least one character shorter.
                limit = max(1, min(end - start - 1, int((end - start) * budget / tokens * _FILL)))
                continue
            fit = (_Unit(piece, tokens), end)
            self._chars_per_token = max(len(piece) / max(tokens, 1), 0.1)
            grown = (end - start) + int((budget - tokens) * self._chars_per_token * _FILL)
            if end >= len(text) or tokens >= budget * _FULL or grown <= limit:
                break
            if grows >= _GROW_TRIES:
                break
            grows += 1
            limit = grown
        unit, end = fit
        self._pos = _skip_space(text, end)
        self.chunks += 1
        self.tokens += unit.tokens
        return unit


def _skip_space(text: str, pos: int) -> int:
    found = _NOT_SPACE.search(text, pos)
    return found.start() if found else len(text)


def _pack(units: Sequence[_Unit], budget: int) -> list[list[_Unit]]:
    """Consecutive units into groups whose token counts (plus joins) stay within the budget."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        cost = unit.tokens + (1 if current else 0)
        if current and size + cost > budget:
            groups.append(current)
            current, size = [], 0
            cost = unit.tokens
        current.append(unit)
        size += cost
    if current:
        groups.append(current)
    return groups


def _join(units: Sequence[_Unit]) -> str:
    return "\n\n".join(u.text for u in units)


def _check_budget(budget: int) -> None:
    if budget < 16:
        raise ContextOverflow(
            "The model's context is too small to summarize with. Raise the context size "
            "in Settings."
        )


async def split_into_chunks(client: EngineClient, text: str, budget: int) -> list[str]:
    """Split ``text`` into chunks of at most ``budget`` tokens of the loaded model.

    Boundaries are paragraphs, then sentences (``. ! ?`` and ``。！？；``, and
    newlines), then spaces, then a hard cut; section marker lines ("[Page 3]") stay at
    the start of the chunk they introduce. Memory and time are linear in the text
    (see :class:`_Splitter`); no line breaks are needed.

    Raises:
        ContextOverflow: the budget is too small to hold any text.
    """
    _check_budget(budget)
    splitter = _Splitter(text, budget, _Tokens(client))
    chunks: list[str] = []
    while not splitter.done:
        chunks.append((await splitter.next()).text)
    return chunks


class _Headers:
    """Where each chunk comes from, chunk after chunk (see :func:`chunk_headers`)."""

    def __init__(self) -> None:
        self._current = ""

    def header(self, chunk: str) -> str:
        """ "[Page 3]", "[Page 3]–[Page 5]", or "" before any marker."""
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        markers = [line for line in lines if _MARKER.match(line)]
        first = self._current if not lines or not _MARKER.match(lines[0]) else lines[0]
        self._current = markers[-1] if markers else self._current
        if not first:
            first = markers[0] if markers else ""
        return first if first == self._current else f"{first}–{self._current}"


def chunk_headers(chunks: Sequence[str]) -> list[str]:
    """Where each chunk comes from: "[Page 3]", "[Page 3]–[Page 5]", or "" before any marker.

    A chunk that starts in the middle of a section belongs to the last section
    marker of the chunks before it.
    """
    headers = _Headers()
    return [headers.header(chunk) for chunk in chunks]


# -- progress -------------------------------------------------------------------------


class _Progress:
    """Turns steps of work into monotonic SummaryProgress events with an ETA."""

    def __init__(self, callback: Callable[[SummaryProgress], None] | None) -> None:
        self._callback = callback
        self._start = time.perf_counter()
        self.done_work = 0.0
        self.remaining = 0.0
        self._fraction = 0.0

    def emit(self, stage: str, done: int, total: int, message: str, partial: str = "") -> None:
        if stage == "done":
            fraction, eta = 1.0, 0.0
        else:
            whole = self.done_work + self.remaining
            raw = self.done_work / whole if whole > 0 else 0.0
            fraction = min(0.99, max(self._fraction, raw))
            elapsed = time.perf_counter() - self._start
            eta = elapsed / self.done_work * self.remaining if self.done_work > 0 else -1.0
        self._fraction = fraction
        if self._callback is not None:
            self._callback(SummaryProgress(stage, done, total, fraction, eta, message, partial))


# -- the task -------------------------------------------------------------------------


async def generate(
    client: EngineClient,
    messages: Sequence[ChatMessage],
    params: SamplingParams,
    on_token: Callable[[str], None] | None = None,
) -> GenerationResult:
    """One answer to ``messages``, thinking off, ``on_token`` called with each shown piece.

    Raises:
        EngineError: the engine failed or ended without a result.
    """
    result: GenerationResult | None = None
    # Thinking off where the template has the switch: a reasoning model would otherwise
    # think through every chunk of a long document before writing a line of it.
    stream = client.chat(messages, params, thinking=False)
    # aclosing: a cancelled summary closes the stream at once, and the client's
    # cleanup cancels the generation in the worker (EngineClient._abandon).
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, TokenEvent):
                # A reasoning model's thinking is never shown as the summary.
                if on_token is not None and not event.reasoning:
                    on_token(event.text)
            else:
                result = event
    if result is None:  # pragma: no cover - the client always ends with a result
        raise EngineError("The engine ended a generation without a result.")
    return result


class _Run:
    """One summary in progress."""

    def __init__(
        self,
        client: EngineClient,
        options: SummaryOptions,
        language: str,
        progress: _Progress,
        map_parallel: int,
    ) -> None:
        self.client = client
        self.options = options
        self.language = language
        self.progress = progress
        self.map_parallel = map_parallel
        info = client.model
        assert info is not None
        self.n_ctx = info.n_ctx
        self.map_max = min(MAP_MAX_TOKENS[options.length], output_reserve(self.n_ctx, 10**9))
        self.final_max = min(FINAL_MAX_TOKENS[options.length], output_reserve(self.n_ctx, 10**9))
        self.gen_expected = self.map_max * _EXPECTED_FILL
        self.generated: list[int] = []
        self.prompt_total = 0
        self.generated_total = 0

    async def budget(self, instruction: str, max_tokens: int) -> int:
        """Tokens of text that fit in one prompt with ``instruction`` and the answer."""
        overhead, _ = await self.client.count_chat_tokens(_prompt("", instruction, self.language))
        return self.n_ctx - output_reserve(self.n_ctx, max_tokens) - overhead - _MARGIN

    async def map_budget(self) -> int:
        """Tokens of text per map chunk: a whole context, or a slice of it when parallel.

        Lowers :attr:`map_parallel` to what the context can share.
        """
        whole = await self.budget(map_instruction(self.language), self.map_max)
        if self.map_parallel <= 1 or not hasattr(self.client, "complete_many"):
            self.map_parallel = 1
            return whole
        overhead = self.n_ctx - whole  # template, answer and margin of one sequence
        while self.map_parallel > 1:
            share = self.n_ctx // self.map_parallel - overhead
            if share >= MIN_PARALLEL_CHUNK:
                return min(whole, share)
            self.map_parallel -= 1
        return whole

    def count(self, result: GenerationResult) -> None:
        """Add a generation's tokens to the totals."""
        self.prompt_total += result.stats.prompt_tokens
        self.generated_total += result.stats.generated_tokens

    def _learn(self, result: GenerationResult) -> None:
        self.count(result)
        self.generated.append(result.stats.generated_tokens)
        self.gen_expected = sum(self.generated) / len(self.generated)

    async def summarize_pieces(
        self,
        pieces: Sequence[str],
        piece_tokens: Sequence[int],
        stage: str,
        label: str,
        expected_gen: float,
        headers: Sequence[str] = (),
        *,
        first: int = 0,
        total: int = 0,
    ) -> list[str]:
        """Summarize each piece (map) or each group (reduce), with a progress event each.

        ``headers[j]``, if given, is put on the line before piece j's summary. The
        events count from ``first`` (pieces done before these) out of ``total`` (these
        pieces alone when 0).
        """
        instruction = map_instruction(self.language)
        params = _params(self.map_max)
        count = len(pieces)
        total = total or count
        summaries: dict[int, str] = {}

        def finish(j: int, result: GenerationResult) -> None:
            self._learn(result)
            text = result.text.strip()
            if result.stats.stop_reason == "length" and "\n" in text:
                # Cut off mid-point: keep the whole points before it.
                text = text.rsplit("\n", 1)[0].rstrip()
            if headers and headers[j]:
                # Say where the points came from: a small model does not do it reliably.
                text = f"{headers[j]}\n{text}"
            summaries[j] = text
            p = self.progress
            p.done_work += piece_tokens[j] + GEN_WEIGHT * result.stats.generated_tokens
            p.remaining = max(0.0, p.remaining - piece_tokens[j] - GEN_WEIGHT * expected_gen)
            n = first + len(summaries)
            p.emit(stage, n, total, f"{label} {n} of {total}", partial=text)

        if self.map_parallel > 1 and count > 1:
            await self._parallel(pieces, instruction, params, finish)
        else:
            for j, piece in enumerate(pieces):
                prompt = _prompt(piece, instruction, self.language)
                finish(j, await generate(self.client, prompt, params))
        return [summaries[j] for j in range(count)]

    async def map_step(self, splitter: _Splitter, name: str) -> list[str]:
        """Summarize every chunk of the text, split :data:`SPLIT_AHEAD_CHARS` at a time.

        Returns:
            The chunks' summaries, in order, each under the marker it came from.
        """
        progress = self.progress
        shown = -1

        def on_split(fraction: float) -> None:
            nonlocal shown
            if int(fraction * 100) > shown:
                shown = int(fraction * 100)
                progress.emit("chunk", shown, 100, f"Splitting {name} into chunks… {shown}%")

        batch = await splitter.take(SPLIT_AHEAD_CHARS, on_split)
        about = "" if splitter.done else "about "
        progress.emit(
            "chunk",
            100,
            100,
            f"{about}{splitter.estimated_chunks():,} chunks of up to {splitter.budget:,} tokens",
        )
        headers = _Headers()
        partials: list[str] = []
        while batch:
            total = splitter.estimated_chunks()
            self._expect_map(batch, splitter, total - len(partials))
            partials += await self.summarize_pieces(
                [u.text for u in batch],
                [u.tokens for u in batch],
                "map",
                "Summarized chunk",
                self.map_max * _EXPECTED_FILL,
                [headers.header(u.text) for u in batch],
                first=len(partials),
                total=total,
            )
            batch = await splitter.take(SPLIT_AHEAD_CHARS)
        return partials

    def _expect_map(self, batch: Sequence[_Unit], splitter: _Splitter, chunks_left: int) -> None:
        """The work left once the map step starts on ``batch``, for progress and the ETA."""
        fill = self.map_max * _EXPECTED_FILL
        self.progress.remaining = (
            sum(u.tokens for u in batch)
            + splitter.estimated_tokens_left()
            + chunks_left * GEN_WEIGHT * fill  # map
            + splitter.estimated_chunks() * fill  # the final pass reads the summaries
            + GEN_WEIGHT * self.final_max * _EXPECTED_FILL  # and writes
        )

    async def _parallel(
        self,
        pieces: Sequence[str],
        instruction: str,
        params: SamplingParams,
        finish: Callable[[int, GenerationResult], None],
    ) -> None:
        """Several pieces decoded together in one context (EngineClient.complete_many)."""
        info = self.client.model
        if info is not None and info.chat_template == "fallback":
            from engine.runtime.chat_templates import FALLBACK_STOP

            params = replace(params, stop=params.stop + FALLBACK_STOP)
        # Conversations, not rendered text: a document's text must not become control tokens.
        prompts = [_prompt(p, instruction, self.language) for p in pieces]

        def on_event(index: int, event: TokenEvent | GenerationResult) -> None:
            if isinstance(event, GenerationResult):
                finish(index, event)

        await self.client.complete_many(prompts, params, on_event=on_event)


async def summarize(
    client: EngineClient,
    document: DocumentLike,
    options: SummaryOptions = SummaryOptions(),  # frozen, so sharing the default is safe
    *,
    on_progress: Callable[[SummaryProgress], None] | None = None,
    on_token: Callable[[str], None] | None = None,
    map_parallel: int | None = None,
) -> SummaryResult:
    """Summarize a whole document with the loaded model, whatever its length.

    Args:
        client: the engine, with a model loaded.
        document: what to summarize (an engine.tasks.documents.Document, or anything with
            ``name`` and ``text``).
        options: length, style and language.
        on_progress: called on the loop with each step ("chunk", every chunk
            mapped, every reduce group, the final pass as it writes, "done").
        on_token: called with each piece of the final summary as it is written.
        map_parallel: chunks decoded together (1: one at a time). None picks:
            :data:`MAP_PARALLEL` when the model runs on a GPU, 1 on a CPU. With more
            than one, each chunk is sized to share the context with the others (one
            ``n_ctx / map_parallel`` slice each, as ``EngineClient.load``'s
            ``n_parallel`` sequences share one KV cache); when a slice would hold less
            than :data:`MIN_PARALLEL_CHUNK` tokens fewer chunks run together.

    Returns:
        The summary and its figures.

    Raises:
        DocumentError: the document has no text.
        NoModelLoaded: no model is loaded.
        ContextOverflow: the context is too small to summarize anything.
        EngineError: the engine failed (EngineCrashed when its worker died).
        asyncio.CancelledError: the task was cancelled; the generation in progress
            is stopped and the worker stays usable.
    """
    started = time.perf_counter()
    text = document.text.strip()
    if not text:
        raise DocumentError(f"{document.name} has no text to summarize.")
    await client.tokenize("")  # raises NoModelLoaded early and reloads after a crash
    language = detect_language(text) if options.language == "auto" else options.language
    progress = _Progress(on_progress)
    if map_parallel is None:
        info = client.model
        on_gpu = info is not None and info.device != "cpu" and info.n_gpu_layers != 0
        map_parallel = MAP_PARALLEL if on_gpu else 1
    run = _Run(client, options, language, progress, max(1, map_parallel))
    progress.emit("chunk", 0, 1, f"Splitting {document.name} into chunks…")

    counter = _Tokens(client)
    final_text_budget = await run.budget(final_instruction(options, language), run.final_max)
    # A text too long to fit is not tokenized whole to find out.
    fits = len(text) <= final_text_budget * _MAX_CHARS_PER_TOKEN
    tokens_read = await counter.count(text) if fits else final_text_budget + 1
    if tokens_read <= final_text_budget:
        chunks = 1
        partials: list[str] = []
        levels = 1
        final_input = text
    else:
        map_budget = await run.map_budget()
        _check_budget(map_budget)
        splitter = _Splitter(text, map_budget, counter)
        partials = await run.map_step(splitter, document.name)
        chunks, tokens_read = splitter.chunks, splitter.tokens
        levels = 2
        current = partials
        while True:
            joined = "\n\n".join(p for p in current if p)
            joined_tokens = await _Tokens(client).count(joined)
            if joined_tokens <= final_text_budget:
                break
            if levels >= _MAX_LEVELS:  # a model that will not write shorter: keep the start
                shortened = await _shorten(_Unit(joined, joined_tokens), final_text_budget, client)
                joined, joined_tokens = shortened.text, shortened.tokens
                break
            reduce_budget = await run.budget(map_instruction(language), run.map_max)
            units = [_Unit(p, await _Tokens(client).count(p)) for p in current if p]
            units = [
                u if u.tokens <= reduce_budget else await _shorten(u, reduce_budget, client)
                for u in units
            ]
            groups = _pack(units, reduce_budget)
            if len(groups) >= len(units) and len(units) > 1:
                # Each summary alone fills a context: pair them up, shortened to fit.
                half = reduce_budget // 2
                units = [await _shorten(u, half, client) if u.tokens > half else u for u in units]
                groups = _pack(units, reduce_budget)
            group_texts = [_join(g) for g in groups]
            group_tokens = [sum(u.tokens for u in g) for g in groups]
            expected = run.gen_expected
            progress.remaining += sum(group_tokens) + len(groups) * GEN_WEIGHT * expected
            current = await run.summarize_pieces(
                group_texts,
                group_tokens,
                "reduce",
                f"Combined summaries (level {levels - 1}):",
                expected,
            )
            levels += 1
        final_input = joined
        progress.remaining = max(progress.remaining, joined_tokens + GEN_WEIGHT * run.gen_expected)

    # The final pass, streamed; progress every few tokens so a bar keeps moving.
    final_tokens = await _Tokens(client).count(final_input)
    progress.remaining = final_tokens + GEN_WEIGHT * run.final_max * _EXPECTED_FILL
    progress.emit("final", 0, run.final_max, "Writing the summary…")
    written = 0
    base_done = progress.done_work + final_tokens

    def token(piece: str) -> None:
        nonlocal written
        written += 1
        if on_token is not None:
            on_token(piece)
        if written % 8 == 0:
            progress.done_work = base_done + GEN_WEIGHT * written
            expected = max(run.final_max * _EXPECTED_FILL, written * 1.25)
            progress.remaining = GEN_WEIGHT * (min(run.final_max, expected) - written)
            progress.emit("final", written, run.final_max, f"Writing the summary… {written} tokens")

    result = await generate(
        client,
        _prompt(final_input, final_instruction(options, language), language),
        _params(run.final_max),
        token,
    )
    run.count(result)
    seconds = time.perf_counter() - started
    progress.emit("done", chunks, chunks, f"Summarized {document.name} in {seconds:.0f} s")
    return SummaryResult(
        text=result.text.strip(),
        chunks=chunks,
        tokens_read=tokens_read,
        seconds=seconds,
        levels=levels,
        language=language,
        partials=tuple(partials),
        prompt_tokens=run.prompt_total,
        generated_tokens=run.generated_total,
        parallel=run.map_parallel if chunks > 1 else 1,
    )


async def _shorten(unit: _Unit, budget: int, client: EngineClient) -> _Unit:
    """Keep the start of a summary that is too long to combine (it rarely happens)."""
    return await _Splitter(unit.text, budget, _Tokens(client)).next()


__all__ = [
    "SummaryOptions",
    "SummaryProgress",
    "SummaryResult",
    "chunk_headers",
    "cut_at_boundary",
    "detect_language",
    "extraction_progress",
    "final_instruction",
    "generate",
    "map_instruction",
    "split_into_chunks",
    "summarize",
]
