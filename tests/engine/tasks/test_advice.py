"""Which model to suggest when the loaded one is too small to summarize well."""

from __future__ import annotations

from dataclasses import replace

from engine.models.catalog import load_catalog
from engine.tasks.advice import SUMMARY_MIN_PARAMETERS, summary_model_advice
from tests.engine.models.test_catalog import machine

STARTER_PARAMETERS = 494_032_768  # Qwen2.5-Coder-0.5B, from its GGUF header


def test_a_small_model_gets_a_larger_summary_model_that_fits() -> None:
    entries = load_catalog()
    hardware = machine(ram_total=16 * 1024**3, ram_available=10 * 1024**3)
    advice = summary_model_advice(STARTER_PARAMETERS, entries, hardware, 4096)
    assert advice is not None and "summarize" in advice.tasks
    assert advice.parameters >= SUMMARY_MIN_PARAMETERS
    # On two CPU cores, the smallest model that is big enough: a summary is many chunks.
    small = replace(hardware, cpu=replace(hardware.cpu, physical_cores=2, logical_cores=2))
    quick = summary_model_advice(STARTER_PARAMETERS, entries, small, 4096)
    assert quick is not None
    big_enough = [
        e.parameters
        for e in entries
        if "summarize" in e.tasks and e.parameters >= SUMMARY_MIN_PARAMETERS
    ]
    assert quick.parameters == min(big_enough)


def test_no_advice_for_a_model_big_enough_or_of_unknown_size_or_when_nothing_fits() -> None:
    entries = load_catalog()
    hardware = machine(ram_total=16 * 1024**3, ram_available=10 * 1024**3)
    assert summary_model_advice(1_540_000_000, entries, hardware, 4096) is None
    assert summary_model_advice(0, entries, hardware, 4096) is None
    tiny = machine(ram_total=1024**3, ram_available=256 * 1024**2)
    assert summary_model_advice(STARTER_PARAMETERS, entries, tiny, 4096) is None
