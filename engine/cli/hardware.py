"""``hearth-cli hardware``: what this computer has and how Hearth will use it."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from engine.cli.common import print_json
from engine.errors import EngineError

log = logging.getLogger("engine.cli")


def add_parser(sub: Any) -> None:
    """The ``hardware`` command."""
    hw = sub.add_parser("hardware", help="what this computer has and how Hearth will use it")
    hw.add_argument("--model", help="plan for this model (id or path; default: starter model)")
    hw.add_argument("--json", action="store_true")


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli hardware``; returns the exit status."""
    from engine.data.config import get_paths, load_settings
    from engine.models.plan import plan_backend, requested_context
    from engine.models.store import ModelStore
    from engine.runtime.client import EngineClient

    async with EngineClient() as client:
        hw = await client.hardware()
    paths = get_paths()
    settings = load_settings(paths)
    info = None
    try:
        info = (await asyncio.to_thread(ModelStore.configured(paths).resolve, args.model)).info
    except EngineError as exc:
        if args.model:
            raise
        log.info("No model to plan for: %s", exc)
    trained = info.context_length if info else 0
    plan = plan_backend(
        hw,
        info,
        n_ctx=requested_context(trained, setting=settings.context_size),
        settings_backend=settings.backend,
        gpu_offload=settings.gpu_offload,
        threads=settings.threads,
    )
    if args.json:
        print_json({"hardware": hw.to_dict(), "plan": plan.to_dict()})
        return 0
    from engine.models.hardware import format_bytes

    cpu = hw.cpu
    print(
        f"CPU:     {cpu.model} — {cpu.physical_cores} cores, {cpu.logical_cores} threads"
        f"{', ' + cpu.simd_level if cpu.simd_level else ''}"
    )
    print(f"Memory:  {format_bytes(hw.ram_total)} total, {format_bytes(hw.ram_available)} free")
    if hw.gpus:
        for gpu in hw.gpus:
            print(
                f"GPU:     {gpu.name} — {format_bytes(gpu.vram_total)} "
                f"({format_bytes(gpu.vram_free)} free), {gpu.api}"
            )
    else:
        print("GPU:     none found")
    llama = hw.llama
    if llama.available:
        offload = f"yes ({llama.gpu_backend or '?'})" if llama.gpu_offload else "no"
        print(f"llama.cpp: llama-cpp-python {llama.version}, GPU offload {offload}")
    else:
        print(f"llama.cpp: not available ({llama.error})")
    print(f"PyTorch: {hw.torch.version if hw.torch.available else 'not installed'}")
    print(f"Plan:    {plan.reason}")
    for warning in plan.warnings:
        print(f"Warning: {warning}")
    return 0
