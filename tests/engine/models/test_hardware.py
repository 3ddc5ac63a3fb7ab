"""Tests for engine.models.hardware: probing (faked and real) and backend planning."""

from __future__ import annotations

import importlib.metadata
import json
import stat
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.models import hardware as hwmod
from engine.models import plan as planmod
from engine.models.hardware import (
    NO_TORCH,
    CpuInfo,
    GpuInfo,
    Hardware,
    LlamaBuild,
    TorchInfo,
    format_bytes,
    probe_hardware,
)
from engine.models.plan import ALL_LAYERS, fit_badge, fit_badge_label, plan_backend

GB = 1000**3
MB = 1000**2
MIB = 1024**2


# --------------------------------------------------------------------------- fakes


@dataclass(frozen=True)
class FakeEstimate:
    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class FakeModel:
    """Implements plan.ModelShape the way gguf_info.GGUFInfo will."""

    architecture: str
    block_count: int
    layer_bytes: tuple[int, ...]
    non_layer_bytes: int
    context_length: int
    kv_per_token_per_layer: int
    compute: int

    def layer_kv_bytes(self, n_ctx: int) -> int:
        return n_ctx * self.kv_per_token_per_layer

    def kv_cache_bytes(self, n_ctx: int) -> int:
        return self.block_count * self.layer_kv_bytes(n_ctx)

    def memory_estimate(self, n_ctx: int) -> FakeEstimate:
        weights = sum(self.layer_bytes) + self.non_layer_bytes
        kv = self.kv_cache_bytes(n_ctx)
        return FakeEstimate(weights, kv, self.compute, weights + kv + self.compute)


# Llama-3-8B-like: 32 blocks of 218 MB, 1.05 GB embeddings/head, 8 KV heads x 128 dims, f16 K+V.
LAYER_8B = 218 * MB
NON_LAYER_8B = 1050 * MB
KV_8B = 8 * 128 * 2 * 2
COMPUTE_8B = 500 * MB
MODEL_8B = FakeModel(
    architecture="llama",
    block_count=32,
    layer_bytes=(LAYER_8B,) * 32,
    non_layer_bytes=NON_LAYER_8B,
    context_length=8192,
    kv_per_token_per_layer=KV_8B,
    compute=COMPUTE_8B,
)
# SmolLM2-135M-like: 30 small blocks, 3 KV heads x 64 dims.
MODEL_135M = FakeModel(
    architecture="llama",
    block_count=30,
    layer_bytes=(3_500_000,) * 30,
    non_layer_bytes=30 * MB,
    context_length=8192,
    kv_per_token_per_layer=3 * 64 * 2 * 2,
    compute=50 * MB,
)

CTX = 4096
ALL_8B = MODEL_8B.block_count + 1

CUDA_BUILD = LlamaBuild(
    available=True,
    gpu_offload=True,
    gpu_backend="CUDA",
    system_info="CUDA : ARCHS = 890 | USE_GRAPHS = 1 | CPU : AVX2 = 1 |",
    version="0.3.36",
)
METAL_BUILD = LlamaBuild(
    available=True,
    gpu_offload=True,
    gpu_backend="Metal",
    system_info="Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 |",
    version="0.3.36",
)
CPU_BUILD = LlamaBuild(
    available=True,
    gpu_offload=False,
    gpu_backend=None,
    system_info="CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 |",
    version="0.3.36",
)
NO_LLAMA = LlamaBuild(
    available=False,
    gpu_offload=False,
    gpu_backend=None,
    system_info="",
    version=None,
    error="ModuleNotFoundError: No module named 'llama_cpp'",
)
TORCH_CUDA = TorchInfo(
    available=True, version="2.5.1", cuda=True, mps=False, device_name="NVIDIA GeForce RTX 4070"
)
TORCH_MPS = TorchInfo(
    available=True, version="2.5.1", cuda=False, mps=True, device_name="Apple GPU (MPS)"
)
TORCH_CPU = TorchInfo(available=True, version="2.5.1", cuda=False, mps=False, device_name=None)

X86_CPU = CpuInfo(
    model="AMD Ryzen 7 5800X",
    physical_cores=8,
    logical_cores=16,
    flags=("sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c"),
)
SMALL_CPU = CpuInfo(model="Intel Core i3", physical_cores=2, logical_cores=2, flags=("avx", "avx2"))
M2_CPU = CpuInfo(
    model="Apple M2 Pro",
    physical_cores=12,
    logical_cores=12,
    flags=("neon", "dotprod", "i8mm"),
    performance_cores=8,
)


def nvidia(name: str, total_mib: int, free_mib: int, index: int = 0) -> GpuInfo:
    return GpuInfo(
        name=name,
        vendor="nvidia",
        api="cuda",
        vram_total=total_mib * MIB,
        vram_free=free_mib * MIB,
        driver="550.54.14",
        index=index,
    )


RTX_4090 = nvidia("NVIDIA GeForce RTX 4090", 24564, 23500)
RTX_4070 = nvidia("NVIDIA GeForce RTX 4070", 8188, 6771)  # 7.1 GB free
GT_1030 = nvidia("NVIDIA GeForce GT 1030", 2048, 1900)


def make_hw(
    *,
    cpu: CpuInfo = X86_CPU,
    gpus: Sequence[GpuInfo] = (),
    llama: LlamaBuild = CPU_BUILD,
    torch: TorchInfo = NO_TORCH,
    system: str = "Linux",
    machine: str = "x86_64",
    ram_total: int = 32 * GB,
    ram_available: int = 24 * GB,
) -> Hardware:
    return probe_hardware(
        cpu_probe=lambda: cpu,
        memory_probe=lambda: (ram_total, ram_available),
        gpu_probe=lambda: tuple(gpus),
        llama_probe=lambda: llama,
        torch_probe=lambda: torch,
        platform_probe=lambda: (system, machine),
    )


def mac_hw(llama: LlamaBuild, torch: TorchInfo = NO_TORCH) -> Hardware:
    ram_total, ram_available = 32 * 1024**3, 20 * GB
    gpus = hwmod.probe_gpus(
        system="Darwin",
        machine="arm64",
        cpu_model=M2_CPU.model,
        ram_total=ram_total,
        ram_available=ram_available,
        nvidia_probe=lambda: (),
    )
    return make_hw(
        cpu=M2_CPU,
        gpus=gpus,
        llama=llama,
        torch=torch,
        system="Darwin",
        machine="arm64",
        ram_total=ram_total,
        ram_available=ram_available,
    )


def expected_layers(gpu: GpuInfo, model: FakeModel, n_ctx: int) -> int:
    """The fitting rule, written out independently: headroom 5% + 300 MB, head + compute first."""
    usable = gpu.vram_free - (0.05 * gpu.vram_total + 300 * MB)
    left = usable - model.non_layer_bytes - model.compute
    if left < 0:
        return 0
    per_layer = model.layer_bytes[0] + model.kv_per_token_per_layer * n_ctx
    n = min(int(left // per_layer), model.block_count)
    return model.block_count + 1 if n == model.block_count else n


# --------------------------------------------------------------------------- CUDA box


def test_cuda_24gb_card_takes_the_whole_8b_model() -> None:
    hw = make_hw(gpus=[RTX_4090], llama=CUDA_BUILD)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    assert plan.backend == "llamacpp"
    assert plan.device == "cuda"
    assert plan.n_gpu_layers == ALL_8B == 33
    assert plan.n_layers_total == 33
    assert plan.full_offload
    assert plan.reason.startswith("CUDA: NVIDIA")
    assert plan.reason == "CUDA: NVIDIA GeForce RTX 4090, 33/33 layers on GPU"
    assert plan.gpu_name == "NVIDIA GeForce RTX 4090"
    assert plan.warnings == ()
    assert fit_badge(hw, MODEL_8B, CTX) == "gpu"


def test_cuda_8gb_card_gets_a_partial_offload() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CUDA_BUILD)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    want = expected_layers(RTX_4070, MODEL_8B, CTX)
    assert 0 < want < MODEL_8B.block_count
    assert want == 20  # the numbers above, worked by hand: 4.82 GB left / 234.8 MB a layer
    assert plan.device == "cuda"
    assert plan.n_gpu_layers == want
    assert not plan.full_offload
    assert plan.reason == (
        f"CUDA: NVIDIA GeForce RTX 4070, {want}/33 layers on GPU "
        "(7.1 GB free VRAM; the rest runs on the CPU)"
    )
    assert planmod.layers_that_fit(MODEL_8B, CTX, planmod.usable_vram(RTX_4070)) == want
    assert fit_badge(hw, MODEL_8B, CTX) == "ram"


def test_longer_context_fits_fewer_layers() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CUDA_BUILD)
    short = plan_backend(hw, MODEL_8B, n_ctx=2048)
    long = plan_backend(hw, MODEL_8B, n_ctx=8192)
    assert short.n_gpu_layers == expected_layers(RTX_4070, MODEL_8B, 2048)
    assert long.n_gpu_layers == expected_layers(RTX_4070, MODEL_8B, 8192)
    assert long.n_gpu_layers < short.n_gpu_layers


def test_cuda_2gb_card_fits_nothing_so_cpu() -> None:
    hw = make_hw(gpus=[GT_1030], llama=CUDA_BUILD)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    assert expected_layers(GT_1030, MODEL_8B, CTX) == 0
    assert plan.device == "cpu"
    assert plan.backend == "llamacpp"
    assert plan.n_gpu_layers == 0
    assert plan.gpu_name is None
    assert plan.reason.startswith("CPU: ")
    assert "NVIDIA GeForce GT 1030" in plan.reason
    assert "8 threads" in plan.reason


def test_small_model_fits_fully_even_on_a_2gb_card() -> None:
    hw = make_hw(gpus=[GT_1030], llama=CUDA_BUILD)
    plan = plan_backend(hw, MODEL_135M, n_ctx=CTX)
    assert plan.device == "cuda"
    assert plan.n_gpu_layers == MODEL_135M.block_count + 1 == 31
    assert plan.reason == "CUDA: NVIDIA GeForce GT 1030, 31/31 layers on GPU"


def test_two_gpus_pool_their_vram() -> None:
    a = nvidia("NVIDIA GeForce RTX 3060", 6144, 5600, index=0)
    b = nvidia("NVIDIA GeForce RTX 3060", 6144, 5600, index=1)
    one = plan_backend(make_hw(gpus=[a], llama=CUDA_BUILD), MODEL_8B, n_ctx=CTX)
    two = plan_backend(make_hw(gpus=[a, b], llama=CUDA_BUILD), MODEL_8B, n_ctx=CTX)
    assert 0 < one.n_gpu_layers < 33
    assert two.n_gpu_layers == 33
    assert two.reason == "CUDA: 2× NVIDIA GeForce RTX 3060, 33/33 layers on GPU"


def test_no_model_plans_the_device_only() -> None:
    plan = plan_backend(make_hw(gpus=[RTX_4070], llama=CUDA_BUILD), None, n_ctx=0)
    assert plan.device == "cuda"
    assert plan.n_gpu_layers == ALL_LAYERS
    assert plan.n_layers_total is None
    assert plan.full_offload
    assert plan.reason == "CUDA: NVIDIA GeForce RTX 4070, all layers on GPU"
    assert plan.n_ctx == planmod.DEFAULT_CONTEXT
    assert plan.memory_needed is None

    cpu_plan = plan_backend(make_hw(), None, n_ctx=0)
    assert cpu_plan.device == "cpu"
    assert cpu_plan.n_gpu_layers == 0


# --------------------------------------------------------------------------- NVIDIA, CPU-only build


def test_nvidia_with_cpu_only_build_says_how_to_fix() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CPU_BUILD)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    assert plan.backend == "llamacpp"
    assert plan.device == "cpu"
    assert plan.n_gpu_layers == 0
    assert "built without GPU support" in plan.reason
    assert 'CMAKE_ARGS="-DGGML_CUDA=on"' in plan.reason
    assert "NVIDIA GeForce RTX 4070" in plan.reason
    assert "\n" not in plan.reason


def test_nvidia_with_cpu_only_build_uses_torch_cuda_when_present() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CPU_BUILD, torch=TORCH_CUDA)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    assert plan.backend == "torch"
    assert plan.device == "cuda"
    assert plan.gpu_name == "NVIDIA GeForce RTX 4070"
    assert plan.reason.startswith("CUDA via PyTorch: llama.cpp was built without GPU support")
    assert "NVIDIA GeForce RTX 4070" in plan.reason


def test_forcing_llamacpp_never_switches_to_torch() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CPU_BUILD, torch=TORCH_CUDA)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX, settings_backend="llamacpp")
    assert plan.backend == "llamacpp"
    assert plan.device == "cpu"
    assert "CMAKE_ARGS" in plan.reason


def test_cuda_build_that_cannot_reach_the_gpu_blames_the_driver() -> None:
    broken = LlamaBuild(
        available=True, gpu_offload=False, gpu_backend="CUDA", system_info="", version="0.3.36"
    )
    plan = plan_backend(make_hw(gpus=[RTX_4070], llama=broken), MODEL_8B, n_ctx=CTX)
    assert plan.device == "cpu"
    assert "built with CUDA" in plan.reason
    assert "NVIDIA driver" in plan.reason


# --------------------------------------------------------------------------- Mac


def test_mac_with_metal_build_offloads_everything() -> None:
    hw = mac_hw(METAL_BUILD)
    assert hw.gpus[0].unified_memory
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    assert plan.backend == "llamacpp"
    assert plan.device == "metal"
    assert plan.n_gpu_layers == ALL_8B
    assert plan.reason == "Metal: Apple M2 Pro, 33/33 layers on GPU"
    assert plan.n_threads == 8  # performance cores, as llama.cpp picks on Apple Silicon
    # Unified memory: RAM and "VRAM" are the same memory, so only free RAM counts.
    assert plan.memory_free == hw.ram_available
    assert plan_backend(hw, None, n_ctx=0).reason == "Metal: Apple M2 Pro, all layers on GPU"


def test_mac_with_cpu_only_build_and_no_torch_says_metal_flag() -> None:
    plan = plan_backend(mac_hw(CPU_BUILD), MODEL_8B, n_ctx=CTX)
    assert plan.device == "cpu"
    assert plan.backend == "llamacpp"
    assert 'CMAKE_ARGS="-DGGML_METAL=on"' in plan.reason
    assert "Apple M2 Pro" in plan.reason


def test_mac_with_cpu_only_build_uses_torch_mps() -> None:
    plan = plan_backend(mac_hw(CPU_BUILD, TORCH_MPS), MODEL_8B, n_ctx=CTX)
    assert plan.backend == "torch"
    assert plan.device == "mps"
    assert plan.reason.startswith("MPS via PyTorch:")


def test_metal_working_set_share() -> None:
    assert hwmod.metal_working_set(16 * GB) == int(16 * GB * 2 / 3)
    assert hwmod.metal_working_set(36 * GB) == int(36 * GB * 2 / 3)
    assert hwmod.metal_working_set(64 * GB) == int(64 * GB * 3 / 4)


def test_apple_gpu_only_on_apple_silicon() -> None:
    kwargs = {"cpu_model": "Apple M1", "ram_total": 16 * GB, "ram_available": 4 * GB}
    gpu = hwmod.apple_gpu(system="Darwin", machine="arm64", **kwargs)  # type: ignore[arg-type]
    assert gpu is not None
    assert gpu.name == "Apple M1"
    assert gpu.api == "metal"
    assert gpu.vram_total == int(16 * GB * 2 / 3)
    assert gpu.vram_free == 4 * GB  # capped by free RAM
    assert hwmod.apple_gpu(system="Darwin", machine="x86_64", **kwargs) is None  # type: ignore[arg-type]
    assert hwmod.apple_gpu(system="Linux", machine="arm64", **kwargs) is None  # type: ignore[arg-type]
    odd = hwmod.apple_gpu(
        system="Darwin", machine="arm64", cpu_model="", ram_total=8 * GB, ram_available=GB
    )
    assert odd is not None and odd.name == "Apple M-series"


# --------------------------------------------------------------------------- CPU-only box


def test_cpu_only_box_reason_and_threads() -> None:
    plan = plan_backend(make_hw(cpu=SMALL_CPU), MODEL_135M, n_ctx=CTX)
    assert plan.backend == "llamacpp"
    assert plan.device == "cpu"
    assert plan.reason == "CPU: no supported GPU found; 2 threads (AVX2)"
    assert plan.n_threads == 2
    assert plan.n_threads_batch == 2

    plan = plan_backend(make_hw(cpu=X86_CPU), MODEL_8B, n_ctx=CTX)
    assert "no supported GPU" in plan.reason
    assert plan.n_threads == X86_CPU.physical_cores == 8
    assert plan.n_threads_batch == X86_CPU.logical_cores == 16


def test_threads_setting_overrides_decode_threads() -> None:
    plan = plan_backend(make_hw(), MODEL_8B, n_ctx=CTX, threads=3)
    assert plan.n_threads == 3
    assert plan.n_threads_batch == 16
    assert "3 threads (AVX2)" in plan.reason


def test_gpu_offload_off() -> None:
    for hw in (make_hw(), make_hw(gpus=[RTX_4090], llama=CUDA_BUILD)):
        plan = plan_backend(hw, MODEL_8B, n_ctx=CTX, gpu_offload="off")
        assert plan.device == "cpu"
        assert plan.n_gpu_layers == 0
        assert plan.reason.startswith("CPU: GPU offload is turned off in Settings")


def test_gpu_offload_number() -> None:
    hw = make_hw(gpus=[RTX_4090], llama=CUDA_BUILD)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX, gpu_offload="10")
    assert plan.device == "cuda"
    assert plan.n_gpu_layers == 10
    assert plan.reason == "CUDA: NVIDIA GeForce RTX 4090, 10/33 layers on GPU (set in Settings)"
    assert plan.warnings == ()

    capped = plan_backend(hw, MODEL_8B, n_ctx=CTX, gpu_offload="99")
    assert capped.n_gpu_layers == ALL_8B
    assert capped.full_offload

    zero = plan_backend(hw, MODEL_8B, n_ctx=CTX, gpu_offload="0")
    assert zero.device == "cpu"
    assert "set to 0 layers in Settings" in zero.reason

    # More layers than fit: done as asked, with a warning.
    small = make_hw(gpus=[RTX_4070], llama=CUDA_BUILD)
    over = plan_backend(small, MODEL_8B, n_ctx=CTX, gpu_offload="30")
    assert over.n_gpu_layers == 30
    assert any("only about 20 fit" in w for w in over.warnings)


def test_gpu_offload_number_on_cpu_only_box_warns() -> None:
    plan = plan_backend(make_hw(), MODEL_8B, n_ctx=CTX, gpu_offload="10")
    assert plan.device == "cpu"
    assert plan.n_gpu_layers == 0
    assert "no supported GPU" in plan.reason
    assert any("10 layers" in w for w in plan.warnings)


def test_bad_settings_fall_back_to_auto_with_warnings() -> None:
    plan = plan_backend(
        make_hw(gpus=[RTX_4090], llama=CUDA_BUILD),
        MODEL_8B,
        n_ctx=CTX,
        gpu_offload="lots",
        settings_backend="onnx",
    )
    assert plan.n_gpu_layers == ALL_8B
    assert len(plan.warnings) == 2


def test_forced_torch_without_torch_falls_back_to_llamacpp() -> None:
    plan = plan_backend(make_hw(), MODEL_8B, n_ctx=CTX, settings_backend="torch")
    assert plan.backend == "llamacpp"
    assert plan.device == "cpu"
    assert "PyTorch is not installed" in plan.reason
    assert any("PyTorch" in w for w in plan.warnings)


def test_forced_torch_with_torch() -> None:
    cuda = plan_backend(
        make_hw(gpus=[RTX_4090], llama=CUDA_BUILD, torch=TORCH_CUDA),
        MODEL_8B,
        n_ctx=CTX,
        settings_backend="torch",
    )
    assert (cuda.backend, cuda.device) == ("torch", "cuda")
    assert cuda.reason == "CUDA via PyTorch: NVIDIA GeForce RTX 4090 (set in Settings)"
    cpu = plan_backend(make_hw(torch=TORCH_CPU), MODEL_8B, n_ctx=CTX, settings_backend="torch")
    assert (cpu.backend, cpu.device) == ("torch", "cpu")
    assert cpu.reason.startswith("CPU via PyTorch")


def test_cuda_torch_build_without_an_nvidia_gpu_runs_on_the_cpu() -> None:
    """PyPI's default Linux torch is a CUDA build; most machines have no NVIDIA GPU."""
    plan = plan_backend(make_hw(torch=TORCH_CUDA), MODEL_8B, n_ctx=CTX, settings_backend="torch")
    assert (plan.backend, plan.device) == ("torch", "cpu")
    assert plan.reason.startswith("CPU via PyTorch")


def test_llama_missing() -> None:
    plan = plan_backend(make_hw(llama=NO_LLAMA), MODEL_8B, n_ctx=CTX)
    assert plan.backend == "llamacpp"
    assert plan.device == "cpu"
    assert "llama.cpp is not installed" in plan.reason
    assert any("llama-cpp-python" in w for w in plan.warnings)
    with_torch = plan_backend(
        make_hw(gpus=[RTX_4070], llama=NO_LLAMA, torch=TORCH_CUDA), MODEL_8B, n_ctx=CTX
    )
    assert (with_torch.backend, with_torch.device) == ("torch", "cuda")


def test_unmeasurable_gpu_backend() -> None:
    rocm = LlamaBuild(
        available=True,
        gpu_offload=True,
        gpu_backend="ROCm",
        system_info="ROCm : NO_VMM = 1 | CPU : AVX2 = 1 |",
        version="0.3.36",
    )
    auto = plan_backend(make_hw(llama=rocm), MODEL_8B, n_ctx=CTX)
    assert auto.device == "cpu"
    assert "ROCm" in auto.reason
    assert "number of layers in Settings" in auto.reason
    manual = plan_backend(make_hw(llama=rocm), MODEL_8B, n_ctx=CTX, gpu_offload="20")
    assert (manual.device, manual.n_gpu_layers) == ("rocm", 20)
    assert manual.reason == "ROCm: 20/33 layers on GPU (set in Settings)"


def test_vulkan_build_uses_the_nvidia_card() -> None:
    vulkan = LlamaBuild(
        available=True, gpu_offload=True, gpu_backend="Vulkan", system_info="", version="x"
    )
    plan = plan_backend(make_hw(gpus=[RTX_4090], llama=vulkan), MODEL_8B, n_ctx=CTX)
    assert (plan.device, plan.n_gpu_layers) == ("vulkan", ALL_8B)
    assert plan.reason.startswith("Vulkan: NVIDIA GeForce RTX 4090")


def test_context_choice() -> None:
    hw = make_hw()
    assert plan_backend(hw, MODEL_8B, n_ctx=0).n_ctx == 4096
    tiny_ctx = FakeModel("llama", 2, (1000, 1000), 1000, 2048, 16, 1000)
    assert plan_backend(hw, tiny_ctx, n_ctx=0).n_ctx == 2048
    # Above the trained length the context is lowered to it, and the user is told.
    over = plan_backend(hw, tiny_ctx, n_ctx=4096)
    assert over.n_ctx == 2048
    assert any("4,096" in w and "2,048 tokens" in w for w in over.warnings)


# --------------------------------------------------------------------------- memory warnings, badge


def test_too_large_warning_when_ram_is_small() -> None:
    hw = make_hw(ram_total=8 * GB, ram_available=int(6.1 * GB))
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    need = MODEL_8B.memory_estimate(CTX).total_bytes
    assert plan.memory_needed == need
    assert plan.too_large
    assert (
        f"This model needs about {format_bytes(need)} but only 6.1 GB of memory is free; "
        "it may not load or may be very slow." in plan.warnings
    )
    assert fit_badge(hw, MODEL_8B, CTX) == "too_large"
    assert fit_badge(hw, MODEL_135M, CTX) == "ram"

    roomy = plan_backend(make_hw(), MODEL_8B, n_ctx=CTX)
    assert not roomy.too_large
    assert roomy.warnings == ()


def test_partial_offload_counts_vram_towards_free_memory() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CUDA_BUILD, ram_total=8 * GB, ram_available=4 * GB)
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    assert plan.memory_free == 4 * GB + planmod.usable_vram(RTX_4070)
    assert not plan.too_large


def test_fit_badge_labels() -> None:
    assert fit_badge_label("gpu") == "Fits on GPU"
    assert fit_badge_label("ram") == "Fits in memory"
    assert fit_badge_label("too_large") == "Too large"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (12_000, "12 kB"),
        (218 * MB, "218 MB"),
        (7_099_908_096, "7.1 GB"),
        (GB, "1.0 GB"),
        (1_200 * GB, "1.2 TB"),
    ],
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


# --------------------------------------------------------------------------- nvidia-smi

NVIDIA_SMI_SAMPLE = """\
NVIDIA GeForce RTX 4090, 24564, 23012, 550.54.14
NVIDIA GeForce RTX 3060, 12288, [N/A], 550.54.14
NVIDIA GH200 480GB, [N/A], [N/A], [N/A]

"""


def test_parse_nvidia_smi_multi_gpu_and_na() -> None:
    gpus = hwmod.parse_nvidia_smi(NVIDIA_SMI_SAMPLE)
    assert [g.name for g in gpus] == [
        "NVIDIA GeForce RTX 4090",
        "NVIDIA GeForce RTX 3060",
        "NVIDIA GH200 480GB",
    ]
    assert [g.index for g in gpus] == [0, 1, 2]
    assert gpus[0].vram_total == 24564 * MIB
    assert gpus[0].vram_free == 23012 * MIB
    assert gpus[0].driver == "550.54.14"
    assert gpus[0].vendor == "nvidia" and gpus[0].api == "cuda"
    assert gpus[1].vram_free == gpus[1].vram_total == 12288 * MIB  # free unknown -> total
    assert gpus[2].vram_total == 0 and gpus[2].driver is None  # memory unknown


def test_unknown_nvidia_memory_becomes_unified() -> None:
    gpus = hwmod.probe_gpus(
        system="Linux",
        machine="aarch64",
        cpu_model="Neoverse-V2",
        ram_total=480 * GB,
        ram_available=400 * GB,
        nvidia_probe=lambda: hwmod.parse_nvidia_smi(NVIDIA_SMI_SAMPLE),
    )
    assert len(gpus) == 3
    assert not gpus[0].unified_memory
    assert gpus[2].unified_memory
    assert (gpus[2].vram_total, gpus[2].vram_free) == (480 * GB, 400 * GB)


def test_probe_nvidia_gpus_uses_the_query() -> None:
    seen: list[list[str]] = []

    def run(args: Sequence[str], timeout: float) -> str | None:
        seen.append(list(args))
        assert timeout == 3.0
        return NVIDIA_SMI_SAMPLE

    assert len(hwmod.probe_nvidia_gpus(run=run)) == 3
    assert seen == [
        [
            "nvidia-smi",
            "--query-gpu=name,memory.total,memory.free,driver_version",
            "--format=csv,noheader,nounits",
        ]
    ]


def test_probe_nvidia_gpus_failures_give_no_gpus(tmp_path: Path) -> None:
    assert hwmod.probe_nvidia_gpus(executable=str(tmp_path / "no-such-nvidia-smi")) == ()
    assert hwmod.probe_nvidia_gpus(run=lambda args, timeout: None) == ()
    assert hwmod.probe_nvidia_gpus(run=lambda args, timeout: "") == ()
    assert hwmod.probe_nvidia_gpus(run=lambda args, timeout: "garbage\n\x00,,\n") == ()


@pytest.mark.skipif(sys.platform == "win32", reason="uses shell scripts")
def test_probe_nvidia_gpus_real_process_failures(tmp_path: Path) -> None:
    failing = tmp_path / "nvidia-smi-fails"
    failing.write_text(
        "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate' >&2\nexit 9\n"
    )
    hanging = tmp_path / "nvidia-smi-hangs"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    working = tmp_path / "nvidia-smi-works"
    working.write_text(f"#!/bin/sh\ncat <<'EOF'\n{NVIDIA_SMI_SAMPLE}EOF\n")
    for script in (failing, hanging, working):
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    assert hwmod.probe_nvidia_gpus(executable=str(failing)) == ()
    assert hwmod.probe_nvidia_gpus(executable=str(hanging), timeout=0.3) == ()
    assert len(hwmod.probe_nvidia_gpus(executable=str(working))) == 3


# --------------------------------------------------------------------------- llama.cpp build


def _fake_llama(
    *, offload: bool = True, info: bytes = b"", version: str = "0.3.36", **extra: object
) -> types.ModuleType:
    mod = types.ModuleType("llama_cpp")
    mod.__version__ = version  # type: ignore[attr-defined]
    mod.llama_supports_gpu_offload = lambda: offload  # type: ignore[attr-defined]
    mod.llama_print_system_info = lambda: info  # type: ignore[attr-defined]
    for name, value in extra.items():
        setattr(mod, name, value)
    return mod


def test_llama_probe_import_failure_is_not_an_error() -> None:
    def missing(name: str) -> types.ModuleType:
        raise ModuleNotFoundError(f"No module named {name!r}")

    def broken(name: str) -> types.ModuleType:
        raise RuntimeError("Failed to load shared library 'libllama.so'")

    for importer in (missing, broken):
        build = hwmod.probe_llama_build(importer)
        assert build.available is False
        assert build.gpu_offload is False
        assert build.gpu_backend is None
        assert build.version is None
        assert build.error is not None


def test_llama_probe_cuda_build() -> None:
    info = b"CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : AVX2 = 1 |"
    build = hwmod.probe_llama_build(lambda name: _fake_llama(info=info))
    assert build == LlamaBuild(
        available=True,
        gpu_offload=True,
        gpu_backend="CUDA",
        system_info=info.decode(),
        version="0.3.36",
    )


def test_llama_probe_uses_the_backend_registry_when_exposed() -> None:
    inner = types.SimpleNamespace(
        ggml_backend_reg_count=lambda: 2,
        ggml_backend_reg_get=lambda i: 100 + i,
        ggml_backend_reg_name=lambda reg: [b"Vulkan", b"CPU"][reg - 100],
    )
    build = hwmod.probe_llama_build(
        lambda name: _fake_llama(info=b"CPU : AVX2 = 1 |", llama_cpp=inner)
    )
    assert build.gpu_backend == "Vulkan"


def test_llama_probe_survives_failing_calls() -> None:
    def boom() -> bool:
        raise OSError("symbol not found")

    mod = _fake_llama()
    mod.llama_supports_gpu_offload = boom  # type: ignore[attr-defined]
    mod.llama_print_system_info = boom  # type: ignore[attr-defined]
    build = hwmod.probe_llama_build(lambda name: mod)
    assert build.available
    assert not build.gpu_offload
    assert build.system_info == ""
    assert build.gpu_backend is None


@pytest.mark.parametrize(
    ("info", "backend"),
    [
        ("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |", None),
        ("Metal : EMBED_LIBRARY = 1 | BF16 = 1 | CPU : NEON = 1 | ARM_FMA = 1 |", "Metal"),
        ("CUDA : ARCHS = 500,610,700 | USE_GRAPHS = 1 | CPU : AVX2 = 1 |", "CUDA"),
        ("Vulkan : CPU : AVX2 = 1 |", "Vulkan"),
        ("ROCm : NO_VMM = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : AVX2 = 1 |", "ROCm"),
        ("SYCL : CPU : AVX2 = 1 |", "SYCL"),
        ("AVX = 1 | AVX2 = 1 | BLAS = 1 | CUBLAS = 1 | SSE3 = 1 |", "CUDA"),
        ("AVX = 1 | METAL = 0 | CUBLAS = 0 | BLAS = 0 |", None),
        ("", None),
    ],
)
def test_gpu_backend_from_system_info(info: str, backend: str | None) -> None:
    assert hwmod.gpu_backend_from_system_info(info) == backend


# --------------------------------------------------------------------------- torch


def _dist(version: str, requires: list[str] | None = None) -> Callable[[str], object]:
    return lambda name: types.SimpleNamespace(version=version, requires=requires)


def _no_dist(name: str) -> object:
    raise importlib.metadata.PackageNotFoundError(name)


def test_torch_probe_never_imports_torch() -> None:
    assert hwmod.probe_torch(distribution=_no_dist) == NO_TORCH
    # In a fresh interpreter: other tests in this process may have imported torch.
    import subprocess

    script = (
        "import sys, engine.models.hardware as h\n"
        "h.probe_torch(system='Linux', machine='x86_64')\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("version", "requires", "system", "machine", "cuda", "mps"),
    [
        ("2.13.0+cpu", [], "Linux", "x86_64", False, False),
        ("2.11.0+cu130", [], "Linux", "x86_64", True, False),
        (
            "2.5.1",
            ["nvidia-cuda-runtime-cu12==12.4.127; platform_system == 'Linux'"],
            "Linux",
            "x86_64",
            True,
            False,
        ),
        (
            "2.11.0",
            ['cuda-toolkit[cublas,cudart]==13.0.2; platform_system == "Linux"'],
            "Linux",
            "x86_64",
            True,
            False,
        ),
        ("2.5.1+rocm6.2", [], "Linux", "x86_64", False, False),
        ("2.5.1", [], "Darwin", "arm64", False, True),
        ("2.5.1", None, "Windows", "AMD64", False, False),
    ],
)
def test_torch_probe_reads_the_build_from_metadata(
    version: str, requires: list[str] | None, system: str, machine: str, cuda: bool, mps: bool
) -> None:
    info = hwmod.probe_torch(distribution=_dist(version, requires), system=system, machine=machine)
    assert info.available and info.version == version
    assert (info.cuda, info.mps) == (cuda, mps)


# --------------------------------------------------------------------------- CPU probing

X86_CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz
flags\t\t: fpu vme pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512bw ht

processor\t: 1
model name\t: Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz
flags\t\t: fpu vme
"""

ARM_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp sve i8mm
CPU implementer\t: 0x41
"""


def test_parse_cpuinfo() -> None:
    model, flags = hwmod.parse_cpuinfo(X86_CPUINFO)
    assert model == "Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz"
    # Canonical names in a fixed order; "pni" is SSE3; non-SIMD flags dropped.
    assert flags == (
        "sse3",
        "ssse3",
        "sse4_1",
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512bw",
    )
    model, flags = hwmod.parse_cpuinfo(ARM_CPUINFO)
    assert model is None
    assert set(flags) == {"neon", "dotprod", "sve", "i8mm"}
    assert CpuInfo("x", 1, 1, flags).simd_level == "SVE"


def test_probe_cpu_linux_from_file(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(X86_CPUINFO)
    cpu = hwmod.probe_cpu(system="Linux", machine="x86_64", cpuinfo_path=str(path))
    assert cpu.model.startswith("Intel(R) Core(TM) i7-10700K")
    assert cpu.simd_level == "AVX-512"
    assert 1 <= cpu.physical_cores <= cpu.logical_cores
    missing = hwmod.probe_cpu(system="Linux", cpuinfo_path=str(tmp_path / "nope"))
    assert missing.flags == ()
    assert missing.model


def test_probe_cpu_mac_via_sysctl() -> None:
    answers = {
        ("sysctl", "-n", "machdep.cpu.brand_string"): "Apple M2 Pro\n",
        ("sysctl", "hw.optional"): (
            "hw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_I8MM: 1\n"
            "hw.optional.arm.FEAT_BF16: 0\nhw.optional.floatingpoint: 1\n"
        ),
        ("sysctl", "-n", "hw.perflevel0.physicalcpu"): "8\n",
    }

    def run(args: Sequence[str], timeout: float) -> str | None:
        return answers.get(tuple(args))

    cpu = hwmod.probe_cpu(system="Darwin", machine="arm64", run=run)
    assert cpu.model == "Apple M2 Pro"
    assert cpu.flags == ("neon", "dotprod", "i8mm")
    assert cpu.simd_level == "NEON"
    if cpu.physical_cores >= 8:
        assert cpu.performance_cores == 8
    assert cpu.default_threads == (cpu.performance_cores or cpu.physical_cores)

    silent = hwmod.probe_cpu(system="Darwin", machine="arm64", run=lambda args, timeout: None)
    assert silent.flags == ("neon",)
    assert silent.performance_cores is None


def test_default_threads() -> None:
    assert X86_CPU.default_threads == 8
    assert M2_CPU.default_threads == 8
    assert CpuInfo("x", 0, 0).default_threads == 1
    assert CpuInfo("x", 1, 1).simd_level is None


# --------------------------------------------------------------------------- real probe, JSON


def test_real_probe_runs_here() -> None:
    hw = probe_hardware()
    assert hw.cpu.logical_cores >= 1
    assert 1 <= hw.cpu.physical_cores <= hw.cpu.logical_cores
    assert hw.cpu.model
    assert hw.ram_total > GB
    assert 0 < hw.ram_available <= hw.ram_total
    assert hw.os
    assert isinstance(hw.llama.available, bool)
    text = json.dumps(hw.to_dict())
    back = json.loads(text)
    assert back["cpu"]["logical_cores"] == hw.cpu.logical_cores
    assert back["ram_total"] == hw.ram_total
    assert len(back["gpus"]) == len(hw.gpus)
    plan = plan_backend(hw, MODEL_135M, n_ctx=0)
    assert plan.n_threads >= 1
    assert plan.reason and "\n" not in plan.reason
    json.dumps(plan.to_dict())


def test_to_dict_round_trips() -> None:
    hw = make_hw(gpus=[RTX_4070], llama=CUDA_BUILD, torch=TORCH_CUDA)
    data = json.loads(json.dumps(hw.to_dict()))
    assert data["gpus"][0]["name"] == "NVIDIA GeForce RTX 4070"
    assert data["gpus"][0]["vram_free"] == 6771 * MIB
    assert data["cpu"]["simd_level"] == "AVX2"
    assert data["llama"]["gpu_backend"] == "CUDA"
    assert data["torch"]["cuda"] is True
    plan = plan_backend(hw, MODEL_8B, n_ctx=CTX)
    pdata = json.loads(json.dumps(plan.to_dict()))
    assert pdata["n_gpu_layers"] == plan.n_gpu_layers
    assert pdata["full_offload"] is False
    assert pdata["warnings"] == []
    assert pdata["reason"] == plan.reason
