"""The load request: one typed value from the plan to the worker, checked at both ends;
and the one rule for the context size asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.data.config import Settings, get_paths, save_settings
from engine.errors import UsageError
from engine.models.hardware import Hardware, LlamaBuild, probe_hardware
from engine.models.plan import DEFAULT_CONTEXT, requested_context
from engine.notices import Notice, NoticeCode
from engine.runtime import protocol
from engine.runtime.loading import plan_load, resolve_model
from engine.types import MAX_CONTEXT_TOKENS, MAX_PARALLEL, LoadRequest

REQUEST = LoadRequest(
    path="/models/tiny.gguf",
    n_ctx=2048,
    n_gpu_layers=0,
    n_threads=4,
    n_threads_batch=8,
    plan_notice=Notice(NoticeCode.CPU_NO_GPU),
    model_id="tiny",
    architecture="llama",
    warning_notices=(
        Notice(NoticeCode.CONTEXT_OVER_TRAINED, {"requested": 9000, "trained": 2048}),
    ),
)


def test_a_load_request_reads_back_as_it_was_written() -> None:
    data = protocol.decode(protocol.encode(REQUEST.to_dict()))
    assert LoadRequest.from_dict(data) == REQUEST
    assert isinstance(LoadRequest.from_dict(data).warning_notices, tuple)


def test_a_load_request_with_an_unknown_or_missing_field_is_refused() -> None:
    with pytest.raises(UsageError, match="Unknown load settings: n_gpu, template"):
        LoadRequest.from_dict({**REQUEST.to_dict(), "template": "fallback", "n_gpu": 1})
    partial = REQUEST.to_dict()
    del partial["n_ctx"], partial["path"]
    with pytest.raises(UsageError, match="Missing load settings: n_ctx, path"):
        LoadRequest.from_dict(partial)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("path", ""),
        ("n_ctx", 0),
        ("n_ctx", MAX_CONTEXT_TOKENS + 1),
        ("n_ctx", 2048.0),
        ("n_gpu_layers", -2),
        ("n_threads", 0),
        ("n_threads_batch", True),
        ("backend", "tpu"),
        ("flash_attn", "yes"),
        ("n_parallel", MAX_PARALLEL + 1),
        ("fallback_template", "yes"),
        ("warning_notices", "one warning"),
        ("plan_notice", "the CPU"),
    ],
)
def test_a_load_request_with_a_value_out_of_range_is_refused(field: str, value: Any) -> None:
    with pytest.raises(UsageError, match=f"The load setting {field} = "):
        LoadRequest.from_dict({**REQUEST.to_dict(), field: value})


@pytest.mark.parametrize(
    ("trained", "requested", "setting", "expected"),
    [
        (8192, 0, 0, DEFAULT_CONTEXT),  # nobody chose: the default
        (2048, 0, 0, 2048),  # ... at most the trained length
        (0, 0, 0, DEFAULT_CONTEXT),  # a header without a trained length
        (8192, 0, 1024, 1024),  # the settings' choice
        (8192, 512, 1024, 512),  # the caller's choice before the settings'
        (2048, 9000, 0, 9000),  # asked for: the plan caps it, with a warning
    ],
)
def test_the_context_asked_for(trained: int, requested: int, setting: int, expected: int) -> None:
    assert requested_context(trained, requested=requested, setting=setting) == expected


def _cpu_only() -> Hardware:
    llama = LlamaBuild(
        available=True, gpu_offload=False, gpu_backend=None, system_info="", version=None
    )
    return probe_hardware(llama_probe=lambda: llama, gpu_probe=tuple)


def test_plan_load_asks_for_the_context_of_the_flag_then_the_settings(smollm2: Path) -> None:
    entry, hw = resolve_model(smollm2), _cpu_only()
    assert entry.info is not None and entry.info.context_length > DEFAULT_CONTEXT
    default = plan_load(entry, hw, n_parallel=2)
    assert (default.n_ctx, default.n_parallel) == (DEFAULT_CONTEXT, 2)
    assert default.path == str(smollm2) and default.architecture == "llama"
    save_settings(get_paths().ensure(), Settings(context_size=1024))
    assert plan_load(entry, hw).n_ctx == 1024
    assert plan_load(entry, hw, n_ctx=512).n_ctx == 512


@pytest.mark.slow
def test_the_worker_refuses_a_load_request_it_does_not_know_and_keeps_serving() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.runtime.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdin is not None and proc.stdout is not None

    def ask(request: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(protocol.encode(request))
        proc.stdin.flush()
        while True:  # past the hello and the heartbeats
            event = protocol.decode(proc.stdout.readline())
            if event.get("id") == request["id"]:
                return event

    try:
        old_style = {**REQUEST.to_dict(), "template": "fallback"}
        answer = ask({"id": 1, "op": "load", **old_style})
        assert (answer["event"], answer["type"]) == ("error", "UsageError")
        assert "Unknown load settings: template" in answer["message"]
        assert ask({"id": 2, "op": "ping"})["value"] == "pong"
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


@pytest.mark.parametrize("n_parallel", [0, MAX_PARALLEL + 1])
def test_plan_load_refuses_a_number_of_sequences_out_of_range(
    smollm2: Path, n_parallel: int
) -> None:
    with pytest.raises(UsageError, match=f"n_parallel = {n_parallel} must be a whole number"):
        plan_load(resolve_model(smollm2), _cpu_only(), n_parallel=n_parallel)
