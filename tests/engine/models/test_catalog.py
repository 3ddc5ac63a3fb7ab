"""The curated model catalog: the shipped file, validation errors, and fit-based recommendations."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from engine.errors import EngineError
from engine.models.catalog import (
    BITS_PER_WEIGHT,
    TASKS,
    CatalogEntry,
    default_catalog_path,
    entry_fit,
    find_entry,
    load_catalog,
    recommend,
)
from engine.models.hardware import NO_TORCH, CpuInfo, GpuInfo, Hardware, LlamaBuild
from engine.models.plan import fit_badge_label

GB = 1000**3
MIB = 1024**2

CPU = CpuInfo(model="Test CPU", physical_cores=8, logical_cores=16, flags=("avx2",))
CUDA_BUILD = LlamaBuild(
    available=True,
    gpu_offload=True,
    gpu_backend="CUDA",
    system_info="CUDA : ARCHS = 890 | CPU : AVX2 = 1",
    version="0.3.16",
)
CPU_BUILD = LlamaBuild(
    available=True,
    gpu_offload=False,
    gpu_backend=None,
    system_info="CPU : AVX2 = 1",
    version="0.3.16",
)


def machine(*, ram_total: int, ram_available: int, gpus: tuple[GpuInfo, ...] = ()) -> Hardware:
    return Hardware(
        cpu=CPU,
        ram_total=ram_total,
        ram_available=ram_available,
        gpus=gpus,
        llama=CUDA_BUILD if gpus else CPU_BUILD,
        torch=NO_TORCH,
        os="Linux",
        machine="x86_64",
    )


#: A desktop with an 8 GB card (7.6 GB free) and 16 GB of RAM, 10 GB of it available.
GPU_8GB = machine(
    ram_total=16 * GB,
    ram_available=10 * GB,
    gpus=(
        GpuInfo(
            name="NVIDIA GeForce RTX 4060",
            vendor="nvidia",
            api="cuda",
            vram_total=8188 * MIB,
            vram_free=7800 * MIB,
            driver="550.54.14",
        ),
    ),
)
#: The same 16 GB of RAM (10 GB available) without a usable GPU.
CPU_16GB = machine(ram_total=16 * GB, ram_available=10 * GB)
#: A small machine: 4 GB of RAM, 3 GB available.
SMALL_4GB = machine(ram_total=4 * GB, ram_available=3 * GB)


@pytest.fixture(scope="module")
def catalog() -> list[CatalogEntry]:
    return load_catalog()


def ids(entries: list[CatalogEntry]) -> list[str]:
    return [e.repo_id for e in entries]


# --------------------------------------------------------------------------- the shipped catalog


def test_shipped_catalog_loads_with_15_to_25_entries(catalog: list[CatalogEntry]) -> None:
    assert default_catalog_path().is_file()
    assert 15 <= len(catalog) <= 25
    for entry in catalog:
        assert entry.recommended_quant in entry.quantizations
        assert entry.recommended_quant in BITS_PER_WEIGHT
        assert set(entry.tasks) <= set(TASKS)
        assert entry.context_length >= 4096
        assert entry.description and entry.description_zh
        assert re.search(r"[\u4e00-\u9fff]", entry.description_zh), entry.repo_id


def test_repo_ids_are_unique_and_look_like_owner_name(catalog: list[CatalogEntry]) -> None:
    repo_ids = [e.repo_id.lower() for e in catalog]
    assert len(set(repo_ids)) == len(repo_ids)
    for entry in catalog:
        assert re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", entry.repo_id)
        assert entry.repo_id.lower().endswith("gguf"), entry.repo_id


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_a_small_and_a_large_model(catalog: list[CatalogEntry], task: str) -> None:
    for_task = [e for e in catalog if task in e.tasks]
    assert any(e.parameters < 2e9 for e in for_task), task
    assert any(e.parameters >= 7e9 for e in for_task), task


def test_sizes_range_from_under_1b_to_about_14b(catalog: list[CatalogEntry]) -> None:
    params = [e.parameters for e in catalog]
    assert min(params) < 1e9
    assert 13e9 <= max(params) <= 16e9


def test_chinese_capable_chat_and_code_models_exist(catalog: list[CatalogEntry]) -> None:
    chinese = [e for e in catalog if "zh" in e.languages]
    assert any("chat" in e.tasks for e in chinese)
    assert any("code" in e.tasks for e in chinese)
    # And the Chinese description is what a Chinese interface shows.
    entry = chinese[0]
    assert entry.description_for("zh_CN") == entry.description_zh
    assert entry.description_for("en") == entry.description


def test_coder_models_are_marked_for_fill_in_the_middle(catalog: list[CatalogEntry]) -> None:
    coders = [e for e in catalog if "Coder" in e.repo_id]
    assert coders
    assert all(e.fim and "code" in e.tasks for e in coders)


def test_no_file_sizes_or_hashes_in_the_shipped_file() -> None:
    data = json.loads(default_catalog_path().read_text(encoding="utf-8"))

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    found = {k for k in keys(data) if re.search(r"size|sha|hash|bytes|etag|file", k, re.I)}
    assert not found
    text = default_catalog_path().read_text(encoding="utf-8")
    assert not re.search(r"\b[0-9a-f]{40,64}\b", text)  # no digests
    assert ".gguf" not in text  # no file names: they come from the hub


def test_find_entry_is_case_insensitive(catalog: list[CatalogEntry]) -> None:
    entry = catalog[0]
    assert find_entry(catalog, entry.repo_id.upper()) == entry
    assert find_entry(catalog, "nobody/nothing-GGUF") is None


def test_to_dict_is_json_serializable(catalog: list[CatalogEntry]) -> None:
    out = json.loads(json.dumps(catalog[0].to_dict()))
    assert out["repo_id"] == catalog[0].repo_id
    assert out["tasks"] == list(catalog[0].tasks)


# --------------------------------------------------------------------------- recommendations


def test_8gb_gpu_gets_a_7b_coder_that_runs_on_the_gpu(catalog: list[CatalogEntry]) -> None:
    picks = recommend(catalog, task="code", hardware=GPU_8GB, n_ctx=4096)
    assert picks, "an 8 GB GPU fits several code models"
    best = picks[0]
    assert best.repo_id == "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF"
    assert best.fim
    assert fit_badge_label(entry_fit(best, GPU_8GB, 4096)) == "Fits on GPU"
    # Everything that runs wholly on the GPU comes before what needs system RAM too.
    badges = [entry_fit(e, GPU_8GB, 4096) for e in picks]
    assert badges == sorted(badges, key=lambda b: b != "gpu")
    # The 14B coder does not fit in 8 GB of VRAM but does across VRAM + RAM: offered last.
    assert picks[-1].repo_id == "Qwen/Qwen2.5-Coder-14B-Instruct-GGUF"
    assert badges[-1] == "ram"


def test_16gb_cpu_machine_gets_ram_fits_without_the_14b(catalog: list[CatalogEntry]) -> None:
    picks = recommend(catalog, task="code", hardware=CPU_16GB, n_ctx=4096)
    assert picks
    assert all(entry_fit(e, CPU_16GB, 4096) == "ram" for e in picks)
    assert picks[0].repo_id == "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF"
    # Without the card's VRAM the 14B coder (about 10.3 GB with its cache) no longer fits.
    assert "Qwen/Qwen2.5-Coder-14B-Instruct-GGUF" not in ids(picks)
    gpu_picks = recommend(catalog, task="code", hardware=GPU_8GB, n_ctx=4096)
    assert ids(picks) == ids(gpu_picks)[:-1]


def test_4gb_machine_gets_only_small_models(catalog: list[CatalogEntry]) -> None:
    code = recommend(catalog, task="code", hardware=SMALL_4GB, n_ctx=4096)
    assert code
    assert all(e.parameters < 5e9 for e in code)
    assert code[0].parameters < 5e9
    assert "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF" not in ids(code)

    chat = recommend(catalog, task="chat", hardware=SMALL_4GB, n_ctx=4096)
    assert chat
    assert all(e.parameters < 5e9 for e in chat)
    # The largest that fits comes first, and chat models come before the coder of their size.
    assert chat[0].parameters == max(e.parameters for e in chat)
    small = [e for e in chat if e.parameters < 2e9]
    assert small[-1].repo_id == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
    # A 4 GB machine gets a smaller best model than the 16 GB one.
    big_chat = recommend(catalog, task="chat", hardware=CPU_16GB, n_ctx=4096)
    assert big_chat[0].parameters > chat[0].parameters


def test_kv_cache_counts_a_long_context_can_push_a_model_out(
    catalog: list[CatalogEntry],
) -> None:
    # Phi-3.5 mini has no grouped KV heads: its cache at 32k tokens is several GB.
    phi = find_entry(catalog, "bartowski/Phi-3.5-mini-instruct-GGUF")
    assert phi is not None
    assert entry_fit(phi, CPU_16GB, 4096) == "ram"
    assert entry_fit(phi, CPU_16GB, 32768) == "too_large"
    short = recommend(catalog, task="chat", hardware=CPU_16GB, n_ctx=4096)
    long = recommend(catalog, task="chat", hardware=CPU_16GB, n_ctx=32768)
    assert phi in short
    assert phi not in long


def test_language_filter_keeps_chinese_models(catalog: list[CatalogEntry]) -> None:
    picks = recommend(catalog, task="chat", hardware=GPU_8GB, n_ctx=4096, language="zh")
    assert picks
    assert all("zh" in e.languages for e in picks)


def test_nothing_fits_on_a_tiny_machine(catalog: list[CatalogEntry]) -> None:
    tiny = machine(ram_total=1 * GB, ram_available=500 * 1000**2)
    assert recommend(catalog, task="code", hardware=tiny, n_ctx=4096) == []


def test_unknown_task_is_refused(catalog: list[CatalogEntry]) -> None:
    with pytest.raises(EngineError, match="translate"):
        recommend(catalog, task="translate", hardware=GPU_8GB, n_ctx=4096)


# --------------------------------------------------------------------------- broken files


def good_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "repo_id": "Example/Tiny-Instruct-GGUF",
        "name": "Tiny Instruct",
        "parameters": 1.0e9,
        "quantizations": ["Q4_K_M", "Q8_0"],
        "recommended_quant": "Q4_K_M",
        "license": "Apache-2.0",
        "context_length": 8192,
        "languages": ["en"],
        "tasks": ["chat"],
        "description": "A tiny model.",
        "description_zh": "一个很小的模型。",
    }
    entry.update(changes)
    return entry


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_valid_custom_catalog_loads_without_optional_fields(tmp_path: Path) -> None:
    path = write(tmp_path, {"version": 1, "models": [good_entry()]})
    (entry,) = load_catalog(path)
    assert entry.repo_id == "Example/Tiny-Instruct-GGUF"
    assert entry.fim is False
    assert entry.layers is None
    # The estimate still works with guessed layers and KV width.
    assert entry.shape().memory_estimate(4096).total_bytes > 1e9 * 4.85 / 8


def test_unknown_task_names_the_entry(tmp_path: Path) -> None:
    path = write(tmp_path, {"version": 1, "models": [good_entry(tasks=["chat", "chatt"])]})
    with pytest.raises(EngineError, match=r"entry 1 \(Example/Tiny-Instruct-GGUF\).*'chatt'"):
        load_catalog(path)


def test_missing_field_names_the_entry_and_field(tmp_path: Path) -> None:
    broken = good_entry()
    del broken["license"]
    path = write(tmp_path, {"version": 1, "models": [good_entry(repo_id="A/b-GGUF"), broken]})
    with pytest.raises(EngineError, match=r"entry 2 \(Example/Tiny-Instruct-GGUF\).*'license'"):
        load_catalog(path)


def test_duplicate_repo_id_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "version": 1,
            "models": [good_entry(), good_entry(repo_id="example/tiny-instruct-gguf")],
        },
    )
    with pytest.raises(EngineError, match=r"entry 2 .*repeats .*entry 1"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"repo_id": "no-slash"}, "owner/name"),
        ({"parameters": "7B"}, "parameters"),
        ({"recommended_quant": "Q6_K"}, "not among its quantizations"),
        ({"context_length": 0}, "context_length"),
        ({"languages": []}, "languages"),
        ({"fim": "yes"}, "fim"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, changes: dict[str, Any], problem: str) -> None:
    path = write(tmp_path, {"version": 1, "models": [good_entry(**changes)]})
    with pytest.raises(EngineError, match=re.escape(problem)):
        load_catalog(path)


def test_unknown_keys_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, {"version": 1, "models": [good_entry(homepage="https://x")]})
    with caplog.at_level(logging.WARNING, logger="engine.catalog"):
        (entry,) = load_catalog(path)
    assert entry.name == "Tiny Instruct"
    assert "homepage" in caplog.text


def test_not_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{"version": 1, "models": [', encoding="utf-8")
    with pytest.raises(EngineError, match=r"not valid JSON.*line 1"):
        load_catalog(path)


def test_missing_file_and_wrong_version(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="missing"):
        load_catalog(tmp_path / "nope.json")
    path = write(tmp_path, {"version": 2, "models": []})
    with pytest.raises(EngineError, match="version 2"):
        load_catalog(path)
