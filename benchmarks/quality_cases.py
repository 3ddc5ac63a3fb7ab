"""What benchmarks/quality.py asks each model: facts, one-sentence answers, documents, code.

Every case has a known answer checked by code: short factual answers compared after
normalisation, planted facts looked for in summaries, functions run against hidden
unit tests. Keep the set small: the whole benchmark runs in minutes on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Fact:
    """A question with a short known answer.

    Attributes:
        question: what the user asks (the instruction to answer briefly included).
        answers: every accepted answer; the first is the one shown.
        language: "en" or "zh".
    """

    question: str
    answers: tuple[str, ...]
    language: str


_BRIEF_EN = " Answer with the name or number only."
_BRIEF_ZH = "只回答答案本身，不要解释。"

FACTS: tuple[Fact, ...] = (
    Fact("What is the capital of France?" + _BRIEF_EN, ("Paris",), "en"),
    Fact("What is the capital of Japan?" + _BRIEF_EN, ("Tokyo",), "en"),
    Fact("Which planet is the largest in the solar system?" + _BRIEF_EN, ("Jupiter",), "en"),
    Fact("What is the chemical symbol of gold?" + _BRIEF_EN, ("Au",), "en"),
    Fact("How many days does a leap year have?" + _BRIEF_EN, ("366",), "en"),
    Fact(
        "Who wrote the play Romeo and Juliet?" + _BRIEF_EN,
        ("William Shakespeare", "Shakespeare"),
        "en",
    ),
    Fact(
        "At how many degrees Celsius does water boil at sea level?" + _BRIEF_EN,
        ("100", "100 °C", "100°C", "100 degrees Celsius", "100 degrees"),
        "en",
    ),
    Fact("Which planet is known as the Red Planet?" + _BRIEF_EN, ("Mars",), "en"),
    Fact("What is the largest ocean on Earth?" + _BRIEF_EN, ("Pacific Ocean", "Pacific"), "en"),
    Fact("How many continents are there on Earth?" + _BRIEF_EN, ("7", "seven"), "en"),
    Fact("中国的首都是哪里？" + _BRIEF_ZH, ("北京", "北京市"), "zh"),
    Fact("日本的首都是哪里？" + _BRIEF_ZH, ("东京", "东京都"), "zh"),
    Fact("一年有几个月？" + _BRIEF_ZH, ("12", "十二", "12个月", "十二个月"), "zh"),
    Fact("水的化学式是什么？" + _BRIEF_ZH, ("H2O", "H₂O"), "zh"),
    Fact("太阳系中最大的行星是哪一颗？" + _BRIEF_ZH, ("木星",), "zh"),
    Fact("《红楼梦》的作者是谁？" + _BRIEF_ZH, ("曹雪芹",), "zh"),
    Fact("中国最长的河流是哪一条？" + _BRIEF_ZH, ("长江",), "zh"),
    Fact("一个星期有几天？" + _BRIEF_ZH, ("7", "七", "7天", "七天"), "zh"),
    Fact("法国的首都是哪里？" + _BRIEF_ZH, ("巴黎",), "zh"),
    Fact("地球上最大的大洋是哪一个？" + _BRIEF_ZH, ("太平洋",), "zh"),
)

#: Questions that ask for exactly one sentence.
ONE_SENTENCE: tuple[str, ...] = (
    "Answer in one sentence: why do we have seasons on Earth?",
    "Answer in one sentence: what does a compiler do?",
    "用一句话回答：为什么要定期备份数据？",
    "用一句话回答：什么是光合作用？",
)


@dataclass(frozen=True)
class Document:
    """A document with facts planted in it, for the summary benchmark.

    Attributes:
        name: the file in benchmarks/data.
        facts: each planted fact as the strings that show a summary kept it (any of them).
        n_ctx: the context the model is loaded with; the long report gets a small one,
            so it takes the map-reduce path on every model.
    """

    name: str
    facts: tuple[tuple[str, ...], ...]
    n_ctx: int = 2048

    @property
    def text(self) -> str:
        """The document's text."""
        return (DATA / self.name).read_text(encoding="utf-8")


DOCUMENTS: tuple[Document, ...] = (
    Document(
        "guide_en.md",
        (
            ("90 days", "90-day"),
            ("step-ca",),
            ("12 hours",),
            ("60 days", "two thirds"),
            ("CertExpirySoon", "14 days"),
            ("/var/lib/harbor/tls",),
            ("March 2027", "2 years", "two years"),
            ("Dana Okafor",),
        ),
    ),
    Document(
        "guide_zh.md",
        (
            ("Restic",),
            ("192.168.1.20", "NAS"),
            ("/etc/restic/password", "密码"),
            ("凌晨 2 点", "凌晨2点", "2 点", "2点", "02:00"),
            ("7 个每日", "7个每日", "12 个每月", "12个每月"),
            ("restic check", "恢复演练"),
            ("120 GB", "3 个小时", "3个小时"),
            ("王磊",),
        ),
    ),
    Document(
        "report_en.md",
        (
            ("3,412", "3412"),
            ("2.8 million",),
            ("Ingrid Halvorsen", "Halvorsen"),
            ("11 percent", "11%"),
            ("2.15",),
            ("23 days",),
            ("Nordchem",),
            ("40 kilometres", "40 km", "40 kilometers"),
            ("57",),
            ("14 March", "March 14"),
        ),
        n_ctx=1024,
    ),
)


@dataclass(frozen=True)
class CodeCase:
    """A function to write, and the hidden tests that decide whether it works.

    Attributes:
        name: the function's name.
        description: what the user asks for (the generate task's instruction).
        signature: the function's first line, for fill-in-the-middle.
        doc: its docstring's text, for fill-in-the-middle.
        tests: Python statements run after the code; any failure fails the case.
    """

    name: str
    description: str
    signature: str
    doc: str
    tests: str


CODE: tuple[CodeCase, ...] = (
    CodeCase(
        "is_palindrome",
        "A function is_palindrome(text) that returns True when text reads the same "
        "backwards, ignoring case and every character that is not a letter or digit.",
        "def is_palindrome(text: str) -> bool:",
        "True when text reads the same backwards, ignoring case and non-alphanumerics.",
        "assert is_palindrome('A man, a plan, a canal: Panama')\n"
        "assert not is_palindrome('hello')\nassert is_palindrome('')",
    ),
    CodeCase(
        "fizzbuzz",
        "A function fizzbuzz(n) that returns a list of strings for 1 to n: 'Fizz' for "
        "multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for both, else the number.",
        "def fizzbuzz(n: int) -> list[str]:",
        "'Fizz', 'Buzz', 'FizzBuzz' or the number as text, for 1 to n.",
        "assert fizzbuzz(5) == ['1', '2', 'Fizz', '4', 'Buzz']\n"
        "assert fizzbuzz(15)[-1] == 'FizzBuzz'\nassert fizzbuzz(0) == []",
    ),
    CodeCase(
        "factorial",
        "A function factorial(n) that returns n! for a non-negative integer n.",
        "def factorial(n: int) -> int:",
        "n! for a non-negative integer n.",
        "assert factorial(0) == 1\nassert factorial(5) == 120\nassert factorial(10) == 3628800",
    ),
    CodeCase(
        "fibonacci",
        "A function fibonacci(n) that returns the n-th Fibonacci number, with "
        "fibonacci(0) == 0 and fibonacci(1) == 1.",
        "def fibonacci(n: int) -> int:",
        "The n-th Fibonacci number; fibonacci(0) == 0, fibonacci(1) == 1.",
        "assert [fibonacci(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]\n"
        "assert fibonacci(30) == 832040",
    ),
    CodeCase(
        "is_prime",
        "A function is_prime(n) that returns True when the integer n is a prime number.",
        "def is_prime(n: int) -> bool:",
        "True when the integer n is prime.",
        "assert [n for n in range(20) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19]\n"
        "assert not is_prime(-7)\nassert is_prime(7919)",
    ),
    CodeCase(
        "reverse_words",
        "A function reverse_words(sentence) that returns the words of sentence in reverse "
        "order, separated by single spaces.",
        "def reverse_words(sentence: str) -> str:",
        "The words of sentence in reverse order, separated by single spaces.",
        "assert reverse_words('the quick brown fox') == 'fox brown quick the'\n"
        "assert reverse_words('  hello   world ') == 'world hello'",
    ),
    CodeCase(
        "count_vowels",
        "A function count_vowels(text) that returns how many of the letters a, e, i, o, u "
        "(upper or lower case) text contains.",
        "def count_vowels(text: str) -> int:",
        "How many of a, e, i, o, u (either case) text contains.",
        "assert count_vowels('Hello World') == 3\nassert count_vowels('AEIOU xyz') == 5\n"
        "assert count_vowels('') == 0",
    ),
    CodeCase(
        "flatten",
        "A function flatten(items) that takes a list whose elements may be lists nested to "
        "any depth and returns a flat list of all the non-list elements, in order.",
        "def flatten(items: list) -> list:",
        "All non-list elements of items, nested lists of any depth opened, in order.",
        "assert flatten([1, [2, [3, [4]]], 5]) == [1, 2, 3, 4, 5]\nassert flatten([]) == []\n"
        "assert flatten([[], ['a']]) == ['a']",
    ),
    CodeCase(
        "second_largest",
        "A function second_largest(numbers) that returns the second largest distinct value "
        "in the list numbers, or None when there is no such value.",
        "def second_largest(numbers: list[int]) -> int | None:",
        "The second largest distinct value in numbers, or None if there is none.",
        "assert second_largest([3, 1, 4, 4, 2]) == 3\nassert second_largest([5, 5]) is None\n"
        "assert second_largest([]) is None",
    ),
    CodeCase(
        "word_counts",
        "A function word_counts(text) that returns a dict mapping each word of text, "
        "lower-cased, to how many times it occurs; words are separated by whitespace.",
        "def word_counts(text: str) -> dict[str, int]:",
        "Each whitespace-separated word of text, lower-cased, mapped to its count.",
        "assert word_counts('a B b a A') == {'a': 3, 'b': 2}\nassert word_counts('') == {}",
    ),
    CodeCase(
        "gcd",
        "A function gcd(a, b) that returns the greatest common divisor of two positive "
        "integers without using the math module.",
        "def gcd(a: int, b: int) -> int:",
        "The greatest common divisor of two positive integers.",
        "assert gcd(12, 18) == 6\nassert gcd(17, 5) == 1\nassert gcd(100, 10) == 10",
    ),
    CodeCase(
        "running_sum",
        "A function running_sum(numbers) that returns a list whose i-th element is the sum "
        "of numbers[0] to numbers[i].",
        "def running_sum(numbers: list[int]) -> list[int]:",
        "The list of prefix sums of numbers.",
        "assert running_sum([1, 2, 3, 4]) == [1, 3, 6, 10]\nassert running_sum([]) == []",
    ),
)
