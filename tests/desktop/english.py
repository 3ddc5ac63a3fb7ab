"""What counts as an English sentence in text shown under a Chinese interface."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Three or more words of ASCII letters in a row, one space apart: English prose. Names of
#: things (SmolLM2-135M-Instruct, Q4_K_M, GiB, tok/s, llama.cpp, CUDA) are not.
ENGLISH_SENTENCE = re.compile(r"(?<![\w'-])[A-Za-z]+(?: [A-Za-z]+){2,}(?![\w'-])")


def english_sentences(text: str, data: Iterable[str] = ()) -> list[str]:
    """The English sentences in ``text``, once each piece of ``data`` (a model's name, a
    path, a GPU's name: shown as it is in every language) is taken out."""
    for piece in sorted((d for d in data if d), key=len, reverse=True):
        text = text.replace(piece, " ")
    return ENGLISH_SENTENCE.findall(text)
