"""How the Chat pane's default temperature changes whether short factual answers are right.

The quality benchmark decodes greedily; the Chat pane samples, with the default settings
of :class:`engine.types.SamplingParams` (top-p, top-k, min-p, repeat penalty) and the
Assistant preset's system prompt. This asks the quality benchmark's twenty factual
questions (ten English, ten Chinese) and the two questions a new user types first, each
with several seeds at each temperature, and counts the answers that contain the right
one. Writes ``benchmarks/sampling.md``.

    python benchmarks/sampling_bench.py [--model PATH] [--seeds 5] [--temperatures 0,0.2,0.7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.quality import _asked, contained
from benchmarks.quality_cases import FACTS, Fact

REPO = Path(__file__).resolve().parent.parent
#: What a new user types first, as typed (no "answer briefly" instruction).
FIRST_QUESTIONS = (
    Fact("What is the capital of France?", ("Paris",), "en"),
    Fact("中国的首都是哪里？", ("北京",), "zh"),
)
MAX_TOKENS = 64


async def measure(
    model: Path, temperatures: list[float], seeds: int
) -> dict[float, dict[str, int]]:
    """Right answers per temperature: {"en": n, "zh": n, "first": n} out of the asked."""
    from engine.runtime.client import EngineClient
    from engine.types import SamplingParams, TokenEvent

    client = EngineClient()
    scores: dict[float, dict[str, int]] = {}
    try:
        await client.load(str(model), n_ctx=2048)
        for temperature in temperatures:
            score = {"en": 0, "zh": 0, "first": 0}
            for seed in range(1, seeds + 1):
                params = replace(
                    SamplingParams(), temperature=temperature, seed=seed, max_tokens=MAX_TOKENS
                )
                for group, facts in (("facts", FACTS), ("first", FIRST_QUESTIONS)):
                    for fact in facts:
                        text = ""
                        async for event in client.chat(_asked(fact.question), params):
                            if not isinstance(event, TokenEvent):
                                text = event.text
                        if contained(text, fact.answers):
                            score["first" if group == "first" else fact.language] += 1
            scores[temperature] = score
            print(f"temperature {temperature}: {score}", file=sys.stderr, flush=True)
    finally:
        await client.aclose()
    return scores


def render(model: Path, scores: dict[float, dict[str, int]], seeds: int, command: str) -> str:
    """The page."""
    en = sum(f.language == "en" for f in FACTS) * seeds
    zh = sum(f.language == "zh" for f in FACTS) * seeds
    first = len(FIRST_QUESTIONS) * seeds
    lines = [
        "# Default temperature and factual answers",
        "",
        f"Command: `{command}`  ",
        f"Model: `{model.name}`; machine: {platform.machine()}, {os.cpu_count()} CPUs.",
        "",
        "Each question asked once per seed (seeds 1 to "
        f"{seeds}) with the Chat pane's default sampling settings but the temperature, "
        "the Assistant system prompt, at most "
        f"{MAX_TOKENS} tokens; an answer counts when it contains the right one.",
        "",
        "| temperature | English facts | Chinese facts | the first two questions |",
        "|---|---|---|---|",
    ]
    for temperature, score in scores.items():
        lines.append(
            f"| {temperature:g} | {score['en']}/{en} | {score['zh']}/{zh} | "
            f"{score['first']}/{first} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure and write the page; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the starter model)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--temperatures", default="0,0.3,0.5,0.7")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "sampling.md")
    args = parser.parse_args(argv)
    from engine.models import starter

    with tempfile.TemporaryDirectory(prefix="hearth-sampling-") as scratch:
        os.environ["HEARTH_HOME"] = str(Path(scratch) / "home")
        model = args.model or starter.starter_model_file()
        if model is None:
            parser.error("no model: give --model PATH, or install the starter model (make run)")
        temperatures = [float(t) for t in args.temperatures.split(",")]
        scores = asyncio.run(measure(model, temperatures, args.seeds))
    command = "python benchmarks/sampling_bench.py" + ("" if not argv else " " + " ".join(argv))
    args.out.write_text(render(model, scores, args.seeds, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
