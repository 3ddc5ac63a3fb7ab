"""Parallel-decode benchmark: ``EngineClient.complete_many`` against one ``complete`` at a time.

Usage::

    python benchmarks/parallel_bench.py [--prompts 8] [--prompt-tokens 400] [--tokens 128]
                                        [--parallel 2,4,8] [--n-ctx 8192] [--threads N]
                                        [--out benchmarks/parallel.md]

The Summarize map step sends many chunk prompts of a few hundred
tokens and asks each for a short summary. This measures that shape on the starter
model, in one process run, with a fresh temporary ``HEARTH_HOME``:

``sequential``
    ``EngineClient.complete`` on each prompt, one after the other.
``parallel N``
    ``EngineClient.complete_many`` on all prompts with the model loaded with
    ``n_parallel=N`` (N sequences decoded together in one llama.cpp context).
``raw llama-cpp-python``
    :class:`engine.cli.bench_loop.DirectLoop` (a bare low-level token loop in this process, one
    sequence, the engine's thread counts) on the same prompts: its prompt-processing
    and generation speeds are the single-sequence reference.

Every prompt is different from its first word on (so ``complete``'s KV prefix reuse
saves nothing), greedy, end-of-generation ignored, so every prompt produces exactly
``--tokens`` tokens. Each contender has one short untimed warm-up generation after
its load. Wall time runs from the first request to the last result.
Aggregate tokens/s = all generated tokens / wall time.
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

_WORDS = [
    "river",
    "mill",
    "harvest",
    "village",
    "council",
    "winter",
    "bridge",
    "market",
    "lantern",
    "orchard",
    "merchant",
    "valley",
    "storm",
    "archive",
    "ledger",
    "teacher",
    "festival",
    "railway",
    "harbour",
    "quarry",
    "engineer",
    "canal",
    "forest",
    "school",
    "museum",
    "garden",
    "tower",
    "weaver",
    "baker",
    "doctor",
    "letter",
    "season",
    "mountain",
    "journey",
    "treaty",
    "record",
    "planet",
    "signal",
    "machine",
    "library",
    "painter",
    "island",
]
_OPENERS = [
    "Alpha",
    "Bravo",
    "Cedar",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Indigo",
    "Juniper",
]


def make_prompts(count: int, target_tokens: int, tokens_of: Any) -> list[str]:
    """``count`` different documents of about ``target_tokens`` tokens, each with a task."""
    prompts = []
    for i in range(count):
        rng = random.Random(i)
        head = f"{_OPENERS[i % len(_OPENERS)]} report {i + 1}.\n"
        body = ""
        while tokens_of(head + body) < target_tokens - 12:
            words = rng.sample(_WORDS, 9)
            body += f"The {words[0]} near the {words[1]} was {words[2]} by the {words[3]}. "
        prompts.append(head + body + "\n\nSummary of the report in three sentences:")
    return prompts


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every contender once and return the figures."""
    from engine.cli.bench_loop import DirectLoop, loop_settings
    from engine.runtime.client import EngineClient
    from engine.runtime.loading import plan_load, resolve_model
    from engine.types import GenerationResult, SamplingParams

    params = SamplingParams(temperature=0, max_tokens=args.tokens, ignore_eos=True)
    rows: list[dict[str, Any]] = []
    async with EngineClient() as client:
        info = await client.load(args.model, n_ctx=args.n_ctx, threads=args.threads, n_parallel=1)

        async def count(text: str) -> int:
            return len(await client.tokenize(text))

        # Size the documents with the model's own tokenizer: a draft at 4 characters a
        # token gives the real characters-per-token ratio, the second pass uses it.
        draft = make_prompts(args.prompts, args.prompt_tokens, lambda t: len(t) // 4)
        ratio = sum(len(p) for p in draft) / sum([await count(p) for p in draft])
        prompts = make_prompts(args.prompts, args.prompt_tokens, lambda t: int(len(t) / ratio))
        prompt_tokens = [await count(p) for p in prompts]
        print(f"prompt tokens: {prompt_tokens}", file=sys.stderr)

        await _warm_up(client)
        t0 = time.perf_counter()
        seq_results: list[GenerationResult] = []
        for prompt in prompts:
            async for event in client.complete(prompt, params):
                if isinstance(event, GenerationResult):
                    seq_results.append(event)
        wall = time.perf_counter() - t0
        rows.append(_row("sequential `complete`", 1, wall, seq_results))
        print(rows[-1], file=sys.stderr)
        reference = [r.text for r in seq_results]

        for n in args.parallel:
            await client.load(args.model, n_ctx=args.n_ctx, threads=args.threads, n_parallel=n)
            await _warm_up(client)
            t0 = time.perf_counter()
            results = await client.complete_many(prompts, params)
            wall = time.perf_counter() - t0
            row = _row(f"`complete_many`, {n} parallel", n, wall, results)
            row["same_text"] = sum(r.text == ref for r, ref in zip(results, reference, strict=True))
            rows.append(row)
            print(row, file=sys.stderr)

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
        t0 = time.perf_counter()
        samples = [direct.generate(p, args.tokens) for p in prompts]
        wall = time.perf_counter() - t0
    finally:
        direct.close()
    pp = sum(s.prompt_tokens for s in samples) / sum(s.ttft_s for s in samples)
    tg = sorted(s.tokens_per_s for s in samples)[len(samples) // 2]
    return {
        "rows": rows,
        "raw": {"wall_s": wall, "prompt_tps": pp, "gen_tps": tg, "n": len(samples)},
        "prompt_tokens": prompt_tokens,
        "model": info.model_id,
        "n_ctx": info.n_ctx,
        "threads": info.n_threads,
        "threads_batch": settings.n_threads_batch,
        "flash_attn": settings.flash_attn,
    }


async def _warm_up(client: Any) -> None:
    """One short untimed generation after a load (first-use allocations, page faults)."""
    from engine.types import SamplingParams

    await client.complete_many(
        ["Warm-up: say hello."], SamplingParams(temperature=0, max_tokens=4, ignore_eos=True)
    )


def _row(name: str, n: int, wall: float, results: list[Any]) -> dict[str, Any]:
    generated = sum(r.stats.generated_tokens for r in results)
    prompt = sum(r.stats.prompt_tokens for r in results)
    return {
        "name": name,
        "parallel": n,
        "wall_s": wall,
        "generated": generated,
        "prompt": prompt,
        "agg_tps": generated / wall,
        "same_text": len(results),
    }


def render(data: dict[str, Any], args: argparse.Namespace, load: tuple[float, ...]) -> str:
    """The markdown page."""
    rows = data["rows"]
    base = rows[0]["wall_s"]
    raw = data["raw"]
    floor = sum(data["prompt_tokens"]) / raw["prompt_tps"] + (
        args.prompts * args.tokens / raw["gen_tps"]
    )
    lines = [
        "# Parallel decoding (Summarize map step)",
        "",
        f"Generated by `python benchmarks/parallel_bench.py --prompts {args.prompts} "
        f"--prompt-tokens {args.prompt_tokens} --tokens {args.tokens} "
        f"--parallel {','.join(map(str, args.parallel))} --n-ctx {args.n_ctx}` "
        f"on {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        f"- Model: {data['model']}, context {data['n_ctx']:,} tokens, "
        f"{data['threads']} decode / {data['threads_batch']} prompt threads, "
        f"flash attention {data['flash_attn']}.",
        f"- Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, shared with other "
        f"people's jobs; load average before the run {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (1 / 5 / 15 min), after {os.getloadavg()[0]:.2f}.",
        f"- Workload: {args.prompts} prompts of {min(data['prompt_tokens'])}–"
        f"{max(data['prompt_tokens'])} tokens, {args.tokens} tokens generated by each "
        "(greedy, end-of-generation ignored).",
        "",
        "| Contender | Wall time | Aggregate gen. tokens/s | Speed-up | Same text as sequential |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['wall_s']:.1f} s | {row['agg_tps']:.1f} | "
            f"{base / row['wall_s']:.2f}× | {row['same_text']}/{args.prompts} |"
        )
    lines += [
        f"| raw llama-cpp-python loop, one prompt at a time | {raw['wall_s']:.1f} s | "
        f"{args.prompts * args.tokens / raw['wall_s']:.1f} | {base / raw['wall_s']:.2f}× | — |",
        "",
        "Raw llama-cpp-python reference (bare low-level loop, one sequence, same threads): "
        f"prompt processing {raw['prompt_tps']:.0f} tokens/s, generation "
        f"{raw['gen_tps']:.1f} tokens/s (median). One-at-a-time floor for this workload at "
        f"those speeds: {floor:.1f} s.",
        "",
        "Wall time runs from the first request to the last result (worker, pipe and client "
        "included). The sequential row is `EngineClient.complete` per prompt; the parallel "
        "rows are one `complete_many` call with the model loaded with `n_parallel=N` "
        "(`n_seq_max=N`, one unified KV cache). The machine is shared, so treat "
        "differences under ~10 % as noise.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Parse arguments, run, write the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=400)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--parallel", default="2,4,8")
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "parallel.md"))
    args = parser.parse_args()
    args.parallel = [int(n) for n in args.parallel.split(",") if n.strip()]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hearth-parallel-bench-") as home:
        os.environ["HEARTH_HOME"] = home
        data = asyncio.run(run(args))
    page = render(data, args, load)
    Path(args.out).write_text(page, encoding="utf-8")
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
