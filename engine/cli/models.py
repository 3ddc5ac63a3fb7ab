"""``hearth-cli models``: installed models, models other apps downloaded, and the hub."""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.common import (
    Parser,
    StatusLine,
    int_in,
    print_json,
    progress_line,
    setting_flag,
)
from engine.errors import EngineError, UsageError
from engine.types import MAX_SEARCH_RESULTS

if TYPE_CHECKING:
    from engine.models.downloads import DownloadManager, DownloadProgress
    from engine.models.hub import HubFile


def add_parser(sub: Any) -> None:
    """The ``models`` command group."""
    models = sub.add_parser("models", help="installed models")
    models_sub = models.add_subparsers(dest="models_command", required=True, parser_class=Parser)
    models_list = models_sub.add_parser("list", help="list installed models")
    models_list.add_argument("--json", action="store_true")
    models_list.set_defaults(models_handler=_cmd_models_list)
    _add_local_model_commands(models_sub)
    _add_hub_model_commands(models_sub)


async def run(args: argparse.Namespace) -> int:
    """Run ``hearth-cli models COMMAND``; returns the exit status."""
    handler: Callable[[argparse.Namespace], Awaitable[int]] = args.models_handler
    return await handler(args)


async def _cmd_models_list(args: argparse.Namespace) -> int:
    from engine.data.config import get_paths
    from engine.models.hardware import format_bytes
    from engine.models.store import ModelStore

    models = await asyncio.to_thread(ModelStore.configured(get_paths()).list)
    if args.json:
        print_json([m.to_dict() for m in models])
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
    settings = models_sub.add_parser(
        "settings",
        help="a model's own settings: load, sampling, system prompt, thinking, chat template",
    )
    settings.add_argument("id", help="model id, file name or path")
    settings.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one (repeatable); VALUE 'default' clears it",
    )
    settings.add_argument("--reset", action="store_true", help="clear all: use the defaults")
    settings.add_argument("--json", action="store_true")
    settings.set_defaults(models_handler=_cmd_models_settings)


def _parse_assignments(items: Sequence[str]) -> dict[str, object]:
    """``--set key=value`` flags -> values, each checked.

    Raises:
        UsageError: a flag has no ``=``, or a key or value is not valid.
    """
    from engine.data.model_settings import parse_value

    changes: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r} must be KEY=VALUE, e.g. temperature=0.7.")
        changes[key.strip()] = parse_value(key.strip(), text.strip())
    return changes


async def _cmd_models_settings(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from engine.data.config import get_paths, load_settings
    from engine.data.model_settings import ALL_KEYS, LOAD_KEYS, ModelSettingsStore
    from engine.models.store import ModelStore
    from engine.runtime.model_defaults import model_defaults
    from engine.types import SamplingParams

    paths = get_paths().ensure()
    changes = _parse_assignments(args.set)
    entry = await asyncio.to_thread(ModelStore.configured(paths).resolve, args.id)
    store = ModelSettingsStore.for_paths(paths)
    if args.reset:
        await asyncio.to_thread(store.reset, entry.path)
    if changes:
        await asyncio.to_thread(store.update, entry.path, name=entry.id, **changes)
    applied = await asyncio.to_thread(model_defaults, paths, entry.path)
    globals_ = asdict(load_settings(paths))
    sampling = asdict(SamplingParams())
    rows = []
    for key in ALL_KEYS:
        if key in LOAD_KEYS:
            fallback: object = globals_[key]
        elif key in sampling:
            fallback = sampling[key]
        else:
            fallback = None
        rows.append(
            {"key": key, "value": applied.value(key, fallback), "source": applied.source(key)}
        )
    if args.json:
        print_json({"model": entry.id, "path": str(entry.path), "settings": rows})
        return 0
    print(f"{entry.id}  ({entry.path})")
    for row in rows:
        value = row["value"]
        shown = "(the Chat pane's)" if value is None else repr(value)
        if row["key"] == "chat_template" and value is None:
            shown = "(the model's own)"
        where = {"model": "set for this model", "gguf": "the model recommends it"}.get(
            str(row["source"]), "default"
        )
        print(f"  {row['key']:<15} {shown:<28} {where}")
    return 0


def _add_hub_model_commands(models_sub: Any) -> None:
    """``models search|files|pull``: models on the Hugging Face hub (``$HF_ENDPOINT``)."""
    search = models_sub.add_parser("search", help="search the hub for GGUF repositories")
    search.add_argument("query", help="words in the repository name")
    search.add_argument("--sort", choices=("downloads", "likes", "recent"), default="downloads")
    search.add_argument("--limit", type=int_in(1, MAX_SEARCH_RESULTS), default=20)
    search.add_argument("--json", action="store_true")
    search.set_defaults(models_handler=_cmd_models_search)
    files = models_sub.add_parser(
        "files", help="a repository's GGUF files, with whether each fits this computer"
    )
    files.add_argument("repo", help="publisher/repo")
    files.add_argument(
        "--ctx",
        type=setting_flag("context_size", int),
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


async def _cmd_models_search(args: argparse.Namespace) -> int:
    from engine.data.config import get_paths, load_settings
    from engine.models.hub import Hub

    hub = Hub(load_settings(get_paths()))
    repos = await asyncio.to_thread(hub.search, args.query, sort=args.sort, limit=args.limit)
    if args.json:
        print_json([r.to_dict() for r in repos])
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
    from engine.models.hardware import format_bytes

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

    from engine.data.config import get_paths, load_settings
    from engine.models.hardware import format_bytes
    from engine.models.hub import Hub
    from engine.models.hub_http import ANSWER_DEADLINE_S
    from engine.models.plan import fit_badge_label
    from engine.runtime.client import EngineClient

    settings = load_settings(get_paths())
    hub = Hub(settings)
    listing = await asyncio.to_thread(hub.listing, args.repo)
    files = listing.files
    async with EngineClient() as client:
        hw = await client.hardware()
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
        print_json(
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
    from engine.models.hardware import format_bytes

    if p.state == "verifying":
        return f"verifying {p.name}: {format_bytes(p.done_bytes)} of {format_bytes(p.total_bytes)}"
    fraction = p.done_bytes / p.total_bytes if p.total_bytes else 0.0
    detail = (
        f"{format_bytes(p.done_bytes)} of {format_bytes(p.total_bytes)}, "
        f"{format_bytes(int(p.speed_bps))}/s"
    )
    return progress_line(p.name, detail, fraction, p.eta_s)


async def _cmd_models_pull(args: argparse.Namespace) -> int:
    from engine.data.config import get_paths, load_settings
    from engine.errors import DownloadError
    from engine.models.downloads import DownloadManager
    from engine.models.hub import Hub

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
    status = StatusLine()
    try:
        while True:
            await asyncio.to_thread(changed.wait, interval)
            changed.clear()
            progress = latest.get(download_id)
            if progress is None:
                continue
            if progress.state in ("done", "failed", "cancelled"):
                break
            status.show(_progress_line(progress))
    except (KeyboardInterrupt, asyncio.CancelledError):
        await asyncio.to_thread(manager.pause, download_id)
        await asyncio.to_thread(manager.close)
        status.end()
        print(f"Paused {file.name}; run the same command again to resume.", file=sys.stderr)
        return 130
    await asyncio.to_thread(manager.close)
    status.end()
    if progress.state != "done":
        raise DownloadError(progress.error or f"The download of {file.name} was cancelled.")
    return _pull_result(args, file, progress.path)


def _pull_result(args: argparse.Namespace, file: HubFile, path: str) -> int:
    if args.json:
        print_json({**file.to_dict(), "path": path})
    else:
        print(path)
    return 0


async def _cmd_models_import(args: argparse.Namespace) -> int:
    from engine.data.config import get_paths
    from engine.models.hardware import format_bytes
    from engine.models.store import ModelStore

    store = ModelStore.configured(get_paths())
    model = await asyncio.to_thread(store.import_model, args.path, name=args.name)
    if args.json:
        print_json(model.to_dict())
    else:
        print(f"Imported {model.id} ({format_bytes(model.size)}), linked in place: {model.path}")
    return 0


async def _cmd_models_discover(args: argparse.Namespace) -> int:
    from engine.data.config import get_paths
    from engine.models.discover import discover
    from engine.models.hardware import format_bytes
    from engine.models.store import ModelStore

    store = ModelStore.configured(get_paths())
    found = await asyncio.to_thread(discover, store=store)
    imported: dict[str, str] = {}
    if args.import_all:
        for model in found:
            if not model.already_imported:
                entry = await asyncio.to_thread(store.import_model, model.path, name=model.name)
                imported[str(model.path)] = entry.id
    if args.json:
        print_json([{**m.to_dict(), "imported_as": imported.get(str(m.path))} for m in found])
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
    from engine.data.config import get_paths
    from engine.models.store import ModelStore

    store = ModelStore.configured(get_paths())
    await asyncio.to_thread(store.remove, args.id, delete_files=args.delete_files)
    print(f"Removed {args.id}.")
    return 0
