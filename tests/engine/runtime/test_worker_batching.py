"""The worker's token batching: every piece reaches the client, in order, and nothing is
held back when a generation ends, however it ends."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import Cancelled
from engine.runtime.worker import _TokenBatcher


def test_the_first_piece_goes_out_at_once_and_the_rest_in_order() -> None:
    sent: list[dict[str, Any]] = []
    pieces = [f"{n} " for n in range(500)]
    with _TokenBatcher(sent.append, 7) as batcher:
        batcher.add(pieces[0])
        assert sent == [{"id": 7, "event": "token", "text": "0 "}], "time to first token"
        for piece in pieces[1:]:
            batcher.add(piece)
    assert all(m.keys() == {"id", "event", "text"} for m in sent)
    assert "".join(m["text"] for m in sent) == "".join(pieces)


def test_the_pieces_of_several_sequences_keep_their_index() -> None:
    sent: list[dict[str, Any]] = []
    with _TokenBatcher(sent.append, 3) as batcher:
        for n in range(200):
            batcher.add_to(n % 3, f"{n},")
    for index in range(3):
        texts = [m["text"] for m in sent if m["index"] == index]
        assert "".join(texts) == "".join(f"{n}," for n in range(index, 200, 3))


def test_what_is_held_back_is_sent_when_the_generation_is_cancelled() -> None:
    sent: list[dict[str, Any]] = []
    with pytest.raises(Cancelled), _TokenBatcher(sent.append, 1) as batcher:
        for n in range(100):
            batcher.add(f"{n} ")
        raise Cancelled("stopped")
    assert "".join(m["text"] for m in sent) == "".join(f"{n} " for n in range(100))
