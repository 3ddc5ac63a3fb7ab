"""Summarize benchmark: a long document summarized whole, against llama.cpp's own floor.

Usage::

    python benchmarks/summarize_bench.py [--tokens 52000] [--file PATH] [--n-ctx 4096]
                                         [--threads N] [--parallel 4] [--length medium]
                                         [--out benchmarks/summarize.md]

In one process run, with a fresh temporary ``HEARTH_HOME``, on the starter model (or
``--model``):

``sequential map``
    :func:`engine.tasks.summarize.summarize` with ``map_parallel=1``: chunks of a whole
    context, one at a time (what Hearth does on a CPU).
``parallel map``
    the same with ``map_parallel=--parallel`` (what Hearth does on a GPU): the chunks
    share the context (``n_ctx / N`` each, fewer together when a slice would be too
    small) and are decoded together by ``EngineClient.complete_many``.
``floor``
    what llama.cpp itself needs for the same work: the document's tokens read once at
    raw llama-cpp-python's prompt speed, plus every summary token the run wrote (map,
    reduce and final passes) at its generation speed. Both speeds are measured in this
    run by :class:`engine.cli.bench_loop.DirectLoop` (a bare low-level loop, the engine's
    thread counts and context), the prompt speed on prompts of the sequential run's
    chunk size (attention makes long prompts slower per token than short ones).

The document is ``--file`` (read by ``engine.tasks.documents.extract``) or, by default, a
generated report: seeded, varied English prose in pages with ``[Page N]`` markers,
grown until the model's tokenizer counts at least ``--tokens`` tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_PLACES = [
    "Northbridge", "Alder Vale", "Port Ellis", "Kestrel Bay", "Marrow Hill", "Greyford",
    "Saltmarsh", "Oakhurst", "Linden Cross", "Westmere", "Harrow Fen", "Copperfield",
]  # fmt: skip
_TOPICS = [
    ("water supply", ["reservoir", "pipes", "pumping station", "filters", "meters"]),
    ("public transport", ["tram line", "bus depot", "timetable", "fares", "ridership"]),
    ("schools", ["enrolment", "teachers", "classrooms", "exam results", "libraries"]),
    ("housing", ["rents", "building permits", "social housing", "vacancies", "repairs"]),
    ("energy", ["solar farm", "grid", "heat pumps", "outages", "tariffs"]),
    ("health care", ["clinics", "waiting times", "nurses", "vaccinations", "ambulances"]),
    ("parks", ["playgrounds", "trees", "footpaths", "volunteers", "festivals"]),
    ("waste", ["recycling", "landfill", "collection rounds", "compost", "fly-tipping"]),
]
_VERBS = ["rose", "fell", "held steady", "doubled", "recovered", "slipped"]
_CAUSES = [
    "a wet spring",
    "new staff hired in the autumn",
    "a change in the law",
    "a strike in March",
    "a grant from the regional fund",
    "higher prices for materials",
    "a software upgrade that went badly",
    "residents' complaints at two public meetings",
]
_SENTENCES = [
    "In {place}, spending on {topic} {verb} by {pct} percent in {year}, mostly because of {cause}.",
    "The council of {place} reported that the {thing} served {num:,} people, {pct} percent more "
    "than planned.",
    "Inspectors visiting {place} found the {thing} in {state} condition and asked for a "
    "report within {days} days.",
    "A survey of {num:,} residents of {place} ranked {topic} {rank} among their concerns.",
    "Officials in {place} expect the {thing} to cost {money} million over the next {years} years.",
    "Because of {cause}, work on the {thing} in {place} was delayed until {month}.",
    "The committee for {topic} met {days} times in {year} and approved {num:,} requests.",
    "Residents of {place} said the {thing} had improved, though {pct} percent still found it "
    "hard to use.",
]
_STATES = ["good", "fair", "poor", "excellent", "worrying"]
_RANKS = ["first", "second", "third", "fifth", "last"]
_MONTHS = ["January", "April", "June", "September", "November"]


def generate_report(rng: random.Random, pages: int, start_page: int = 1) -> str:
    """``pages`` pages of varied prose, each a few paragraphs, with "[Page N]" markers."""
    parts: list[str] = []
    for page in range(start_page, start_page + pages):
        parts.append(f"[Page {page}]")
        topic, things = rng.choice(_TOPICS)
        for _ in range(rng.randint(3, 4)):
            sentences = []
            for _ in range(rng.randint(4, 6)):
                sentences.append(
                    rng.choice(_SENTENCES).format(
                        place=rng.choice(_PLACES),
                        topic=topic,
                        thing=rng.choice(things),
                        verb=rng.choice(_VERBS),
                        pct=rng.randint(2, 60),
                        year=rng.randint(2015, 2025),
                        cause=rng.choice(_CAUSES),
                        num=rng.randint(120, 90_000),
                        state=rng.choice(_STATES),
                        days=rng.randint(5, 90),
                        rank=rng.choice(_RANKS),
                        money=rng.randint(2, 400),
                        years=rng.randint(2, 12),
                        month=rng.choice(_MONTHS),
                    )
                )
            parts.append(" ".join(sentences))
    return "\n\n".join(parts)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Summarize the document both ways, then measure the raw speeds."""
    from engine.cli.bench_loop import DirectLoop, loop_settings
    from engine.runtime.client import EngineClient
    from engine.runtime.loading import plan_load, resolve_model
    from engine.tasks.documents import extract, from_text
    from engine.tasks.summarize import SummaryOptions, split_into_chunks, summarize

    options = SummaryOptions(length=args.length)
    runs: list[dict[str, Any]] = []
    async with EngineClient() as client:
        info = await client.load(
            args.model, n_ctx=args.n_ctx, threads=args.threads, n_parallel=args.parallel
        )
        if args.file:
            document = await asyncio.to_thread(extract, Path(args.file))
        else:
            rng = random.Random(20261128)
            text = generate_report(rng, 40)
            while len(await client.tokenize(text)) < args.tokens:
                pages = text.count("[Page ")
                text += "\n\n" + generate_report(rng, 20, start_page=pages + 1)
            document = from_text(text, name="report.txt")
        doc_tokens = len(await client.tokenize(document.text))
        print(f"document: {document.name}, {doc_tokens:,} tokens", file=sys.stderr)

        for name, parallel in (("sequential map", 1), ("parallel map", args.parallel)):
            t0 = time.perf_counter()
            result = await summarize(client, document, options, map_parallel=parallel)
            wall = time.perf_counter() - t0
            runs.append(
                {
                    "name": name,
                    "asked_parallel": parallel,
                    "parallel": result.parallel,
                    "wall_s": wall,
                    "chunks": result.chunks,
                    "levels": result.levels,
                    "tokens_read": result.tokens_read,
                    "prompt_tokens": result.prompt_tokens,
                    "generated_tokens": result.generated_tokens,
                    "summary": result.text,
                }
            )
            print({k: v for k, v in runs[-1].items() if k != "summary"}, file=sys.stderr)

        # Prompts of the sequential run's chunk size for the raw prompt speed.
        budget = runs[0]["tokens_read"] // max(1, runs[0]["chunks"])
        pieces = await split_into_chunks(client, document.text[: len(document.text) // 3], budget)
        sized = [p for p in pieces if len(await client.tokenize(p)) >= budget * 0.8]
        probes = [await client.render_chat([_user(p)]) for p in (sized or pieces)[:2]]
        entry = await asyncio.to_thread(resolve_model, args.model)
        hw = await client.hardware()
        plan = await asyncio.to_thread(
            lambda: plan_load(entry, hw, n_ctx=args.n_ctx, threads=args.threads)
        )
        await client.unload()

    settings = loop_settings(info, plan)
    direct = DirectLoop(settings)
    try:
        direct.generate("Warm-up: say hello.", 4)
        pp_samples = [direct.generate(p, 2) for p in probes]
        tg_samples = [direct.generate(p, 129) for p in probes[:1] * 2]
    finally:
        direct.close()
    pp = sum(s.prompt_tokens for s in pp_samples) / sum(s.ttft_s for s in pp_samples)
    tg = max(s.tokens_per_s for s in tg_samples)
    for row in runs:
        row["floor_s"] = doc_tokens / pp + row["generated_tokens"] / tg
    return {
        "runs": runs,
        "raw": {
            "prompt_tps": pp,
            "gen_tps": tg,
            "probe_tokens": [s.prompt_tokens for s in pp_samples],
        },
        "document": document.name,
        "doc_tokens": doc_tokens,
        "model": info.model_id,
        "n_ctx": info.n_ctx,
        "threads": info.n_threads,
        "threads_batch": settings.n_threads_batch,
        "device": info.device,
        "length": args.length,
    }


def _user(text: str) -> Any:
    from engine.tasks.summarize import map_instruction
    from engine.types import ChatMessage

    return ChatMessage("user", f"{map_instruction('en')}\n\n{text}")


def render(data: dict[str, Any], command: str, load: tuple[float, ...]) -> str:
    """The Markdown report."""
    raw = data["raw"]
    lines = [
        "# Summarize benchmark",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}; load average "
        f"before the run {load[0]:.2f}.  ",
        f"Model: {data['model']} ({data['device']}), n_ctx {data['n_ctx']:,}, "
        f"{data['threads']} threads ({data['threads_batch']} for prompts), "
        f"length option `{data['length']}`.  ",
        f"Document: {data['document']}, **{data['doc_tokens']:,} tokens**.",
        "",
        f"Raw llama-cpp-python in the same run: prompt {raw['prompt_tps']:.1f} tokens/s "
        f"(on prompts of {', '.join(f'{n:,}' for n in raw['probe_tokens'])} tokens, the "
        f"sequential chunk size), generation {raw['gen_tps']:.1f} tokens/s.",
        "",
        "| map | chunks | parallel | levels | tokens read (all passes) | tokens written "
        "| time | floor | time ÷ floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["runs"]:
        lines.append(
            f"| {row['name']} | {row['chunks']} | {row['parallel']} | {row['levels']} "
            f"| {row['prompt_tokens']:,} | {row['generated_tokens']:,} | {row['wall_s']:.1f} s "
            f"| {row['floor_s']:.1f} s | {row['wall_s'] / row['floor_s']:.2f} |"
        )
    seq, par = data["runs"]
    lines += [
        "",
        f"Parallel map against sequential: {seq['wall_s'] / par['wall_s']:.2f}× the speed "
        f"({par['wall_s']:.1f} s against {seq['wall_s']:.1f} s).",
        "",
        "Floor = document tokens ÷ raw prompt speed + tokens written ÷ raw generation "
        "speed: every token read once, every summary token written once. Time above the "
        "floor is the templates and instructions around each chunk, the chunk summaries "
        "read again by the reduce and final passes, and the engine's own overhead.",
        "",
        "## Final summaries",
        "",
    ]
    for row in data["runs"]:
        lines += [f"### {row['name']}", "", row["summary"], ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default=None, help="store id or path (default: starter)")
    parser.add_argument("--file", default=None, help="a document instead of the generated one")
    parser.add_argument("--tokens", type=int, default=52_000)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--length", default="medium", choices=("short", "medium", "long"))
    parser.add_argument("--out", default=None, help="write the Markdown report here")
    args = parser.parse_args()
    load = os.getloadavg()
    home = tempfile.mkdtemp(prefix="hearth-summarize-bench-")
    os.environ.setdefault("HEARTH_HOME", home)
    data = asyncio.run(run(args))
    command = "python benchmarks/summarize_bench.py " + " ".join(sys.argv[1:])
    text = render(data, command.strip(), load)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
