"""Flash attention on or off: raw llama-cpp-python prompt and generation speed by context depth.

Usage::

    python benchmarks/flash_attn_bench.py [--model ID_OR_PATH] [--n-ctx 4096] [--threads 2]
                                          [--depths 50,1000,2500,3800] [--tokens 65]
                                          [--out benchmarks/flash_attn.md]

For each ``flash_attn`` setting (``on``, ``off``) one :class:`engine.cli.bench_loop.DirectLoop`
(the bare low-level token loop, no engine) is created with the engine's other settings,
and for each depth a prompt of that many tokens is read, then ``--tokens`` tokens are
generated greedily. Prompt speed = prompt tokens / time to the first token; generation
speed = tokens after the first / their time. The engine chooses ``off`` on a CPU-only
load and ``auto`` (llama.cpp's choice: on where supported) with GPU layers, from this.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every setting at every depth, each a fresh prompt."""
    from engine.cli.bench_loop import DirectLoop, LoopSettings
    from engine.runtime.loading import resolve_model

    entry = resolve_model(args.model)
    rows: list[dict[str, Any]] = []
    for setting in ("on", "off"):
        loop = DirectLoop(
            LoopSettings(
                path=str(entry.path),
                n_ctx=args.n_ctx,
                n_batch=512,
                n_ubatch=512,
                n_threads=args.threads,
                n_threads_batch=args.threads,
                flash_attn=setting,
                n_gpu_layers=0,
            )
        )
        try:
            loop.generate("Warm-up: say hello.", 4)
            for depth in args.depths:
                # Count words to tokens with the model's tokenizer: "word " is one token
                # in most vocabularies, so the prompt is about ``depth`` tokens.
                sample = loop.generate(
                    f"Story {depth}: " + "river mill " * (depth // 2), args.tokens
                )
                rows.append(
                    {
                        "flash_attn": setting,
                        "depth": sample.prompt_tokens,
                        "prompt_tps": sample.prompt_tokens / sample.ttft_s,
                        "gen_tps": sample.tokens_per_s,
                    }
                )
                print(rows[-1], file=sys.stderr)
        finally:
            loop.close()
    return rows


def render(rows: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    """The Markdown report: one row per depth, both settings side by side."""
    by = {(r["flash_attn"], i % len(args.depths)): r for i, r in enumerate(rows)}
    lines = [
        "# Flash attention on a CPU",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs; load average before "
        f"{args.load:.2f}; {args.threads} threads, n_ctx {args.n_ctx:,}, starter model unless "
        "`--model` says otherwise; raw llama-cpp-python (engine.cli.bench_loop.DirectLoop).",
        "",
        "| prompt tokens | prompt tok/s, on | off | generation tok/s, on | off | off ÷ on |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for i in range(len(args.depths)):
        on, off = by[("on", i)], by[("off", i)]
        lines.append(
            f"| {on['depth']:,} | {on['prompt_tps']:.0f} | {off['prompt_tps']:.0f} "
            f"| {on['gen_tps']:.1f} | {off['gen_tps']:.1f} "
            f"| {off['gen_tps'] / on['gen_tps']:.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument(
        "--depths", type=lambda s: [int(x) for x in s.split(",")], default=[50, 1000, 2500, 3800]
    )
    parser.add_argument("--tokens", type=int, default=65)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    args.load = os.getloadavg()[0]
    rows = run(args)
    command = "python benchmarks/flash_attn_bench.py " + " ".join(sys.argv[1:])
    text = render(rows, args, command.strip())
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
