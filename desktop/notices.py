"""The engine's reasons and warnings (:class:`~engine.notices.Notice`) in the interface language.

The engine gives a code and its parameters; this module holds the one translated
template of every :class:`~engine.notices.NoticeCode`, written in English exactly as
:data:`engine.notices.ENGLISH` has it (a test checks both, and that every code is here),
so the English interface says what the command line says.

Thread: the Qt thread (translators are read there).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from engine.notices import Notice, NoticeCode


def notice_text(notice: Notice) -> str:
    """``notice`` in the interface language; parameters that are notices are translated too.

    Args:
        notice: a reason or warning from the engine.

    Returns:
        The translated sentence, with the notice's data filled in.
    """
    values = {
        name: notice_text(value) if isinstance(value, Notice) else value
        for name, value in notice.params.items()
    }
    return templates()[notice.code].format(**values)


def notice_lines(notices: tuple[Notice, ...] | list[Notice]) -> list[str]:
    """Each notice in the interface language, in order."""
    return [notice_text(n) for n in notices]


def templates() -> dict[NoticeCode, str]:
    """The translated template of every code (looked up at each call: the language can
    change while the app runs)."""
    return {
        NoticeCode.THREADS: QCoreApplication.translate("Notices", "{n_threads} threads"),
        NoticeCode.ONE_THREAD: QCoreApplication.translate("Notices", "{n_threads} thread"),
        NoticeCode.THREADS_SIMD: QCoreApplication.translate(
            "Notices",
            "{n_threads} threads ({simd})",
        ),
        NoticeCode.ONE_THREAD_SIMD: QCoreApplication.translate(
            "Notices",
            "{n_threads} thread ({simd})",
        ),
        NoticeCode.WHY_LLAMA_MISSING: QCoreApplication.translate(
            "Notices",
            "llama.cpp is not installed",
        ),
        NoticeCode.WHY_LLAMA_CPU_ONLY: QCoreApplication.translate(
            "Notices",
            "llama.cpp was built without GPU support",
        ),
        NoticeCode.FREE_VRAM: QCoreApplication.translate("Notices", "{size} free VRAM"),
        NoticeCode.FREE_GPU_MEMORY: QCoreApplication.translate("Notices", "{size} free GPU memory"),
        NoticeCode.ALL_LAYERS: QCoreApplication.translate("Notices", "all"),
        NoticeCode.TORCH_CPU_OFFLOAD_OFF: QCoreApplication.translate(
            "Notices",
            "CPU via PyTorch: GPU offload is turned off in Settings; {cpu}",
        ),
        NoticeCode.TORCH_CUDA_SET: QCoreApplication.translate(
            "Notices",
            "CUDA via PyTorch: {gpu} (set in Settings)",
        ),
        NoticeCode.TORCH_CUDA_INSTEAD: QCoreApplication.translate(
            "Notices",
            "CUDA via PyTorch: {why}, so the PyTorch backend uses your {gpu}",
        ),
        NoticeCode.TORCH_MPS_SET: QCoreApplication.translate(
            "Notices",
            "MPS via PyTorch: {gpu} (set in Settings)",
        ),
        NoticeCode.TORCH_MPS_INSTEAD: QCoreApplication.translate(
            "Notices",
            "MPS via PyTorch: {why}, so the PyTorch backend uses your {gpu} GPU",
        ),
        NoticeCode.TORCH_CPU_NO_GPU: QCoreApplication.translate(
            "Notices",
            "CPU via PyTorch: PyTorch cannot use a GPU here; {cpu}",
        ),
        NoticeCode.TORCH_NOT_INSTALLED_SO_LLAMA: QCoreApplication.translate(
            "Notices",
            "{reason} (PyTorch is not installed, so llama.cpp is used)",
        ),
        NoticeCode.TORCH_FAILED_SO_LLAMA: QCoreApplication.translate(
            "Notices",
            "CPU: the PyTorch backend could not load this model; llama.cpp runs it",
        ),
        NoticeCode.WITH_TORCH_MEMORY: QCoreApplication.translate("Notices", "{reason} — {memory}"),
        NoticeCode.TORCH_MEMORY: QCoreApplication.translate(
            "Notices",
            "{weights} of {format} weights + {kv} KV cache on {device}",
        ),
        NoticeCode.CPU_LLAMA_MISSING: QCoreApplication.translate(
            "Notices",
            "CPU: llama.cpp is not installed; {cpu}",
        ),
        NoticeCode.CPU_OFFLOAD_OFF: QCoreApplication.translate(
            "Notices",
            "CPU: GPU offload is turned off in Settings; {cpu}",
        ),
        NoticeCode.CPU_OFFLOAD_ZERO: QCoreApplication.translate(
            "Notices",
            "CPU: GPU offload is set to 0 layers in Settings; {cpu}",
        ),
        NoticeCode.CPU_NO_GPU: QCoreApplication.translate(
            "Notices",
            "CPU: no supported GPU found; {cpu}",
        ),
        NoticeCode.CPU_NVIDIA_UNUSABLE: QCoreApplication.translate(
            "Notices",
            "CPU: llama.cpp was built with {backend} but cannot use your {gpu} (check the "
            "NVIDIA driver); {cpu}",
        ),
        NoticeCode.CPU_GPU_UNUSABLE: QCoreApplication.translate(
            "Notices",
            "CPU: llama.cpp was built with {backend} but cannot use your {gpu} (check the GPU "
            "driver); {cpu}",
        ),
        NoticeCode.CPU_LLAMA_CPU_ONLY: QCoreApplication.translate(
            "Notices",
            "CPU: llama.cpp was built without GPU support; reinstall it with {command} to use "
            "your {gpu}",
        ),
        NoticeCode.CPU_GPU_UNMEASURED: QCoreApplication.translate(
            "Notices",
            "CPU: llama.cpp was built with {backend}, but Hearth cannot measure that GPU's "
            "memory; set GPU offload to a number of layers in Settings to use it; {cpu}",
        ),
        NoticeCode.CPU_GPU_TOO_SMALL: QCoreApplication.translate(
            "Notices",
            "CPU: the model does not fit in the {free} on {gpu}; {cpu}",
        ),
        NoticeCode.GPU_LAYERS_SET_UNMEASURED: QCoreApplication.translate(
            "Notices",
            "{backend}: {layers} layers on GPU (set in Settings)",
        ),
        NoticeCode.GPU_LAYERS_SET: QCoreApplication.translate(
            "Notices",
            "{backend}: {gpu}, {layers} layers on GPU (set in Settings)",
        ),
        NoticeCode.GPU_ALL_LAYERS: QCoreApplication.translate(
            "Notices",
            "{backend}: {gpu}, all layers on GPU",
        ),
        NoticeCode.GPU_FULL: QCoreApplication.translate(
            "Notices",
            "{backend}: {gpu}, {total}/{total} layers on GPU",
        ),
        NoticeCode.GPU_PARTIAL: QCoreApplication.translate(
            "Notices",
            "{backend}: {gpu}, {layers}/{total} layers on GPU ({free}; the rest runs on the CPU)",
        ),
        NoticeCode.CONTEXT_OVER_TRAINED: QCoreApplication.translate(
            "Notices",
            "The context size {wanted:,} is larger than the {trained:,} tokens this model was "
            "trained for; using {trained:,}.",
        ),
        NoticeCode.CONTEXT_OVER_MEMORY: QCoreApplication.translate(
            "Notices",
            "The context size {wanted:,} needs about {needed} with this model, but only {free} "
            "of memory is free; using {fitted:,}.",
        ),
        NoticeCode.THREADS_OVER_CORES: QCoreApplication.translate(
            "Notices",
            "{threads:,} threads is more than the {cores} logical cores of this computer; using "
            "{cores}.",
        ),
        NoticeCode.OFFLOAD_SETTING_INVALID: QCoreApplication.translate(
            "Notices",
            "GPU offload {value} in Settings is not 'auto', 'off' or a number of layers; using "
            "'auto'.",
        ),
        NoticeCode.BACKEND_SETTING_INVALID: QCoreApplication.translate(
            "Notices",
            "Backend {value} in Settings is not 'auto', 'llamacpp' or 'torch'; using 'auto'.",
        ),
        NoticeCode.TORCH_NOT_INSTALLED: QCoreApplication.translate(
            "Notices",
            "The PyTorch backend is chosen in Settings, but PyTorch is not installed; using "
            "llama.cpp instead.",
        ),
        NoticeCode.MODEL_TOO_LARGE: QCoreApplication.translate(
            "Notices",
            "This model needs about {needed} but only {free} of memory is free; it may not load "
            "or may be very slow.",
        ),
        NoticeCode.LLAMA_UNAVAILABLE: QCoreApplication.translate(
            "Notices",
            "llama.cpp (llama-cpp-python) could not be loaded; reinstall it with {command}.",
        ),
        NoticeCode.LLAMA_UNAVAILABLE_BECAUSE: QCoreApplication.translate(
            "Notices",
            "llama.cpp (llama-cpp-python) could not be loaded ({error}); reinstall it with "
            "{command}.",
        ),
        NoticeCode.OFFLOAD_WITHOUT_GPU: QCoreApplication.translate(
            "Notices",
            "GPU offload is set to {layers} layers in Settings, but llama.cpp cannot use a GPU "
            "here; running on the CPU.",
        ),
        NoticeCode.OFFLOAD_OVER_FIT: QCoreApplication.translate(
            "Notices",
            "GPU offload is set to {layers} layers in Settings, but only about {fits} fit in "
            "{free}; if loading fails, lower GPU offload in Settings.",
        ),
        NoticeCode.TORCH_ARCHITECTURE: QCoreApplication.translate(
            "Notices",
            "The PyTorch backend does not run {architecture} models (it runs {supported}); "
            "llama.cpp runs this one.",
        ),
        NoticeCode.TORCH_WEIGHTS_INVALID: QCoreApplication.translate(
            "Notices",
            "PyTorch weight format {value} is not one of {formats}; using 'auto'.",
        ),
        NoticeCode.GPU_LOAD_FAILED: QCoreApplication.translate(
            "Notices",
            "The GPU could not take this model ({error}); it runs on the CPU.",
        ),
        NoticeCode.TORCH_IMPORT_FAILED: QCoreApplication.translate(
            "Notices",
            "PyTorch could not be imported ({error}); llama.cpp runs this model on the CPU. "
            "Install it with {command}.",
        ),
        NoticeCode.TORCH_LOAD_FAILED: QCoreApplication.translate(
            "Notices",
            "The PyTorch backend could not load this model ({error}); llama.cpp runs it on the "
            "CPU.",
        ),
        NoticeCode.NO_CHAT_TEMPLATE: QCoreApplication.translate(
            "Notices",
            "This model has no chat template; Hearth uses its plain fallback format.",
        ),
        NoticeCode.TEMPLATE_REFUSED: QCoreApplication.translate(
            "Notices",
            "{detail} and uses its plain chat format instead.",
        ),
        NoticeCode.TEMPLATE_FAILED: QCoreApplication.translate(
            "Notices",
            "The model's chat template was refused ({error}); Hearth uses its plain chat format "
            "instead.",
        ),
        NoticeCode.TEMPLATE_RETIRED: QCoreApplication.translate(
            "Notices",
            "{detail} and uses its plain chat format for this model from now on. Send your "
            "message again.",
        ),
        NoticeCode.FIT_GPU: QCoreApplication.translate("Notices", "Fits on GPU"),
        NoticeCode.FIT_RAM: QCoreApplication.translate("Notices", "Fits in memory"),
        NoticeCode.FIT_TOO_LARGE: QCoreApplication.translate("Notices", "Too large"),
    }
