"""hearth-cli: the contract other features and the benchmarks rely on, including exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.engine import gguf_factory as gf

pytestmark = pytest.mark.slow


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def test_chat_json_has_the_documented_keys() -> None:
    run = cli("chat", "--json", "--temperature", "0", "--max-tokens", "16", "Say hi.")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    for key in (
        "text",
        "model",
        "backend",
        "prompt_tokens",
        "generated_tokens",
        "ttft_s",
        "tokens_per_s",
        "stop_reason",
    ):
        assert key in data
    assert data["backend"] == "llamacpp" and data["generated_tokens"] > 0
    assert data["model"].endswith("SmolLM2-135M-Instruct.Q4_1")


def test_chat_streams_plain_text() -> None:
    run = cli("chat", "--temperature", "0", "--max-tokens", "12", "--system", "Be brief.", "Hi")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()


def test_models_list_and_hardware() -> None:
    run = cli("models", "list", "--json")
    assert run.returncode == 0, run.stderr
    models = json.loads(run.stdout)
    assert models[0]["source"] == "starter" and models[0]["architecture"] == "llama"
    assert models[0]["quantization"] == "Q4_1" and models[0]["context_length"] == 8192
    run = cli("hardware", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["hardware"]["cpu"]["logical_cores"] >= 1
    assert data["plan"]["reason"]


def test_usage_errors_exit_2_with_one_line() -> None:
    for args in (["chat"], ["frobnicate"], ["chat", "--max-tokens", "x", "hi"]):
        run = cli(*args)
        assert run.returncode == 2, (args, run.stderr)
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


CRAFTED = {
    "bad_magic": b"GGML" + b"\0" * 60,
    "version_999": gf.pack_header(0, 0, version=999),
    "huge_tensor_count": gf.pack_header(2**63 - 1, 0),
    "huge_kv_count": gf.pack_header(0, 2**63 - 1),
    "string_longer_than_file": gf.pack_header(0, 1) + b"\xff" * 8 + b"key",
    "truncated_after_header": gf.pack_header(1, 1),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_files_exit_3_quickly(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.gguf"
    path.write_bytes(CRAFTED[name])
    start = time.perf_counter()
    run = cli("chat", "--model", str(path), "hi")
    elapsed = time.perf_counter() - start
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.startswith("hearth-cli: ")
    assert elapsed < 10  # interpreter start included; the reader itself takes milliseconds


def test_unknown_architecture_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "xyzzy.gguf"
    path.write_bytes(gf.build_gguf(gf.llama_metadata(arch="xyzzy"), gf.llama_tensors()))
    run = cli("chat", "--model", str(path), "hi")
    assert run.returncode == 3, run.stderr
    assert "xyzzy" in run.stderr or "architecture" in run.stderr


def test_missing_model_exits_3(tmp_path: Path) -> None:
    run = cli("chat", "--model", str(tmp_path / "nope.gguf"), "hi")
    assert run.returncode == 3 and "No model file" in run.stderr


def test_engine_crash_exits_4() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine",
            "chat",
            "--max-tokens",
            "4000",
            "--temperature",
            "0",
            "Write a very long story about a dragon, with many chapters.",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    proc.stdout.read(1)  # the answer has started streaming
    workers = psutil.Process(proc.pid).children()
    assert workers, "the CLI runs the model in a worker process"
    os.kill(workers[0].pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stderr
    assert "SIGKILL" in stderr and "Traceback" not in stderr


def test_works_with_no_network_at_all() -> None:
    """Offline proven, not assumed: the first run answers inside a namespace with no network."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.decode().strip()}")
    run = subprocess.run(
        [
            "unshare",
            "-rn",
            sys.executable,
            "-m",
            "engine",
            "chat",
            "--json",
            "--temperature",
            "0",
            "--max-tokens",
            "8",
            "Hello",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["generated_tokens"] > 0


def test_the_cli_process_never_loads_llama_cpp_or_torch() -> None:
    """Only the worker loads native inference libraries (a CUDA llama.cpp beside a CUDA
    torch crashed one process on a GPU machine)."""
    code = (
        "import sys, engine.cli as c\n"
        "rc = c.main(['hardware', '--json'])\n"
        "rc |= c.main(['chat', '--max-tokens', '4', 'hi'])\n"
        "print('LOADED', sorted(m for m in ('llama_cpp', 'torch') if m in sys.modules))\n"
        "sys.exit(rc)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert run.returncode == 0, run.stderr
    assert "LOADED []" in run.stdout
