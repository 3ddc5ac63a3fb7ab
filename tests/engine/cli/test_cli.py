"""hearth-cli: the contract other features and the benchmarks rely on, including exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.engine import gguf_factory as gf
from tests.hubserver import FakeHub

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


def test_chat_answers_in_json_to_a_schema_file(tmp_path: Path) -> None:
    schema = tmp_path / "person.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 20}},
                "required": ["name"],
                "additionalProperties": False,
            }
        )
    )
    run = cli("chat", "--json-schema", str(schema), "--max-tokens", "40", "Name a person.")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert set(answer) == {"name"} and isinstance(answer["name"], str)

    schema.write_text("[1, 2")
    run = cli("chat", "--json-schema", str(schema), "hi")
    assert run.returncode == 2 and "is not valid JSON" in run.stderr
    schema.write_text('{"type": "array", "maxItems": 1000000000}')
    run = cli("chat", "--json-schema", str(schema), "hi")
    assert run.returncode == 2 and "maxItems" in run.stderr


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
    # A reader that looped over a crafted count would run for hours: the generous timeout
    # tells it apart from one that refuses the header (milliseconds, after the start-up).
    run = cli("chat", "--model", str(path), "hi", timeout=60)
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.startswith("hearth-cli: ")


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
        "rc |= c.main(['chat', '--max-tokens', '4', '--format', 'json', 'hi'])\n"
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


# ---------------------------------------------------------------- models search|files|pull
HUB_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY = gf.build_gguf(gf.llama_metadata(), gf.llama_tensors())


@pytest.fixture
def cli_hub(smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake hub that the CLI subprocesses reach through ``HF_ENDPOINT``."""
    with FakeHub() as hub:
        hub.add_repo(HUB_REPO, {SMOL: smollm2.read_bytes()}, downloads=900, likes=5)
        hub.add_repo(
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
            {"qwen2.5-0.5b-instruct-q8_0.gguf": TINY, "qwen2.5-0.5b-instruct-q4_k_m.gguf": TINY},
            downloads=800,
            likes=50,
        )
        hub.add_repo(
            "other/two-choices-GGUF",
            {"m-Q8_0.gguf": TINY, "m-F16.gguf": TINY, "README.md": b"#"},
            downloads=1,
        )
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        yield hub


def test_models_search_sorts_and_prints_json(cli_hub: FakeHub) -> None:
    run = cli("models", "search", "", "--sort", "likes", "--json")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert [r["repo_id"] for r in found][:2] == ["Qwen/Qwen2.5-0.5B-Instruct-GGUF", HUB_REPO]
    run = cli("models", "search", "smollm2", "--limit", "5")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{HUB_REPO}  [900 downloads, 5 likes]"]


def test_models_files_show_the_fit_read_from_the_remote_header(cli_hub: FakeHub) -> None:
    run = cli("models", "files", HUB_REPO, "--json")
    assert run.returncode == 0, run.stderr
    [file] = json.loads(run.stdout)
    assert file["name"] == SMOL and file["quant"] == "Q4_1" and file["parts"] == [SMOL]
    assert file["size"] == len(cli_hub.repos[HUB_REPO].files[SMOL])
    assert file["fit"] in ("gpu", "ram")  # 98 MB fits any computer that runs the tests
    # Only the header was read, with a Range request: the model was not downloaded.
    assert cli_hub.bytes_served(SMOL) < len(cli_hub.repos[HUB_REPO].files[SMOL]) // 4
    assert all(r[2].startswith("bytes=0-") for r in cli_hub.requests("GET", "/cdn/"))
    # A context larger than any model's is refused as a usage error, in one line.
    run = cli("models", "files", HUB_REPO, "--ctx", "100000000")
    assert run.returncode == 2 and "16,777,216" in run.stderr
    assert run.stderr.count("\n") == 1 and not run.stdout


def test_models_pull_installs_a_verified_model_that_chats(cli_hub: FakeHub, smollm2: Path) -> None:
    run = cli("models", "pull", HUB_REPO, "--quant", "q4_1")  # quantization in any case
    assert run.returncode == 0, run.stderr
    path = Path(run.stdout.strip())
    assert path.name == SMOL and path.read_bytes() == smollm2.read_bytes()
    assert "98 MB of 98 MB" in run.stderr  # progress goes to stderr
    listed = json.loads(cli("models", "list", "--json").stdout)
    assert str(path) in [m["path"] for m in listed]
    chat = cli("chat", "--model", str(path), "--temperature", "0", "--max-tokens", "8", "Hi")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip()
    cli_hub.reset_counts()
    again = cli("models", "pull", HUB_REPO, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["path"] == str(path)
    assert cli_hub.bytes_served(SMOL) == 0  # already installed: nothing downloaded again


def test_models_pull_picks_the_q4_k_m_file_or_lists_the_choices(cli_hub: FakeHub) -> None:
    run = cli("models", "pull", "Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).name == "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    run = cli("models", "pull", "other/two-choices-GGUF")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "m-Q8_0.gguf" in run.stderr and "m-F16.gguf" in run.stderr
    run = cli("models", "pull", "other/two-choices-GGUF", "--quant", "Q2_K")
    assert run.returncode == 2 and "no Q2_K file" in run.stderr
    run = cli("models", "pull", "other/two-choices-GGUF", "--file", "m-F16.gguf", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["quant"] == "F16"
    assert cli("models", "pull", "x/y", "--file", "a", "--quant", "b").returncode == 2


def test_models_hub_commands_refuse_offline_and_explain_no_network(cli_hub: FakeHub) -> None:
    from engine.data.config import Settings, get_paths, save_settings

    save_settings(get_paths().ensure(), Settings(offline=True))
    for args in (["search", "smol"], ["files", HUB_REPO], ["pull", HUB_REPO]):
        run = cli("models", *args)
        assert run.returncode == 1, (args, run.stderr)
        assert "Offline mode is on" in run.stderr and run.stderr.count("\n") == 1
    assert cli_hub.requests() == []
    save_settings(get_paths(), Settings())
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "HF_ENDPOINT": closed}
    run = subprocess.run(
        [sys.executable, "-m", "engine", "models", "search", "smol"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert run.returncode == 1 and "Cannot reach 127.0.0.1" in run.stderr


def test_models_pull_ctrl_c_pauses_and_a_rerun_resumes(cli_hub: FakeHub, smollm2: Path) -> None:
    cli_hub.misbehave(SMOL, stall_after=30_000_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "models", "pull", HUB_REPO],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    from engine.data.config import get_paths

    staging = get_paths().models_dir / ".downloads"

    def on_disk() -> int:
        return sum(p.stat().st_size for p in staging.rglob("*.incomplete"))

    deadline = time.monotonic() + 60
    while on_disk() < 30_000_000:  # everything sent before the stall is in the part file
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        # No deadline (a paused or loaded machine is slow): exit status 130 and the
        # pause message show Ctrl+C stopped it; the 30 s stall timeout ends with an error.
        stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("Ctrl+C did not stop the stalled download")
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr and not stdout
    cli_hub.reset_counts()
    run = cli("models", "pull", HUB_REPO)
    assert run.returncode == 0, run.stderr
    assert "Resuming" in run.stderr
    data = Path(run.stdout.strip()).read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256(smollm2.read_bytes()).digest()
    assert cli_hub.bytes_served(SMOL) == len(data) - 30_000_000


def test_summarize_json_reads_the_file_and_reports_its_figures(tmp_path: Path) -> None:
    note = tmp_path / "apples.txt"
    note.write_text(
        "Apples grow on trees and are picked in autumn.\n\n"
        "The orchard at Marrow Creek has 400 trees and sells cider every October.\n",
        encoding="utf-8",
    )
    run = cli("summarize", str(note), "--json", "--length", "short", "--style", "tldr", timeout=300)
    assert run.returncode == 0, run.stderr
    [entry] = json.loads(run.stdout)
    assert entry["file"] == str(note)
    assert entry["sha256"] == hashlib.sha256(note.read_bytes()).hexdigest()
    assert entry["summary"].strip() and entry["chunks"] == 1
    assert entry["tokens_read"] > 20 and entry["seconds"] > 0
    assert entry["options"] == {"length": "short", "style": "tldr", "language": "auto"}
    # Progress went to stderr, ending at 100%.
    assert "(100%)" in run.stderr.splitlines()[-1]


def test_summarize_refuses_unreadable_documents_with_exit_3(tmp_path: Path) -> None:
    from engine.data.config import get_paths
    from engine.data.logs import LOG_FILE

    good = tmp_path / "good.txt"
    good.write_text("Some text to summarize.", encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    for args in ((str(good), str(tmp_path / "missing.txt")), (str(binary),)):
        run = cli("summarize", *args)
        assert run.returncode == 3, run.stderr
        assert run.stdout == ""
        last = run.stderr.strip().splitlines()[-1]
        assert last.startswith("hearth-cli: ") and ("missing.txt" in last or "photo.txt" in last)
    run = cli("summarize", str(good), "--style", "poem")
    assert run.returncode == 2 and "poem" in run.stderr
    # Refused before any model is loaded: no engine worker was started. The log says so
    # when one is, as the chat below shows.
    log_file = get_paths().log_dir / LOG_FILE
    assert "Engine worker" not in log_file.read_text(encoding="utf-8")
    assert cli("chat", "--max-tokens", "1", "hi").returncode == 0
    assert "Engine worker" in log_file.read_text(encoding="utf-8")
