"""How benchmarks/quality.py scores answers: exact facts, copied and invented text, hidden tests."""

from __future__ import annotations

import pytest

from benchmarks.quality import (
    contained,
    copied_share,
    exact,
    invented,
    offline_prefix,
    run_hidden_tests,
    sentences,
)

TESTS = "assert add(2, 3) == 5"


def test_short_answers_are_compared_after_normalisation() -> None:
    assert exact("Paris.", ("Paris",)) and exact("the Pacific", ("Pacific",))
    assert exact("北京。", ("北京",)) and exact("Ｈ２Ｏ", ("H2O",))
    assert not exact("The capital of France is Paris.", ("Paris",))
    assert contained("The capital of France is Paris.", ("Paris",))
    assert not contained("Parisian food", ("Paris",))  # a word, not a piece of one
    assert contained("中国的首都是北京。", ("北京",))
    assert (sentences("One. Two!"), sentences("只有一句。"), sentences("Use 0.16 here.")) == (
        2,
        1,
        1,
    )


def test_copied_passages_and_invented_names_and_numbers_are_found() -> None:
    document = "The plant cost 2.8 million euros. Ingrid Halvorsen led the project from the start."
    copy = "- Ingrid Halvorsen led the project from the start."
    assert copied_share(copy, document, 30) == 1.0
    assert copied_share("- Halvorsen ran it; it cost a lot.", document, 30) == 0.0
    summary = "1. Ingrid Halvorsen led it.\n2. It cost 3.1 million euros, said Bob Marley."
    assert invented(summary, document) == ["3.1", "Bob", "Marley"]


@pytest.mark.slow
def test_hidden_tests_pass_working_code_and_fail_the_rest() -> None:
    offline = offline_prefix()
    assert run_hidden_tests("def add(a, b):\n    return a + b", TESTS, offline) == (True, "")
    passed, why = run_hidden_tests("def add(a, b):\n    return a - b", TESTS, offline)
    assert not passed and "AssertionError" in why
    passed, why = run_hidden_tests("def add(a, b):\n    while True: pass", TESTS, offline)
    assert not passed and "timed out" in why
    network = "import socket\nsocket.create_connection(('127.0.0.1', 9))\ndef add(a, b): return 5"
    passed, why = run_hidden_tests(network, TESTS, offline)
    assert not passed and "network access is disabled" in why
