"""What `hearth-cli serve` costs: streaming speed through HTTP against the engine itself.

Starts `hearth-cli serve` on a free port and, in the same run, round by round (interleaved,
so a busy machine slows both alike), streams the same answer (greedy, past the end of
text: ``ignore_eos``) through the server with the official `openai` client and straight
from an in-process EngineClient, timing both from the client's side: time to the first
token and tokens per second after it. Then the throughput with 1, 2 and 4 clients at once.
Writes ``benchmarks/server.md``.

    python benchmarks/server_bench.py [--model PATH] [--rounds 3] [--tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TOKEN = "benchmark-token-0123456789"
QUESTION = "Write a long story about a lighthouse keeper."


def serve(model: str | None, home: Path) -> tuple[subprocess.Popen[str], str]:
    """A running server and its base URL."""
    command = [sys.executable, "-m", "engine", "serve", "--port", "0", "--token", TOKEN]
    if model:
        command += ["--model", model]
    env = {**os.environ, "HEARTH_HOME": str(home)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("Hearth API: "):
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, line.split()[2]


def through_server(base_url: str, tokens: int) -> tuple[float, float, int]:
    """(seconds to the first token, tokens/s after it, tokens) of one streamed answer."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=TOKEN, max_retries=0, timeout=600)
    start = time.perf_counter()
    first = 0.0
    count = 0
    stream = client.chat.completions.create(
        model="",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            count = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.delta.content and not first:
                first = time.perf_counter()
    end = time.perf_counter()
    return first - start, (count - 1) / (end - first), count


async def in_process(client: object, tokens: int) -> tuple[float, float, int]:
    """The same, straight from an EngineClient."""
    from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

    params = SamplingParams(temperature=0, max_tokens=tokens, ignore_eos=True)
    start = time.perf_counter()
    first = 0.0
    count = 0
    async for event in client.chat([ChatMessage("user", QUESTION)], params):  # type: ignore[attr-defined]
        if isinstance(event, TokenEvent) and event.text and not first:
            first = time.perf_counter()
        elif isinstance(event, GenerationResult):
            count = event.stats.generated_tokens
    end = time.perf_counter()
    return first - start, (count - 1) / (end - first), count


def concurrent(base_url: str, clients: int, tokens: int) -> tuple[float, float]:
    """(total tokens/s, mean seconds per answer) with ``clients`` asking at once."""
    results: list[tuple[float, int]] = []

    def ask() -> None:
        started = time.perf_counter()
        _, _, count = through_server(base_url, tokens)
        results.append((time.perf_counter() - started, count))

    threads = [threading.Thread(target=ask) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return sum(c for _, c in results) / wall, statistics.mean(s for s, _ in results)


async def measure(model: str | None, rounds: int, tokens: int) -> dict[str, object]:
    from engine.runtime.client import EngineClient

    with tempfile.TemporaryDirectory(prefix="hearth-server-bench-") as scratch:
        os.environ["HEARTH_HOME"] = str(Path(scratch) / "home")
        process, base_url = serve(model, Path(scratch) / "served")
        server: list[tuple[float, float, int]] = []
        direct: list[tuple[float, float, int]] = []
        try:
            async with EngineClient() as client:
                await client.load(model)
                await in_process(client, 8)  # warm both up
                await asyncio.to_thread(through_server, base_url, 8)
                for _ in range(rounds):
                    direct.append(await in_process(client, tokens))
                    server.append(await asyncio.to_thread(through_server, base_url, tokens))
                    print(f"direct {direct[-1]}, server {server[-1]}", file=sys.stderr)
            scaling = {
                n: await asyncio.to_thread(concurrent, base_url, n, tokens // 2) for n in (1, 2, 4)
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"server": server, "direct": direct, "scaling": scaling}


def render(figures: dict[str, object], command: str, load: tuple[float, float]) -> str:
    server = figures["server"]
    direct = figures["direct"]
    scaling = figures["scaling"]
    assert isinstance(server, list) and isinstance(direct, list) and isinstance(scaling, dict)
    med = statistics.median
    s_rate, d_rate = med(r[1] for r in server), med(r[1] for r in direct)
    s_first, d_first = med(r[0] for r in server), med(r[0] for r in direct)
    lines = [
        "# The API server's cost",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; load average before "
        f"{load[0]:.1f}, after {load[1]:.1f}.",
        "",
        "The same greedy answer, streamed through `hearth-cli serve` (official `openai` "
        "client, SSE) and straight from an in-process `EngineClient`, interleaved round by "
        "round; timed on the client's side. Medians of "
        f"{len(server)} rounds.",
        "",
        "| path | first token (s) | tokens/s after it |",
        "|---|---|---|",
        f"| EngineClient | {d_first:.2f} | {d_rate:.1f} |",
        f"| HTTP server | {s_first:.2f} | {s_rate:.1f} |",
        f"| server ÷ engine | {s_first / d_first:.2f}× | {s_rate / d_rate:.2f}× |",
        "",
        "Clients at once (each asks for half as many tokens; answers queue on the one "
        "engine, so the total stays that of one):",
        "",
        "| clients | total tokens/s | mean seconds per answer |",
        "|---|---|---|",
    ]
    for n, (rate, seconds) in scaling.items():
        lines.append(f"| {n} | {rate:.1f} | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model id or GGUF path (default: the starter)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "server.md")
    args = parser.parse_args(argv)
    before = os.getloadavg()[0]
    figures = asyncio.run(measure(args.model, args.rounds, args.tokens))
    command = "python benchmarks/server_bench.py" + ("" if not argv else " " + " ".join(argv))
    args.out.write_text(render(figures, command, (before, os.getloadavg()[0])), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
