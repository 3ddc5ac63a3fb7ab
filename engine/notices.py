"""Notices: the reasons and warnings the engine gives a user, as a code and its parameters.

The engine says why it chose a backend, what it changed in a load, what it repaired, as
a :class:`Notice` rather than an English sentence, so that every front end can say it in
its own language: :func:`render_notice` writes the English (the command line, the logs,
``str(notice)``), and the desktop maps each :class:`NoticeCode` to a translated string
(``desktop/notices.py``). A notice crosses the worker's JSON pipe as
``{"code": ..., "params": {...}}`` (:meth:`Notice.to_dict`, :meth:`Notice.from_dict`).

A parameter is data shown as it is (a GPU's name, a path, a size already written as
"1.2 GiB", a count), another notice rendered in the same language (the part of a
reason that names the CPU threads, say), or a tuple of notices, rendered one after
the other with the language's list separator (:data:`LIST_SEPARATOR` in English).
Free text from outside Hearth (a library's error message) is data too: it is not
Hearth's to translate.

This module imports nothing from the engine, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

#: A notice's parameter: data shown as it is, or notices rendered in the same language.
NoticeParam: TypeAlias = "str | int | float | Notice | tuple[Notice, ...]"

#: Between the notices of a tuple parameter, in English.
LIST_SEPARATOR = "; "


class NoticeCode(StrEnum):
    """What a notice says; its parameters are the fields of its English template."""

    # -- the CPU part of a plan's reason ------------------------------------------------
    THREADS = "plan.threads"
    ONE_THREAD = "plan.one_thread"
    THREADS_SIMD = "plan.threads_simd"
    ONE_THREAD_SIMD = "plan.one_thread_simd"
    # -- why the PyTorch backend runs on a GPU llama.cpp cannot use -----------------------
    WHY_LLAMA_MISSING = "plan.why.llama_missing"
    WHY_LLAMA_CPU_ONLY = "plan.why.llama_cpu_only"
    # -- other parts of a reason ----------------------------------------------------------
    FREE_VRAM = "plan.free_vram"
    FREE_GPU_MEMORY = "plan.free_gpu_memory"
    ALL_LAYERS = "plan.all_layers"
    # -- the backend plan's reason --------------------------------------------------------
    TORCH_CPU_OFFLOAD_OFF = "plan.torch.cpu_offload_off"
    TORCH_CUDA_SET = "plan.torch.cuda_set"
    TORCH_CUDA_INSTEAD = "plan.torch.cuda_instead"
    TORCH_MPS_SET = "plan.torch.mps_set"
    TORCH_MPS_INSTEAD = "plan.torch.mps_instead"
    TORCH_CPU_NO_GPU = "plan.torch.cpu_no_gpu"
    PLAN_REMOTE = "plan.remote"
    TORCH_NOT_INSTALLED_SO_LLAMA = "plan.torch.not_installed_so_llama"
    TORCH_FAILED_SO_LLAMA = "plan.torch.failed_so_llama"
    WITH_TORCH_MEMORY = "plan.torch.with_memory"
    TORCH_MEMORY = "plan.torch.memory"
    CPU_LLAMA_MISSING = "plan.cpu.llama_missing"
    CPU_OFFLOAD_OFF = "plan.cpu.offload_off"
    CPU_OFFLOAD_ZERO = "plan.cpu.offload_zero"
    CPU_NO_GPU = "plan.cpu.no_gpu"
    CPU_NVIDIA_UNUSABLE = "plan.cpu.nvidia_unusable"
    CPU_GPU_UNUSABLE = "plan.cpu.gpu_unusable"
    CPU_LLAMA_CPU_ONLY = "plan.cpu.llama_cpu_only"
    CPU_GPU_UNMEASURED = "plan.cpu.gpu_unmeasured"
    CPU_GPU_TOO_SMALL = "plan.cpu.gpu_too_small"
    GPU_LAYERS_SET_UNMEASURED = "plan.gpu.layers_set_unmeasured"
    GPU_LAYERS_SET = "plan.gpu.layers_set"
    GPU_ALL_LAYERS = "plan.gpu.all_layers"
    GPU_FULL = "plan.gpu.full"
    GPU_PARTIAL = "plan.gpu.partial"
    # -- warnings of a plan and a load ----------------------------------------------------
    CONTEXT_OVER_TRAINED = "load.context_over_trained"
    CONTEXT_OVER_MEMORY = "load.context_over_memory"
    THREADS_OVER_CORES = "load.threads_over_cores"
    OFFLOAD_SETTING_INVALID = "load.offload_setting_invalid"
    BACKEND_SETTING_INVALID = "load.backend_setting_invalid"
    TORCH_NOT_INSTALLED = "load.torch_not_installed"
    MODEL_TOO_LARGE = "load.model_too_large"
    LLAMA_UNAVAILABLE = "load.llama_unavailable"
    LLAMA_UNAVAILABLE_BECAUSE = "load.llama_unavailable_because"
    OFFLOAD_WITHOUT_GPU = "load.offload_without_gpu"
    OFFLOAD_OVER_FIT = "load.offload_over_fit"
    TORCH_ARCHITECTURE = "load.torch_architecture"
    TORCH_WEIGHTS_INVALID = "load.torch_weights_invalid"
    GPU_LOAD_FAILED = "load.gpu_failed"
    TORCH_IMPORT_FAILED = "load.torch_import_failed"
    TORCH_LOAD_FAILED = "load.torch_failed"
    NO_CHAT_TEMPLATE = "load.no_chat_template"
    TEMPLATE_REFUSED = "load.template_refused"
    TEMPLATE_FAILED = "load.template_failed"
    TEMPLATE_RETIRED = "chat.template_retired"
    # -- how a model fits this computer (the model manager's badge) -----------------------
    FIT_GPU = "fit.gpu"
    FIT_RAM = "fit.ram"
    FIT_TOO_LARGE = "fit.too_large"
    # -- the settings file, read and repaired ---------------------------------------------
    SETTINGS_UNREADABLE = "settings.unreadable"
    SETTINGS_RESET = "settings.reset"
    SETTINGS_KEPT = "settings.kept"
    SETTING_REPLACED = "settings.replaced"
    USING_DEFAULT = "settings.using_default"
    KEEPING_OFFLINE = "settings.keeping_offline"
    READ_AS_VERSION_1 = "settings.read_as_version_1"
    # -- what a setting must be -----------------------------------------------------------
    MUST_BE_WHOLE_NUMBER = "setting.whole_number"
    MUST_BE_ONE_OF = "setting.one_of"
    MUST_BE_STRING = "setting.string"
    MUST_BE_OFFLOAD = "setting.offload"
    MUST_BE_LAYERS = "setting.layers"
    MUST_BE_CONTEXT = "setting.context"
    MUST_BE_THREADS = "setting.threads"
    MUST_BE_BOOLEAN = "setting.boolean"
    MUST_BE_SHORT_TEXT = "setting.short_text"
    MUST_BE_ONE_TO = "setting.one_to"
    MUST_BE_OBJECT = "setting.object"
    # -- a hub repository's listing, cut short --------------------------------------------
    LISTING_CAPPED = "hub.listing_capped"
    LISTING_INCOMPLETE = "hub.listing_incomplete"
    LISTING_STOPPED_AT_MOST = "hub.listing_stopped_at_most"
    LISTING_STOPPED_UNREADABLE = "hub.listing_stopped_unreadable"
    LISTING_STOPPED_OTHER_HOST = "hub.listing_stopped_other_host"
    # -- the history database -------------------------------------------------------------
    HISTORY_IS_FOLDER = "history.is_folder"
    HISTORY_TOO_NEW = "history.too_new"
    HISTORY_DAMAGED = "history.damaged"
    HISTORY_LOCKED = "history.locked"
    HISTORY_DISK_FULL = "history.disk_full"
    HISTORY_READ_ONLY = "history.read_only"
    HISTORY_UNUSABLE = "history.unusable"


#: The English of every code: a ``str.format`` template over the notice's parameters.
ENGLISH: Mapping[NoticeCode, str] = {
    NoticeCode.THREADS: "{n_threads} threads",
    NoticeCode.ONE_THREAD: "{n_threads} thread",
    NoticeCode.THREADS_SIMD: "{n_threads} threads ({simd})",
    NoticeCode.ONE_THREAD_SIMD: "{n_threads} thread ({simd})",
    NoticeCode.WHY_LLAMA_MISSING: "llama.cpp is not installed",
    NoticeCode.WHY_LLAMA_CPU_ONLY: "llama.cpp was built without GPU support",
    NoticeCode.FREE_VRAM: "{size} free VRAM",
    NoticeCode.FREE_GPU_MEMORY: "{size} free GPU memory",
    NoticeCode.ALL_LAYERS: "all",
    NoticeCode.TORCH_CPU_OFFLOAD_OFF: (
        "CPU via PyTorch: GPU offload is turned off in Settings; {cpu}"
    ),
    NoticeCode.TORCH_CUDA_SET: "CUDA via PyTorch: {gpu} (set in Settings)",
    NoticeCode.TORCH_CUDA_INSTEAD: (
        "CUDA via PyTorch: {why}, so the PyTorch backend uses your {gpu}"
    ),
    NoticeCode.TORCH_MPS_SET: "MPS via PyTorch: {gpu} (set in Settings)",
    NoticeCode.TORCH_MPS_INSTEAD: (
        "MPS via PyTorch: {why}, so the PyTorch backend uses your {gpu} GPU"
    ),
    NoticeCode.TORCH_CPU_NO_GPU: "CPU via PyTorch: PyTorch cannot use a GPU here; {cpu}",
    NoticeCode.PLAN_REMOTE: "Remote: {model} on {host}",
    NoticeCode.TORCH_NOT_INSTALLED_SO_LLAMA: (
        "{reason} (PyTorch is not installed, so llama.cpp is used)"
    ),
    NoticeCode.TORCH_FAILED_SO_LLAMA: (
        "CPU: the PyTorch backend could not load this model; llama.cpp runs it"
    ),
    NoticeCode.WITH_TORCH_MEMORY: "{reason} — {memory}",
    NoticeCode.TORCH_MEMORY: "{weights} of {format} weights + {kv} KV cache on {device}",
    NoticeCode.CPU_LLAMA_MISSING: "CPU: llama.cpp is not installed; {cpu}",
    NoticeCode.CPU_OFFLOAD_OFF: "CPU: GPU offload is turned off in Settings; {cpu}",
    NoticeCode.CPU_OFFLOAD_ZERO: "CPU: GPU offload is set to 0 layers in Settings; {cpu}",
    NoticeCode.CPU_NO_GPU: "CPU: no supported GPU found; {cpu}",
    NoticeCode.CPU_NVIDIA_UNUSABLE: (
        "CPU: llama.cpp was built with {backend} but cannot use your {gpu} "
        "(check the NVIDIA driver); {cpu}"
    ),
    NoticeCode.CPU_GPU_UNUSABLE: (
        "CPU: llama.cpp was built with {backend} but cannot use your {gpu} "
        "(check the GPU driver); {cpu}"
    ),
    NoticeCode.CPU_LLAMA_CPU_ONLY: (
        "CPU: llama.cpp was built without GPU support; reinstall it with {command} "
        "to use your {gpu}"
    ),
    NoticeCode.CPU_GPU_UNMEASURED: (
        "CPU: llama.cpp was built with {backend}, but Hearth cannot measure that GPU's "
        "memory; set GPU offload to a number of layers in Settings to use it; {cpu}"
    ),
    NoticeCode.CPU_GPU_TOO_SMALL: "CPU: the model does not fit in the {free} on {gpu}; {cpu}",
    NoticeCode.GPU_LAYERS_SET_UNMEASURED: "{backend}: {layers} layers on GPU (set in Settings)",
    NoticeCode.GPU_LAYERS_SET: "{backend}: {gpu}, {layers} layers on GPU (set in Settings)",
    NoticeCode.GPU_ALL_LAYERS: "{backend}: {gpu}, all layers on GPU",
    NoticeCode.GPU_FULL: "{backend}: {gpu}, {total}/{total} layers on GPU",
    NoticeCode.GPU_PARTIAL: (
        "{backend}: {gpu}, {layers}/{total} layers on GPU ({free}; the rest runs on the CPU)"
    ),
    NoticeCode.CONTEXT_OVER_TRAINED: (
        "The context size {wanted:,} is larger than the {trained:,} tokens this model "
        "was trained for; using {trained:,}."
    ),
    NoticeCode.CONTEXT_OVER_MEMORY: (
        "The context size {wanted:,} needs about {needed} with this model, but only "
        "{free} of memory is free; using {fitted:,}."
    ),
    NoticeCode.THREADS_OVER_CORES: (
        "{threads:,} threads is more than the {cores} logical cores of this computer; "
        "using {cores}."
    ),
    NoticeCode.OFFLOAD_SETTING_INVALID: (
        "GPU offload {value} in Settings is not 'auto', 'off' or a number of layers; using 'auto'."
    ),
    NoticeCode.BACKEND_SETTING_INVALID: (
        "Backend {value} in Settings is not 'auto', 'llamacpp' or 'torch'; using 'auto'."
    ),
    NoticeCode.TORCH_NOT_INSTALLED: (
        "The PyTorch backend is chosen in Settings, but PyTorch is not installed; "
        "using llama.cpp instead."
    ),
    NoticeCode.MODEL_TOO_LARGE: (
        "This model needs about {needed} but only {free} of memory is free; it may not "
        "load or may be very slow."
    ),
    NoticeCode.LLAMA_UNAVAILABLE: (
        "llama.cpp (llama-cpp-python) could not be loaded; reinstall it with {command}."
    ),
    NoticeCode.LLAMA_UNAVAILABLE_BECAUSE: (
        "llama.cpp (llama-cpp-python) could not be loaded ({error}); reinstall it with {command}."
    ),
    NoticeCode.OFFLOAD_WITHOUT_GPU: (
        "GPU offload is set to {layers} layers in Settings, but llama.cpp cannot use a "
        "GPU here; running on the CPU."
    ),
    NoticeCode.OFFLOAD_OVER_FIT: (
        "GPU offload is set to {layers} layers in Settings, but only about {fits} fit in "
        "{free}; if loading fails, lower GPU offload in Settings."
    ),
    NoticeCode.TORCH_ARCHITECTURE: (
        "The PyTorch backend does not run {architecture} models (it runs {supported}); "
        "llama.cpp runs this one."
    ),
    NoticeCode.TORCH_WEIGHTS_INVALID: (
        "PyTorch weight format {value} is not one of {formats}; using 'auto'."
    ),
    NoticeCode.GPU_LOAD_FAILED: "The GPU could not take this model ({error}); it runs on the CPU.",
    NoticeCode.TORCH_IMPORT_FAILED: (
        "PyTorch could not be imported ({error}); llama.cpp runs this model on the CPU. "
        "Install it with {command}."
    ),
    NoticeCode.TORCH_LOAD_FAILED: (
        "The PyTorch backend could not load this model ({error}); llama.cpp runs it on the CPU."
    ),
    NoticeCode.NO_CHAT_TEMPLATE: (
        "This model has no chat template; Hearth uses its plain fallback format."
    ),
    NoticeCode.TEMPLATE_REFUSED: "{detail} and uses its plain chat format instead.",
    NoticeCode.TEMPLATE_FAILED: (
        "The model's chat template was refused ({error}); Hearth uses its plain chat "
        "format instead."
    ),
    NoticeCode.TEMPLATE_RETIRED: (
        "{detail} and uses its plain chat format for this model from now on. "
        "Send your message again."
    ),
    NoticeCode.FIT_GPU: "Fits on GPU",
    NoticeCode.FIT_RAM: "Fits in memory",
    NoticeCode.FIT_TOO_LARGE: "Too large",
    NoticeCode.SETTINGS_UNREADABLE: (
        "Hearth's settings file could not be read ({problem}), so the default settings are "
        "used, with offline mode on: turn it off in Settings to allow downloads.{kept}"
    ),
    NoticeCode.SETTINGS_RESET: (
        "Some settings were invalid and were reset: {problems}. Check them in Settings.{kept}"
    ),
    NoticeCode.SETTINGS_KEPT: " The file as it was is kept as {path}.",
    NoticeCode.SETTING_REPLACED: "{name} = {value} {requirement}; {instead}",
    NoticeCode.USING_DEFAULT: "using the default, {default}",
    NoticeCode.KEEPING_OFFLINE: "keeping offline mode on",
    NoticeCode.READ_AS_VERSION_1: "read as version 1",
    NoticeCode.MUST_BE_WHOLE_NUMBER: "must be a whole number",
    NoticeCode.MUST_BE_ONE_OF: "must be one of {choices}",
    NoticeCode.MUST_BE_STRING: "must be a string",
    NoticeCode.MUST_BE_OFFLOAD: "must be 'auto', 'off' or a number of layers",
    NoticeCode.MUST_BE_LAYERS: "must be a number of layers from -1 (all) to {most}",
    NoticeCode.MUST_BE_CONTEXT: (
        "must be 0 (automatic) or a whole number of tokens from {least:,} to {most:,}"
    ),
    NoticeCode.MUST_BE_THREADS: (
        "must be 0 (automatic) to {most} (the logical cores of this computer)"
    ),
    NoticeCode.MUST_BE_BOOLEAN: "must be true or false",
    NoticeCode.MUST_BE_SHORT_TEXT: "must be at most {most:,} characters, with no NUL character",
    NoticeCode.MUST_BE_ONE_TO: "must be 1 to {most}",
    NoticeCode.MUST_BE_OBJECT: "must be an object",
    NoticeCode.LISTING_CAPPED: "Showing the first {shown} of {found:,} GGUF models in {repo}.",
    NoticeCode.LISTING_INCOMPLETE: (
        "Only the first {read:,} files of {repo} were read ({reason}); look for a file by its "
        "exact name on the hub's website."
    ),
    NoticeCode.LISTING_STOPPED_AT_MOST: "Hearth reads at most {limit:,} files of a listing",
    NoticeCode.LISTING_STOPPED_UNREADABLE: "the rest could not be read",
    NoticeCode.LISTING_STOPPED_OTHER_HOST: "its next page is on another host",
    NoticeCode.HISTORY_IS_FOLDER: (
        "The history database {path} is a folder, not a file. Move or rename that folder, "
        "and Hearth starts a new database."
    ),
    NoticeCode.HISTORY_TOO_NEW: (
        "The history database {path} was written by a newer Hearth (schema {version}; this "
        "one knows {known}). Run the newer Hearth, or update this one."
    ),
    NoticeCode.HISTORY_DAMAGED: (
        "The history database {path} cannot be used: it is damaged or is not a database "
        "({detail}). Move it aside, and Hearth starts a new one."
    ),
    NoticeCode.HISTORY_LOCKED: (
        "The history database {path} is in use by another program ({detail}). Close that "
        "program (or the other Hearth using this folder), then restart Hearth."
    ),
    NoticeCode.HISTORY_DISK_FULL: (
        "The disk that holds the history database {path} is full. Free some space, then "
        "restart Hearth."
    ),
    NoticeCode.HISTORY_READ_ONLY: (
        "Hearth cannot write to its history database {path} ({detail}). Make the file and "
        "its folder writable by you (check their owner and permissions, and that the disk "
        "is not mounted read-only), then restart Hearth."
    ),
    NoticeCode.HISTORY_UNUSABLE: (
        "Hearth cannot read or write its history database {path} ({detail}). Check the "
        "disk, then restart Hearth."
    ),
}


@dataclass(frozen=True)
class Notice:
    """A reason or warning for the user: what it says (``code``) and its data (``params``).

    Attributes:
        code: what the notice says.
        params: the values of its template's fields (see :data:`NoticeParam`).
    """

    code: NoticeCode
    params: Mapping[str, NoticeParam] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A private copy: the caller's dict cannot change a frozen notice afterwards.
        object.__setattr__(self, "params", dict(self.params))

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.params.items()))))

    def __str__(self) -> str:
        return render_notice(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"code": "plan.cpu.no_gpu", "params": {...}}``."""
        return {
            "code": str(self.code),
            "params": {name: _param_to_json(value) for name, value in self.params.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: the code is unknown or a parameter is not a string, a number or
                a notice (a worker of another version of Hearth).
        """
        params: dict[str, NoticeParam] = {}
        for name, value in dict(data.get("params") or {}).items():
            if isinstance(value, Mapping):
                params[str(name)] = cls.from_dict(value)
            elif isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
                params[str(name)] = tuple(cls.from_dict(v) for v in value)
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                params[str(name)] = value
            else:
                raise ValueError(f"Notice parameter {name!r} has an unusable value {value!r}.")
        return cls(NoticeCode(data["code"]), params)


def _param_to_json(value: NoticeParam) -> Any:
    if isinstance(value, Notice):
        return value.to_dict()
    if isinstance(value, tuple):
        return [n.to_dict() for n in value]
    return value


def render_notice(notice: Notice) -> str:
    """The notice in English: the one place the engine writes its reasons and warnings.

    Args:
        notice: the notice; parameters that are notices are rendered first.

    Returns:
        The English sentence (or part of one, for a notice used as a parameter).
    """
    values = {name: _english(value) for name, value in notice.params.items()}
    return ENGLISH[notice.code].format(**values)


def _english(value: NoticeParam) -> str | int | float:
    if isinstance(value, Notice):
        return render_notice(value)
    if isinstance(value, tuple):
        return LIST_SEPARATOR.join(render_notice(n) for n in value)
    return value


def render_notices(notices: tuple[Notice, ...] | list[Notice]) -> tuple[str, ...]:
    """Each notice in English, in order."""
    return tuple(render_notice(n) for n in notices)


__all__ = [
    "ENGLISH",
    "LIST_SEPARATOR",
    "Notice",
    "NoticeCode",
    "NoticeParam",
    "render_notice",
    "render_notices",
]
