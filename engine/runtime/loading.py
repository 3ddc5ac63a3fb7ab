"""Turning "load this model" into a concrete load request: header, backend plan, context."""

from __future__ import annotations

import logging
import os

from engine.data.config import get_paths, load_settings
from engine.data.model_settings import ModelSettingsStore
from engine.errors import ModelFileError
from engine.models.hardware import Hardware
from engine.models.plan import (
    TORCH_ARCHITECTURES,
    TORCH_WEIGHT_FORMATS,
    BackendPlan,
    plan_backend,
    requested_context,
)
from engine.models.store import InstalledModel, ModelStore
from engine.notices import Notice, NoticeCode
from engine.runtime.chat_formats import template_text
from engine.types import LoadRequest

log = logging.getLogger("engine.loading")


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
    hw: Hardware,
    *,
    n_ctx: int = 0,
    gpu_offload: str = "auto",
    threads: int = 0,
    backend: str = "auto",
    torch_weights: str = "",
    n_parallel: int = 4,
) -> LoadRequest:
    """Plan the load of a resolved model on this computer. Runs off the event loop.

    Args:
        entry: the model, from :func:`resolve_model`.
        hw: this computer, probed now (free memory changes while the app runs), with
            the worker's llama.cpp build (``EngineClient.hardware``).
        n_ctx: context size; 0 uses the model's own setting (engine.data.model_settings),
            then the global settings, else
            :func:`~engine.models.plan.requested_context`'s default. The plan lowers it
            to the model's trained context and to what free memory holds, with a
            warning naming both numbers, before the worker allocates anything.
        gpu_offload: "auto", "off" or a number of layers; "auto" uses the model's own
            setting, then the global one.
        threads: decode threads; 0 uses the model's own setting, then the global one,
            then lets the plan choose; at most the logical cores.
        backend: "llamacpp" or "torch" to force one (``hearth-cli chat --backend``);
            "auto" uses the model's own setting, then Settings.backend, itself "auto"
            unless the user chose one.
        torch_weights: how the PyTorch backend keeps weights (one of
            :data:`~engine.models.plan.TORCH_WEIGHT_FORMATS`); "" reads ``HEARTH_TORCH_WEIGHTS``,
            else "auto".
        n_parallel: how many prompts ``complete_many`` decodes at once, 1 to
            :data:`~engine.types.MAX_PARALLEL`.

    Returns:
        The worker's ``load`` request.
    """
    paths = get_paths()
    settings = load_settings(paths)
    info = entry.info
    assert info is not None, "resolve_model() returns models with a readable header"
    # A value given for this load wins, then the model's own, then the global setting.
    own = ModelSettingsStore.for_paths(paths).get_for_file(entry.path)
    context_setting = own.context_size if own.context_size is not None else settings.context_size
    wanted = requested_context(info.context_length, requested=n_ctx, setting=context_setting)
    if gpu_offload == "auto":
        gpu_offload = own.gpu_offload or settings.gpu_offload
    threads = threads or own.threads or settings.threads
    if backend == "auto":
        backend = own.backend if own.backend not in (None, "auto") else settings.backend
    chosen = backend
    template_override = template_text(own.chat_template) if own.chat_template else ""

    def plan_for(choice: str) -> BackendPlan:
        return plan_backend(
            hw,
            info,
            n_ctx=wanted,
            settings_backend=choice,
            gpu_offload=gpu_offload,
            threads=threads,
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
    return LoadRequest(
        path=str(entry.path),
        model_id=entry.id,
        architecture=info.architecture,
        backend=plan.backend,
        torch_weights=weights,
        n_ctx=plan.n_ctx,
        n_gpu_layers=n_gpu_layers,
        n_threads=plan.n_threads,
        n_threads_batch=plan.n_threads_batch,
        device=plan.device,
        # Notices cross the pipe as {"code", "params"}: the front end words them.
        plan_notice=plan.reason_notice,
        warning_notices=tuple(warnings),
        # On a CPU, llama.cpp's flash attention decodes 2-3x slower once the context
        # holds a few thousand tokens (benchmarks/flash_attn.md); on a GPU it helps.
        flash_attn="auto" if n_gpu_layers != 0 else "off",
        n_parallel=n_parallel,
        parameters=info.parameter_count,
        chat_template_override=template_override,
    )
