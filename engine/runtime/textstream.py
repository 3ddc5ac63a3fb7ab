"""Turning a stream of token bytes into text: UTF-8 reassembly and stop strings."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextAssembler:
    """Joins token byte pieces into text and watches for stop strings.

    A token can end in the middle of a UTF-8 character, and a stop string can span
    tokens, so text is only released once it cannot be the start of a stop string.
    """

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = tuple(s for s in stop if s)
        self._hold = max((len(s) for s in self._stop), default=0)
        self._pending = ""
        self.text = ""
        self.stopped = False

    def feed(self, piece: bytes) -> str:
        """Add a token's bytes; return the text now safe to show ("" if none)."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(piece)
        if self._stop:
            cut = self._find_stop()
            if cut is not None:
                self._pending = self._pending[:cut]
                self.stopped = True
                return self._release(len(self._pending))
            return self._release(len(self._pending) - self._partial_stop_len())
        return self._release(len(self._pending))

    def finish(self) -> str:
        """Flush whatever is held back at the end of generation."""
        if not self.stopped:
            self._pending += self._decoder.decode(b"", final=True)
        return self._release(len(self._pending))

    def _find_stop(self) -> int | None:
        found = [i for i in (self._pending.find(s) for s in self._stop) if i >= 0]
        return min(found) if found else None

    def _partial_stop_len(self) -> int:
        """Length of the longest tail of the pending text that begins a stop string."""
        tail = self._pending[-(self._hold - 1) :] if self._hold > 1 else ""
        for start in range(len(tail)):
            suffix = tail[start:]
            if any(s.startswith(suffix) for s in self._stop):
                return len(suffix)
        return 0

    def _release(self, n: int) -> str:
        out, self._pending = self._pending[:n], self._pending[n:]
        self.text += out
        return out
