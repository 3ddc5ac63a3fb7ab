"""``hearth-cli``: the headless command line that the GUI's features, tests and benchmarks share.

Exit status: 0 success, 2 usage error, 3 bad or missing model file, 4 engine crashed,
1 anything else. Errors are one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from engine import __version__
from engine.errors import EngineError, UsageError
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

log = logging.getLogger("engine.cli")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `hearth-cli {self.prog.split()[-1]} --help`)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hearth-cli", description="Hearth's engine from the command line.")
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    hw = sub.add_parser("hardware", help="what this computer has and how Hearth will use it")
    hw.add_argument("--model", help="plan for this model (id or path; default: starter model)")
    hw.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="installed models")
    models_sub = models.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    models_list = models_sub.add_parser("list", help="list installed models")
    models_list.add_argument("--json", action="store_true")
    models_list.set_defaults(models_handler=_cmd_models_list)
    _add_local_model_commands(models_sub)

    chat = sub.add_parser("chat", help="ask the model and stream the answer")
    chat.add_argument("prompt", help="the message to send")
    chat.add_argument("--model", help="model id, file name or path (default: starter model)")
    chat.add_argument("--system", help="system prompt")
    chat.add_argument("--max-tokens", type=int, default=512)
    chat.add_argument("--temperature", type=float, default=0.7)
    chat.add_argument("--top-p", type=float, default=0.95)
    chat.add_argument("--top-k", type=int, default=40)
    chat.add_argument("--min-p", type=float, default=0.05)
    chat.add_argument("--repeat-penalty", type=float, default=1.1)
    chat.add_argument("--seed", type=int, default=-1)
    chat.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    chat.add_argument("--ctx", type=int, default=0, help="context size (default: automatic)")
    chat.add_argument("--threads", type=int, default=0)
    chat.add_argument("--gpu-offload", default="auto", help="auto, off, or a number of layers")
    chat.add_argument("--json", action="store_true", help="print one JSON object at the end")

    bench = sub.add_parser("bench", help="decode speed through the engine vs. llama-cpp-python")
    bench.add_argument("--model", help="model id or path (default: starter model)")
    bench.add_argument("--tokens", type=int, default=128)
    bench.add_argument("--rounds", type=int, default=5)
    bench.add_argument("--threads", type=int, default=0)
    bench.add_argument("--json", action="store_true")
    return parser


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


async def _cmd_hardware(args: argparse.Namespace) -> int:
    from engine.client import EngineClient
    from engine.config import get_paths, load_settings
    from engine.hardware import probe_hardware
    from engine.loading import llama_build_from_hello
    from engine.plan import DEFAULT_CONTEXT, plan_backend
    from engine.store import ModelStore

    # llama.cpp's build is what the worker reports: this process never loads it.
    async with EngineClient() as client:
        llama = llama_build_from_hello(await client.hello())
    hw = await asyncio.to_thread(probe_hardware, llama_probe=lambda: llama)
    paths = get_paths()
    settings = load_settings(paths)
    info = None
    try:
        info = (await asyncio.to_thread(ModelStore.configured(paths).resolve, args.model)).info
    except EngineError as exc:
        if args.model:
            raise
        log.info("No model to plan for: %s", exc)
    default_ctx = min(info.context_length, DEFAULT_CONTEXT) if info else DEFAULT_CONTEXT
    n_ctx = settings.context_size or default_ctx
    plan = plan_backend(
        hw,
        info,
        n_ctx=n_ctx,
        settings_backend=settings.backend,
        gpu_offload=settings.gpu_offload,
        threads=settings.threads,
    )
    if args.json:
        _print_json({"hardware": hw.to_dict(), "plan": plan.to_dict()})
        return 0
    from engine.hardware import format_bytes

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


async def _cmd_models_list(args: argparse.Namespace) -> int:
    from engine.config import get_paths
    from engine.hardware import format_bytes
    from engine.store import ModelStore

    models = await asyncio.to_thread(ModelStore.configured(get_paths()).list)
    if args.json:
        _print_json([m.to_dict() for m in models])
        return 0
    if not models:
        print("No models installed.")
        return 0
    for m in models:
        d = m.to_dict()
        if m.error:
            print(f"{m.id}\n    unusable: {m.error}")
            continue
        print(
            f"{m.id}\n    {d['architecture']}, {d['quantization']}, {format_bytes(m.size)}, "
            f"context {d['context_length']:,}, {m.source} — {m.path}"
        )
    return 0


def _add_local_model_commands(models_sub: Any) -> None:
    """``models import|discover|rm``: models already on this computer."""
    models_import = models_sub.add_parser("import", help="use a local GGUF file where it lies")
    models_import.add_argument("path", help="the .gguf file (first part of a split model)")
    models_import.add_argument("--name", help="what to call it (default: the file name)")
    models_import.add_argument("--json", action="store_true")
    models_import.set_defaults(models_handler=_cmd_models_import)
    models_discover = models_sub.add_parser(
        "discover", help="find models other apps downloaded (Hugging Face, LM Studio, Ollama, ...)"
    )
    models_discover.add_argument("--json", action="store_true")
    models_discover.add_argument(
        "--import-all", action="store_true", help="import every model found that is not yet"
    )
    models_discover.set_defaults(models_handler=_cmd_models_discover)
    models_rm = models_sub.add_parser("rm", help="remove a model (unlinks imports)")
    models_rm.add_argument("id", help="the exact id from `hearth-cli models list`")
    models_rm.add_argument(
        "--delete-files",
        action="store_true",
        help="also delete a file you put in the models folder yourself",
    )
    models_rm.set_defaults(models_handler=_cmd_models_rm)


async def _cmd_models(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], Awaitable[int]] = args.models_handler
    return await handler(args)


async def _cmd_models_import(args: argparse.Namespace) -> int:
    from engine.config import get_paths
    from engine.hardware import format_bytes
    from engine.store import ModelStore

    store = ModelStore.configured(get_paths())
    model = await asyncio.to_thread(store.import_model, args.path, name=args.name)
    if args.json:
        _print_json(model.to_dict())
    else:
        print(f"Imported {model.id} ({format_bytes(model.size)}), linked in place: {model.path}")
    return 0


async def _cmd_models_discover(args: argparse.Namespace) -> int:
    from engine.config import get_paths
    from engine.discover import discover
    from engine.hardware import format_bytes
    from engine.store import ModelStore

    store = ModelStore.configured(get_paths())
    found = await asyncio.to_thread(discover, store=store)
    imported: dict[str, str] = {}
    if args.import_all:
        for model in found:
            if not model.already_imported:
                entry = await asyncio.to_thread(store.import_model, model.path, name=model.name)
                imported[str(model.path)] = entry.id
    if args.json:
        _print_json([{**m.to_dict(), "imported_as": imported.get(str(m.path))} for m in found])
        return 0
    if not found:
        print("No models found in other apps' folders.")
        return 0
    for m in found:
        state = "already imported" if m.already_imported else "not imported"
        if str(m.path) in imported:
            state = f"imported as {imported[str(m.path)]}"
        print(f"{m.name}  [{m.source}, {format_bytes(m.size)}, {state}]\n    {m.path}")
    if not args.import_all and any(not m.already_imported for m in found):
        print("Import one with `hearth-cli models import PATH`, or all with --import-all.")
    return 0


async def _cmd_models_rm(args: argparse.Namespace) -> int:
    from engine.config import get_paths
    from engine.store import ModelStore

    store = ModelStore.configured(get_paths())
    await asyncio.to_thread(store.remove, args.id, delete_files=args.delete_files)
    print(f"Removed {args.id}.")
    return 0


async def _cmd_chat(args: argparse.Namespace) -> int:
    from engine.client import EngineClient

    if args.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    params = SamplingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        min_p=args.min_p,
        repeat_penalty=args.repeat_penalty,
        seed=args.seed,
        max_tokens=args.max_tokens,
        stop=tuple(args.stop),
    )
    messages = [ChatMessage("system", args.system)] if args.system else []
    messages.append(ChatMessage("user", args.prompt))
    async with EngineClient() as client:
        info = await client.load(
            args.model, n_ctx=args.ctx, threads=args.threads, gpu_offload=args.gpu_offload
        )
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        result: GenerationResult | None = None
        async for event in client.chat(messages, params):
            if isinstance(event, TokenEvent):
                if not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
            else:
                result = event
        assert result is not None
    if args.json:
        s = result.stats
        _print_json(
            {
                "text": result.text,
                "model": info.model_id,
                "backend": info.backend,
                "device": info.device,
                "prompt_tokens": s.prompt_tokens,
                "generated_tokens": s.generated_tokens,
                "ttft_s": s.ttft_s,
                "tokens_per_s": s.tokens_per_s,
                "stop_reason": s.stop_reason,
            }
        )
    else:
        print()
    return 0


async def _cmd_bench(args: argparse.Namespace) -> int:
    from engine.bench import run_bench
    from engine.client import EngineClient

    async with EngineClient() as client:
        result = await run_bench(
            client, args.model, tokens=args.tokens, rounds=args.rounds, threads=args.threads
        )
    data = result.to_dict()
    if args.json:
        _print_json(data)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return exc.exit_code
    from engine.config import get_paths
    from engine.logs import setup_logging

    setup_logging(
        get_paths(), console=args.verbose, level=logging.DEBUG if args.verbose else logging.INFO
    )
    commands = {
        "hardware": _cmd_hardware,
        "models": _cmd_models,
        "chat": _cmd_chat,
        "bench": _cmd_bench,
    }
    try:
        return asyncio.run(commands[args.command](args))
    except EngineError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hearth-cli: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.exception("Unexpected error")
        print(f"hearth-cli: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
