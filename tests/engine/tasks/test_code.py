"""Code tasks: fences, language detection, diffs, FIM support, and every task on the real model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from engine.data.history import History
from engine.errors import ContextOverflow, EngineError
from engine.notices import Notice, NoticeCode
from engine.runtime.client import EngineClient
from engine.tasks.code import (
    TASKS,
    CodeRequest,
    answer_code,
    build_messages,
    code_model_advice,
    complete_at_cursor,
    diff_lines,
    extract_code_blocks,
    is_code_model,
    result_of,
    run_task,
    sampling_for,
    trim_overlap,
    unified_diff,
)
from engine.tasks.programming_languages import language_for
from engine.types import GenerationStats, ModelInfo, SamplingParams

# -- fences ----------------------------------------------------------------------------


def test_several_blocks_with_languages_and_offsets() -> None:
    answer = (
        "Here is the function:\n\n```py\ndef add(a, b):\n    return a + b\n```\n\n"
        "Run it with:\n\n```bash\npython add.py\n```\nDone."
    )
    blocks = extract_code_blocks(answer)
    assert [(b.language, b.code, b.closed) for b in blocks] == [
        ("python", "def add(a, b):\n    return a + b", True),
        ("bash", "python add.py", True),
    ]
    first = answer[blocks[0].start : blocks[0].end]
    assert first.startswith("```py\n") and first.rstrip().endswith("```")


def test_a_longer_fence_holds_inner_fences_and_tildes_work() -> None:
    answer = "````markdown\n# Title\n\n```python\nx = 1\n```\n````\n\n~~~c\nint x;\n~~~\n"
    blocks = extract_code_blocks(answer)
    assert [b.language for b in blocks] == ["markdown", "c"]
    assert blocks[0].code == "# Title\n\n```python\nx = 1\n```"
    assert blocks[1].code == "int x;"


def test_unclosed_fence_runs_to_the_end() -> None:
    blocks = extract_code_blocks('Sure:\n```rust\nfn main() {\n    println!("hi");\n')
    assert len(blocks) == 1
    assert not blocks[0].closed and blocks[0].language == "rust"
    assert blocks[0].code == 'fn main() {\n    println!("hi");'


def test_inline_backticks_in_prose_do_not_open_a_block() -> None:
    answer = "Use ```code``` spans sparingly. Then:\n```js\nlet a = 1;\n```"
    blocks = extract_code_blocks(answer)
    assert [(b.language, b.code) for b in blocks] == [("javascript", "let a = 1;")]


def test_a_fence_indented_in_a_list_item_loses_the_indentation() -> None:
    answer = (
        "1. Install:\n\n   ```sh\n   pip install x\n   ```\n"
        "2. Code:\n   ```python\n   if x:\n       y()\n   ```\n"
    )
    blocks = extract_code_blocks(answer)
    assert [b.code for b in blocks] == ["pip install x", "if x:\n    y()"]


def test_answer_code_prefers_the_language_asked_over_shell_commands() -> None:
    answer = (
        "```bash\npip install pytest\npytest -q test_add.py --maxfail 1\n```\n"
        "```python\ndef test_add():\n    assert add(1, 2) == 3\n```"
    )
    assert answer_code(answer, "python") == "def test_add():\n    assert add(1, 2) == 3"
    # Without a fence of the language, the longest block that is not commands.
    answer = "```\nint main(void) { return 0; }\n```\n```console\n$ make\n```"
    assert answer_code(answer, "c") == "int main(void) { return 0; }"


def test_answer_code_when_fences_are_missing() -> None:
    code = "def add(a, b):\n    return a + b\n"
    # No fences at all, but the answer is code.
    assert answer_code(code, "python") == code.rstrip("\n")
    # The opening fence forgotten, the closing one written.
    assert answer_code(code + "```\nThis adds two numbers.", "python") == code.rstrip("\n")
    # Prose only.
    assert answer_code("I cannot help with that request, sorry.", "python") is None
    assert answer_code("Some words.\n```\nand more words after a lone fence.", "python") is None


# -- languages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("app.py", "python"),
        ("index.ts", "typescript"),
        ("main.rs", "rust"),
        ("server.go", "go"),
        ("Main.java", "java"),
        ("lib.cpp", "cpp"),
        ("util.c", "c"),
        ("query.sql", "sql"),
        ("build.sh", "bash"),
        ("page.html", "html"),
        ("site.css", "css"),
        ("Makefile", "make"),
    ],
)
def test_language_from_file_names(name: str, language: str) -> None:
    assert language_for(filename=name) == language


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("import os\n\ndef main() -> None:\n    print(os.getcwd())\n", "python"),
        ('fn main() {\n    let mut x = 1;\n    println!("{}", x);\n}\n', "rust"),
        ('package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n', "go"),
        ('#include <stdio.h>\nint main(void) {\n  printf("hi");\n  return 0;\n}\n', "c"),
        ("SELECT name, age FROM users WHERE age > 30 ORDER BY name;\n", "sql"),
        ("const add = (a, b) => a + b;\nconsole.log(add(1, 2));\n", "javascript"),
        ("#!/usr/bin/env bash\necho hi\n", "bash"),
    ],
)
def test_language_from_content(code: str, language: str) -> None:
    assert language_for(text=code) == language


def test_a_hint_beats_the_file_name() -> None:
    assert language_for(filename="notes.txt", hint="c++") == "cpp"


# -- diffs -----------------------------------------------------------------------------


def apply_unified_diff(old: str, diff: str) -> str:
    """Apply a unified diff the way patch(1) does (hunks in order, context checked)."""
    old_lines = old.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    lines = diff.splitlines(keepends=True)
    assert lines[0].startswith("--- a/") and lines[1].startswith("+++ b/")
    i = 2
    while i < len(lines):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", lines[i])
        assert header, lines[i]
        start = int(header[1]) - (0 if header[2] == "0" else 1)
        out.extend(old_lines[at:start])
        at = start
        i += 1
        while i < len(lines) and not lines[i].startswith("@@"):
            line = lines[i]
            if line.startswith("\\"):
                out[-1] = out[-1].rstrip("\n") if out and lines[i - 1][0] in " +" else out[-1]
            elif line[0] == " ":
                assert old_lines[at].rstrip("\n") == line[1:].rstrip("\n")
                out.append(old_lines[at])
                at += 1
            elif line[0] == "-":
                assert old_lines[at].rstrip("\n") == line[1:].rstrip("\n")
                at += 1
            else:
                out.append(line[1:])
            i += 1
    out.extend(old_lines[at:])
    return "".join(out)


def test_unified_diff_applies_back_to_the_new_text() -> None:
    old = "def area(r):\n    return 3.14 * r * r\n\nprint(area(2)\n"
    new = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\nprint(area(2))\n"
    diff = unified_diff(old, new, "src/area.py")
    assert diff.startswith("--- a/src/area.py\n+++ b/src/area.py\n@@ ")
    assert unified_diff(old, new, "/home/me/area.py").startswith("--- a/area.py\n")
    assert "-    return 3.14 * r * r\n" in diff and "+    return math.pi * r * r\n" in diff
    assert apply_unified_diff(old, diff) == new
    assert unified_diff(new, new) == ""
    # A last line without a newline is marked as patch(1) expects.
    assert "\\ No newline at end of file" in unified_diff("a\nb", "a\nc")


def test_diff_lines_keep_every_line_in_order() -> None:
    rows = diff_lines("a\nb\nc\n", "a\nB\nc\nd\n")
    assert rows == [(" ", "a"), ("-", "b"), ("+", "B"), (" ", "c"), ("+", "d")]
    assert [line for mark, line in rows if mark != "+"] == ["a", "b", "c"]
    assert [line for mark, line in rows if mark != "-"] == ["a", "B", "c", "d"]


def test_a_fix_result_carries_a_diff_and_keeps_the_final_newline() -> None:
    request = CodeRequest("fix", "python", code="x = 1\nprint(x +)\n", filename="a.py")
    stats = GenerationStats(10, 0, 5, 0.1, 10.0, 100.0, 0.5, "eos")
    result = result_of(request, "Fixed:\n```python\nx = 1\nprint(x + 1)\n```", stats)
    assert result.code == "x = 1\nprint(x + 1)\n"
    assert apply_unified_diff(request.code, result.diff) == result.code
    explained = result_of(CodeRequest("explain", "python", code="x = 1"), "It sets x.", stats)
    assert explained.code is None and explained.diff == ""


# -- requests and prompts --------------------------------------------------------------


def test_requests_are_checked() -> None:
    with pytest.raises(ValueError, match="Unknown code task"):
        CodeRequest("refactor", "python", code="x")
    with pytest.raises(ValueError, match="Describe the code"):
        CodeRequest("generate", "python")
    with pytest.raises(ValueError, match="no code to work on"):
        CodeRequest("fix", "python", code="  \n")


def test_prompts_name_the_language_framework_error_and_lines() -> None:
    code = "def f(x):\n    return x / 0\n"
    tests = build_messages(CodeRequest("tests", "rust", code="fn f() {}"))[-1].content
    assert "Rust" in tests and "#[test]" in tests and "```rust" in tests
    fix = build_messages(
        CodeRequest("fix", "python", code=code, error="ZeroDivisionError: division by zero")
    )[-1].content
    assert "ZeroDivisionError" in fix and "complete corrected code" in fix
    review = build_messages(CodeRequest("review", "python", code=code, first_line=40))[-1].content
    assert "40| def f(x):" in review and "41|     return x / 0" in review
    # Code holding a ``` run is fenced with a longer fence, so the prompt stays intact.
    tricky = build_messages(CodeRequest("explain", "markdown", code="```py\nx\n```"))[-1].content
    assert "````markdown\n" in tricky


def test_sampling_leaves_room_for_a_whole_fix() -> None:
    assert sampling_for("fix", code_tokens=3000).max_tokens >= 3900
    assert sampling_for("review").repeat_penalty == 1.0


# -- fill in the middle ----------------------------------------------------------------


def test_trim_overlap_drops_the_repeated_text_after_the_cursor() -> None:
    assert trim_overlap("a + b\n    return total\n", "    return total\n") == "a + b\n"
    assert trim_overlap("x = 1", "") == "x = 1"
    assert trim_overlap("value)", "print(x)") == "value)"


# -- advice ----------------------------------------------------------------------------


def info(model_id: str, path: str = "/m/model.gguf", *, fim: bool = False) -> ModelInfo:
    plan = Notice(NoticeCode.CPU_NO_GPU, {"cpu": Notice(NoticeCode.THREADS, {"n_threads": 2})})
    return ModelInfo(
        model_id, path, "llama", 4096, 8192, "llamacpp", "cpu", 0, 2, plan, "gguf", fim=fim
    )


def test_code_models_are_told_apart_from_chat_models() -> None:
    assert is_code_model(info("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/q4.gguf"))
    assert is_code_model(info("x", "/models/starcoder2-3b-Q4_K_M.gguf"))
    assert is_code_model(info("some/unnamed", fim=True))
    assert not is_code_model(info("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/x.gguf"))
    assert not is_code_model(info("bartowski/Llama-3.2-3B-Instruct-GGUF/x.gguf"))


def test_code_model_advice_names_a_coder_that_fits() -> None:
    from engine.models.catalog import load_catalog
    from tests.engine.models.test_catalog import machine

    entries = load_catalog()
    hardware = machine(ram_total=16 * 1024**3, ram_available=10 * 1024**3)
    advice = code_model_advice(info("SmolLM2-135M-Instruct"), entries, hardware, 4096)
    assert advice is not None and "code" in advice.tasks
    assert advice.tasks[0] == "code" or not any(e.tasks[0] == "code" for e in entries)
    # On a small CPU-only computer (2 cores), the small coder that answers quickly.
    small = replace(hardware, cpu=replace(hardware.cpu, physical_cores=2, logical_cores=2))
    quick = code_model_advice(info("SmolLM2-135M-Instruct"), entries, small, 4096)
    assert quick is not None and quick.tasks[0] == "code" and quick.parameters <= 3e9
    coder = info("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/q.gguf")
    assert code_model_advice(coder, entries, hardware, 4096) is None


# -- history ---------------------------------------------------------------------------


def test_code_tasks_are_stored_listed_searched_and_deleted(tmp_path: Path) -> None:
    history = History(tmp_path / "hearth.db")
    try:
        first = history.add_code_task(
            "fix", language="python", filename="/src/app.py", code="x = 1/0\n", error="ZeroDiv"
        )
        second = history.add_code_task(
            "generate", language="go", instruction="an HTTP server that says hello on port 8080"
        )
        history.update_code_task(first, answer="```python\nx = 1\n```", status="done")
        tasks = history.code_tasks()
        assert [t.id for t in tasks] == [first, second]  # the updated one is newest
        stored = history.code_task(first)
        assert (stored.task, stored.language, stored.error, stored.status) == (
            "fix",
            "python",
            "ZeroDiv",
            "done",
        )
        assert stored.title == "Fix · app.py"
        assert history.code_task(second).title.startswith("Generate · an HTTP server")
        assert [t.id for t in history.code_tasks(text="http SERVER")] == [second]
        history.delete_code_task(second)
        assert [t.id for t in history.code_tasks()] == [first]
        with pytest.raises(EngineError):
            history.code_task(second)
        history.restore_code_task(second)
        assert len(history.code_tasks()) == 2
        history.delete_code_task(second)
        assert history.purge_deleted() == 1
    finally:
        history.close()


# -- the real model --------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        await engine.load(None, n_ctx=2048)
        yield engine
    finally:
        await engine.aclose()


BUGGY = (
    "def average(numbers):\n    return sum(numbers) / len(number)\n\nprint(average([1, 2, 3]))\n"
)


def greedy(task: str) -> SamplingParams:
    return SamplingParams(
        temperature=0, repeat_penalty=1.0, max_tokens=sampling_for(task).max_tokens
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_every_task_runs_end_to_end_on_the_starter_model(client: EngineClient) -> None:
    requests = {
        "generate": CodeRequest(
            "generate", "python", instruction="a function that returns the factorial of n"
        ),
        "explain": CodeRequest("explain", "python", code=BUGGY),
        "fix": CodeRequest(
            "fix",
            "python",
            code=BUGGY,
            error="NameError: name 'number' is not defined",
            filename="avg.py",
        ),
        "tests": CodeRequest("tests", "python", code=BUGGY.replace("number)", "numbers)")),
        "review": CodeRequest("review", "python", code=BUGGY, first_line=10),
    }
    assert set(requests) == set(TASKS)
    for task, request in requests.items():
        pieces: list[str] = []
        result = await run_task(client, request, on_token=pieces.append, params=greedy(task))
        assert result.text.strip(), task
        if result.stop_reason == "repetition":  # the loop guard cut the answer back
            kept = result.text.strip().removesuffix("```").rstrip()  # a fence it closed
            assert "".join(pieces).strip().startswith(kept), task
        else:
            assert "".join(pieces).strip() == result.text.strip(), task
        assert result.stop_reason in ("eos", "length", "repetition"), task
        assert result.stats.generated_tokens > 0
        if task in ("generate", "tests"):
            assert result.code, (task, result.text)
            assert result.code in result.text or result.code.strip() in result.text
        elif task == "fix":
            assert result.code, result.text
            if result.diff:  # the model changed something: the diff is a valid patch
                assert apply_unified_diff(request.code, result.diff) == result.code
            else:
                assert result.code == request.code
        else:
            assert result.code is None and result.diff == ""


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_too_much_code_is_refused_and_stop_keeps_the_partial_answer(
    client: EngineClient,
) -> None:
    huge = "x = 1\n" * 3000  # about 12,000 tokens for a 2,048-token context
    with pytest.raises(ContextOverflow, match="Select a part of the code"):
        await run_task(client, CodeRequest("review", "python", code=huge))

    import asyncio

    got_text = asyncio.Event()

    def on_token(_piece: str) -> None:
        got_text.set()

    task = asyncio.create_task(
        run_task(
            client,
            CodeRequest("explain", "python", code=BUGGY),
            on_token=on_token,
            params=SamplingParams(temperature=0, max_tokens=400, ignore_eos=True),
        )
    )
    await asyncio.wait_for(got_text.wait(), 60)
    await client.cancel()
    result = await asyncio.wait_for(task, 5)
    assert result.stop_reason == "cancelled" and result.text


@pytest.mark.slow
async def test_complete_at_cursor_needs_fim_tokens(client: EngineClient) -> None:
    assert client.model is not None and not client.model.fim
    with pytest.raises(EngineError, match="no fill-in-the-middle tokens"):
        await complete_at_cursor(client, "def add(a, b):\n    return ", "\n")
    # The engine is still usable.
    assert await client.tokenize("x")


# -- the command line ------------------------------------------------------------------


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_cli_fix_prints_a_diff_or_a_json_result(tmp_path: Path) -> None:
    source = tmp_path / "avg.py"
    source.write_text(BUGGY, encoding="utf-8")
    done = cli("code", "--task", "fix", "--file", str(source), "--ctx", "2048", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["task"] == "fix" and data["language"] == "python"
    assert data["answer"] and data["stats"]["generated_tokens"] > 0
    if data["code"] is not None and data["diff"]:
        assert apply_unified_diff(BUGGY, data["diff"]) == data["code"]

    plain = cli("code", "--task", "fix", "--file", str(source), "--ctx", "2048")
    if plain.returncode == 0 and plain.stdout:
        assert plain.stdout.startswith("--- a/avg.py\n+++ b/avg.py\n")
    else:  # no code in the answer, or no change: said on stderr, never a diff
        assert "hearth-cli:" in plain.stderr


def test_cli_refuses_a_task_without_code_and_a_binary_file(tmp_path: Path) -> None:
    done = cli("code", "--task", "review", stdin="")
    assert done.returncode == 2 and "no code to work on" in done.stderr
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    done = cli("code", "--task", "explain", "--file", str(binary))
    assert done.returncode == 3 and "binary file" in done.stderr


def test_the_loop_guard_cuts_an_answer_going_round_in_circles() -> None:
    from engine.tasks.code import LoopGuard

    guard = LoopGuard()
    intro = "```python\ndef average(numbers):\n    return sum(numbers) / len(numbers)\n```\n"
    loop = "The original code is:\n```python\ndef average(numbers):\n    return 0.0\n```\n"
    started = [
        guard.feed(piece)
        for piece in [intro, *[loop[i : i + 7] for i in range(0, len(loop), 7)] * 6]
    ]
    assert any(started) and guard.looping
    assert guard.text.startswith(intro.rstrip()) and guard.text.count("The original code is:") == 1
    # Code that repeats lines is not a loop.
    calm = LoopGuard()
    code = "".join(f"    total += values[{i}] * weights[{i}]\n" for i in range(200))
    assert not any(calm.feed(code[i : i + 9]) for i in range(0, len(code), 9))
