"""Prompt lookup's speed-up on the Code pane's Fix task, model by model.

Usage::

    python benchmarks/lookup_bench.py [--model PATH ...] [--rounds 3] [--out benchmarks/lookup.md]

Without ``--model`` it measures the starter model and the 0.5B coder. Each round runs the
Fix task (``engine.tasks.code.run_task``, greedy) on the same buggy file twice, once
decoding token by token and once with prompt lookup (``SamplingParams.lookup``), in
alternating order, through Hearth's own engine. It writes the wall time, the decode
speed, the share of drafted tokens the model kept, and whether the two answers are the
same text: checking a draft decodes a batch, whose floats differ slightly from one
token's, so a near tie can go the other way (greedy answers are not guaranteed equal).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: The file a user asks Hearth to fix: two real bugs (an off-by-one and a wrong
#: operator) in code long enough that copying it dominates the answer.
BUGGY = '''"""Small statistics helpers used by the report generator."""


def moving_average(values, window):
    """Return the moving averages of values over window items."""
    if window <= 0:
        raise ValueError("window must be positive")
    result = []
    total = 0
    for i, value in enumerate(values):
        total += value
        if i > window:
            total -= values[i - window]
        if i >= window - 1:
            result.append(total / window)
    return result


def median(values):
    """Return the median of values."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of nothing")
    middle = n // 2
    if n % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) * 2


def percentile(values, share):
    """Return the value below which the given share of values lies."""
    if not 0 <= share <= 1:
        raise ValueError("share must be between 0 and 1")
    ordered = sorted(values)
    index = round(share * (len(ordered) - 1))
    return ordered[index]
'''


async def _measure(model: Path, rounds: int) -> list[dict[str, object]]:
    from engine.runtime.client import EngineClient
    from engine.tasks.code import CodeRequest, run_task, sampling_for

    request = CodeRequest(task="fix", language="python", code=BUGGY, filename="stats.py")
    rows: list[dict[str, object]] = []
    async with EngineClient() as client:
        await client.load(model)
        code_tokens = await client.count_tokens(BUGGY)
        base = replace(sampling_for("fix", code_tokens=code_tokens), temperature=0.0)
        await run_task(client, request, params=replace(base, max_tokens=8))  # warm the cache
        for index in range(rounds):
            order = (False, True) if index % 2 == 0 else (True, False)
            answers: dict[bool, str] = {}
            for lookup in order:
                t0 = time.perf_counter()
                result = await run_task(client, request, params=replace(base, lookup=lookup))
                wall = time.perf_counter() - t0
                answers[lookup] = result.text
                s = result.stats
                rows.append(
                    {
                        "round": index + 1,
                        "lookup": lookup,
                        "wall_s": wall,
                        "tokens": s.generated_tokens,
                        "tokens_per_s": s.tokens_per_s,
                        "acceptance": s.acceptance,
                        "fixed": "i >= window" in result.text and "/ 2" in result.text,
                    }
                )
                print(
                    f"  round {index + 1} lookup={lookup}: {wall:.1f} s, "
                    f"{s.generated_tokens} tokens, {s.tokens_per_s:.1f} tok/s",
                    file=sys.stderr,
                )
            for row in rows[-2:]:
                row["same"] = answers[False] == answers[True]
    return rows


def _table(name: str, rows: list[dict[str, object]]) -> list[str]:
    def med(lookup: bool, key: str) -> float:
        return statistics.median(float(str(r[key])) for r in rows if r["lookup"] is lookup)

    plain_wall, fast_wall = med(False, "wall_s"), med(True, "wall_s")
    kept = [r["acceptance"] for r in rows if r["lookup"] and r["acceptance"] is not None]
    same = sum(1 for r in rows if r["lookup"] and r["same"])
    rounds = sum(1 for r in rows if r["lookup"])
    lines = [
        f"### {name}",
        "",
        "| round | lookup | wall time | tokens | decode tok/s | drafted tokens kept | "
        "bugs fixed | same text as without |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acceptance = r["acceptance"]
        kept_text = f"{float(str(acceptance)):.0%}" if acceptance is not None else "–"
        lines.append(
            f"| {r['round']} | {'on' if r['lookup'] else 'off'} | {float(str(r['wall_s'])):.1f} s "
            f"| {r['tokens']} | {float(str(r['tokens_per_s'])):.1f} | {kept_text} "
            f"| {'yes' if r['fixed'] else 'no'} | {'yes' if r['same'] else 'no'} |"
        )
    lines += [
        "",
        f"Median wall time {plain_wall:.1f} s without, {fast_wall:.1f} s with: "
        f"**{plain_wall / fast_wall:.2f}×**; decode {med(False, 'tokens_per_s'):.1f} → "
        f"{med(True, 'tokens_per_s'):.1f} tok/s; drafted tokens kept "
        f"{statistics.median(float(str(k)) for k in kept):.0%} (median); "
        f"same text in {same} of {rounds} rounds.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, help="a GGUF file (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "lookup.md")
    args = parser.parse_args()
    models = args.model
    if not models:
        from engine.models.starter import SMALL_CODER, STARTER, installed_file

        models = [
            path
            for path in (installed_file(STARTER), installed_file(SMALL_CODER))
            if path.is_file()
        ]
    os.environ.setdefault("HEARTH_HOME", tempfile.mkdtemp(prefix="hearth-lookup-"))
    lines = [
        "# Prompt lookup on the Fix task",
        "",
        f"`python benchmarks/lookup_bench.py --rounds {args.rounds}`, "
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} logical cores. "
        "Greedy; the Code pane's Fix task on a 40-line file with two bugs "
        "(benchmarks/lookup_bench.py), through Hearth's engine; alternating order.",
        "",
    ]
    for model in models:
        print(f"{model.name}:", file=sys.stderr)
        rows = asyncio.run(_measure(model, args.rounds))
        lines += _table(model.name, rows)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
