"""Turning "load this model" into a concrete load request: header, backend plan, context."""

from __future__ import annotations

import logging
import os
from typing import Any

from engine.data.config import get_paths, load_settings
from engine.errors import ModelFileError
from engine.models.hardware import LlamaBuild, probe_hardware
from engine.models.plan import (
    DEFAULT_CONTEXT,
    TORCH_ARCHITECTURES,
    TORCH_WEIGHT_FORMATS,
    BackendPlan,
    plan_backend,
)
from engine.models.store import InstalledModel, ModelStore
from engine.notices import Notice, NoticeCode

log = logging.getLogger("engine.loading")


def llama_build_from_hello(hello: dict[str, Any]) -> LlamaBuild:
    """The worker's llama.cpp build, as it reported it when it started.

    The GUI and CLI processes never import llama_cpp themselves: the worker does, and
    a CUDA build of it crashed beside a CUDA build of torch in one process.
    """
    fields = hello.get("llama") or {}
    return LlamaBuild(
        available=bool(fields.get("available", False)),
        gpu_offload=bool(fields.get("gpu_offload", False)),
        gpu_backend=fields.get("gpu_backend"),
        system_info=str(fields.get("system_info", "")),
        version=fields.get("version"),
        error=fields.get("error"),
    )


def resolve_model(model: str | os.PathLike[str] | None) -> InstalledModel:
    """Find a model and check its header, without any worker. Runs off the event loop.

    Args:
        model: a store id, file name, or path; None for the starter model.

    Raises:
        ModelNotFound: nothing matches ``model``.
        ModelFileError: the file is not a usable GGUF model.
    """
    entry = ModelStore.configured(get_paths()).resolve(model)
    if entry.info is None:
        raise ModelFileError(entry.error or f"{entry.path} is not a usable model file.")
    return entry


def plan_load(
    entry: InstalledModel,
    hello: dict[str, Any],
    *,
    n_ctx: int = 0,
    gpu_offload: str = "auto",
    threads: int = 0,
    backend: str = "auto",
    torch_weights: str = "",
) -> dict[str, Any]:
    """Plan the load of a resolved model on this computer. Runs off the event loop.

    Args:
        entry: the model, from :func:`resolve_model`.
        hello: the worker's hello message (its llama.cpp build).
        n_ctx: context size; 0 uses the settings, else min(trained context, 4096). The
            plan lowers it to the model's trained context and to what free memory holds,
            with a warning naming both numbers, before the worker allocates anything.
        gpu_offload: "auto", "off" or a number of layers.
        threads: decode threads; 0 lets the plan choose; at most the logical cores.
        backend: "llamacpp" or "torch" to force one (``hearth-cli chat --backend``);
            "auto" uses Settings.backend, itself "auto" unless the user chose one.
        torch_weights: how the PyTorch backend keeps weights (one of
            :data:`~engine.models.plan.TORCH_WEIGHT_FORMATS`); "" reads ``HEARTH_TORCH_WEIGHTS``,
            else "auto".

    Returns:
        The fields of the worker's ``load`` request.
    """
    settings = load_settings(get_paths())
    info = entry.info
    assert info is not None, "resolve_model() returns models with a readable header"
    wanted = n_ctx or settings.context_size or min(info.context_length, DEFAULT_CONTEXT)
    chosen = backend if backend != "auto" else settings.backend
    # Probed at every load: free RAM and VRAM change while the app runs.
    llama = llama_build_from_hello(hello)
    hw = probe_hardware(llama_probe=lambda: llama)

    def plan_for(choice: str) -> BackendPlan:
        return plan_backend(
            hw,
            info,
            n_ctx=wanted,
            settings_backend=choice,
            gpu_offload=gpu_offload,
            threads=threads or settings.threads,
        )

    plan = plan_for(chosen)
    warnings = list(plan.warning_notices)
    if plan.backend == "torch" and info.architecture not in TORCH_ARCHITECTURES:
        # Known from the header alone: no need to let the worker try and fail.
        plan = plan_for("llamacpp")
        warnings = list(plan.warning_notices)
        warnings.append(
            Notice(
                NoticeCode.TORCH_ARCHITECTURE,
                {"architecture": info.architecture, "supported": ", ".join(TORCH_ARCHITECTURES)},
            )
        )
    weights = torch_weights or os.environ.get("HEARTH_TORCH_WEIGHTS", "") or "auto"
    if weights not in TORCH_WEIGHT_FORMATS:
        warnings.append(
            Notice(
                NoticeCode.TORCH_WEIGHTS_INVALID,
                {"value": repr(weights), "formats": ", ".join(TORCH_WEIGHT_FORMATS)},
            )
        )
        weights = "auto"
    n_gpu_layers = plan.n_gpu_layers
    return {
        "path": str(entry.path),
        "model_id": entry.id,
        "architecture": info.architecture,
        "backend": plan.backend,
        "torch_weights": weights,
        "n_ctx": plan.n_ctx,
        "n_gpu_layers": n_gpu_layers,
        "n_threads": plan.n_threads,
        "n_threads_batch": plan.n_threads_batch,
        "device": plan.device,
        # Notices cross the pipe as {"code", "params"}: the front end words them.
        "plan_reason": plan.reason_notice.to_dict(),
        "warnings": [w.to_dict() for w in warnings],
        # On a CPU, llama.cpp's flash attention decodes 2-3x slower once the context
        # holds a few thousand tokens (benchmarks/flash_attn.md); on a GPU it helps.
        "flash_attn": "auto" if n_gpu_layers != 0 else "off",
    }
