"""How a streamed Markdown answer is cut into parts that can be rendered once and kept.

Thread: any (plain functions on text and Qt text blocks).
"""

from __future__ import annotations

import re

from PySide6.QtGui import QTextBlock, QTextFormat

_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:", re.MULTILINE)


def renders_the_same_in_parts(markdown: str, boundaries: list[int]) -> bool:
    """Whether rendering ``markdown`` cut at ``boundaries`` equals rendering it whole.

    Cuts are made only at a blank line before an unindented line outside a code fence,
    so two constructs can still span one: a list whose items are separated by blank
    lines (a "loose" list: cut, it becomes several lists), and reference links, whose
    definition may come after the cut.
    """
    if _REFERENCE_DEFINITION.search(markdown):
        return False
    for cut in boundaries:
        before = markdown[:cut].rstrip()
        previous_block = before[before.rfind("\n\n") + 2 :] if "\n\n" in before else before
        if _LIST_ITEM.match(markdown[cut:]) and _LIST_ITEM.match(previous_block):
            return False
    return True


def is_code(block: QTextBlock) -> bool:
    fmt = block.blockFormat()
    return block.isValid() and (
        fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage)
        or fmt.hasProperty(QTextFormat.Property.BlockCodeFence)
    )


#: An invisible paragraph (zero-width space) that streamed fragments merge into.
SPACER = "\u200b"
_BLANK_LINE_THEN_BLOCK = re.compile(r"\n[ \t]*\n(?=\S)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def settled_length(markdown: str, start: int) -> int:
    """Length of the prefix of ``markdown`` whose rendering can no longer change.

    That is up to the last blank line, after ``start``, that is followed by an
    unindented line (an indented one may continue a list item) and is not inside a
    code fence. Returns ``start`` when there is no such line.
    """
    for match in reversed(list(_BLANK_LINE_THEN_BLOCK.finditer(markdown, start))):
        if len(_FENCE.findall(markdown, 0, match.start())) % 2 == 0:
            return match.end()
    return start


__all__ = ["SPACER", "is_code", "renders_the_same_in_parts", "settled_length"]
