"""Engine benchmark: decode speed through EngineClient vs a bare llama.cpp loop vs ``Llama``.

Usage::

    python benchmarks/engine_bench.py [--rounds N] [--tokens N] [--out benchmarks/engine.md]
                                      [--model ID_OR_PATH] [--threads N] [--n-ctx N]

Runs :func:`engine.cli.bench_loop.run_bench` with a fresh, temporary ``HEARTH_HOME`` (so no
settings or models of the user's own install change the result), then writes a
markdown page (``--out``) and the raw JSON next to it (same name, ``.json``).
Progress and llama.cpp's logs go to stderr; a one-line summary goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.97

_NAMES = {
    "engine": "Engine (`EngineClient` → worker → llama.cpp)",
    "direct": "Direct (bare llama-cpp-python token loop)",
    "highlevel": "High-level (`Llama.create_chat_completion`, streaming)",
}


def _command(argv: list[str]) -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        shown = script.relative_to(REPO).as_posix()
    except ValueError:
        shown = str(script)
    return shlex.join(["python", shown, *argv])


def _fmt_list(values: list[Any], scale: float = 1.0, digits: int = 1) -> str:
    return ", ".join(f"{v * scale:.{digits}f}" for v in values)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _verdict(by_medians: bool, by_rounds: bool) -> str:
    """A verdict only when the ratio of medians and the per-round median agree."""
    if by_medians != by_rounds:
        return "*inconclusive* (the two estimates disagree: more rounds, a quieter machine)"
    return "met" if by_medians else "**missed**"


def _bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def render_markdown(data: dict[str, Any], command: str) -> str:
    """The benchmark page for one result (``BenchResult.to_dict()``)."""
    m = data["machine"]
    s = data["samples"]
    ratio = data["ratio"]
    ratio_hl = data["ratio_vs_highlevel"]
    paired = _median(s["ratio_per_round"])
    paired_hl = _median(s["ratio_vs_highlevel_per_round"])
    meets = _verdict(ratio >= TARGET_RATIO, paired >= TARGET_RATIO)
    beats = _verdict(ratio_hl > 1, paired_hl > 1)
    load = m.get("load_average") or []
    load_end = m.get("load_average_end") or []
    lines = [
        "# Engine benchmark",
        "",
        "Decode speed of Hearth's engine against a bare llama.cpp token loop and",
        "llama-cpp-python's high-level streaming chat API: the same model, settings and",
        "prompt, in one process run, interleaved round by round.",
        "",
        f"- **When:** {data['timestamp']}",
        f"- **CPU:** {m['cpu']} — {m['physical_cores']} physical / {m['logical_cores']} logical "
        f"cores usable, SIMD {m.get('simd') or 'n/a'}; RAM {_bytes(m['ram_total'])}; "
        f"{m['os']} {m['machine']}" + (f"; GPUs: {', '.join(m['gpus'])}" if m.get("gpus") else ""),
        f"- **Load average** (1/5/15 min) at start: {_fmt_list(load, digits=2) or 'n/a'}; "
        f"at end: {_fmt_list(load_end, digits=2) or 'n/a'}",
        f"- **llama-cpp-python:** {m['llama_cpp_python']}",
        f"- **llama.cpp system info:** `{m['system_info']}`",
        f"- **Model:** `{data['model']}`",
        f"- **Settings (all contenders):** n_ctx {data['n_ctx']}, threads {data['threads']} "
        f"(prompt: {data['threads_batch']}), n_batch {data['n_batch']}, "
        f"n_ubatch {data['n_ubatch']}, flash attention {data['flash_attn']}, "
        f"GPU layers {data['n_gpu_layers']}; greedy, {data['tokens']} tokens per round, "
        f"{data['rounds']} rounds",
        f"- **Command:** `{command}`",
        "",
        "| Contender | Decode tok/s (median) | TTFT (median) | Decode tok/s samples "
        "| TTFT samples (ms) | Tokens per round |",
        "|---|---:|---:|---|---|---|",
    ]
    for key, name in _NAMES.items():
        lines.append(
            f"| {name} | {data[f'{key}_tokens_per_s']:.1f} | "
            f"{data[f'{key}_ttft_s'] * 1000:.0f} ms | "
            f"{_fmt_list(s[f'{key}_tokens_per_s'])} | "
            f"{_fmt_list(s[f'{key}_ttft_s'], 1000, 0)} | "
            f"{', '.join(str(n) for n in s[f'{key}_generated_tokens'])} |"
        )
    lines += [
        "",
        f"- **Engine / direct:** {ratio:.3f} (median of per-round ratios {paired:.3f}); "
        f"target ≥ {TARGET_RATIO}: {meets}.",
        f"- **Engine / high-level:** {ratio_hl:.3f} (median of per-round ratios "
        f"{paired_hl:.3f}); target > 1: {beats}.",
        "- **Per-round ratios** (each round's contenders ran seconds apart): engine / direct "
        f"{_fmt_list(s['ratio_per_round'], digits=3)}; engine / high-level "
        f"{_fmt_list(s['ratio_vs_highlevel_per_round'], digits=3)}.",
        f"- **Outputs identical** (engine = direct, high-level a prefix): "
        f"{'yes' if data['outputs_match'] else 'no'}.",
        "- Prompt tokens evaluated per round — engine "
        f"{_fmt_list(s['engine_prompt_tokens'], digits=0)} "
        f"(plus {_fmt_list(s['engine_cached_tokens'], digits=0)} reused), "
        f"direct {_fmt_list(s['direct_prompt_tokens'], digits=0)}, "
        f"high-level {_fmt_list(s['highlevel_prompt_tokens'], digits=0)}.",
        "",
        "## How to read this",
        "",
        "*Decode tok/s* is (tokens − 1) / (time from the first token to the last), so the",
        "prompt is left out; *TTFT* is the time from the request to the first token. The",
        "engine's figures are measured by `EngineClient` itself, so the worker process, the",
        "JSON-lines pipe and the client's event loop all count. *Direct* is the ceiling: the",
        "same llama.cpp calls with nothing around them. *High-level* is what an app gets from",
        "`llama_cpp.Llama`; it stops at end-of-generation (it has no ignore-EOS switch), so",
        "its rate is over the tokens it produced (last column).",
        "",
        "Each round runs every contender once, in a rotating order, so a burst of load from",
        "other programs tends to hit all of them; the table shows medians over rounds. The",
        "ratios are given two ways: the ratio of the medians, and the median of the",
        "per-round ratios (contenders a few seconds apart, so slow drifts in load cancel).",
        "A verdict is printed only when both agree. On a busy machine single samples",
        "scatter by ±10 % or more, so a few rounds cannot resolve differences of 1–3 %:",
        "use more rounds, a quiet machine, and check the load average above. Each round's",
        "system message starts with a different word, so no contender reuses the previous",
        "prompt from its KV cache beyond the chat template's fixed first tokens.",
        "Details: `engine/cli/bench_loop.py`.",
        "",
    ]
    return "\n".join(lines)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--tokens", type=int, default=128, help="tokens per round (default 128)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "engine.md", help="markdown page"
    )
    parser.add_argument("--model", default=None, help="store id or GGUF path (default: starter)")
    parser.add_argument("--threads", type=int, default=0, help="decode threads (0: the plan's)")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context size (default 2048)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the page and the JSON."""
    args_list = sys.argv[1:] if argv is None else argv
    args = _parse(args_list)
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("engine.bench").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as home:
        # Before any engine module reads it; the worker inherits it.
        os.environ["HEARTH_HOME"] = home
        sys.path.insert(0, str(REPO))
        from engine.cli.bench_loop import run_bench
        from engine.runtime.client import EngineClient

        async def bench() -> dict[str, Any]:
            async with EngineClient() as client:
                result = await run_bench(
                    client,
                    args.model,
                    tokens=args.tokens,
                    rounds=args.rounds,
                    threads=args.threads,
                    n_ctx=args.n_ctx,
                )
            return result.to_dict()

        data = asyncio.run(bench())
    if hasattr(os, "getloadavg"):
        data["machine"]["load_average_end"] = list(os.getloadavg())
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown(data, _command(args_list)), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(
        f"engine {data['engine_tokens_per_s']:.1f} tok/s, direct "
        f"{data['direct_tokens_per_s']:.1f} tok/s, high-level "
        f"{data['highlevel_tokens_per_s']:.1f} tok/s; engine/direct {data['ratio']:.3f}, "
        f"engine/high-level {data['ratio_vs_highlevel']:.2f} → {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
