"""The code an answer proposes when it holds a definition and an example of its use, in
several languages: the definition (or the parts of one program joined in order), never
the example alone; and what ``hearth-cli code --json`` prints as ``code``."""

from __future__ import annotations

import pytest

from engine.tasks.code import CodeRequest, answer_code, result_of
from engine.types import GenerationStats


def answer(definition: str, usage: str, language: str, tag: str | None = None) -> str:
    """A model's usual answer: the code, a sentence, then an example using it."""
    fence = tag if tag is not None else language
    return (
        f"Here is the code:\n\n```{fence}\n{definition}\n```\n\n"
        f"You can use it like this:\n\n```{fence}\n{usage}\n```\n\nThat's it."
    )


CASES = {
    "python": (
        "def add(a, b):\n    return a + b",
        "numbers = [(1, 2), (3, 4), (10, 20)]\nfor a, b in numbers:\n"
        '    print(f"{a} + {b} = {add(a, b)}")',
    ),
    "javascript": (
        "function add(a, b) {\n  return a + b;\n}",
        "const total = add(2, 3);\nconsole.log(`The total is ${total}`);\n"
        "console.log(add(10, 20));",
    ),
    "typescript": (
        "function add(a: number, b: number): number {\n  return a + b;\n}",
        "const results: number[] = [add(1, 2), add(3, 4), add(5, 6)];\nconsole.log(results);",
    ),
    "go": (
        "func Add(a, b int) int {\n\treturn a + b\n}",
        'result := Add(2, 3)\nfmt.Printf("The sum of 2 and 3 is %d\\n", result)\n'
        "fmt.Println(Add(10, 20))",
    ),
    "rust": (
        "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}",
        'let total = add(2, 3);\nprintln!("The sum of 2 and 3 is {}", total);\n'
        'println!("{}", add(10, 20));',
    ),
    "java": (
        "public class Calc {\n    public static int add(int a, int b) {\n        return a + b;\n"
        "    }\n}",
        'int total = Calc.add(2, 3);\nSystem.out.println("The sum of 2 and 3 is " + total);\n'
        "System.out.println(Calc.add(10, 20));",
    ),
    "ruby": (
        "def add(a, b)\n  a + b\nend",
        'total = add(2, 3)\nputs "The sum of 2 and 3 is #{total}"\n'
        "puts add(10, 20)\nputs add(7, 8)",
    ),
    "sql": (
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL\n);",
        "INSERT INTO users (id, name) VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Linus');\n"
        "SELECT name FROM users WHERE id > 1 ORDER BY name;",
    ),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_the_definition_is_the_code_not_the_longer_example(language: str) -> None:
    definition, usage = CASES[language]
    assert len(usage) > len(definition)  # the old rule (the longest block) took the example
    assert answer_code(answer(definition, usage, language), language) == definition
    # A fence without a language counts as the asked language.
    assert answer_code(answer(definition, usage, language, tag=""), language) == definition


def test_the_parts_of_one_program_are_joined_in_order() -> None:
    text = (
        "First the imports:\n\n```python\nimport math\n```\n\nThen the function:\n\n"
        "```python\ndef area(r):\n    return math.pi * r ** 2\n```\n\nA helper:\n\n"
        "```python\ndef circumference(r):\n    return 2 * math.pi * r\n```\n\n"
        "Example:\n\n```python\nprint(area(2), circumference(2))\n```\n"
    )
    assert answer_code(text, "python") == (
        "import math\n\ndef area(r):\n    return math.pi * r ** 2\n\n"
        "def circumference(r):\n    return 2 * math.pi * r"
    )
    # In C, a main() that calls the function defines a name of its own: a whole program.
    c = answer(
        "int add(int a, int b) {\n    return a + b;\n}",
        'int main(void) {\n    printf("%d\\n", add(2, 3));\n    return 0;\n}',
        "c",
    )
    assert answer_code(c, "c") == (
        "int add(int a, int b) {\n    return a + b;\n}\n\n"
        'int main(void) {\n    printf("%d\\n", add(2, 3));\n    return 0;\n}'
    )


def test_two_versions_of_one_definition_give_the_longest() -> None:
    first = "def mean(xs):\n    return sum(xs) / len(xs)"
    better = "def mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)"
    text = answer(first, better, "python") + "\n\n```python\nprint(mean([1, 2]))\n```"
    assert answer_code(text, "python") == better


def test_blocks_that_define_nothing_give_the_longest_as_before() -> None:
    text = answer("print('hi')", "for i in range(3):\n    print(i)", "python")
    assert answer_code(text, "python") == "for i in range(3):\n    print(i)"
    # Shell commands after the code are not the code, whatever their length.
    shell = answer("def f():\n    return 1", "python -m pip install --upgrade something", "bash")
    assert answer_code(shell.replace("```bash\ndef", "```python\ndef"), "python") == (
        "def f():\n    return 1"
    )


def stats() -> GenerationStats:
    return GenerationStats(50, 0, 80, 0.1, 40.0, 400.0, 2.0, "eos")


def test_a_fix_with_a_usage_example_diffs_the_definition_only() -> None:
    buggy = "def average(values):\n    return sum(values) / len(value)\n"
    fixed = (
        "def average(values):\n    if not values:\n        return 0.0\n"
        "    return sum(values) / len(values)"
    )
    usage = "print(average([1, 2, 3]))\nprint(average([]))\nprint(average([2.5, 3.5]))"
    request = CodeRequest("fix", "python", code=buggy, filename="avg.py")
    result = result_of(request, answer(fixed, usage, "python"), stats())
    assert result.code == fixed + "\n"
    assert "print(" not in result.diff and "+    if not values:" in result.diff
    # What `hearth-cli code --json` prints.
    data = result.to_dict()
    assert data["code"] == fixed + "\n" and data["diff"] == result.diff
