"""Streaming text assembly: split UTF-8 characters and stop strings across tokens."""

from engine.runtime.textstream import TextAssembler


def test_multibyte_character_split_across_tokens() -> None:
    data = "你好, world".encode()
    assembler = TextAssembler()
    shown = [assembler.feed(data[i : i + 1]) for i in range(len(data))]
    assert "".join(shown) + assembler.finish() == "你好, world"
    assert "\ufffd" not in "".join(shown)


def test_stop_string_spanning_tokens_is_cut_and_not_shown() -> None:
    assembler = TextAssembler(["\nUser:"])
    shown = "".join(assembler.feed(p.encode()) for p in ["Sure", ".\n", "Us", "er: next"])
    assert assembler.stopped
    assert shown + assembler.finish() == "Sure."
    assert assembler.text == "Sure."


def test_text_that_only_looks_like_a_stop_prefix_is_released() -> None:
    assembler = TextAssembler(["\nUser:"])
    assert assembler.feed(b"a\n") == "a"
    assert assembler.feed(b"Usual") == "\nUsual"
    assert not assembler.stopped
