"""Ask: a question answered from documents or a collection, with checked citations.

:func:`ask` picks one of three ways to read, and says which and why:

- **whole**: the documents fit in the model's context beside the question (counted with
  the model's own tokenizer), so they go in whole;
- **retrieval**: they do not, so the passages most relevant to the question go in,
  found by full text and, with an embedding model, by vector (:mod:`engine.tasks.retrieval`);
- **pass**: the question asks for everything ("list every deadline", "所有…") and the
  documents do not fit, or the user asked for it: the question is put to every passage
  and what answers it is combined (:mod:`engine.tasks.doc_pass`).

Every answer's citations are checked against the passages the model read
(:mod:`engine.tasks.citations`): a tag that names no such passage is taken out.

Thread: coroutines on the loop that owns the EngineClient; callbacks are called there.
Chunking and database work run on worker threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import ContextOverflow, UsageError
from engine.runtime.context import output_reserve
from engine.tasks import ask_prompts
from engine.tasks.chunks import chunk_document
from engine.tasks.citations import Citation, resolve_citations
from engine.tasks.doc_index import DocumentIndex, Passage
from engine.tasks.documents import Document
from engine.tasks.retrieval import embed_passages, search
from engine.tasks.summarize import detect_language, generate

__all__ = ["MODES", "AskOptions", "AskProgress", "AskResult", "ask"]

if TYPE_CHECKING:
    from engine.runtime.client import EngineClient

#: The ways to read: "auto" chooses among the other three.
MODES = ("auto", "whole", "retrieval", "pass")
#: Tokens kept free besides the prompt's template and the answer.
_MARGIN = 16
#: No text averages more characters per token than this: a longer text cannot fit.
_MAX_CHARS_PER_TOKEN = 16
#: The collection name attached documents get in their private index.
ATTACHED = ""


@dataclass(frozen=True)
class AskOptions:
    """How to answer.

    Attributes:
        mode: "auto", "whole", "retrieval" or "pass".
        embed_model: an embedding model (id or path) for vector retrieval; None: full text only.
        max_tokens: the answer's length at most.
        language: "auto" (the question's), "en" or "zh".
        passages: passages given to the model in retrieval mode, at most.
        map_tokens: the length of each answer of a whole-document pass's map step.

    Raises:
        UsageError: an option is out of range.
    """

    mode: str = "auto"
    embed_model: str | None = None
    max_tokens: int = 384
    language: str = "auto"
    passages: int = 8
    map_tokens: int = 256

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"Ask mode {self.mode!r} is not one of: {', '.join(MODES)}.")
        if self.language not in ("auto", "en", "zh"):
            raise UsageError(f"Answer language {self.language!r} is not one of: auto, en, zh.")
        if not (16 <= self.max_tokens <= 8192 and 16 <= self.map_tokens <= 8192):
            raise UsageError("max_tokens and map_tokens must be 16 to 8,192.")
        if not 1 <= self.passages <= 64:
            raise UsageError("passages must be 1 to 64.")


@dataclass(frozen=True)
class AskProgress:
    """Where an answer stands.

    Attributes:
        stage: "read", "embed", "search", "map", "reduce", "answer" or "done".
        done: steps done at this stage (passages embedded, groups mapped, tokens written).
        total: steps at this stage (0 when unknown).
        message: one English line for a status bar.
    """

    stage: str
    done: int
    total: int
    message: str


@dataclass(frozen=True)
class AskResult:
    """An answer and where it came from.

    Attributes:
        answer: the answer, with checked citation tags ("[report.pdf p. 12]").
        citations: its sources, each a passage that exists in the document, with a quote.
        unresolved: citation tags the model wrote that named no passage it read (removed).
        mode: "whole", "retrieval" or "pass".
        reason: why that mode, in one English sentence.
        tokens_read: tokens of document text the model read (the context meter's share).
        passages: the passages the model read, in the order it read them.
        used_vectors: whether vector similarity chose passages (retrieval only).
        search_note: what the search could not use, for the UI ("" when nothing).
        notes: the facts the pass's map step kept, with their tags (pass only).
        prompt_tokens: tokens the model read over all its passes.
        generated_tokens: tokens it wrote over all its passes.
        language: "en" or "zh".
        seconds: wall time.
    """

    answer: str
    citations: tuple[Citation, ...]
    unresolved: tuple[str, ...]
    mode: str
    reason: str
    tokens_read: int
    passages: tuple[Passage, ...]
    used_vectors: bool = False
    search_note: str = ""
    notes: tuple[str, ...] = ()
    prompt_tokens: int = 0
    generated_tokens: int = 0
    language: str = "en"
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (``hearth-cli ask --json``)."""
        return {
            "answer": self.answer,
            "citations": [
                {
                    "label": c.label,
                    "file": c.document,
                    "path": c.path,
                    "page": c.page,
                    "part": c.seq + 1,
                    "chunk_id": c.chunk_id,
                    "quote": c.quote,
                    "inferred": c.inferred,
                    "moved_from": c.moved_from,
                }
                for c in self.citations
            ],
            "unresolved_citations": list(self.unresolved),
            "mode": self.mode,
            "reason": self.reason,
            "tokens_read": self.tokens_read,
            "passages": len(self.passages),
            "used_vectors": self.used_vectors,
            "search_note": self.search_note,
            "prompt_tokens": self.prompt_tokens,
            "generated_tokens": self.generated_tokens,
            "language": self.language,
            "seconds": round(self.seconds, 2),
        }


async def ask(
    client: EngineClient,
    question: str,
    *,
    documents: Sequence[Document] = (),
    index: DocumentIndex | None = None,
    collection: str | None = None,
    options: AskOptions = AskOptions(),  # frozen, so sharing the default is safe
    on_progress: Callable[[AskProgress], None] | None = None,
    on_token: Callable[[str], None] | None = None,
) -> AskResult:
    """Answer ``question`` from attached documents or from a collection, citing passages.

    Args:
        client: the engine, with a chat model loaded.
        question: the user's question.
        documents: extracted documents (:func:`engine.tasks.documents.extract`); they are
            chunked into a private in-memory index.
        index: the index holding ``collection`` (needed with ``collection``).
        collection: a collection's name, instead of ``documents``.
        options: the mode, embedding model and lengths.
        on_progress: called on the loop at each step.
        on_token: called with each piece of the answer as it is written (the final pass
            only; the map step of a whole-document pass is not shown).

    Returns:
        The answer, its checked citations, the mode used and why, and what was read.

    Raises:
        UsageError: no question, or neither documents nor a collection (or both).
        NoModelLoaded: no chat model is loaded.
        ContextOverflow: "whole" was asked for and the documents do not fit, or the
            context is too small to hold a passage and the question.
        EngineError: the engine failed (EngineCrashed when its worker died).
        asyncio.CancelledError: cancelled; the generation in progress is stopped.
    """
    started = time.perf_counter()
    question = question.strip()
    if not question:
        raise UsageError("Type a question to ask.")
    if bool(documents) == (collection is not None):
        raise UsageError("Ask about attached documents or about a collection, not both or neither.")
    if collection is not None and index is None:
        raise UsageError("A collection is searched in its index: give the index too.")
    await client.tokenize("")  # raises NoModelLoaded early, and restarts a crashed worker
    info = client.model
    assert info is not None
    progress = _Progress(on_progress)
    language = detect_language(question) if options.language == "auto" else options.language
    own = index is None
    scope = collection if collection is not None else ATTACHED
    if own:
        index = DocumentIndex(":memory:")
    assert index is not None
    try:
        if own:
            progress("read", 0, len(documents), "Reading the documents…")
            await asyncio.to_thread(_add_documents, index, documents)
        run = _Run(client, index, scope, question, options, language, progress, on_token)
        result = await run.answer(info.n_ctx)
    finally:
        if own:
            index.close()
    seconds = time.perf_counter() - started
    progress("done", 1, 1, f"Answered in {seconds:.0f} s ({result.mode})")
    return _replace_seconds(result, seconds)


def _add_documents(index: DocumentIndex, documents: Sequence[Document]) -> None:
    for number, document in enumerate(documents):
        # Two attached files may share a name; the path tells them apart.
        key = document.path or f"{document.name}#{number}"
        index.add_document(
            ATTACHED, key, document.name, document.kind, size=document.size, mtime_ns=0,
            sha256=document.sha256, chunks=chunk_document(document), notes=document.notes,
        )  # fmt: skip


def _replace_seconds(result: AskResult, seconds: float) -> AskResult:
    from dataclasses import replace

    return replace(result, seconds=seconds)


class _Progress:
    def __init__(self, callback: Callable[[AskProgress], None] | None) -> None:
        self._callback = callback

    def __call__(self, stage: str, done: int, total: int, message: str) -> None:
        if self._callback is not None:
            self._callback(AskProgress(stage, done, total, message))


class _Run:
    """One question being answered."""

    def __init__(
        self,
        client: EngineClient,
        index: DocumentIndex,
        scope: str,
        question: str,
        options: AskOptions,
        language: str,
        progress: _Progress,
        on_token: Callable[[str], None] | None,
    ) -> None:
        self.client = client
        self.index = index
        self.scope = scope
        self.question = question
        self.options = options
        self.language = language
        self.progress = progress
        self.on_token = on_token
        self.prompt_tokens = 0
        self.generated_tokens = 0

    async def budget(self, n_ctx: int, max_tokens: int) -> int:
        """Tokens of passages that fit beside the question, template and answer."""
        empty = ask_prompts.answer_prompt(self.question, "", "[x.pdf p. 1]", self.language)
        overhead, _ = await self.client.count_chat_tokens(empty)
        budget = n_ctx - output_reserve(n_ctx, max_tokens) - overhead - _MARGIN
        if budget < 64:
            raise ContextOverflow(
                "The model's context is too small to hold a passage beside the question. "
                "Raise the context size in Settings, or shorten the question."
            )
        return budget

    async def answer(self, n_ctx: int) -> AskResult:
        """Choose the mode, read, answer and check the citations."""
        options = self.options
        budget = await self.budget(n_ctx, options.max_tokens)
        docs, _, _ = await asyncio.to_thread(self.index.counts, self.scope)
        if not docs:
            raise UsageError(
                "There is nothing to search: the collection has no documents yet. Index it first."
            )
        everything, total_tokens = await self._whole_text(budget)
        fits = everything is not None and total_tokens <= budget
        mode, reason = self._choose(fits, total_tokens, budget, n_ctx)
        if mode == "whole":
            if everything is None or not fits:
                raise ContextOverflow(
                    f"The documents (about {total_tokens:,} tokens) do not fit in the model's "
                    f"context ({n_ctx:,} tokens) beside the question. Ask with retrieval or a "
                    "whole-document pass, or raise the context size in Settings."
                )
            return await self.final(everything, total_tokens, mode, reason)
        if mode == "pass":
            from engine.tasks.doc_pass import whole_document_pass

            passages = await self._all_passages()
            return await whole_document_pass(self, passages, budget, reason)
        return await self._retrieve(budget, reason)

    def _choose(self, fits: bool, tokens: int, budget: int, n_ctx: int) -> tuple[str, str]:
        mode = self.options.mode
        size = f"the documents (about {tokens:,} tokens)"
        if mode != "auto":
            return mode, f"The {_MODE_NAMES[mode]} was asked for."
        if fits:
            return "whole", f"All of {size} fits in the context beside the question."
        if ask_prompts.asks_for_everything(self.question):
            return "pass", (
                f"The question asks for everything, and {size} are longer than the context "
                f"({n_ctx:,} tokens): every passage was read."
            )
        return "retrieval", (
            f"{size[0].upper()}{size[1:]} are longer than the context ({n_ctx:,} tokens): the "
            "most relevant passages were read."
        )

    async def _all_passages(self) -> list[Passage]:
        ids = await asyncio.to_thread(self.index.doc_ids, self.scope)
        return await asyncio.to_thread(self.index.passages, ids)

    async def _whole_text(self, budget: int) -> tuple[list[Passage] | None, int]:
        """All passages and their token count, when they might fit; else (None, estimate)."""
        rows = await asyncio.to_thread(
            self.index.query,
            "SELECT coalesce(sum(length(text)), 0), coalesce(sum(tokens), 0) FROM chunks "
            "WHERE doc_id IN (SELECT id FROM documents WHERE collection = ?)",
            (self.scope,),
        )
        chars, estimate = int(rows[0][0]), int(rows[0][1])
        if chars > budget * _MAX_CHARS_PER_TOKEN or estimate > budget * 2:
            return None, estimate
        passages = await self._all_passages()
        tokens = await self.client.count_tokens(ask_prompts.render_passages(passages))
        return passages, tokens

    async def _retrieve(self, budget: int, reason: str) -> AskResult:
        options = self.options
        embed_model = options.embed_model
        if embed_model is not None and self.scope == ATTACHED:
            self.progress("embed", 0, 0, "Embedding the passages…")
            await embed_passages(
                self.client, self.index, self.scope, embed_model,
                on_progress=lambda p: self.progress(
                    "embed", p.done, p.total, f"Embedded {p.done} of {p.total} passages"
                ),
            )  # fmt: skip
        self.progress("search", 0, 1, "Finding the relevant passages…")
        found = await search(
            self.index, self.question, self.scope, client=self.client,
            embed_model=embed_model, limit=max(options.passages * 2, 12),
        )  # fmt: skip
        chosen: list[Passage] = []
        used = 0
        for passage in found.passages:
            if len(chosen) >= options.passages:
                break
            cost = await self.client.count_tokens(f"{passage.label}\n{passage.text}\n\n")
            if used + cost > budget:
                continue
            chosen.append(passage)
            used += cost
        if not chosen:
            # Nothing matched a word of the question: the document's beginning is the
            # best guess, and the answer will say if it does not hold the answer.
            for passage in (await self._all_passages())[: options.passages]:
                cost = await self.client.count_tokens(f"{passage.label}\n{passage.text}\n\n")
                if used + cost > budget:
                    break
                chosen.append(passage)
                used += cost
            reason += " No passage matched the question's words; the documents' start was read."
        chosen.sort(key=lambda p: (p.doc_id, p.seq))
        result = await self.final(chosen, used, "retrieval", reason)
        from dataclasses import replace

        return replace(result, used_vectors=found.used_vectors, search_note=found.note)

    async def final(
        self,
        passages: Sequence[Passage],
        tokens_read: int,
        mode: str,
        reason: str,
        *,
        text: str | None = None,
        notes: Sequence[str] = (),
    ) -> AskResult:
        """Write the answer from ``passages`` (or from ``text``, the pass's notes) and check it."""
        example = passages[0].label if passages else "[report.pdf p. 1]"
        if text is None:
            rendered = ask_prompts.render_passages(passages)
            messages = ask_prompts.answer_prompt(self.question, rendered, example, self.language)
        else:
            messages = ask_prompts.notes_prompt(self.question, text, example, self.language)
        self.progress("answer", 0, self.options.max_tokens, "Writing the answer…")
        written = 0

        def token(piece: str) -> None:
            nonlocal written
            written += 1
            if self.on_token is not None:
                self.on_token(piece)
            if written % 8 == 0:
                self.progress("answer", written, self.options.max_tokens, "Writing the answer…")

        result = await generate(
            self.client, messages, ask_prompts.params(self.options.max_tokens), token
        )
        self.count(result.stats.prompt_tokens, result.stats.generated_tokens)
        cited = resolve_citations(result.text.strip(), passages)
        return AskResult(
            answer=cited.text,
            citations=cited.citations,
            unresolved=cited.unresolved,
            mode=mode,
            reason=reason,
            tokens_read=tokens_read,
            passages=tuple(passages),
            notes=tuple(notes),
            prompt_tokens=self.prompt_tokens,
            generated_tokens=self.generated_tokens,
            language=self.language,
        )

    def count(self, prompt: int, generated: int) -> None:
        """Add a generation's tokens to the totals."""
        self.prompt_tokens += prompt
        self.generated_tokens += generated


_MODE_NAMES = {
    "whole": "whole document",
    "retrieval": "retrieval of the most relevant passages",
    "pass": "whole-document pass",
}
