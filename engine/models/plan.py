"""The backend plan: which backend and device run a model, how many layers on the GPU, and why."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from engine.models.hardware import CpuInfo, GpuInfo, Hardware, format_bytes
from engine.notices import Notice, NoticeCode, render_notice, render_notices

log = logging.getLogger("engine.plan")

#: ``n_gpu_layers`` meaning "every layer" when the model is not known yet (llama-cpp-python's -1).
ALL_LAYERS = -1

#: GGUF architectures the PyTorch backend runs (engine/runtime/backends/torch_llama.py); for any
#: other the plan keeps llama.cpp.
TORCH_ARCHITECTURES = ("llama", "qwen2")

#: How the PyTorch backend keeps weights: "auto" (bf16 on CUDA, fp16 on MPS, fp32 on the
#: CPU), a float type, or "int8" (weight-only, one scale per output channel: half of bf16).
TORCH_WEIGHT_FORMATS = ("auto", "bf16", "fp16", "fp32", "int8")

#: Context size the plan uses when neither the caller nor the settings chose one.
DEFAULT_CONTEXT = 4096


def requested_context(trained: int, *, requested: int = 0, setting: int = 0) -> int:
    """The context size asked for: the caller's, else the settings', else the default.

    The one place that says what "0 lets Hearth choose" means: the model's trained length,
    at most :data:`DEFAULT_CONTEXT` (the default alone when the trained length is unknown).
    A size asked for is returned as it is: the plan lowers it to the trained length and to
    what free memory holds, with a warning that names both numbers.

    Args:
        trained: the context the model was trained for; 0 when unknown.
        requested: the size the caller asked for (a flag, a load request); 0 for none.
        setting: ``Settings.context_size``; 0 for none.

    Returns:
        A context size in tokens, above 0.
    """
    if requested > 0:
        return requested
    if setting > 0:
        return setting
    return min(trained, DEFAULT_CONTEXT) if trained > 0 else DEFAULT_CONTEXT


#: A context lowered to fit in memory is a multiple of this (llama.cpp pads to 256).
CONTEXT_STEP = 256

#: Fixed VRAM kept free on each GPU for the driver / CUDA context (decimal bytes).
VRAM_FIXED_HEADROOM = 300 * 1000**2

#: Share of each GPU's total VRAM kept free as well (other programs, fragmentation).
VRAM_SHARE_HEADROOM = 0.05

#: How to reinstall llama.cpp with a GPU backend (``flag`` turns the backend on).
_REINSTALL_GPU = 'CMAKE_ARGS="{flag}" pip install --force-reinstall --no-cache-dir llama-cpp-python'
#: How to reinstall llama.cpp when it cannot be loaded at all.
_REINSTALL = "pip install --force-reinstall llama-cpp-python"

FitBadge = Literal["gpu", "ram", "too_large"]


# --------------------------------------------------------------------------- model shape


class MemoryNeeds(Protocol):
    """The part of a model's memory estimate the planner reads (``gguf_info.MemoryEstimate``)."""

    @property
    def compute_bytes(self) -> int:
        """Scratch buffers for one forward pass at the planned context."""
        ...

    @property
    def total_bytes(self) -> int:
        """Weights + KV cache + compute buffers."""
        ...


class ModelShape(Protocol):
    """The part of a model's description the planner reads (``gguf_info.GGUFInfo`` fits it)."""

    @property
    def block_count(self) -> int:
        """Number of repeating transformer blocks."""
        ...

    @property
    def layer_bytes(self) -> Sequence[int]:
        """Weight bytes of each block, in order."""
        ...

    @property
    def non_layer_bytes(self) -> int:
        """Embeddings, output head and final norm."""
        ...

    @property
    def context_length(self) -> int:
        """Context the model was trained for (0 when unknown)."""
        ...

    def layer_kv_bytes(self, n_ctx: int) -> int:
        """KV cache bytes of one block at ``n_ctx`` tokens."""
        ...

    def memory_estimate(self, n_ctx: int) -> MemoryNeeds:
        """Everything the model needs in memory at ``n_ctx`` tokens."""
        ...


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class BackendPlan:
    """How to run a model on this computer.

    ``n_gpu_layers`` follows llama.cpp: the number of layers offloaded, where a model with
    ``block_count`` blocks has ``block_count + 1`` layers (the output layer is the last one and
    goes to the GPU only when every block does). Full offload is reported as
    ``block_count + 1``; when no model is known yet it is :data:`ALL_LAYERS` (-1, which
    llama-cpp-python also reads as "all"). For the torch backend it is all-or-nothing.

    Attributes:
        backend: "llamacpp" or "torch".
        device: "cuda", "metal", "mps", "cpu", or for other llama.cpp GPU builds "vulkan",
            "rocm", "sycl", ...
        n_gpu_layers: layers offloaded to the GPU (see above); 0 on the CPU.
        n_layers_total: ``block_count + 1`` when the model is known, else None.
        n_threads: decode threads.
        n_threads_batch: prompt-processing threads.
        n_ctx: context size in tokens.
        gpu_name: the GPU used, or None on the CPU.
        reason_notice: one line for the status bar saying what was chosen and why.
        warning_notices: things the user should know (model too large, settings
            overridden...).
        memory_needed: bytes the model needs at n_ctx, or None without a model.
        memory_free: bytes of memory free for it (RAM, plus usable VRAM when offloading).
    """

    backend: str
    device: str
    n_gpu_layers: int
    n_layers_total: int | None
    n_threads: int
    n_threads_batch: int
    n_ctx: int
    gpu_name: str | None
    reason_notice: Notice
    warning_notices: tuple[Notice, ...] = ()
    memory_needed: int | None = None
    memory_free: int | None = None

    @property
    def reason(self) -> str:
        """The reason in English (the command line, the logs)."""
        return render_notice(self.reason_notice)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings in English (the command line, the logs)."""
        return render_notices(self.warning_notices)

    @property
    def full_offload(self) -> bool:
        """Every layer runs on the GPU."""
        if self.device == "cpu" or self.n_gpu_layers == 0:
            return False
        if self.n_gpu_layers == ALL_LAYERS or self.n_layers_total is None:
            return True
        return self.n_gpu_layers >= self.n_layers_total

    @property
    def too_large(self) -> bool:
        """The model needs more memory than is free."""
        return (
            self.memory_needed is not None
            and self.memory_free is not None
            and self.memory_needed > self.memory_free
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form: the reason and warnings in English and as notices, with
        ``full_offload`` and ``too_large``."""
        out = asdict(self)
        out["reason_notice"] = self.reason_notice.to_dict()
        out["warning_notices"] = [n.to_dict() for n in self.warning_notices]
        out["reason"] = self.reason
        out["warnings"] = list(self.warnings)
        out["full_offload"] = self.full_offload
        out["too_large"] = self.too_large
        return out


def usable_vram(gpu: GpuInfo) -> int:
    """Bytes of a GPU's free memory the planner will fill.

    Keeps :data:`VRAM_SHARE_HEADROOM` of the total plus :data:`VRAM_FIXED_HEADROOM`
    free for the driver, the CUDA/Metal context and other programs.
    """
    headroom = int(gpu.vram_total * VRAM_SHARE_HEADROOM) + VRAM_FIXED_HEADROOM
    return max(0, gpu.vram_free - headroom)


def _block_sizes(model: ModelShape) -> list[int]:
    sizes = [int(b) for b in model.layer_bytes]
    if len(sizes) == model.block_count:
        return sizes
    each = sum(sizes) // max(1, model.block_count)
    return [each] * max(0, model.block_count)


def layers_that_fit(model: ModelShape, n_ctx: int, budget: int) -> int:
    """How many llama.cpp layers fit in ``budget`` bytes of GPU memory.

    The non-layer tensors (output head) and the compute buffer are counted first; then
    whole blocks, each with its weights and its KV cache at ``n_ctx``, from the last block
    down (llama.cpp offloads the last blocks first).

    Args:
        model: the model.
        n_ctx: context size in tokens.
        budget: usable GPU bytes (see :func:`usable_vram`).

    Returns:
        0 .. block_count, or block_count + 1 when everything fits.
    """
    left = budget - model.non_layer_bytes - model.memory_estimate(n_ctx).compute_bytes
    if left < 0:
        return 0
    kv = model.layer_kv_bytes(n_ctx)
    blocks = _block_sizes(model)
    fitted = 0
    for size in reversed(blocks):
        cost = size + kv
        if cost > left:
            break
        left -= cost
        fitted += 1
    return fitted + 1 if fitted == len(blocks) else fitted


def _gpu_label(gpus: Sequence[GpuInfo]) -> str:
    names = [g.name for g in gpus]
    if len(set(names)) == 1 and len(names) > 1:
        return f"{len(names)}× {names[0]}"
    return " + ".join(names)


def _threads_label(cpu: CpuInfo, n_threads: int) -> Notice:
    """ "8 threads (AVX2)": the part of a CPU reason that says how it runs."""
    simd = cpu.simd_level
    if simd:
        code = NoticeCode.ONE_THREAD_SIMD if n_threads == 1 else NoticeCode.THREADS_SIMD
        return Notice(code, {"n_threads": n_threads, "simd": simd})
    code = NoticeCode.ONE_THREAD if n_threads == 1 else NoticeCode.THREADS
    return Notice(code, {"n_threads": n_threads})


def _layers_text(n: int, total_layers: int | None) -> str | Notice:
    """ "20/33", "33/33", or without a model "all" / "20"."""
    if total_layers is None:
        return Notice(NoticeCode.ALL_LAYERS) if n == ALL_LAYERS else str(n)
    return f"{min(n, total_layers) if n != ALL_LAYERS else total_layers}/{total_layers}"


def _free_text(size: int, *, unified: bool) -> Notice:
    """ "12 GiB free VRAM", or "free GPU memory" where the GPU shares the RAM."""
    code = NoticeCode.FREE_GPU_MEMORY if unified else NoticeCode.FREE_VRAM
    return Notice(code, {"size": format_bytes(size)})


def _parse_offload(value: str | int) -> tuple[str | int, Notice | None]:
    """Settings' gpu_offload -> "auto", "off" or a layer count (-1 = all); plus a warning."""
    if isinstance(value, int):
        return value, None
    text = str(value).strip().lower()
    if text in ("", "auto"):
        return "auto", None
    if text in ("off", "none", "cpu", "0"):
        return ("off" if text != "0" else 0), None
    try:
        return int(text), None
    except ValueError:
        return "auto", Notice(NoticeCode.OFFLOAD_SETTING_INVALID, {"value": repr(value)})


def _memory_for_context(hw: Hardware) -> int:
    """Bytes that could hold a model and its KV cache: free RAM plus usable dedicated VRAM."""
    vram = sum(usable_vram(g) for g in hw.gpus if not g.unified_memory)
    return hw.ram_available + vram


def context_that_fits(model: ModelShape, wanted: int, free: int, floor: int) -> int:
    """The largest context up to ``wanted`` at which ``model`` fits in ``free`` bytes.

    Args:
        model: the model.
        wanted: the context asked for.
        free: bytes of memory available.
        floor: never go below this (the plan's usual context): a model that does not
            fit even there is too large, which the plan reports on its own.

    Returns:
        ``wanted`` when it fits; else the largest multiple of :data:`CONTEXT_STEP` that
        fits, at least ``floor``.
    """
    if wanted <= floor or model.memory_estimate(wanted).total_bytes <= free:
        return wanted
    # The estimate grows with the context: binary search in steps of CONTEXT_STEP.
    lo, hi = floor // CONTEXT_STEP, wanted // CONTEXT_STEP
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if model.memory_estimate(mid * CONTEXT_STEP).total_bytes <= free:
            lo = mid
        else:
            hi = mid - 1
    return max(floor, lo * CONTEXT_STEP)


def _plan_context(
    hw: Hardware, model: ModelShape | None, n_ctx: int, warnings: list[Notice], *, fit_memory: bool
) -> int:
    """The context to allocate: at most the trained length and what free memory holds.

    Both are checked here, before llama.cpp allocates anything: a context of a billion
    tokens once made the worker grow to 19.7 GB before it failed. Without ``fit_memory``
    only the trained length caps it.
    """
    trained = model.context_length if model is not None else 0
    usual = requested_context(trained)
    if n_ctx <= 0:
        return usual
    if trained > 0 and n_ctx > trained:
        warnings.append(
            Notice(NoticeCode.CONTEXT_OVER_TRAINED, {"wanted": n_ctx, "trained": trained})
        )
        n_ctx = trained
    if model is None or not fit_memory:
        return n_ctx
    free = _memory_for_context(hw)
    fitted = context_that_fits(model, n_ctx, free, floor=usual)
    if fitted < n_ctx:
        needed = model.memory_estimate(n_ctx).total_bytes
        warnings.append(
            Notice(
                NoticeCode.CONTEXT_OVER_MEMORY,
                {
                    "wanted": n_ctx,
                    "needed": format_bytes(needed),
                    "free": format_bytes(free),
                    "fitted": fitted,
                },
            )
        )
    return fitted


def _plan_threads(hw: Hardware, threads: int, warnings: list[Notice]) -> int:
    """Decode threads: the setting, at most the logical cores; 0 or less = the default."""
    if threads <= 0:
        return hw.cpu.default_threads
    most = hw.cpu.logical_cores
    if threads > most:
        # llama.cpp starts every thread for every request: 5,000 hung it, 100,000 crashed it.
        warnings.append(Notice(NoticeCode.THREADS_OVER_CORES, {"threads": threads, "cores": most}))
        return most
    return threads


@dataclass
class _Draft:
    """A plan being assembled."""

    backend: str = "llamacpp"
    device: str = "cpu"
    n_gpu_layers: int = 0
    gpus: tuple[GpuInfo, ...] = ()
    gpu_name: str | None = None
    reason: Notice | None = None
    warnings: list[Notice] = field(default_factory=list)


def plan_backend(
    hw: Hardware,
    model: ModelShape | None,
    *,
    n_ctx: int,
    settings_backend: str = "auto",
    gpu_offload: str | int = "auto",
    threads: int = 0,
    fit_context: bool = True,
) -> BackendPlan:
    """Choose the backend, device, GPU layers and threads for a model on this computer.

    Preference: llama.cpp on a GPU it was built for (layers fitted to free VRAM), then
    PyTorch on a GPU when llama.cpp cannot use the one present, then the CPU. Every
    choice comes with a one-line reason a user can act on (a :class:`Notice`).

    Args:
        hw: the hardware (see :func:`probe_hardware`).
        model: the model, or None to plan only the device (before a model is chosen).
        n_ctx: context size in tokens; 0 or less lets the plan choose
            (the model's trained context, at most :data:`DEFAULT_CONTEXT`).
        settings_backend: Settings.backend: "auto", "llamacpp" or "torch".
        gpu_offload: Settings.gpu_offload: "auto", "off" or a number of layers.
        threads: Settings.threads: decode threads, 0 = physical (performance) cores.
        fit_context: lower a context that free memory cannot hold (a load does); off
            to judge the model at the context asked for (a fit badge).

    Returns:
        The plan; never raises for any hardware or settings.
    """
    warnings: list[Notice] = []
    n_ctx = _plan_context(hw, model, n_ctx, warnings, fit_memory=fit_context)
    n_threads = _plan_threads(hw, threads, warnings)
    n_threads_batch = max(n_threads, hw.cpu.logical_cores)

    # Settings.
    offload, offload_warning = _parse_offload(gpu_offload)
    if offload_warning:
        warnings.append(offload_warning)
    wanted = str(settings_backend).strip().lower() or "auto"
    if wanted not in ("auto", "llamacpp", "torch"):
        warnings.append(
            Notice(NoticeCode.BACKEND_SETTING_INVALID, {"value": repr(settings_backend)})
        )
        wanted = "auto"

    total_layers = model.block_count + 1 if model is not None else None
    all_layers = total_layers if total_layers is not None else ALL_LAYERS
    cpu_tail = _threads_label(hw.cpu, n_threads)

    draft = _Draft(warnings=warnings)
    if wanted == "torch":
        if hw.torch.available:
            _plan_torch(hw, draft, offload, all_layers, cpu_tail, why=None)
        else:
            _plan_llama(hw, model, n_ctx, draft, offload, wanted, cpu_tail, total_layers)
            assert draft.reason is not None
            draft.reason = Notice(NoticeCode.TORCH_NOT_INSTALLED_SO_LLAMA, {"reason": draft.reason})
            warnings.append(Notice(NoticeCode.TORCH_NOT_INSTALLED))
    else:
        _plan_llama(hw, model, n_ctx, draft, offload, wanted, cpu_tail, total_layers)

    # Memory check.
    needed: int | None = None
    free: int | None = None
    if model is not None:
        needed = int(model.memory_estimate(n_ctx).total_bytes)
        free = hw.ram_available
        if draft.device != "cpu" and draft.gpus and not draft.gpus[0].unified_memory:
            free += sum(usable_vram(g) for g in draft.gpus)
        if needed > free:
            warnings.append(
                Notice(
                    NoticeCode.MODEL_TOO_LARGE,
                    {"needed": format_bytes(needed), "free": format_bytes(free)},
                )
            )

    assert draft.reason is not None, "every branch of the plan gives its reason"
    return BackendPlan(
        backend=draft.backend,
        device=draft.device,
        n_gpu_layers=draft.n_gpu_layers if draft.device != "cpu" else 0,
        n_layers_total=total_layers,
        n_threads=n_threads,
        n_threads_batch=n_threads_batch,
        n_ctx=n_ctx,
        gpu_name=draft.gpu_name if draft.device != "cpu" else None,
        reason_notice=draft.reason,
        warning_notices=tuple(warnings),
        memory_needed=needed,
        memory_free=free,
    )


def _plan_torch(
    hw: Hardware,
    draft: _Draft,
    offload: str | int,
    all_layers: int,
    cpu_tail: Notice,
    *,
    why: Notice | None,
) -> None:
    """Fill the draft for the torch backend; ``why`` says why llama.cpp is not used, or
    None when the torch backend is set in Settings."""
    draft.backend = "torch"
    nvidia = tuple(g for g in hw.gpus if g.vendor == "nvidia")
    if offload in ("off", 0):
        draft.device = "cpu"
        draft.reason = Notice(NoticeCode.TORCH_CPU_OFFLOAD_OFF, {"cpu": cpu_tail})
        return
    # torch.cuda says the build can use CUDA; it still needs an NVIDIA GPU to use.
    if hw.torch.cuda and nvidia:
        name = _gpu_label(nvidia)
        draft.device, draft.gpus, draft.gpu_name = "cuda", nvidia, name
        draft.n_gpu_layers = all_layers
        if why is None:
            draft.reason = Notice(NoticeCode.TORCH_CUDA_SET, {"gpu": name})
        else:
            draft.reason = Notice(NoticeCode.TORCH_CUDA_INSTEAD, {"why": why, "gpu": name})
        return
    if hw.torch.mps:
        apple = tuple(g for g in hw.gpus if g.vendor == "apple")
        name = apple[0].name if apple else "Apple GPU"
        draft.device, draft.gpus, draft.gpu_name = "mps", apple, name
        draft.n_gpu_layers = all_layers
        if why is None:
            draft.reason = Notice(NoticeCode.TORCH_MPS_SET, {"gpu": name})
        else:
            draft.reason = Notice(NoticeCode.TORCH_MPS_INSTEAD, {"why": why, "gpu": name})
        return
    draft.device = "cpu"
    draft.reason = Notice(NoticeCode.TORCH_CPU_NO_GPU, {"cpu": cpu_tail})


def _plan_llama(
    hw: Hardware,
    model: ModelShape | None,
    n_ctx: int,
    draft: _Draft,
    offload: str | int,
    wanted: str,
    cpu_tail: Notice,
    total_layers: int | None,
) -> None:
    """Fill the draft for llama.cpp (or torch, when "auto" and llama.cpp cannot use the GPU)."""
    draft.backend = "llamacpp"
    draft.device = "cpu"
    build = hw.llama
    nvidia = tuple(g for g in hw.gpus if g.vendor == "nvidia")
    apple = tuple(g for g in hw.gpus if g.vendor == "apple")
    all_layers = total_layers if total_layers is not None else ALL_LAYERS
    torch_gpu = hw.torch.available and (hw.torch.cuda or hw.torch.mps)

    if not build.available:
        if wanted == "auto" and hw.torch.available:
            why = Notice(NoticeCode.WHY_LLAMA_MISSING)
            _plan_torch(hw, draft, offload, all_layers, cpu_tail, why=why)
            return
        if build.error:
            unavailable = Notice(
                NoticeCode.LLAMA_UNAVAILABLE_BECAUSE, {"error": build.error, "command": _REINSTALL}
            )
        else:
            unavailable = Notice(NoticeCode.LLAMA_UNAVAILABLE, {"command": _REINSTALL})
        draft.warnings.append(unavailable)
        draft.reason = Notice(NoticeCode.CPU_LLAMA_MISSING, {"cpu": cpu_tail})
        return

    if offload == "off":
        draft.reason = Notice(NoticeCode.CPU_OFFLOAD_OFF, {"cpu": cpu_tail})
        return
    if offload == 0:
        draft.reason = Notice(NoticeCode.CPU_OFFLOAD_ZERO, {"cpu": cpu_tail})
        return

    # Which GPUs this build can reach.
    backend = build.gpu_backend
    if build.gpu_offload and backend is None:
        backend = "CUDA" if nvidia else ("Metal" if apple else None)
    targets: tuple[GpuInfo, ...] = ()
    if backend == "CUDA":
        targets = nvidia
    elif backend == "Metal":
        targets = apple
    elif backend == "Vulkan":
        targets = nvidia or apple

    if not build.gpu_offload or backend is None:
        present = nvidia or apple
        if not present:
            draft.reason = Notice(NoticeCode.CPU_NO_GPU, {"cpu": cpu_tail})
        elif backend is not None:
            # Built for a GPU, yet llama.cpp finds no device: driver or runtime trouble.
            code = (
                NoticeCode.CPU_NVIDIA_UNUSABLE
                if present[0].vendor == "nvidia"
                else NoticeCode.CPU_GPU_UNUSABLE
            )
            draft.reason = Notice(
                code, {"backend": backend, "gpu": _gpu_label(present), "cpu": cpu_tail}
            )
        elif (
            wanted == "auto"
            and torch_gpu
            and ((nvidia and hw.torch.cuda) or (apple and hw.torch.mps))
        ):
            why = Notice(NoticeCode.WHY_LLAMA_CPU_ONLY)
            _plan_torch(hw, draft, offload, all_layers, cpu_tail, why=why)
        else:
            flag = "-DGGML_CUDA=on" if nvidia else "-DGGML_METAL=on"
            gpu = _gpu_label(present) + ("" if nvidia else " GPU")
            command = _REINSTALL_GPU.format(flag=flag)
            draft.reason = Notice(NoticeCode.CPU_LLAMA_CPU_ONLY, {"command": command, "gpu": gpu})
        if isinstance(offload, int):
            draft.warnings.append(Notice(NoticeCode.OFFLOAD_WITHOUT_GPU, {"layers": offload}))
        return

    device = backend.lower()
    if not targets:
        # A GPU backend Hearth cannot measure (ROCm, SYCL, ...), or nvidia-smi missing.
        if isinstance(offload, int):
            n = all_layers if offload < 0 else offload
            if total_layers is not None:
                n = min(n, total_layers)
            draft.device, draft.n_gpu_layers, draft.gpu_name = device, n, f"{backend} GPU"
            draft.reason = Notice(
                NoticeCode.GPU_LAYERS_SET_UNMEASURED,
                {"backend": backend, "layers": _layers_text(n, total_layers)},
            )
            return
        draft.reason = Notice(NoticeCode.CPU_GPU_UNMEASURED, {"backend": backend, "cpu": cpu_tail})
        return

    label = _gpu_label(targets)
    unified = targets[0].unified_memory
    budget = sum(usable_vram(g) for g in targets)
    free_text = _free_text(sum(g.vram_free for g in targets), unified=unified)
    draft.gpus = targets

    if isinstance(offload, int):  # a number from Settings
        n = all_layers if offload < 0 else offload
        if total_layers is not None:
            n = min(n, total_layers)
        draft.device, draft.n_gpu_layers, draft.gpu_name = device, n, label
        draft.reason = Notice(
            NoticeCode.GPU_LAYERS_SET,
            {"backend": backend, "gpu": label, "layers": _layers_text(n, total_layers)},
        )
        if model is not None:
            fits = layers_that_fit(model, n_ctx, budget)
            if n > fits:
                draft.warnings.append(
                    Notice(
                        NoticeCode.OFFLOAD_OVER_FIT, {"layers": n, "fits": fits, "free": free_text}
                    )
                )
        return

    # "auto".
    if model is None:
        draft.device, draft.n_gpu_layers, draft.gpu_name = device, ALL_LAYERS, label
        draft.reason = Notice(NoticeCode.GPU_ALL_LAYERS, {"backend": backend, "gpu": label})
        return
    fits = layers_that_fit(model, n_ctx, budget)
    assert total_layers is not None
    if fits >= total_layers:
        draft.device, draft.n_gpu_layers, draft.gpu_name = device, total_layers, label
        draft.reason = Notice(
            NoticeCode.GPU_FULL, {"backend": backend, "gpu": label, "total": total_layers}
        )
    elif fits > 0:
        draft.device, draft.n_gpu_layers, draft.gpu_name = device, fits, label
        draft.reason = Notice(
            NoticeCode.GPU_PARTIAL,
            {
                "backend": backend,
                "gpu": label,
                "layers": fits,
                "total": total_layers,
                "free": free_text,
            },
        )
    else:
        draft.reason = Notice(
            NoticeCode.CPU_GPU_TOO_SMALL, {"free": free_text, "gpu": label, "cpu": cpu_tail}
        )


# --------------------------------------------------------------------------- fit badge

#: The notice that says each :func:`fit_badge` value.
FIT_NOTICES: dict[str, NoticeCode] = {
    "gpu": NoticeCode.FIT_GPU,
    "ram": NoticeCode.FIT_RAM,
    "too_large": NoticeCode.FIT_TOO_LARGE,
}


def fit_badge(hw: Hardware, model: ModelShape, n_ctx: int) -> FitBadge:
    """How well a model fits this computer, for the model manager's badge.

    Args:
        hw: the hardware.
        model: the model.
        n_ctx: context size in tokens (0 = the plan's default).

    Returns:
        "gpu" when the automatic plan puts every layer on a GPU, "ram" when the model
        fits in free memory otherwise (CPU or partial offload), "too_large" when it does not.
    """
    # At the context asked for: a load would lower it to fit, but the badge answers
    # whether the model fits with that much context.
    plan = plan_backend(hw, model, n_ctx=n_ctx, fit_context=False)
    if plan.too_large:
        return "too_large"
    if plan.device != "cpu" and plan.full_offload:
        return "gpu"
    return "ram"


def fit_badge_label(badge: str) -> str:
    """Badge text for a :func:`fit_badge` value: "Fits on GPU", "Fits in memory", "Too large"."""
    code = FIT_NOTICES.get(badge)
    return render_notice(Notice(code)) if code is not None else badge
