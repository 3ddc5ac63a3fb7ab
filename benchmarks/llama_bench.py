"""Hearth's engine against llama.cpp's own `llama-bench`, on the same file and threads.

`llama-bench` is built from the llama.cpp source inside the installed llama-cpp-python's
source package (`make llama-bench`), with that package's default build options. Round by
round (interleaved, so a busy machine slows both alike) this runs `llama-bench` for
prompt processing (pp512) and decoding (tg128 at depth 0 and at depth 512) and then the
same through Hearth's engine (`EngineClient` → worker → llama.cpp): a fresh 512-token
prompt for pp, then 128 tokens past the end of text for tg (at depth 512, as a user meets
it), both with the engine's own load settings. By default it measures the starter model
and the small coder model, one after the other. Writes ``benchmarks/llama_bench.md``.

    python benchmarks/llama_bench.py --llama-bench build/llama-bench/bin/llama-bench \\
        [--model PATH ...] [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PP_TOKENS = 512
TG_TOKENS = 128


def _bench_rows(binary: Path, model: Path, threads: int, *args: str) -> list[dict[str, Any]]:
    command = [str(binary), "-m", str(model), "-t", str(threads), "-fa", "0,1", "-r", "1"]
    run = subprocess.run(
        [*command, *args, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[dict[str, Any]] = json.loads(run.stdout)
    return rows


def llama_bench(binary: Path, model: Path, threads: int) -> dict[str, float]:
    """llama-bench's pp512, tg128 from an empty context and tg128 after 512 tokens, in
    tokens/s, each the faster of flash attention off and on (one repetition each); and
    the same with flash attention off, the engine's setting on a CPU."""
    rows = _bench_rows(binary, model, threads, "-p", str(PP_TOKENS), "-n", "0")
    rows += _bench_rows(
        binary, model, threads, "-p", "0", "-n", str(TG_TOKENS), "-d", f"0,{PP_TOKENS}"
    )

    def speeds(n_prompt: int, n_gen: int, depth: int) -> dict[bool, float]:
        return {
            bool(r["flash_attn"]): float(r["avg_ts"])
            for r in rows
            if (r["n_prompt"], r["n_gen"], r.get("n_depth", 0)) == (n_prompt, n_gen, depth)
        }

    pp = speeds(PP_TOKENS, 0, 0)
    tg0 = speeds(0, TG_TOKENS, 0)
    tg = speeds(0, TG_TOKENS, PP_TOKENS)
    return {
        "bench_pp": max(pp.values()),
        "bench_tg0": max(tg0.values()),
        "bench_tg": max(tg.values()),
        "bench_pp_fa_off": pp[False],
        "bench_tg_fa_off": tg[False],
    }


async def hearth(client: object, round_no: int) -> tuple[float, float]:
    """(prompt tokens/s of a fresh 512-token prompt, decode tokens/s of 128 tokens)."""
    from engine.types import GenerationResult, SamplingParams

    # A different first word each round, so no cached prefix is reused.
    words = [f"w{(round_no * 7919 + i) % 1000}" for i in range(PP_TOKENS)]
    n = len(await client.tokenize(" ".join(words)))  # type: ignore[attr-defined]
    words = words[: len(words) * PP_TOKENS // n + 1]
    while len(await client.tokenize(" ".join(words))) > PP_TOKENS:  # type: ignore[attr-defined]
        words.pop()
    prompt = " ".join(words)
    params = SamplingParams(temperature=0, max_tokens=TG_TOKENS, ignore_eos=True)
    result = None
    async for event in client.complete(prompt, params):  # type: ignore[attr-defined]
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None
    return result.stats.prompt_tokens_per_s, result.stats.tokens_per_s


async def measure(binary: Path, model: Path, threads: int, rounds: int) -> dict[str, list[float]]:
    from engine.runtime.client import EngineClient

    figures: dict[str, list[float]] = {}
    async with EngineClient() as client:
        await client.load(str(model), threads=threads)
        await hearth(client, 0)  # warm up
        for n in range(1, rounds + 1):
            bench = await asyncio.to_thread(llama_bench, binary, model, threads)
            pp, tg = await hearth(client, n)
            for key, value in {**bench, "pp": pp, "tg": tg}.items():
                figures.setdefault(key, []).append(value)
            print(model.name, {k: round(v[-1], 1) for k, v in figures.items()}, file=sys.stderr)
    return figures


def render(threads: int, results: list[tuple[Path, dict[str, list[float]]]], command: str) -> str:
    lines = [
        "# Hearth's engine against llama-bench",
        "",
        f"Command: `{command}`  ",
        f"{threads} threads; machine: {platform.machine()}, {os.cpu_count()} CPUs; load "
        f"average after {os.getloadavg()[0]:.1f}.",
        "",
        "Medians of interleaved rounds, tokens per second. Hearth's decode is measured as a "
        f"user meets it, after a {PP_TOKENS}-token prompt, so it is compared with llama-bench's "
        f"tg{TG_TOKENS} at depth {PP_TOKENS} (`-d {PP_TOKENS}`); llama-bench's tg{TG_TOKENS} from "
        "an empty context (its default, and the figure the speed issue first compared with) "
        "is shown beside it. Each llama-bench figure is the faster of flash attention off "
        "and on (`-fa 0,1`); Hearth turns it off on a CPU (benchmarks/flash_attn.md), and "
        "llama-bench with it off is shown too.",
    ]
    for model, figures in results:
        med = {k: statistics.median(v) for k, v in figures.items()}
        lines += [
            "",
            f"## `{model.name}` ({len(figures['tg'])} rounds)",
            "",
            "| | llama-bench | Hearth | Hearth ÷ llama-bench |",
            "|---|---|---|---|",
            f"| prompt (pp{PP_TOKENS}) | {med['bench_pp']:.1f} | {med['pp']:.1f} | "
            f"{med['pp'] / med['bench_pp']:.2f} |",
            f"| decode (tg{TG_TOKENS} after {PP_TOKENS}) | {med['bench_tg']:.1f} | "
            f"{med['tg']:.1f} | {med['tg'] / med['bench_tg']:.2f} |",
            f"| decode (tg{TG_TOKENS} from empty, llama-bench only) | {med['bench_tg0']:.1f} "
            f"| | {med['tg'] / med['bench_tg0']:.2f} |",
            f"| prompt, flash attention off in both | {med['bench_pp_fa_off']:.1f} | "
            f"{med['pp']:.1f} | {med['pp'] / med['bench_pp_fa_off']:.2f} |",
            f"| decode after {PP_TOKENS}, flash attention off in both | "
            f"{med['bench_tg_fa_off']:.1f} | {med['tg']:.1f} | "
            f"{med['tg'] / med['bench_tg_fa_off']:.2f} |",
            "",
            "Every round (llama-bench/Hearth): "
            + "; ".join(
                f"pp {bp:.0f}/{p:.0f}, tg {bt:.1f}/{t:.1f}"
                for bp, p, bt, t in zip(
                    figures["bench_pp"],
                    figures["pp"],
                    figures["bench_tg"],
                    figures["tg"],
                    strict=True,
                )
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama-bench", type=Path, required=True, help="the llama-bench binary")
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        help="a GGUF file, repeatable (default: the starter model and the small coder model)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "llama_bench.md")
    args = parser.parse_args(argv)
    from engine.models import starter

    with tempfile.TemporaryDirectory(prefix="hearth-llama-bench-") as scratch:
        os.environ["HEARTH_HOME"] = str(Path(scratch) / "home")
        models = args.model or [
            m
            for m in (starter.starter_model_file(), starter.installed_file(starter.SMALL_CODER))
            if m is not None and m.is_file()
        ]
        if not models:
            parser.error("no model: give --model PATH, or install the starter model (make run)")
        results = [
            (model, asyncio.run(measure(args.llama_bench, model, args.threads, args.rounds)))
            for model in models
        ]
    command = "python benchmarks/llama_bench.py " + " ".join(argv)
    args.out.write_text(render(args.threads, results, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
