"""Passages of an extracted document, small enough to search and embed, with their page and heading.

A document (:class:`~engine.tasks.documents.Document`) is cut into chunks of about
:data:`CHUNK_TOKENS` tokens, never across a section: a chunk of a PDF belongs to one
page, a chunk of a Word or HTML document to one heading, and Markdown is split at its
``#`` headings. Boundaries are Summarize's (paragraphs, then sentences, Chinese
punctuation included, then spaces: :func:`engine.tasks.summarize.cut_at_boundary`).

Sizes are estimated, not counted with a model's tokenizer, so an index does not depend
on the chat model loaded when it was built: a CJK character counts as a token (it is one
in BERT's WordPiece, and one or less in Qwen's and Llama's vocabularies), other text as
one token per :data:`_LATIN_CHARS_PER_TOKEN` characters. The estimate keeps a chunk well
under the 512 tokens an embedding model such as all-MiniLM-L6-v2 reads.

Pure and blocking (no engine, no I/O): cheap enough to run on the asyncio loop for one
document; a collection runs it on a worker thread with the extraction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from engine.tasks.documents import Document
from engine.tasks.summarize import cut_at_boundary

__all__ = ["CHUNK_TOKENS", "Chunk", "chunk_document", "citation_label", "estimate_tokens"]

#: Estimated tokens per chunk: a passage of a few paragraphs, about 1,000 English characters.
CHUNK_TOKENS: Final = 256
#: English averages 4 to 4.6 characters per token in the vocabularies we load; a little
#: less keeps the estimate on the safe side for code and numbers.
_LATIN_CHARS_PER_TOKEN: Final = 3.6
_CJK: Final = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_NOT_SPACE: Final = re.compile(r"\S")
_PAGE_TITLE: Final = re.compile(r"^Page (\d+)$")
_MD_HEADING: Final = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


@dataclass(frozen=True)
class Chunk:
    """One passage of a document.

    Attributes:
        document: the document's name ("report.pdf").
        seq: the passage's place in the document, from 0.
        page: the PDF page it is on (from 1); None for documents without pages.
        heading: the heading it is under ("" when none).
        text: the passage, exactly as extracted (so a quote of it exists in the document).
        tokens: its estimated length in tokens (:func:`estimate_tokens`).
    """

    document: str
    seq: int
    page: int | None
    heading: str
    text: str
    tokens: int

    @property
    def label(self) -> str:
        """How an answer cites it: "[report.pdf p. 12]" or "[notes.md part 3]"."""
        return citation_label(self.document, self.page, self.seq)


def citation_label(document: str, page: int | None, seq: int) -> str:
    """The citation of a passage: "[name p. N]" for a page, else "[name part N]" (N = seq + 1)."""
    return f"[{document} p. {page}]" if page is not None else f"[{document} part {seq + 1}]"


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes, estimated: CJK characters one each, other text by its length."""
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk - text.count(" ")
    return cjk + int(other / _LATIN_CHARS_PER_TOKEN + 0.999)


def chunk_document(document: Document, *, max_tokens: int = CHUNK_TOKENS) -> list[Chunk]:
    """Cut a document into passages of at most about ``max_tokens`` tokens.

    Args:
        document: the extracted document.
        max_tokens: the estimated size of a passage (see :func:`estimate_tokens`).

    Returns:
        The passages in document order, none blank; ``seq`` counts from 0.
    """
    chunks: list[Chunk] = []
    for page, heading, text in _parts(document):
        for piece in _merged_tail(list(_pieces(text, max_tokens)), max_tokens):
            chunks.append(
                Chunk(document.name, len(chunks), page, heading, piece, estimate_tokens(piece))
            )
    return chunks


def _parts(document: Document) -> Iterator[tuple[int | None, str, str]]:
    """(page, heading, text) of each section; Markdown is split at its headings."""
    for section in document.sections:
        match = _PAGE_TITLE.match(section.title) if document.kind == "pdf" else None
        if match:
            yield int(match.group(1)), "", section.text
        elif document.kind == "markdown":
            yield from _markdown_parts(section.title, section.text)
        else:
            yield None, section.title, section.text


def _markdown_parts(title: str, text: str) -> Iterator[tuple[int | None, str, str]]:
    start, heading = 0, title
    for match in _MD_HEADING.finditer(text):
        if text[start : match.start()].strip():
            yield None, heading, text[start : match.start()]
        heading, start = match.group(1).strip(), match.start()
    if text[start:].strip():
        yield None, heading, text[start:]


def _pieces(text: str, max_tokens: int) -> Iterator[str]:
    """Consecutive pieces of ``text`` of at most about ``max_tokens`` estimated tokens."""
    pos = _skip_space(text, 0)
    while pos < len(text):
        sample = text[pos : pos + max_tokens * 5]
        per_token = len(sample) / max(estimate_tokens(sample), 1)
        limit = max(1, int(max_tokens * per_token))
        end = cut_at_boundary(text, pos, pos + limit)
        while end - pos > 1 and estimate_tokens(text[pos:end]) > max_tokens * 1.1:
            end = cut_at_boundary(text, pos, pos + (end - pos) * 3 // 4)
        piece = text[pos:end].strip()
        if piece:
            yield piece
        pos = _skip_space(text, max(end, pos + 1))


def _merged_tail(pieces: list[str], max_tokens: int) -> list[str]:
    """Join a short last piece to the one before, when both make a passage not much longer."""
    if len(pieces) > 1:
        tail = estimate_tokens(pieces[-1])
        if tail < max_tokens // 4 and estimate_tokens(pieces[-2]) + tail <= max_tokens * 1.25:
            pieces[-2:] = [pieces[-2] + "\n\n" + pieces[-1]]
    return pieces


def _skip_space(text: str, pos: int) -> int:
    found = _NOT_SPACE.search(text, pos)
    return found.start() if found else len(text)
