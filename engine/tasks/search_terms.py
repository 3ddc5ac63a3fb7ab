"""Search terms from a user's question: an FTS5 trigram query, and the CJK words it cannot hold.

The trigram tokenizer matches any three characters wherever they occur, which needs no
word segmentation (so Chinese works) but cannot match a term of one or two characters;
those are returned apart, for a substring (``instr``) scan.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["fts_query"]

#: English words too common to search for (they match nearly every passage).
_STOPWORDS: Final = frozenset(
    {
     "the", "and", "for", "are", "was", "were", "what", "which", "who", "whom", "whose", "when",
     "where", "why", "how", "this", "that", "these", "those", "with", "from", "into", "onto",
     "about", "above", "below", "does", "did", "has", "have", "had", "not", "but", "all", "any",
     "each", "every", "list", "its", "their", "there", "they", "them", "then", "than", "you",
     "your", "our", "his", "her", "she", "him", "can", "could", "would", "should", "will",
     "shall", "may", "might", "must", "been", "being", "also", "only", "over", "under", "please",
     "tell", "give", "show", "find", "document", "documents", "text", "file", "says", "said",
    }
)  # fmt: skip
_WORD: Final = re.compile(r"[^\W_]+", re.UNICODE)
_CJK_RUN: Final = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)
#: Chinese function words that make poor search terms alone.
_CJK_STOP: Final = frozenset(
    {
        "的", "了", "是", "在", "和", "与", "及", "或", "有", "中",
        "上", "下", "什么", "哪些", "哪个", "多少", "所有", "全部", "列出", "请问", "文档",
    }
)  # fmt: skip


def fts_query(question: str) -> tuple[str, list[str]]:
    """An FTS5 trigram query for ``question``, and the two-character CJK terms it cannot hold.

    Latin words of three letters or more (stopwords left out) become quoted terms; a run of
    CJK characters becomes its overlapping three-character pieces, so a Chinese question
    matches passages by how many of its pieces they share. The terms are OR-ed: BM25 ranks
    passages that hold more, and rarer, terms first.

    Returns:
        The MATCH expression ("" when nothing is searchable) and the short CJK terms.
    """
    terms: list[str] = []
    short: list[str] = []
    for run in _CJK_RUN.findall(question):
        if run in _CJK_STOP:
            continue
        if len(run) < 3:
            short.append(run)
            continue
        for i in range(len(run) - 2):
            terms.append(run[i : i + 3])
        # Two-character words at the run's ends, which its trigrams may straddle.
        short += [run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in _CJK_STOP]
    latin = _CJK_RUN.sub(" ", question)
    for word in _WORD.findall(latin):
        if len(word) >= 3 and word.lower() not in _STOPWORDS:
            terms.append(word.lower())
    unique = list(dict.fromkeys(terms))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique), list(dict.fromkeys(short))
