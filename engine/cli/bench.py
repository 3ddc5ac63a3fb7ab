"""``hearth-cli bench``: decode speed through the engine against llama-cpp-python
(the loop itself is :mod:`engine.cli.bench_loop`)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import add_backend_option, int_in, print_json, sampling_flag, setting_flag
from engine.types import ModelInfo

#: The most rounds ``bench`` runs: each decodes --tokens tokens three ways; the median
#: of a handful is already stable (benchmarks/).
MAX_BENCH_ROUNDS = 100


def add_parser(sub: Any) -> None:
    """The ``bench`` command."""
    bench = sub.add_parser("bench", help="decode speed through the engine vs. llama-cpp-python")
    bench.add_argument("--model", help="model id or path (default: starter model)")
    bench.add_argument("--tokens", type=sampling_flag("max_tokens", int), default=128)
    bench.add_argument("--rounds", type=int_in(1, MAX_BENCH_ROUNDS), default=5)
    bench.add_argument("--threads", type=setting_flag("threads", int), default=0)
    add_backend_option(bench)
    bench.add_argument("--json", action="store_true")


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli bench``; returns the exit status."""
    from engine.cli.bench_loop import run_bench
    from engine.runtime.client import EngineClient

    class _BackendClient(EngineClient):
        """Loads with ``--backend``: run_bench's own loads do not choose a backend."""

        async def load(self, *a: Any, **kw: Any) -> ModelInfo:
            kw.setdefault("backend", args.backend)
            return await super().load(*a, **kw)

    async with _BackendClient() as client:
        result = await run_bench(
            client, args.model, tokens=args.tokens, rounds=args.rounds, threads=args.threads
        )
    data = result.to_dict()
    if args.json:
        print_json(data)
    else:
        print(
            f"engine:     {data['engine_tokens_per_s']:.1f} tokens/s, "
            f"TTFT {data['engine_ttft_s'] * 1000:.0f} ms"
        )
        print(
            f"direct:     {data['direct_tokens_per_s']:.1f} tokens/s, "
            f"TTFT {data['direct_ttft_s'] * 1000:.0f} ms"
        )
        print(f"high-level: {data['highlevel_tokens_per_s']:.1f} tokens/s")
        print(f"ratio engine/direct: {data['ratio']:.3f}")
    return 0
