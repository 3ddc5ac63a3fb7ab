"""Citations in an answer: found, checked against the passages the model read, and quoted.

A model is asked to cite each fact with the tag of its passage, ``[report.pdf p. 12]``
(``[notes.md part 3]`` for documents without pages). Small models get the tags roughly
right: a comma, a missing file name, "page" for "p.", or a page that was never shown.
Every tag in the answer is parsed leniently, resolved to a passage the model actually
read, and rewritten in the canonical form; a tag that resolves to nothing is taken out
of the answer and reported, so an answer never points at text that is not there. Each
citation carries a quote: the sentence of the cited passage closest to the answer's
sentence, taken from the document's own text.

When the model cites nothing, the passage the answer draws most words from is given as
the source, marked ``inferred``.

Pure functions; no engine, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from engine.tasks.doc_index import Passage

__all__ = ["Citation", "CitedAnswer", "resolve_citations", "word_overlap"]

#: A tag: "[report.pdf p. 12]", "[report.pdf, page 12]", "[p. 12]", "[notes.md part 3]",
#: "[报告.pdf 第12页]".
_TAG: Final = re.compile(
    r"[\[【]\s*(?P<name>[^\[\]【】\n]{0,200}?)[\s,，:：]*"
    r"(?:(?P<kind>p\.?|pp\.|pages?|part|§|第)\s*(?P<n>\d{1,6})\s*(?:页|部分)?)\s*[\]】]",
    re.I,
)
_SENTENCE: Final = re.compile(r"(?<=[.!?。！？；])\s*|\n+")
_WORDS: Final = re.compile(r"[^\W_]{2,}", re.UNICODE)
_CJK: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: Share of the answer's words a passage must hold to be named as the inferred source.
_INFER_MIN: Final = 0.2
#: A cited passage holding under this share of what the best passage holds of the claim's
#: words is taken for a miscopied tag, when the best holds at least :data:`_MOVE_MIN`.
_MOVE_RATIO: Final = 0.5
_MOVE_MIN: Final = 0.3
#: Longest quote kept, in characters.
_QUOTE_CHARS: Final = 400


@dataclass(frozen=True)
class Citation:
    """A source of an answer, checked: the passage exists in the document.

    Attributes:
        label: the tag as it now reads in the answer, "[report.pdf p. 12]".
        document: the document's file name.
        path: where the document was read from ("" for pasted text).
        page: the PDF page, or None.
        seq: the passage's place in the document, from 0.
        chunk_id: the passage's row in the index (opens the passage).
        quote: the sentence of the passage the answer relies on, verbatim from the document.
        inferred: the model cited nothing; this passage is the one the answer draws on most.
        moved_from: the tag the model wrote, when it named a passage that does not hold the
            claim's words and another passage it read does ("" when the tag was right).
    """

    label: str
    document: str
    path: str
    page: int | None
    seq: int
    chunk_id: int
    quote: str
    inferred: bool = False
    moved_from: str = ""


@dataclass(frozen=True)
class CitedAnswer:
    """An answer with its tags checked.

    Attributes:
        text: the answer, tags rewritten canonically and tags that resolve to nothing removed.
        citations: one per distinct passage cited, in the order first cited.
        unresolved: the tags that were removed, as the model wrote them.
    """

    text: str
    citations: tuple[Citation, ...]
    unresolved: tuple[str, ...]


def resolve_citations(answer: str, passages: Sequence[Passage]) -> CitedAnswer:
    """Check every citation tag of ``answer`` against the passages the model read.

    Args:
        answer: the model's answer.
        passages: the passages it was shown (in any order).

    Returns:
        The answer with canonical tags, its citations, and the tags that were dropped.
    """
    citations: dict[int, Citation] = {}
    unresolved: list[str] = []

    def replace(match: re.Match[str]) -> str:
        claim = _sentence_around(answer, match.start())
        found = _resolve(match, passages, claim)
        if found is None:
            unresolved.append(match.group(0))
            return ""
        moved_from = ""
        best = max(passages, key=lambda p: word_overlap(claim, p.text))
        if word_overlap(claim, best.text) >= _MOVE_MIN and (
            word_overlap(claim, found.text) < _MOVE_RATIO * word_overlap(claim, best.text)
        ):
            # The claim's words are on another passage the model read: the tag was miscopied
            # (small models repeat the example tag), so it points where the words are.
            moved_from, found = found.label, best
        citations.setdefault(found.chunk_id, _citation(found, claim, moved_from=moved_from))
        return found.label

    text = _TAG.sub(replace, answer)
    text = re.sub(r"[ \t]+([.,;:。，；])", r"\1", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    if not citations and passages and text:
        best = max(passages, key=lambda p: word_overlap(text, p.text))
        if word_overlap(text, best.text) >= _INFER_MIN:
            citations[best.chunk_id] = _citation(best, text, inferred=True)
    return CitedAnswer(text, tuple(citations.values()), tuple(unresolved))


def word_overlap(claim: str, passage: str) -> float:
    """Share of ``claim``'s words (and CJK character pairs) that ``passage`` holds."""
    words = _terms(claim)
    if not words:
        return 0.0
    return len(words & _terms(passage)) / len(words)


def _terms(text: str) -> set[str]:
    lowered = text.lower()
    terms = {w for w in _WORDS.findall(_CJK.sub(" ", lowered))}
    cjk = "".join(_CJK.findall(lowered))
    terms.update(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return terms


def _resolve(match: re.Match[str], passages: Sequence[Passage], context: str) -> Passage | None:
    """The passage a tag names, or None; several on one page: the closest to ``context``."""
    name = match.group("name").strip().strip("\"'“”").lower()
    number = int(match.group("n"))
    kind = match.group("kind").lower()
    by_page = kind != "part" and kind != "§"
    if by_page:
        candidates = [p for p in passages if p.page == number]
    else:
        candidates = [p for p in passages if p.page is None and p.seq + 1 == number]
    if name:
        named = [p for p in candidates if _same_name(name, p.document)]
        if named or len({p.document for p in passages}) > 1:
            candidates = named
    if not candidates:
        return None
    return max(candidates, key=lambda p: word_overlap(context, p.text))


def _same_name(written: str, name: str) -> bool:
    name = name.lower()
    stem = name.rsplit(".", 1)[0]
    return written in (name, stem) or (len(written) >= 4 and (written in name or name in written))


def _sentence_around(text: str, pos: int) -> str:
    start = max(text.rfind(ch, 0, pos) for ch in ".!?。！？\n") + 1
    return text[start:pos].strip() or text[:pos].strip()


def _citation(
    passage: Passage, claim: str, *, inferred: bool = False, moved_from: str = ""
) -> Citation:
    sentences = [s.strip() for s in _SENTENCE.split(passage.text) if s.strip()]
    quote = max(sentences, key=lambda s: word_overlap(claim, s)) if sentences else passage.text
    return Citation(
        label=passage.label,
        document=passage.document,
        path=passage.path,
        page=passage.page,
        seq=passage.seq,
        chunk_id=passage.chunk_id,
        quote=quote[:_QUOTE_CHARS],
        inferred=inferred,
        moved_from=moved_from,
    )
