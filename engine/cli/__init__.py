"""``hearth-cli``: the headless command line that the GUI's features, tests and benchmarks share.

Exit status: 0 success, 2 usage error, 3 bad or missing model file or unreadable document,
4 engine crashed, 1 anything else. Errors are one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from engine import __version__
from engine.config import BACKENDS, setting_problem
from engine.errors import EngineError, UsageError
from engine.types import (
    MAX_STOP_CHARS,
    ChatMessage,
    GenerationResult,
    ModelInfo,
    SamplingParams,
    TokenEvent,
    sampling_problem,
)

if TYPE_CHECKING:
    from engine.downloads import DownloadManager, DownloadProgress
    from engine.hub import HubFile

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
    _add_hub_model_commands(models_sub)

    chat = sub.add_parser("chat", help="ask the model and stream the answer")
    chat.add_argument("prompt", help="the message to send")
    chat.add_argument("--model", help="model id, file name or path (default: starter model)")
    chat.add_argument("--system", help="system prompt")
    chat.add_argument("--max-tokens", type=_sampling_flag("max_tokens", int), default=512)
    chat.add_argument("--temperature", type=_sampling_flag("temperature", float), default=0.7)
    chat.add_argument("--top-p", type=_sampling_flag("top_p", float), default=0.95)
    chat.add_argument("--top-k", type=_sampling_flag("top_k", int), default=40)
    chat.add_argument("--min-p", type=_sampling_flag("min_p", float), default=0.05)
    chat.add_argument("--repeat-penalty", type=_sampling_flag("repeat_penalty", float), default=1.1)
    chat.add_argument("--seed", type=_sampling_flag("seed", int), default=-1)
    chat.add_argument(
        "--stop", type=_stop_string, action="append", default=[], help="stop string (repeatable)"
    )
    _add_load_options(chat)
    chat.add_argument(
        "--gpu-offload",
        type=_setting_flag("gpu_offload", str),
        default="auto",
        help="auto, off, or a number of layers",
    )
    _add_backend_option(chat)
    chat.add_argument("--json", action="store_true", help="print one JSON object at the end")

    _add_summarize_command(sub)
    _add_code_command(sub)

    bench = sub.add_parser("bench", help="decode speed through the engine vs. llama-cpp-python")
    bench.add_argument("--model", help="model id or path (default: starter model)")
    bench.add_argument("--tokens", type=_sampling_flag("max_tokens", int), default=128)
    bench.add_argument("--rounds", type=_int_in(1, MAX_BENCH_ROUNDS), default=5)
    bench.add_argument("--threads", type=_setting_flag("threads", int), default=0)
    _add_backend_option(bench)
    bench.add_argument("--json", action="store_true")
    return parser


def _add_load_options(command: Any) -> None:
    """``--ctx`` and ``--threads``, checked against the same ranges as the settings file."""
    command.add_argument(
        "--ctx",
        type=_setting_flag("context_size", int),
        default=0,
        help="context size in tokens (default: automatic; at most the model's trained "
        "context and what memory holds)",
    )
    command.add_argument(
        "--threads",
        type=_setting_flag("threads", int),
        default=0,
        help="decode threads (default: automatic; at most this computer's logical cores)",
    )


def _add_backend_option(command: Any) -> None:
    """``--backend auto|llamacpp|torch``: force an inference backend for this run."""
    command.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="inference backend (default: auto, which follows Settings and the hardware plan)",
    )


def _add_summarize_command(sub: Any) -> None:
    """``summarize FILE...``: whole documents, chunk by chunk (engine.summarize)."""
    from engine.summarize import LANGUAGES, LENGTHS, STYLES

    summ = sub.add_parser("summarize", help="summarize whole documents of any length")
    summ.add_argument("files", nargs="+", metavar="FILE", help="txt, md, pdf, docx, html, code")
    summ.add_argument("--length", choices=LENGTHS, default="medium")
    summ.add_argument("--style", choices=STYLES, default="bullets")
    summ.add_argument("--language", choices=LANGUAGES, default="auto")
    summ.add_argument("--model", help="model id, file name or path (default: starter model)")
    _add_load_options(summ)
    summ.add_argument("--json", action="store_true", help="print a JSON list at the end")


def _add_code_command(sub: Any) -> None:
    """``code --task T [TEXT]``: the Code pane's tasks (engine.code)."""
    from engine.code import TASKS

    code = sub.add_parser(
        "code",
        help="generate, explain, fix, test or review code",
        description="Run a code task with the local model. The code comes from --file, or "
        "from standard input when it is not a terminal; TEXT describes what to generate, "
        "or adds a request to the other tasks. A fix prints a unified diff.",
    )
    code.add_argument("text", nargs="*", metavar="TEXT", help="description or extra request")
    code.add_argument("--task", choices=TASKS, required=True)
    code.add_argument("--language", help="language (default: from the file name or the code)")
    code.add_argument("--file", help="the code to work on")
    code.add_argument("--error", default="", help="for --task fix: the error message")
    code.add_argument("--model", help="model id, file name or path (default: starter model)")
    _add_load_options(code)
    code.add_argument("--json", action="store_true", help="print one JSON object at the end")


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


def _add_hub_model_commands(models_sub: Any) -> None:
    """``models search|files|pull``: models on the Hugging Face hub (``$HF_ENDPOINT``)."""
    search = models_sub.add_parser("search", help="search the hub for GGUF repositories")
    search.add_argument("query", help="words in the repository name")
    search.add_argument("--sort", choices=("downloads", "likes", "recent"), default="downloads")
    search.add_argument("--limit", type=_int_in(1, MAX_SEARCH_RESULTS), default=20)
    search.add_argument("--json", action="store_true")
    search.set_defaults(models_handler=_cmd_models_search)
    files = models_sub.add_parser(
        "files", help="a repository's GGUF files, with whether each fits this computer"
    )
    files.add_argument("repo", help="publisher/repo")
    files.add_argument(
        "--ctx",
        type=_setting_flag("context_size", int),
        default=0,
        help="context size for the fit (default: automatic)",
    )
    files.add_argument("--json", action="store_true")
    files.set_defaults(models_handler=_cmd_models_files)
    pull = models_sub.add_parser(
        "pull", help="download a model, verify its sha256 and install it (Ctrl+C pauses)"
    )
    pull.add_argument("repo", help="publisher/repo")
    which = pull.add_mutually_exclusive_group()
    which.add_argument("--file", help="the .gguf file (first part of a split model)")
    which.add_argument("--quant", help="the quantization, e.g. Q4_K_M (any case)")
    pull.add_argument("--json", action="store_true", help="print one JSON object at the end")
    pull.set_defaults(models_handler=_cmd_models_pull)


#: The most results ``models search`` lists: more is not read; a narrower query is.
MAX_SEARCH_RESULTS = 500
#: The most rounds ``bench`` runs: each decodes --tokens tokens three ways; the median
#: of a handful is already stable (benchmarks/).
MAX_BENCH_ROUNDS = 100

_NUMBER_WORDS: dict[object, str] = {int: "a whole number", float: "a number"}


def _parse(kind: Callable[[str], Any], text: str) -> Any:
    """``kind(text)`` (int, float or str), as argparse's error when it is not one."""
    try:
        return kind(text)
    except ValueError:
        word = _NUMBER_WORDS.get(kind, "valid")
        raise argparse.ArgumentTypeError(f"{text!r} is not {word}") from None


def _checked(
    kind: Callable[[str], Any], check: Callable[[Any], str | None]
) -> Callable[[str], Any]:
    """An argparse ``type=``: parse with ``kind``, then refuse what ``check`` objects to."""

    def convert(text: str) -> Any:
        value = _parse(kind, text)
        problem = check(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{problem}, not {text}")
        return value

    return convert


def _sampling_flag(name: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A flag for the sampling field ``name``, checked as SamplingParams checks it (NaN too)."""
    return _checked(kind, lambda value: sampling_problem(name, value))


def _setting_flag(name: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A flag for the setting ``name`` (context size, threads, GPU offload), checked as
    the settings file is: the same ranges, derived from this computer."""
    return _checked(kind, lambda value: setting_problem(name, value))


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""
    return _checked(int, lambda v: None if low <= v <= high else f"must be {low} to {high:,}")


def _stop_string(text: str) -> str:
    """One ``--stop`` string; how many there may be is checked with the other sampling values."""
    if sampling_problem("stop", [text]) is not None:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_STOP_CHARS} characters long")
    return text


async def _cmd_models_search(args: argparse.Namespace) -> int:
    from engine.config import get_paths, load_settings
    from engine.hub import Hub

    hub = Hub(load_settings(get_paths()))
    repos = await asyncio.to_thread(hub.search, args.query, sort=args.sort, limit=args.limit)
    if args.json:
        _print_json([r.to_dict() for r in repos])
        return 0
    if not repos:
        print(f"No GGUF repositories match {args.query!r}.")
        return 0
    for r in repos:
        gated = ", gated" if r.gated else ""
        print(f"{r.repo_id}  [{r.downloads:,} downloads, {r.likes:,} likes{gated}]")
    return 0


#: What ``models pull`` picks among several files, best first (the usual 4-bit balance);
#: with none of these it asks the user to choose.
_DEFAULT_QUANTS = ("Q4_K_M", "Q4_K_S", "Q4_K", "IQ4_XS", "IQ4_NL", "Q4_0", "Q4_1")


def _pick_file(files: Sequence[HubFile], repo: str, name: str | None, quant: str | None) -> HubFile:
    """The file ``models pull`` downloads.

    Raises:
        DownloadError: the repository has no GGUF file.
        UsageError: the choice is not there, or not clear (the message lists the choices).
    """
    from engine.errors import DownloadError
    from engine.hardware import format_bytes

    if not files:
        raise DownloadError(f"{repo} has no GGUF files to download.")
    choices = "; ".join(f"{f.name} ({f.quant or '?'}, {format_bytes(f.size)})" for f in files)
    if name:
        found = [f for f in files if name in f.parts or f.name.lower() == name.lower()]
        if not found:
            raise UsageError(f"{repo} has no file {name!r}. Choose one of: {choices}")
        return found[0]
    if quant:
        found = [f for f in files if f.quant.lower() == quant.strip().lower()]
        if len(found) == 1:
            return found[0]
        if not found:
            raise UsageError(f"{repo} has no {quant} file. Choose one of: {choices}")
        names = ", ".join(f.name for f in found)
        raise UsageError(f"{repo} has several {quant} files; choose one with --file: {names}")
    if len(files) == 1:
        return files[0]
    for preferred in _DEFAULT_QUANTS:
        found = [f for f in files if f.quant == preferred]
        if len(found) == 1:
            return found[0]
    raise UsageError(f"{repo} has several files; choose one with --file or --quant: {choices}")


async def _cmd_models_files(args: argparse.Namespace) -> int:
    import time

    from engine.client import EngineClient
    from engine.config import get_paths, load_settings
    from engine.hardware import format_bytes, probe_hardware
    from engine.hub import Hub
    from engine.hub_http import ANSWER_DEADLINE_S
    from engine.loading import llama_build_from_hello
    from engine.plan import fit_badge_label

    settings = load_settings(get_paths())
    hub = Hub(settings)
    listing = await asyncio.to_thread(hub.listing, args.repo)
    files = listing.files
    # llama.cpp's build is what the worker reports: this process never loads it.
    async with EngineClient() as client:
        llama = llama_build_from_hello(await client.hello())
    hw = await asyncio.to_thread(probe_hardware, llama_probe=lambda: llama)
    n_ctx = args.ctx or settings.context_size
    # The headers are read side by side, so they share one answer's time: a slow hub
    # costs the command that long, not that long per file.
    deadline = time.monotonic() + ANSWER_DEADLINE_S

    def fit(file: HubFile) -> tuple[str, str]:
        try:
            return hub.fit(hub.header(file, deadline=deadline), hw, n_ctx), ""
        except EngineError as exc:  # one unreadable header leaves the others listed
            return "unknown", str(exc)

    fits = await asyncio.gather(*(asyncio.to_thread(fit, f) for f in files))
    if args.json:
        _print_json(
            [
                {**f.to_dict(), "fit": badge, **({"fit_error": error} if error else {})}
                for f, (badge, error) in zip(files, fits, strict=True)
            ]
        )
    elif not files:
        print(f"{args.repo} has no GGUF files.")
    else:
        for f, (badge, error) in zip(files, fits, strict=True):
            parts = f", {len(f.parts)} parts" if len(f.parts) > 1 else ""
            label = fit_badge_label(badge) if badge != "unknown" else f"fit unknown: {error}"
            print(f"{f.name}\n    {f.quant or '?'}, {format_bytes(f.size)}{parts} — {label}")
    if listing.note():  # after the list, where it is read; on stderr, so --json stays JSON
        print(listing.note(), file=sys.stderr)
    return 0


def _installed_path(manager: DownloadManager, file: HubFile) -> Path | None:
    """Where ``file`` is already installed by an earlier download, or None."""
    path = manager.models_dir / file.repo_id / file.name
    sidecar = path.with_name(path.name + ".download.json")
    all_parts = all((path.parent / p).is_file() for p in file.parts)
    return path if all_parts and sidecar.is_file() else None


def _progress_line(p: DownloadProgress) -> str:
    from engine.hardware import format_bytes

    if p.state == "verifying":
        return f"verifying {p.name}: {format_bytes(p.done_bytes)} of {format_bytes(p.total_bytes)}"
    percent = 100 * p.done_bytes / p.total_bytes if p.total_bytes else 0.0
    eta = f", {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left" if p.eta_s >= 0 else ""
    return (
        f"{p.name}: {format_bytes(p.done_bytes)} of {format_bytes(p.total_bytes)} "
        f"({percent:.0f}%), {format_bytes(int(p.speed_bps))}/s{eta}"
    )


async def _cmd_models_pull(args: argparse.Namespace) -> int:
    from engine.config import get_paths, load_settings
    from engine.downloads import DownloadManager
    from engine.errors import DownloadError
    from engine.hub import Hub

    paths = get_paths().ensure()
    settings = load_settings(paths)
    files = await asyncio.to_thread(Hub(settings).files, args.repo)
    file = _pick_file(files, args.repo, args.file, args.quant)
    latest: dict[str, DownloadProgress] = {}
    changed = threading.Event()

    def on_progress(progress: DownloadProgress) -> None:  # download threads
        latest[progress.id] = progress
        changed.set()

    manager = DownloadManager(paths, settings, on_progress=on_progress)
    installed = _installed_path(manager, file)
    if installed is not None:
        print(f"{file.name} is already installed.", file=sys.stderr)
        return _pull_result(args, file, str(installed))
    # A paused download of the same file (Ctrl+C, or the app closed) resumes where it stopped.
    earlier = [
        p
        for p in manager.restore()
        if p.repo_id == file.repo_id and p.name == file.name and p.state == "paused"
    ]
    if earlier:
        download_id = earlier[0].id
        print(f"Resuming {file.name} from {earlier[0].done_bytes:,} bytes.", file=sys.stderr)
        await asyncio.to_thread(manager.resume, download_id)
    else:
        download_id = await asyncio.to_thread(manager.start, file)
    interval = 0.25 if sys.stderr.isatty() else 1.0
    last_line = ""
    try:
        while True:
            await asyncio.to_thread(changed.wait, interval)
            changed.clear()
            progress = latest.get(download_id)
            if progress is None:
                continue
            if progress.state in ("done", "failed", "cancelled"):
                break
            line = _progress_line(progress)
            if line != last_line:
                if sys.stderr.isatty():  # one line, rewritten in place
                    print(line.ljust(len(last_line)), end="\r", file=sys.stderr, flush=True)
                else:
                    print(line, file=sys.stderr, flush=True)
                last_line = line
    except (KeyboardInterrupt, asyncio.CancelledError):
        await asyncio.to_thread(manager.pause, download_id)
        await asyncio.to_thread(manager.close)
        print(
            f"\nPaused {file.name}; run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    await asyncio.to_thread(manager.close)
    if sys.stderr.isatty() and last_line:
        print(file=sys.stderr)
    if progress.state != "done":
        raise DownloadError(progress.error or f"The download of {file.name} was cancelled.")
    return _pull_result(args, file, progress.path)


def _pull_result(args: argparse.Namespace, file: HubFile, path: str) -> int:
    if args.json:
        _print_json({**file.to_dict(), "path": path})
    else:
        print(path)
    return 0


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


#: The most text read from standard input or taken from one argument, as for a code
#: file (``--file``): 4 MB is a large source file and a million tokens, more than any
#: local model's context, yet small enough that the engine handles it in bounded memory.
MAX_INPUT_BYTES = 4 * 1024 * 1024


def _read_stdin_text(limit: int = MAX_INPUT_BYTES) -> str:
    """Standard input as text, reading at most one byte past ``limit``.

    Raises:
        DocumentError: more than ``limit`` bytes, or not UTF-8.
    """
    from engine.errors import DocumentError

    data = sys.stdin.buffer.read(limit + 1) if sys.stdin is not None else b""
    if len(data) > limit:
        raise DocumentError(
            f"Standard input is larger than {limit // (1024 * 1024)} MB; "
            "pass a smaller file or a part of it."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(
            "Standard input is not UTF-8 text; pass the file with --file, "
            "which reads other encodings."
        ) from None
    return text.replace("\r\n", "\n")


def _check_argument(what: str, text: str, limit: int = MAX_INPUT_BYTES) -> None:
    """Refuse an argument (a prompt, a system prompt) longer than ``limit`` bytes."""
    # Only a text of over limit/4 characters can be over limit bytes in UTF-8.
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:
        raise UsageError(
            f"The {what} is larger than {limit // (1024 * 1024)} MB; shorten it or pass "
            "a part of it."
        )


async def _cmd_chat(args: argparse.Namespace) -> int:
    from engine.client import EngineClient

    if args.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    _check_argument("prompt", args.prompt)
    _check_argument("system prompt", args.system or "")
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
            args.model,
            n_ctx=args.ctx,
            threads=args.threads,
            gpu_offload=args.gpu_offload,
            backend=args.backend,
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


class _StatusLine:
    """Progress on stderr: one line rewritten in place on a terminal, else a line per event."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = ""

    def show(self, line: str) -> None:
        if line == self._last:
            return
        if self._tty:
            print(f"\r{line.ljust(len(self._last))}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)
        self._last = line

    def end(self) -> None:
        if self._tty and self._last:
            print(file=sys.stderr, flush=True)
        self._last = ""


async def _cmd_summarize(args: argparse.Namespace) -> int:
    from engine.client import EngineClient
    from engine.config import get_paths, load_settings
    from engine.documents import extract
    from engine.errors import DocumentError
    from engine.summarize import SummaryOptions, SummaryProgress, summarize

    options = SummaryOptions(length=args.length, style=args.style, language=args.language)
    status = _StatusLine()
    results: list[dict[str, Any]] = []
    # Every file is read before the model loads: a typo in the last name should not
    # cost the time of summarizing the others first.
    documents = []
    limit = load_settings(get_paths()).max_document_mb * 1024 * 1024
    for name in args.files:
        status.show(f"{Path(name).name}: reading…")
        try:
            document = await asyncio.to_thread(extract, Path(name), max_bytes=limit)
        except DocumentError as exc:  # an unreadable input file, like a bad model file
            status.end()
            print(f"hearth-cli: {exc}", file=sys.stderr)
            return 3
        documents.append(document)
        for note in document.notes:  # what a time budget cut: the summary covers the rest
            status.end()
            print(f"warning: {document.name}: {note}", file=sys.stderr)
    async with EngineClient() as client:
        info = await client.load(args.model, n_ctx=args.ctx, threads=args.threads)
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for index, (name, document) in enumerate(zip(args.files, documents, strict=True)):

            def on_progress(p: SummaryProgress, doc_name: str = document.name) -> None:
                eta = f", {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left" if p.eta_s > 0 else ""
                status.show(f"{doc_name}: {p.message} ({p.fraction:.0%}{eta})")

            def on_token(piece: str) -> None:
                sys.stdout.write(piece)
                sys.stdout.flush()

            if not args.json and len(args.files) > 1:
                if index:
                    print()
                print(f"## {document.name}\n", flush=True)
            result = await summarize(
                client,
                document,
                options,
                on_progress=on_progress,
                on_token=None if args.json else on_token,
            )
            status.end()
            if not args.json:
                print(flush=True)
            results.append(
                {
                    "file": name,
                    "sha256": document.sha256,
                    "summary": result.text,
                    "chunks": result.chunks,
                    "tokens_read": result.tokens_read,
                    "seconds": result.seconds,
                    "levels": result.levels,
                    "language": result.language,
                    "prompt_tokens": result.prompt_tokens,
                    "generated_tokens": result.generated_tokens,
                    "parallel": result.parallel,
                    "model": info.model_id,
                    "options": options.to_dict(),
                }
            )
    if args.json:
        _print_json(results)
    return 0


async def _cmd_code(args: argparse.Namespace) -> int:
    from engine.client import EngineClient
    from engine.code import CodeRequest, run_task
    from engine.documents import read_text_file
    from engine.errors import DocumentError
    from engine.languages import language_for

    _check_argument("request", " ".join(args.text))
    _check_argument("error message", args.error)
    source, filename = "", ""
    try:
        if args.file:
            filename = args.file
            source, _ = await asyncio.to_thread(
                read_text_file, Path(args.file), max_bytes=MAX_INPUT_BYTES
            )
        elif args.task != "generate" and sys.stdin is not None and not sys.stdin.isatty():
            source = await asyncio.to_thread(_read_stdin_text)
    except DocumentError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return 3
    language = language_for(filename=filename or None, text=source or None, hint=args.language)
    try:
        request = CodeRequest(
            task=args.task,
            language=language,
            code=source,
            instruction=" ".join(args.text),
            error=args.error,
            filename=filename,
        )
    except ValueError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return 2
    stream_to = None if args.json else sys.stderr if args.task == "fix" else sys.stdout

    def on_token(piece: str) -> None:
        if stream_to is not None:
            stream_to.write(piece)
            stream_to.flush()

    async with EngineClient() as client:
        info = await client.load(args.model, n_ctx=args.ctx, threads=args.threads)
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        result = await run_task(client, request, on_token=on_token)
    if args.json:
        _print_json({**result.to_dict(), "model": info.model_id})
        return 0
    if stream_to is not None:
        print(file=stream_to, flush=True)
    if args.task == "fix":
        if result.code is None:
            print("hearth-cli: the answer holds no code to compare (see above).", file=sys.stderr)
            return 1
        if not result.diff:
            print("hearth-cli: the model proposed no change.", file=sys.stderr)
            return 0
        sys.stdout.write(result.diff)
    return 0


async def _cmd_bench(args: argparse.Namespace) -> int:
    from engine.bench import run_bench
    from engine.client import EngineClient

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


#: The arguments that are text for the model rather than file names, with the names a
#: user knows them by. Bytes that are not UTF-8 reach ``sys.argv`` as lone surrogates
#: (PEP 383), which no model, tokenizer or JSON line can take: in these they are replaced;
#: in file names they are kept, so a file whose name is not UTF-8 still opens.
_TEXT_ARGUMENTS = {
    "prompt": "the prompt",
    "system": "--system",
    "stop": "--stop",
    "text": "TEXT",
    "error": "--error",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return exc.exit_code
    from engine.config import get_paths, read_settings
    from engine.logs import setup_logging

    paths = get_paths().ensure()
    setup_logging(
        paths,
        console=args.verbose,
        level=logging.DEBUG if args.verbose else logging.INFO,
        program="hearth-cli",
    )
    for label in _replace_undecodable(args):
        print(
            f"hearth-cli: note: {label} is not valid UTF-8; the bytes that are not were "
            "replaced with \N{REPLACEMENT CHARACTER} (check your terminal's encoding)",
            file=sys.stderr,
        )
    notice = read_settings(paths).message  # a damaged file is repaired once: say so then
    if notice:
        print(f"hearth-cli: warning: {notice}", file=sys.stderr)
    commands = {
        "hardware": _cmd_hardware,
        "models": _cmd_models,
        "chat": _cmd_chat,
        "bench": _cmd_bench,
        "summarize": _cmd_summarize,
        "code": _cmd_code,
    }
    try:
        return asyncio.run(commands[args.command](args))
    except EngineError as exc:
        print(f"hearth-cli: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hearth-cli: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file or folder the command needed: say which, and why
        log.exception("File error")
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"hearth-cli: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.exception("Unexpected error")
        print(f"hearth-cli: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _replace_undecodable(args: argparse.Namespace) -> list[str]:
    """Make the text arguments valid Unicode; returns the names of those that were not."""
    replaced = []
    for name, label in _TEXT_ARGUMENTS.items():
        value = getattr(args, name, None)
        if isinstance(value, str):
            fixed: str | list[str] = _valid_text(value)
        elif isinstance(value, list):
            fixed = [_valid_text(item) if isinstance(item, str) else item for item in value]
        else:
            continue
        if fixed != value:
            setattr(args, name, fixed)
            replaced.append(label)
    return replaced


def _valid_text(value: str) -> str:
    """``value`` with each byte that was not UTF-8 replaced by U+FFFD."""
    try:
        raw = value.encode("utf-8", "surrogateescape")  # the bytes the user typed
    except UnicodeEncodeError:  # a lone surrogate of another origin (Windows' UTF-16 argv)
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


if __name__ == "__main__":
    sys.exit(main())
