"""Hearth's engine against llama.cpp's own `llama-bench`, on the same file and threads.

`llama-bench` is built from the llama.cpp source inside the installed llama-cpp-python's
source package (`make llama-bench`), with that package's default build options. Round by
round (interleaved, so a busy machine slows both alike) this runs `llama-bench` for
prompt processing (pp512) and decoding (tg128) and then the same through Hearth's engine
(`EngineClient` → worker → llama.cpp): a fresh 512-token prompt for pp, 128 tokens past
the end of text for tg, both with the engine's own load settings. Writes
``benchmarks/llama_bench.md``.

    python benchmarks/llama_bench.py --llama-bench build/llama-bench/bin/llama-bench \\
        [--model PATH] [--threads 2] [--rounds 3]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PP_TOKENS = 512
TG_TOKENS = 128


def llama_bench(binary: Path, model: Path, threads: int) -> tuple[float, float]:
    """(pp512 tokens/s, tg128 tokens/s) as llama-bench measures them (one repetition)."""
    run = subprocess.run(
        [
            str(binary),
            *("-m", str(model), "-t", str(threads), "-p", str(PP_TOKENS)),
            *("-n", str(TG_TOKENS), "-r", "1", "-o", "json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(run.stdout)
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] == PP_TOKENS and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] == TG_TOKENS and r["n_prompt"] == 0)
    return float(pp), float(tg)


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

    figures: dict[str, list[float]] = {"bench_pp": [], "bench_tg": [], "pp": [], "tg": []}
    async with EngineClient() as client:
        await client.load(str(model), threads=threads)
        await hearth(client, 0)  # warm up
        for n in range(1, rounds + 1):
            pp, tg = await asyncio.to_thread(llama_bench, binary, model, threads)
            figures["bench_pp"].append(pp)
            figures["bench_tg"].append(tg)
            pp, tg = await hearth(client, n)
            figures["pp"].append(pp)
            figures["tg"].append(tg)
            print({k: round(v[-1], 1) for k, v in figures.items()}, file=sys.stderr)
    return figures


def render(model: Path, threads: int, figures: dict[str, list[float]], command: str) -> str:
    med = {k: statistics.median(v) for k, v in figures.items()}
    lines = [
        "# Hearth's engine against llama-bench",
        "",
        f"Command: `{command}`  ",
        f"Model: `{model.name}`; {threads} threads; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs; load average after {os.getloadavg()[0]:.1f}.",
        "",
        f"Medians of {len(figures['tg'])} interleaved rounds, tokens per second.",
        "",
        "| | llama-bench | Hearth | Hearth ÷ llama-bench |",
        "|---|---|---|---|",
        f"| prompt (pp{PP_TOKENS}) | {med['bench_pp']:.1f} | {med['pp']:.1f} | "
        f"{med['pp'] / med['bench_pp']:.2f} |",
        f"| decode (tg{TG_TOKENS}) | {med['bench_tg']:.1f} | {med['tg']:.1f} | "
        f"{med['tg'] / med['bench_tg']:.2f} |",
        "",
        "Every round: "
        + "; ".join(
            f"pp {bp:.0f}/{p:.0f}, tg {bt:.1f}/{t:.1f}"
            for bp, p, bt, t in zip(
                figures["bench_pp"], figures["pp"], figures["bench_tg"], figures["tg"], strict=True
            )
        )
        + " (llama-bench/Hearth).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama-bench", type=Path, required=True, help="the llama-bench binary")
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the starter model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "llama_bench.md")
    args = parser.parse_args(argv)
    from engine.models import starter

    with tempfile.TemporaryDirectory(prefix="hearth-llama-bench-") as scratch:
        os.environ["HEARTH_HOME"] = str(Path(scratch) / "home")
        model = args.model or starter.starter_model_file()
        if model is None:
            parser.error("no model: give --model PATH, or install the starter model (make run)")
        figures = asyncio.run(measure(args.llama_bench, model, args.threads, args.rounds))
    command = "python benchmarks/llama_bench.py " + " ".join(argv)
    args.out.write_text(render(model, args.threads, figures, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
