"""What this computer has: probes of the CPU, RAM, GPUs and the installed inference builds."""

from __future__ import annotations

import csv
import importlib
import importlib.metadata
import importlib.util
import logging
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from types import ModuleType
from typing import Any

import psutil

log = logging.getLogger("engine.hardware")

# --------------------------------------------------------------------------- constants

#: Seconds to wait for ``nvidia-smi`` (and ``sysctl``) before giving up.
PROBE_TIMEOUT_S = 3.0

#: The ``nvidia-smi`` query the GPU probe runs; its output is what :func:`parse_nvidia_smi` reads.
NVIDIA_SMI_QUERY = (
    "--query-gpu=name,memory.total,memory.free,driver_version",
    "--format=csv,noheader,nounits",
)

#: SIMD features worth reporting, by the canonical (lower-case) name Hearth uses.
SIMD_FLAGS = (
    "sse3",
    "ssse3",
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "dotprod",
    "i8mm",
    "bf16",
    "sve",
    "sve2",
)

# /proc/cpuinfo and sysctl spellings that differ from the canonical name.
_FLAG_ALIASES = {
    "pni": "sse3",
    "asimd": "neon",
    "asimddp": "dotprod",
    "avx1_0": "avx",
    "avx2_0": "avx2",
    "feat_dotprod": "dotprod",
    "feat_i8mm": "i8mm",
    "feat_bf16": "bf16",
    "avx1.0": "avx",
}

# Best SIMD level first: (flag, label shown to users).
_SIMD_LEVELS = (
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("avx", "AVX"),
    ("sve2", "SVE2"),
    ("sve", "SVE"),
    ("neon", "NEON"),
    ("sse4_2", "SSE4.2"),
    ("sse3", "SSE3"),
)

# llama.cpp backend names as its registry / system info spell them -> Hearth's spelling.
_GPU_BACKENDS = {
    "cuda": "CUDA",
    "cublas": "CUDA",
    "metal": "Metal",
    "vulkan": "Vulkan",
    "rocm": "ROCm",
    "hip": "ROCm",
    "hipblas": "ROCm",
    "sycl": "SYCL",
    "musa": "MUSA",
    "cann": "CANN",
    "opencl": "OpenCL",
    "clblast": "OpenCL",
    "kompute": "Kompute",
}

Runner = Callable[[Sequence[str], float], "str | None"]
"""Runs a command with a timeout; returns its stdout, or None when it failed in any way."""

# --------------------------------------------------------------------------- probe results


@dataclass(frozen=True)
class CpuInfo:
    """The processor.

    Attributes:
        model: marketing name, e.g. "AMD Ryzen 7 7800X3D" or "Apple M2 Pro".
        physical_cores: cores this process may use, counting each physical core once.
        logical_cores: hardware threads this process may use.
        flags: SIMD features of interest present (canonical lower-case names, see SIMD_FLAGS).
        performance_cores: performance cores on hybrid CPUs where known (Apple), else None.
    """

    model: str
    physical_cores: int
    logical_cores: int
    flags: tuple[str, ...] = ()
    performance_cores: int | None = None

    @property
    def simd_level(self) -> str | None:
        """The best SIMD level as users know it ("AVX-512", "AVX2", "NEON", ...), or None."""
        for flag, label in _SIMD_LEVELS:
            if flag in self.flags:
                return label
        return None

    @property
    def default_threads(self) -> int:
        """Decode threads llama.cpp would pick: performance or physical cores, at least 1."""
        return max(1, self.performance_cores or self.physical_cores or self.logical_cores or 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form, with the derived SIMD level and default thread count."""
        out = asdict(self)
        out["flags"] = list(self.flags)
        out["simd_level"] = self.simd_level
        out["default_threads"] = self.default_threads
        return out


@dataclass(frozen=True)
class GpuInfo:
    """One GPU the inference backends could use.

    Attributes:
        name: e.g. "NVIDIA GeForce RTX 4070" or "Apple M2 Pro".
        vendor: "nvidia" or "apple".
        api: the compute API that reaches it: "cuda" or "metal".
        vram_total: bytes of memory the GPU may use (for unified memory: Metal's working set).
        vram_free: bytes free now (for unified memory: the working set capped by free RAM).
        driver: driver version, or None when unknown.
        unified_memory: True when the GPU shares system RAM (Apple Silicon, some NVIDIA SoCs).
        index: the device index the driver uses.
    """

    name: str
    vendor: str
    api: str
    vram_total: int
    vram_free: int
    driver: str | None = None
    unified_memory: bool = False
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return asdict(self)


@dataclass(frozen=True)
class LlamaBuild:
    """What the installed llama-cpp-python can do.

    Attributes:
        available: llama_cpp imported and its library loaded.
        gpu_offload: ``llama_supports_gpu_offload()``: a GPU backend is built in and found a device.
        gpu_backend: the GPU backend built in ("CUDA", "Metal", "Vulkan", "ROCm", "SYCL", ...)
            or None.
        system_info: ``llama_print_system_info()``, decoded.
        version: llama-cpp-python's version, or None.
        error: why it is not available (exception type and message), or None.
    """

    available: bool
    gpu_offload: bool
    gpu_backend: str | None
    system_info: str
    version: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LlamaBuild:
        """Inverse of :meth:`to_dict`: how the worker's report of its build is read.

        Raises:
            ValueError: a field is unknown or missing.
        """
        names = {f.name for f in fields(cls)}
        unknown, missing = set(data) - names, names - {"error"} - set(data)
        if unknown or missing:
            raise ValueError(
                f"not a llama.cpp build: unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        return cls(**data)


@dataclass(frozen=True)
class TorchInfo:
    """What the installed PyTorch (for the torch backend) can do.

    Attributes:
        available: torch is installed.
        version: torch's version, or None.
        cuda: the build can use CUDA (an NVIDIA GPU must be present too).
        mps: the build can use Apple's Metal Performance Shaders (Apple Silicon).
        device_name: "Apple GPU (MPS)" for MPS, else None (the GPU probe names GPUs).
    """

    available: bool
    version: str | None
    cuda: bool
    mps: bool
    device_name: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return asdict(self)


NO_TORCH = TorchInfo(available=False, version=None, cuda=False, mps=False, device_name=None)


@dataclass(frozen=True)
class Hardware:
    """Everything the planner needs to know about this computer.

    Attributes:
        cpu: the processor.
        ram_total: bytes of system memory.
        ram_available: bytes of system memory available now (psutil's "available").
        gpus: GPUs found (NVIDIA via nvidia-smi, Apple Silicon via the platform).
        llama: the llama.cpp build.
        torch: the PyTorch install.
        os: ``platform.system()``: "Linux", "Darwin", "Windows".
        machine: ``platform.machine()``: "x86_64", "arm64", "AMD64", ...
    """

    cpu: CpuInfo
    ram_total: int
    ram_available: int
    gpus: tuple[GpuInfo, ...]
    llama: LlamaBuild
    torch: TorchInfo
    os: str
    machine: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (``hearth-cli hardware --json``)."""
        return {
            "cpu": self.cpu.to_dict(),
            "ram_total": self.ram_total,
            "ram_available": self.ram_available,
            "gpus": [g.to_dict() for g in self.gpus],
            "llama": self.llama.to_dict(),
            "torch": self.torch.to_dict(),
            "os": self.os,
            "machine": self.machine,
        }


# --------------------------------------------------------------------------- helpers


def format_bytes(n: int | float) -> str:
    """Format a byte count for people, in decimal units.

    Args:
        n: a number of bytes.

    Returns:
        "7.1 GB" from one gigabyte up (one decimal), "218 MB", "12 kB" or "512 B" below;
        "1.2 TB" from one terabyte up.
    """
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n >= 1000**4:
        return f"{sign}{n / 1000**4:.1f} TB"
    if n >= 1000**3:
        return f"{sign}{n / 1000**3:.1f} GB"
    if n >= 1000**2:
        return f"{sign}{n / 1000**2:.0f} MB"
    if n >= 1000:
        return f"{sign}{n / 1000:.0f} kB"
    return f"{sign}{int(n)} B"


def _run_command(args: Sequence[str], timeout: float) -> str | None:
    """Run a command quietly; its stdout, or None on any failure (missing, timeout, status)."""
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":  # no console window flashing up from the GUI
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("%s failed: %s", args[0] if args else "?", exc)
        return None
    if proc.returncode != 0:
        log.debug("%s exited with status %s: %s", args[0], proc.returncode, proc.stderr.strip())
        return None
    return proc.stdout


def _canonical_flags(raw: Sequence[str]) -> tuple[str, ...]:
    found = set()
    for token in raw:
        name = token.strip().lower()
        name = _FLAG_ALIASES.get(name, name)
        if name in SIMD_FLAGS:
            found.add(name)
    return tuple(f for f in SIMD_FLAGS if f in found)


# --------------------------------------------------------------------------- CPU


def parse_cpuinfo(text: str) -> tuple[str | None, tuple[str, ...]]:
    """Read the model name and SIMD flags from Linux ``/proc/cpuinfo`` text.

    Args:
        text: the file's contents (x86 "flags" lines or arm64 "Features" lines).

    Returns:
        (model name or None, canonical SIMD flags of interest).
    """
    model: str | None = None
    raw_flags: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key in ("model name", "hardware", "cpu model") and value and model is None:
            model = value
        elif key in ("flags", "features") and not raw_flags:
            raw_flags = value.split()
    return model, _canonical_flags(raw_flags)


def _parse_sysctl_optional(text: str) -> tuple[str, ...]:
    """Flags from macOS ``sysctl hw.optional`` ("hw.optional.arm.FEAT_DotProd: 1" lines)."""
    raw: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or value.strip() != "1":
            continue
        name = key.strip().lower().removeprefix("hw.optional.").removeprefix("arm.")
        raw.append(name)
    return _canonical_flags(raw)


def _usable_cpu_count() -> int | None:
    """CPUs this process may run on: affinity mask and cgroup v2 quota (containers)."""
    count: int | None = None
    if hasattr(os, "sched_getaffinity"):
        try:
            count = len(os.sched_getaffinity(0))
        except OSError:
            count = None
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            quota, _, period = fh.read().strip().partition(" ")
        if quota != "max" and period:
            limit = max(1, math.ceil(int(quota) / int(period)))
            count = limit if count is None else min(count, limit)
    except (OSError, ValueError):
        pass
    return count


def probe_cpu(
    *,
    system: str | None = None,
    machine: str | None = None,
    cpuinfo_path: str = "/proc/cpuinfo",
    run: Runner = _run_command,
) -> CpuInfo:
    """Probe the processor: name, cores and SIMD features.

    Args:
        system: ``platform.system()`` to assume (default: this machine's).
        machine: ``platform.machine()`` to assume (default: this machine's).
        cpuinfo_path: where Linux keeps cpuinfo.
        run: command runner (for ``sysctl`` on macOS).

    Returns:
        The CPU description; never raises.
    """
    system = system or platform.system()
    machine = machine or platform.machine()
    model: str | None = None
    flags: tuple[str, ...] = ()
    performance: int | None = None

    if system == "Linux":
        try:
            with open(cpuinfo_path, encoding="utf-8", errors="replace") as fh:
                model, flags = parse_cpuinfo(fh.read())
        except OSError as exc:
            log.debug("cannot read %s: %s", cpuinfo_path, exc)
    elif system == "Darwin":
        out = run(["sysctl", "-n", "machdep.cpu.brand_string"], PROBE_TIMEOUT_S)
        model = out.strip() if out else None
        out = run(["sysctl", "hw.optional"], PROBE_TIMEOUT_S)
        flags = _parse_sysctl_optional(out or "")
        if machine == "arm64" and "neon" not in flags:  # every Apple Silicon core has NEON
            flags = _canonical_flags([*flags, "neon"])
        out = run(["sysctl", "-n", "hw.perflevel0.physicalcpu"], PROBE_TIMEOUT_S)
        if out and out.strip().isdigit():
            performance = int(out.strip()) or None
    elif sys.platform == "win32":
        model, flags = _probe_windows_cpu()

    if not model:
        model = platform.processor() or machine or "Unknown CPU"

    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    usable = _usable_cpu_count()
    if usable is not None and usable < logical:
        # Inside a container or an affinity mask: scale physical cores down alike.
        physical = max(1, min(physical, round(usable * physical / logical)))
        logical = usable
    if performance is not None:
        performance = min(performance, physical)
    return CpuInfo(
        model=model,
        physical_cores=max(1, physical),
        logical_cores=max(1, logical),
        flags=flags,
        performance_cores=performance,
    )


if sys.platform == "win32":

    def _probe_windows_cpu() -> tuple[str | None, tuple[str, ...]]:
        """Processor name from the registry, SIMD from IsProcessorFeaturePresent."""
        import ctypes
        import winreg

        model: str | None = None
        try:
            key = winreg.OpenKey(
                winreg.HKEY_LOCAL_MACHINE, r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
            )
            with key:
                model = str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
        except OSError:
            model = None
        features = {
            "sse3": 13,
            "ssse3": 36,
            "sse4_1": 37,
            "sse4_2": 38,
            "avx": 39,
            "avx2": 40,
            "avx512f": 41,
            "neon": 19,  # PF_ARM_NEON_INSTRUCTIONS_AVAILABLE
            "dotprod": 43,  # PF_ARM_V82_DP_INSTRUCTIONS_AVAILABLE
        }
        present: list[str] = []
        try:
            is_present = ctypes.windll.kernel32.IsProcessorFeaturePresent
            present = [name for name, pf in features.items() if is_present(pf)]
        except (AttributeError, OSError):
            present = []
        if "avx2" in present:  # every AVX2 CPU also has FMA and F16C
            present += ["fma", "f16c"]
        return model, _canonical_flags(present)

else:

    def _probe_windows_cpu() -> tuple[str | None, tuple[str, ...]]:
        return None, ()


# --------------------------------------------------------------------------- RAM


def probe_memory() -> tuple[int, int]:
    """System memory.

    Returns:
        (total bytes, available bytes) from ``psutil.virtual_memory()``.
    """
    vm = psutil.virtual_memory()
    return int(vm.total), int(vm.available)


# --------------------------------------------------------------------------- GPUs


def _mib(value: str) -> int | None:
    value = value.strip()
    try:
        return int(float(value) * 1024 * 1024)
    except ValueError:  # "[N/A]", "[Not Supported]", ""
        return None


def parse_nvidia_smi(text: str) -> tuple[GpuInfo, ...]:
    """Read the output of the :data:`NVIDIA_SMI_QUERY` query.

    Memory is reported in MiB. A total that reads "[N/A]" becomes 0 (unknown, see
    :func:`probe_gpus`); a free amount that reads "[N/A]" is taken as the total.

    Args:
        text: ``name, memory.total, memory.free, driver_version`` lines.

    Returns:
        One GpuInfo per well-formed line, in the driver's index order.
    """
    gpus: list[GpuInfo] = []
    rows = csv.reader(text.splitlines(), skipinitialspace=True)
    for row in rows:
        if len(row) < 4:
            continue
        *name_parts, total_s, free_s, driver_s = row
        name = ",".join(name_parts).strip()
        if not name:
            continue
        total = _mib(total_s)
        free = _mib(free_s)
        driver = driver_s.strip()
        if total is None:
            total, free = 0, 0
        elif free is None:
            free = total
        gpus.append(
            GpuInfo(
                name=name,
                vendor="nvidia",
                api="cuda",
                vram_total=total,
                vram_free=min(free, total) if total else free,
                driver=None if not driver or driver.startswith("[") else driver,
                index=len(gpus),
            )
        )
    return tuple(gpus)


def probe_nvidia_gpus(
    *,
    run: Runner = _run_command,
    executable: str = "nvidia-smi",
    timeout: float = PROBE_TIMEOUT_S,
) -> tuple[GpuInfo, ...]:
    """Ask ``nvidia-smi`` about NVIDIA GPUs.

    Args:
        run: command runner (returns stdout or None).
        executable: the nvidia-smi program.
        timeout: seconds to wait for it.

    Returns:
        The GPUs; an empty tuple when nvidia-smi is missing, fails, hangs or prints
        nothing usable. Never raises.
    """
    out = run([executable, *NVIDIA_SMI_QUERY], timeout)
    if not out:
        return ()
    try:
        return parse_nvidia_smi(out)
    except (csv.Error, ValueError) as exc:
        log.debug("unreadable nvidia-smi output: %s", exc)
        return ()


def metal_working_set(ram_total: int) -> int:
    """How much unified memory Metal lets the GPU use, as Hearth estimates it.

    Apple does not publish the formula behind ``recommendedMaxWorkingSetSize``; on
    machines with up to 36 GB it is observed at about two thirds of RAM, above that
    at about three quarters.

    Args:
        ram_total: bytes of system memory.

    Returns:
        Bytes the GPU may use.
    """
    share = 2 / 3 if ram_total <= 36 * 1000**3 else 3 / 4
    return int(ram_total * share)


def apple_gpu(
    *, system: str, machine: str, cpu_model: str, ram_total: int, ram_available: int
) -> GpuInfo | None:
    """The Apple Silicon GPU, reached through Metal.

    Args:
        system: ``platform.system()``.
        machine: ``platform.machine()``.
        cpu_model: the chip's brand string ("Apple M2 Pro"), used as the GPU's name.
        ram_total: bytes of unified memory.
        ram_available: bytes of it available now.

    Returns:
        The GPU on a Darwin arm64 machine, else None.
    """
    if system != "Darwin" or machine != "arm64":
        return None
    name = cpu_model if cpu_model.startswith("Apple") else "Apple M-series"
    working_set = metal_working_set(ram_total)
    return GpuInfo(
        name=name,
        vendor="apple",
        api="metal",
        vram_total=working_set,
        vram_free=max(0, min(working_set, ram_available)),
        driver=None,
        unified_memory=True,
    )


def probe_gpus(
    *,
    system: str,
    machine: str,
    cpu_model: str,
    ram_total: int,
    ram_available: int,
    nvidia_probe: Callable[[], tuple[GpuInfo, ...]] = probe_nvidia_gpus,
) -> tuple[GpuInfo, ...]:
    """Every GPU found: NVIDIA through nvidia-smi, Apple Silicon through the platform.

    An NVIDIA GPU whose memory nvidia-smi cannot report (Jetson, Grace/GB10 SoCs) shares
    system memory; it is described as unified memory sized like the system RAM.

    Returns:
        The GPUs; never raises.
    """
    gpus: list[GpuInfo] = []
    for gpu in nvidia_probe():
        if gpu.vram_total == 0:
            gpu = GpuInfo(
                name=gpu.name,
                vendor=gpu.vendor,
                api=gpu.api,
                vram_total=ram_total,
                vram_free=ram_available,
                driver=gpu.driver,
                unified_memory=True,
                index=gpu.index,
            )
        gpus.append(gpu)
    apple = apple_gpu(
        system=system,
        machine=machine,
        cpu_model=cpu_model,
        ram_total=ram_total,
        ram_available=ram_available,
    )
    if apple is not None:
        gpus.append(apple)
    return tuple(gpus)


# --------------------------------------------------------------------------- llama.cpp build


def gpu_backend_from_system_info(text: str) -> str | None:
    """Which GPU backend a llama.cpp build has, from ``llama_print_system_info()``.

    Recent builds print one section per registered backend ("CUDA : ARCHS = 890 | ...
    | CPU : AVX2 = 1 | ..."); older ones printed flags ("CUBLAS = 1", "METAL = 1").

    Args:
        text: the system info string.

    Returns:
        "CUDA", "Metal", "Vulkan", "ROCm", "SYCL", "MUSA", "CANN", "OpenCL", "Kompute" or None.
    """
    for match in re.finditer(r"(?:^|\|)\s*([A-Za-z][A-Za-z0-9_]*)\s*(:|=\s*(\d+))", text):
        name, sep, value = match.group(1).lower(), match.group(2), match.group(3)
        if name not in _GPU_BACKENDS:
            continue
        if sep == ":" or (value is not None and value != "0"):
            return _GPU_BACKENDS[name]
    return None


def _registry_backend_names(modules: Sequence[Any]) -> list[str] | None:
    """Names of ggml's registered backends, where a binding exposes the registry."""
    for mod in modules:
        if mod is None:
            continue
        count = getattr(mod, "ggml_backend_reg_count", None)
        get = getattr(mod, "ggml_backend_reg_get", None)
        name_of = getattr(mod, "ggml_backend_reg_name", None)
        if not (callable(count) and callable(get) and callable(name_of)):
            continue
        try:
            names = []
            for i in range(int(count())):
                raw = name_of(get(i))
                names.append(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        except Exception as exc:  # a foreign function; anything can go wrong
            log.debug("ggml backend registry unreadable: %s", exc)
            continue
        return names
    return None


def probe_llama_build(
    importer: Callable[[str], ModuleType] = importlib.import_module,
) -> LlamaBuild:
    """Probe the installed llama-cpp-python (imported here, never at module import).

    Args:
        importer: imports a module by name (tests pass a fake).

    Returns:
        The build's capabilities; ``available=False`` (with ``error``) when llama_cpp
        is missing or its library does not load. Never raises.
    """
    try:
        llama_cpp = importer("llama_cpp")
    except Exception as exc:  # ImportError, or OSError/RuntimeError from the shared library
        log.info("llama_cpp is not usable: %s", exc)
        return LlamaBuild(
            available=False,
            gpu_offload=False,
            gpu_backend=None,
            system_info="",
            version=None,
            error=f"{type(exc).__name__}: {exc}",
        )
    version = getattr(llama_cpp, "__version__", None)
    try:
        gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception as exc:
        log.debug("llama_supports_gpu_offload failed: %s", exc)
        gpu_offload = False
    try:
        raw = llama_cpp.llama_print_system_info()
        system_info = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    except Exception as exc:
        log.debug("llama_print_system_info failed: %s", exc)
        system_info = ""
    system_info = system_info.strip()

    backend: str | None = None
    names = _registry_backend_names(
        [getattr(llama_cpp, "llama_cpp", None), sys.modules.get("llama_cpp._ggml")]
    )
    for name in names or ():
        backend = _GPU_BACKENDS.get(name.strip().lower())
        if backend:
            break
    if backend is None:
        backend = gpu_backend_from_system_info(system_info)
    return LlamaBuild(
        available=True,
        gpu_offload=gpu_offload,
        gpu_backend=backend,
        system_info=system_info,
        version=str(version) if version else None,
    )


# --------------------------------------------------------------------------- torch


def probe_torch(
    *,
    distribution: Callable[[str], Any] = importlib.metadata.distribution,
    system: str | None = None,
    machine: str | None = None,
) -> TorchInfo:
    """What the installed PyTorch build can use, read from its package metadata.

    torch is never imported here. Importing it costs seconds, and in a process that had
    already loaded llama.cpp's CUDA build it crashed with a segmentation fault (seen on
    an H200: torch 2.11+cu130 beside a CUDA llama-cpp-python, two CUDA runtimes in one
    process). Whether the device really works is checked by the torch backend when it
    loads, in the worker.

    Args:
        distribution: returns a package's installed distribution (tests pass a fake).
        system: ``platform.system()``; MPS exists only on macOS.
        machine: ``platform.machine()``; MPS needs Apple Silicon ("arm64").

    Returns:
        What torch can do; never raises.
    """
    try:
        dist = distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        return NO_TORCH
    except Exception as exc:
        log.info("torch's metadata is unreadable: %s", exc)
        return NO_TORCH
    version = str(dist.version)
    local = version.partition("+")[2].lower()
    requires = " ".join(dist.requires or ())
    # "+cu130" wheels say so in their version; PyPI's plain Linux wheels depend on
    # NVIDIA's runtime packages instead (nvidia-cuda-runtime-cu12 up to torch 2.8,
    # cuda-toolkit[cudart] in the CUDA 13 builds); "+cpu" and "+rocm" builds have no CUDA.
    cuda = local.startswith("cu") or (
        not local and ("nvidia-cuda-runtime" in requires or "cuda-toolkit" in requires)
    )
    system = system or platform.system()
    machine = machine or platform.machine()
    mps = system == "Darwin" and machine == "arm64"
    return TorchInfo(
        available=True,
        version=version,
        cuda=cuda,
        mps=mps,
        device_name="Apple GPU (MPS)" if mps else None,
    )


# --------------------------------------------------------------------------- top level


def probe_hardware(
    *,
    cpu_probe: Callable[[], CpuInfo] | None = None,
    memory_probe: Callable[[], tuple[int, int]] | None = None,
    gpu_probe: Callable[[], tuple[GpuInfo, ...]] | None = None,
    llama_probe: Callable[[], LlamaBuild] | None = None,
    torch_probe: Callable[[], TorchInfo] | None = None,
    platform_probe: Callable[[], tuple[str, str]] | None = None,
) -> Hardware:
    """Probe this computer. Every piece can be replaced, so tests can fake any machine.

    Args:
        cpu_probe: returns the CPU (default :func:`probe_cpu`).
        memory_probe: returns (RAM total, RAM available) (default :func:`probe_memory`).
        gpu_probe: returns the GPUs (default :func:`probe_gpus` for this machine).
        llama_probe: returns the llama.cpp build (default :func:`probe_llama_build`).
        torch_probe: returns the torch install (default :func:`probe_torch`).
        platform_probe: returns (``platform.system()``, ``platform.machine()``).

    Returns:
        The hardware description. The default probes never raise.
    """
    system, machine = (
        platform_probe() if platform_probe else (platform.system(), platform.machine())
    )
    cpu = cpu_probe() if cpu_probe else probe_cpu(system=system, machine=machine)
    ram_total, ram_available = memory_probe() if memory_probe else probe_memory()
    if gpu_probe is not None:
        gpus = tuple(gpu_probe())
    else:
        gpus = probe_gpus(
            system=system,
            machine=machine,
            cpu_model=cpu.model,
            ram_total=ram_total,
            ram_available=ram_available,
        )
    llama = llama_probe() if llama_probe else probe_llama_build()
    torch = torch_probe() if torch_probe else probe_torch(system=system, machine=machine)
    return Hardware(
        cpu=cpu,
        ram_total=ram_total,
        ram_available=ram_available,
        gpus=gpus,
        llama=llama,
        torch=torch,
        os=system,
        machine=machine,
    )
