"""The engine's reasons and warnings (:class:`~engine.notices.Notice`) in the interface language.

The engine gives a code and its parameters; this module holds the one translated
template of every :class:`~engine.notices.NoticeCode`, written in English exactly as
:data:`engine.notices.ENGLISH` has it (a test checks both, and that every code is here),
so the English interface says what the command line says.

Thread: the Qt thread (translators are read there).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from engine.notices import Notice, NoticeCode, NoticeParam


def notice_text(notice: Notice) -> str:
    """``notice`` in the interface language; parameters that are notices are translated too.

    Args:
        notice: a reason or warning from the engine.

    Returns:
        The translated sentence, with the notice's data filled in.
    """
    values = {name: _translated(value) for name, value in notice.params.items()}
    return templates()[notice.code].format(**values)


def _translated(value: NoticeParam) -> str | int | float:
    if isinstance(value, Notice):
        return notice_text(value)
    if isinstance(value, tuple):
        # Between the items of a list, as engine.notices.LIST_SEPARATOR is in English.
        separator = QCoreApplication.translate("Notices", "; ")
        return separator.join(notice_text(n) for n in value)
    return value


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
        NoticeCode.PLAN_REMOTE: QCoreApplication.translate(
            "Notices",
            "Remote: {model} on {host}",
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
        NoticeCode.SETTINGS_UNREADABLE: QCoreApplication.translate(
            "Notices",
            "Hearth's settings file could not be read ({problem}), so the default settings are "
            "used, with offline mode on: turn it off in Settings to allow downloads.{kept}",
        ),
        NoticeCode.SETTINGS_RESET: QCoreApplication.translate(
            "Notices",
            "Some settings were invalid and were reset: {problems}. Check them in Settings.{kept}",
        ),
        NoticeCode.SETTINGS_KEPT: QCoreApplication.translate(
            "Notices",
            " The file as it was is kept as {path}.",
        ),
        NoticeCode.SETTING_REPLACED: QCoreApplication.translate(
            "Notices",
            "{name} = {value} {requirement}; {instead}",
        ),
        NoticeCode.USING_DEFAULT: QCoreApplication.translate(
            "Notices",
            "using the default, {default}",
        ),
        NoticeCode.KEEPING_OFFLINE: QCoreApplication.translate(
            "Notices",
            "keeping offline mode on",
        ),
        NoticeCode.READ_AS_VERSION_1: QCoreApplication.translate(
            "Notices",
            "read as version 1",
        ),
        NoticeCode.MUST_BE_WHOLE_NUMBER: QCoreApplication.translate(
            "Notices",
            "must be a whole number",
        ),
        NoticeCode.MUST_BE_ONE_OF: QCoreApplication.translate(
            "Notices",
            "must be one of {choices}",
        ),
        NoticeCode.MUST_BE_STRING: QCoreApplication.translate(
            "Notices",
            "must be a string",
        ),
        NoticeCode.MUST_BE_OFFLOAD: QCoreApplication.translate(
            "Notices",
            "must be 'auto', 'off' or a number of layers",
        ),
        NoticeCode.MUST_BE_LAYERS: QCoreApplication.translate(
            "Notices",
            "must be a number of layers from -1 (all) to {most}",
        ),
        NoticeCode.MUST_BE_CONTEXT: QCoreApplication.translate(
            "Notices",
            "must be 0 (automatic) or a whole number of tokens from {least:,} to {most:,}",
        ),
        NoticeCode.MUST_BE_THREADS: QCoreApplication.translate(
            "Notices",
            "must be 0 (automatic) to {most} (the logical cores of this computer)",
        ),
        NoticeCode.MUST_BE_BOOLEAN: QCoreApplication.translate(
            "Notices",
            "must be true or false",
        ),
        NoticeCode.MUST_BE_SHORT_TEXT: QCoreApplication.translate(
            "Notices",
            "must be at most {most:,} characters, with no NUL character",
        ),
        NoticeCode.MUST_BE_ONE_TO: QCoreApplication.translate(
            "Notices",
            "must be 1 to {most}",
        ),
        NoticeCode.MUST_BE_OBJECT: QCoreApplication.translate(
            "Notices",
            "must be an object",
        ),
        NoticeCode.LISTING_CAPPED: QCoreApplication.translate(
            "Notices",
            "Showing the first {shown} of {found:,} GGUF models in {repo}.",
        ),
        NoticeCode.LISTING_INCOMPLETE: QCoreApplication.translate(
            "Notices",
            "Only the first {read:,} files of {repo} were read ({reason}); look for a file by "
            "its exact name on the hub's website.",
        ),
        NoticeCode.LISTING_STOPPED_AT_MOST: QCoreApplication.translate(
            "Notices",
            "Hearth reads at most {limit:,} files of a listing",
        ),
        NoticeCode.LISTING_STOPPED_UNREADABLE: QCoreApplication.translate(
            "Notices",
            "the rest could not be read",
        ),
        NoticeCode.LISTING_STOPPED_OTHER_HOST: QCoreApplication.translate(
            "Notices",
            "its next page is on another host",
        ),
        NoticeCode.HISTORY_IS_FOLDER: QCoreApplication.translate(
            "Notices",
            "The history database {path} is a folder, not a file. Move or rename that folder, "
            "and Hearth starts a new database.",
        ),
        NoticeCode.HISTORY_TOO_NEW: QCoreApplication.translate(
            "Notices",
            "The history database {path} was written by a newer Hearth (schema {version}; this "
            "one knows {known}). Run the newer Hearth, or update this one.",
        ),
        NoticeCode.HISTORY_DAMAGED: QCoreApplication.translate(
            "Notices",
            "The history database {path} cannot be used: it is damaged or is not a database "
            "({detail}). Move it aside, and Hearth starts a new one.",
        ),
        NoticeCode.HISTORY_LOCKED: QCoreApplication.translate(
            "Notices",
            "The history database {path} is in use by another program ({detail}). Close that "
            "program (or the other Hearth using this folder), then restart Hearth.",
        ),
        NoticeCode.HISTORY_DISK_FULL: QCoreApplication.translate(
            "Notices",
            "The disk that holds the history database {path} is full. Free some space, then "
            "restart Hearth.",
        ),
        NoticeCode.HISTORY_READ_ONLY: QCoreApplication.translate(
            "Notices",
            "Hearth cannot write to its history database {path} ({detail}). Make the file and "
            "its folder writable by you (check their owner and permissions, and that the disk "
            "is not mounted read-only), then restart Hearth.",
        ),
        NoticeCode.HISTORY_UNUSABLE: QCoreApplication.translate(
            "Notices",
            "Hearth cannot read or write its history database {path} ({detail}). Check the "
            "disk, then restart Hearth.",
        ),
    }
