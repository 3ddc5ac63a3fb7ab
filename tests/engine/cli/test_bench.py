"""The engine benchmark (engine/cli/bench_loop.py, benchmarks/engine_bench.py), starter model."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from engine.cli.bench_loop import CONTENDERS, run_bench
from engine.runtime.client import EngineClient
from tests.paths import ROOT

REQUIRED_KEYS = {
    "engine_tokens_per_s",
    "direct_tokens_per_s",
    "ratio",
    "engine_ttft_s",
    "direct_ttft_s",
    "highlevel_tokens_per_s",
    "ratio_vs_highlevel",
    "highlevel_ttft_s",
    "rounds",
    "tokens",
    "threads",
    "n_ctx",
    "model",
    "samples",
    "machine",
    "timestamp",
}
SCRIPT = ROOT / "benchmarks" / "engine_bench.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engine_bench_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_bad_arguments_are_refused_before_anything_starts() -> None:
    client = EngineClient()
    with pytest.raises(ValueError, match="tokens"):
        await run_bench(client, tokens=1)
    with pytest.raises(ValueError, match="rounds"):
        await run_bench(client, rounds=0)
    assert client.worker_pid is None
    await client.aclose()


@pytest.mark.slow
async def test_one_short_round_measures_all_three_contenders(smollm2: Path) -> None:
    async with EngineClient() as client:
        result = await run_bench(client, str(smollm2), rounds=1, tokens=16)
    data = result.to_dict()

    assert data.keys() >= REQUIRED_KEYS
    for name in CONTENDERS:
        assert data[f"{name}_tokens_per_s"] > 0, name
        assert data[f"{name}_ttft_s"] > 0, name
        assert len(data["samples"][f"{name}_tokens_per_s"]) == 1, name
    assert math.isfinite(data["ratio"]) and data["ratio"] > 0
    assert math.isfinite(data["ratio_vs_highlevel"]) and data["ratio_vs_highlevel"] > 0
    # The engine and the bare loop ignore end-of-generation: always the full count.
    assert data["samples"]["engine_generated_tokens"] == [16]
    assert data["samples"]["direct_generated_tokens"] == [16]
    assert 1 <= data["samples"]["highlevel_generated_tokens"][0] <= 16
    assert (data["rounds"], data["tokens"]) == (1, 16)
    assert data["threads"] >= 1 and data["n_ctx"] == 2048
    assert data["machine"]["llama_cpp_python"]
    json.dumps(data)  # the script writes it as JSON

    page = _script().render_markdown(data, "python benchmarks/engine_bench.py --rounds 1")
    assert "| Contender |" in page and "--rounds 1" in page
    assert f"{data['ratio']:.3f}" in page
