"""Bounds on settings, flags and Hearth's own files: ranges, broken files, the lock, modes."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.cli import main as cli_main
from engine.data.config import (
    MAX_CONTEXT_SIZE,
    Paths,
    Settings,
    get_paths,
    max_threads,
    read_settings,
    update_settings,
)
from engine.data.history import History
from engine.data.jsonfile import MAX_DEPTH
from engine.data.presets import ChatOptions, ChatOptionsStore
from engine.errors import UsageError
from engine.models.gguf_info import read_gguf_info
from engine.models.hardware import NO_TORCH, CpuInfo, Hardware, LlamaBuild, probe_hardware
from engine.models.plan import DEFAULT_CONTEXT, plan_backend
from engine.models.store import ModelStore
from engine.runtime.client import EngineClient
from engine.runtime.context import fit_conversation
from engine.types import MAX_SEED, ChatMessage, SamplingParams
from tests.engine import gguf_factory as gf

#: The starter model's trained context (SmolLM2-135M).
TRAINED = 8192
#: A subprocess that must finish this quickly or it hangs: generous, the machine is shared.
SUBPROCESS_TIMEOUT_S = 120


#: A CPU-only computer with 8 cores (16 threads), for plans that do not depend on this one.
CPU = CpuInfo(model="Test CPU", physical_cores=8, logical_cores=16, flags=("avx2",))
CPU_ONLY_LLAMA = LlamaBuild(
    available=True, gpu_offload=False, gpu_backend=None, system_info="", version="0.3.36"
)


def computer(ram_available: int = 16 * 1024**3) -> Hardware:
    """A CPU-only computer with ``ram_available`` bytes of memory free."""
    return probe_hardware(
        cpu_probe=lambda: CPU,
        memory_probe=lambda: (max(ram_available, 1), ram_available),
        gpu_probe=tuple,
        llama_probe=lambda: CPU_ONLY_LLAMA,
        torch_probe=lambda: NO_TORCH,
        platform_probe=lambda: ("Linux", "x86_64"),
    )


def broken_copies(path: Path) -> list[Path]:
    """The copies of ``path`` set aside as ``<name>.broken-<timestamp>``."""
    return sorted(path.parent.glob(path.name + ".broken-*"))


def hearth_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``hearth-cli`` as a user would, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=os.environ.copy(),
        check=False,
        **kwargs,
    )


def write_settings(paths: Paths, text: str) -> bytes:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(text, encoding="utf-8")
    return paths.settings_file.read_bytes()


# -- settings.json: values out of range ------------------------------------------------

#: What the user keeps in every case below: these must survive the repair.
KEPT = {"theme": "dark", "context_policy": "stop", "models_dir": "/srv/models"}


@pytest.mark.parametrize(
    ("field", "stored"),
    [
        ("context_size", "1e9"),  # took the worker to 19.7 GB
        ("context_size", "1000000000"),
        ("context_size", "100"),
        ("context_size", "NaN"),
        ("threads", "100000"),  # made llama.cpp crash on every request
        ("threads", "-1"),
        ("gpu_offload", '"5000"'),
        ("max_document_mb", "Infinity"),
        ("models_dir", '"a\\u0000b"'),
    ],
)
def test_an_out_of_range_setting_is_reported_reset_and_the_file_set_aside(
    field: str, stored: str
) -> None:
    paths = get_paths()
    body = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in KEPT.items() if k != field)
    original = write_settings(
        paths, f'{{"version": 2, "offline": true, {body}, "{field}": {stored}}}'
    )

    read = read_settings(paths)

    defaults = Settings()
    expected = Settings(offline=True, **{k: v for k, v in KEPT.items() if k != field})
    assert read.settings == expected
    assert getattr(read.settings, field) == getattr(defaults, field)
    [problem] = read.problems
    assert problem.startswith(f"{field} = ") and "using the default" in problem
    assert field in read.message and "Settings" in read.message
    # Nothing is lost: the file as it was is kept beside, byte for byte ...
    assert read.set_aside is not None and read.set_aside.read_bytes() == original
    assert broken_copies(paths.settings_file) == [read.set_aside]
    # ... and the repaired file is read without complaint next time.
    again = read_settings(paths)
    assert again.settings == expected and again.problems == ()


@pytest.mark.parametrize("stored", ['"yes"', '"no"', '"false"', "0", "1", "null", "[]"])
def test_an_ill_typed_offline_value_keeps_offline_mode_on(stored: str) -> None:
    paths = get_paths()
    write_settings(paths, f'{{"version": 2, "theme": "light", "offline": {stored}}}')
    read = read_settings(paths)
    assert read.settings == Settings(offline=True, theme="light")
    assert "offline" in read.message and "offline mode on" in read.message
    assert json.loads(paths.settings_file.read_text())["offline"] is True


def test_threads_follow_this_computers_logical_cores() -> None:
    paths = get_paths()
    most = max_threads()
    assert most == os.cpu_count()
    write_settings(paths, json.dumps({"version": 2, "threads": most}))
    assert read_settings(paths).settings.threads == most
    write_settings(paths, json.dumps({"version": 2, "threads": most + 1}))
    read = read_settings(paths)
    assert read.settings.threads == 0
    assert f"0 (automatic) to {most}" in read.message


def test_settings_out_of_range_are_not_saved() -> None:
    paths = get_paths()
    with pytest.raises(UsageError, match="threads = 100000"):
        update_settings(paths, threads=100_000)
    with pytest.raises(UsageError, match="context_size"):
        update_settings(paths, context_size=MAX_CONTEXT_SIZE + 1)
    assert not paths.settings_file.exists()


# -- settings.json: files that cannot be read at all -----------------------------------

#: Nesting a little past the depth limit: valid JSON, far from the recursion limit.
DEEPER = MAX_DEPTH + 8
UNREADABLE = {
    "100000 open brackets": "[" * 100_000,
    "deeply nested but valid": "[" * 100_000 + "]" * 100_000,
    "nested past the depth limit": '{"extra": '
    + "[" * (MAX_DEPTH + 5)
    + "]" * (MAX_DEPTH + 5)
    + "}",
    "not JSON": "{ not json",
    "not an object": "[1, 2, 3]",
    "an integer of 100000 digits": "1" * 100_000,
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_settings_file_is_set_aside_and_offline_stays_on(content: str) -> None:
    paths = get_paths()
    original = write_settings(paths, content)
    read = read_settings(paths)
    assert read.unreadable and read.settings == Settings(offline=True)
    assert "could not be read" in read.message and "offline mode on" in read.message
    assert read.set_aside is not None and read.set_aside.read_bytes() == original
    # The user may have had offline mode on: a restart must not turn it off either.
    again = read_settings(paths)
    assert again.problems == () and again.settings.offline


def test_a_settings_file_of_invalid_utf8_or_a_fifo_does_not_stop_hearth() -> None:
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_bytes(b'{"theme": "\xff\xfe"}')
    assert read_settings(paths).unreadable
    for kept in broken_copies(paths.settings_file):
        kept.unlink()
    paths.settings_file.unlink()
    os.mkfifo(paths.settings_file)  # no writer: a plain open() would block forever
    read = read_settings(paths)
    assert read.unreadable and "not a regular file" in read.message
    assert stat.S_ISFIFO(broken_copies(paths.settings_file)[0].lstat().st_mode)
    assert paths.settings_file.is_file()


def test_a_huge_settings_file_is_not_read_into_memory(tmp_path: Path) -> None:
    """A sparse 8 GiB settings file, read in a process limited to 1 GiB of address space."""
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    with paths.settings_file.open("wb") as f:
        f.truncate(8 * 1024**3)  # sparse: no disk used
    code = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))
        from engine.data.config import get_paths, read_settings
        read = read_settings(get_paths())
        print(read.unreadable, read.settings.offline, read.problems[0])
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=os.environ.copy(),
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("True True it is larger than 1,048,576 bytes")
    [kept] = broken_copies(paths.settings_file)
    assert kept.stat().st_size == 8 * 1024**3  # moved, not copied


def test_the_command_line_reports_a_broken_settings_file_once_in_one_line() -> None:
    paths = get_paths()
    write_settings(paths, "[" * 100_000 + "]" * 100_000)
    first = hearth_cli("models", "list", "--json")
    assert first.returncode == 0, first.stderr
    [warning] = first.stderr.splitlines()
    assert warning.startswith("hearth-cli: warning: Hearth's settings file could not be read")
    assert "offline mode on" in warning and "broken-" in warning
    assert json.loads(first.stdout)  # the command still did its work
    second = hearth_cli("models", "list", "--json")
    assert second.returncode == 0 and second.stderr == ""


# -- the other JSON files read at start-up ---------------------------------------------


def _options_store(paths: Paths) -> tuple[Path, Any]:
    store = ChatOptionsStore.for_paths(paths)
    return store.path, lambda: store.load() == ChatOptions()


def _imports_store(paths: Paths) -> tuple[Path, Any]:
    store = ModelStore(paths)
    return store.imports_file, lambda: [m.source for m in store.list()] == ["starter"]


@pytest.mark.parametrize("store", [_options_store, _imports_store], ids=["options", "imports"])
@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_every_json_file_read_at_start_is_set_aside_when_broken(store: Any, content: str) -> None:
    paths = get_paths().ensure()
    path, reads_defaults = store(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    assert reads_defaults()
    [kept] = broken_copies(path)
    assert kept.read_text(encoding="utf-8") == content
    assert reads_defaults()  # and once set aside, it does not come back
    assert broken_copies(path) == [kept]


# -- sampling: one check for the flags, the GUI's options and the worker protocol --------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", math.nan),
        ("temperature", math.inf),
        ("temperature", -0.1),
        ("temperature", 5.5),
        ("temperature", 10**400),  # math.isfinite() overflows on it
        ("top_p", 7.0),
        ("top_p", 0.0),
        ("top_p", math.nan),
        ("top_k", -1),
        ("top_k", 10**9),
        ("min_p", 1.5),
        ("repeat_penalty", 0.0),
        ("repeat_penalty", -1.0),
        ("repeat_last_n", 10**12),  # llama.cpp allocates a ring buffer of this many tokens
        ("seed", MAX_SEED + 1),
        ("seed", -2),
        ("max_tokens", 0),
        ("max_tokens", 10**12),
        ("stop", ("",)),
        ("stop", ("x" * 10_000,)),
        ("stop", tuple(str(i) for i in range(1000))),
        ("ignore_eos", "yes"),
        ("top_k", True),
    ],
)
def test_sampling_params_refuse_nan_inf_and_out_of_range_values(field: str, value: Any) -> None:
    with pytest.raises(UsageError, match=f"sampling setting {field} = "):
        SamplingParams(**{field: value})
    with pytest.raises(UsageError):  # the worker's side of the protocol too
        SamplingParams.from_dict({**SamplingParams().to_dict(), field: value})


def test_sampling_params_keep_valid_edges_and_refuse_unknown_keys() -> None:
    edges = SamplingParams(
        temperature=0, top_p=1, top_k=0, min_p=0, repeat_penalty=1, seed=MAX_SEED, max_tokens=1
    )
    assert isinstance(edges.temperature, float) and edges.to_dict()["temperature"] == 0.0
    assert SamplingParams.from_dict(edges.to_dict()) == edges
    with pytest.raises(UsageError, match="Unknown sampling settings: frobnicate"):
        SamplingParams.from_dict({"frobnicate": 1})


def test_stored_chat_options_with_nan_fall_back_field_by_field() -> None:
    store = ChatOptionsStore.for_paths(get_paths())
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        '{"version": 1, "sampling": {"temperature": NaN, "top_p": Infinity, "top_k": 7, '
        f'"repeat_last_n": 1000000000000, "min_p": {10**400}}}}}',
        encoding="utf-8",
    )
    assert store.load().sampling == SamplingParams(top_k=7)


# -- command-line flags ----------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [["--threads", "100000"], ["--top-p", "7"], ["--temperature", "nan"]],
    ids=["threads", "top-p", "temperature"],
)
def test_hearth_cli_refuses_an_out_of_range_flag_in_one_line(flags: list[str]) -> None:
    run = hearth_cli("chat", *flags, "Hello")
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"hearth-cli: argument {flags[0]}: must be ")
    assert f"not {flags[1]}" in run.stderr and "--help" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "--temperature", "inf", "hi"],
        ["chat", "--top-k", "-1", "hi"],
        ["chat", "--top-k", "1e3", "hi"],
        ["chat", "--min-p", "1.5", "hi"],
        ["chat", "--repeat-penalty", "0", "hi"],
        ["chat", "--seed", str(MAX_SEED + 1), "hi"],
        ["chat", "--max-tokens", "0", "hi"],
        ["chat", "--ctx", "1000000000", "hi"],
        ["chat", "--ctx", "100", "hi"],
        ["chat", "--ctx", "-1", "hi"],
        ["chat", "--gpu-offload", "5000", "hi"],
        ["chat", "--gpu-offload", "lots", "hi"],
        ["chat", "--stop", "", "hi"],
        ["summarize", "--threads", "100000", "x.txt"],
        ["code", "--task", "explain", "--ctx", "99999999999"],
        ["models", "files", "a/b", "--ctx", "1e9"],
        ["models", "search", "x", "--limit", "100000"],
        ["bench", "--threads", "5000"],
        ["bench", "--rounds", "0"],
    ],
)
def test_every_numeric_flag_has_a_range(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hearth-cli: argument ")


def test_more_stop_strings_than_allowed_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["chat", *(arg for i in range(40) for arg in ("--stop", f"s{i}")), "hi"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stop" in err and "at most 32 strings" in err


# -- the load path: context and threads checked before llama.cpp allocates ------------


def test_the_plan_lowers_a_context_to_what_free_memory_holds(smollm2: Path) -> None:
    info = read_gguf_info(smollm2)
    assert info.context_length == TRAINED
    # Memory for the model at 6,144 tokens, but not at its trained 8,192.
    free = info.memory_estimate(6144).total_bytes + 1
    plan = plan_backend(computer(ram_available=free), info, n_ctx=TRAINED)
    assert plan.n_ctx == 6144 and not plan.too_large
    [warning] = plan.warnings
    assert f"context size {TRAINED:,} needs about" in warning and "using 6,144" in warning
    # The plan's usual context is the floor: a model that does not fit there is too
    # large, which is said as such (lowering further would only hide it).
    tight = plan_backend(computer(ram_available=free // 2), info, n_ctx=TRAINED)
    assert tight.n_ctx == DEFAULT_CONTEXT and tight.too_large
    # A request that fits is left alone, with no warning.
    small = plan_backend(computer(ram_available=free), info, n_ctx=1024)
    assert small.n_ctx == 1024 and small.warnings == ()


def test_the_plan_caps_threads_at_the_logical_cores(smollm2: Path) -> None:
    plan = plan_backend(computer(), read_gguf_info(smollm2), n_ctx=0, threads=100_000)
    assert plan.n_threads == CPU.logical_cores
    assert any("100,000 threads" in w and f"using {CPU.logical_cores}" in w for w in plan.warnings)


@pytest.mark.slow
async def test_a_load_above_the_trained_context_and_cores_is_capped_and_answers(
    smollm2: Path,
) -> None:
    """A million tokens of context and 100,000 threads, asked of the real starter model."""
    async with EngineClient() as client:
        info = await client.load(None, n_ctx=1_000_000, threads=100_000)
        assert info.n_ctx_train == TRAINED and info.n_ctx <= TRAINED
        assert info.n_threads <= max_threads()
        warnings = " ".join(info.warnings)
        assert "1,000,000" in warnings and f"{TRAINED:,} tokens" in warnings
        assert "100,000 threads" in warnings
        # The KV cache of a million tokens would be ~23 GB; the worker stays small.
        pid = client.worker_pid
        assert pid is not None
        assert psutil.Process(pid).memory_info().rss < 2 * 1024**3
        params = SamplingParams(temperature=0, max_tokens=4)
        events = [e async for e in client.chat([ChatMessage("user", "Hi")], params)]
        assert events and client.worker_pid == pid  # it answered, and did not crash


# -- context fitting -------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_fitting_a_long_conversation_with_few_user_turns_takes_linear_time() -> None:
    """100,000 assistant turns after one question: candidates were scanned quadratically."""
    messages = [ChatMessage("user", "q"), *(ChatMessage("assistant", "a") for _ in range(100_000))]
    fitted = fit_conversation(
        messages,
        render=lambda ms: "\n".join(m["content"] for m in ms),
        tokenize=lambda text: list(range(len(text) // 2 + 1)),
        detokenize=lambda tokens: "a" * len(tokens),
        n_ctx=2048,
        max_tokens=256,
    )
    assert fitted.dropped_messages > 99_000 and len(fitted.tokens) <= 2048 - 256


# -- imports.json: many processes at once ----------------------------------------------


def test_twenty_concurrent_imports_are_all_registered(tmp_path: Path) -> None:
    files = []
    for i in range(20):
        path = tmp_path / "models" / f"model-{i}.gguf"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(gf.tiny_llama_gguf())
        files.append(path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "engine", "models", "import", str(path), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for path in files
    ]
    results = [p.communicate(timeout=SUBPROCESS_TIMEOUT_S * 3) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err for _, err in results]
    ids = {json.loads(out)["id"] for out, _ in results}
    assert ids == {f"imported/model-{i}" for i in range(20)}
    store = ModelStore(get_paths())
    listed = {m.id for m in store.list() if m.source == "imported"}
    assert listed == ids
    registry = json.loads(store.imports_file.read_text(encoding="utf-8"))
    assert len(registry["imports"]) == 20
    assert not list(store.imports_file.parent.glob("imports.json.*.tmp"))


def test_an_import_name_has_a_length_limit(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gf.tiny_llama_gguf())
    with pytest.raises(UsageError, match="at most 1024"):
        ModelStore(get_paths()).import_model(path, name="x" * 100_000)
    assert not ModelStore(get_paths()).imports_file.exists()


# -- private files and folders ---------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_install_is_private_whatever_the_umask(tmp_path: Path) -> None:
    paths = get_paths()
    run = hearth_cli("models", "list", "--json", umask=0)
    assert run.returncode == 0, run.stderr
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir):
        assert _mode(folder) == 0o700, folder
    assert _mode(paths.database) == 0o600
    old = os.umask(0)
    try:
        update_settings(paths, theme="dark")
        ChatOptionsStore.for_paths(paths).save(ChatOptions())
        user_file = tmp_path / "elsewhere" / "m.gguf"
        user_file.parent.mkdir()
        user_file.write_bytes(gf.tiny_llama_gguf())
        store = ModelStore(paths)
        store.import_model(user_file)
        history = History(paths.database)
        history.close()
    finally:
        os.umask(old)
    assert _mode(paths.settings_file) == 0o600
    assert _mode(ChatOptionsStore.for_paths(paths).path) == 0o600
    assert _mode(store.imports_file) == 0o600
    for sidecar in paths.data_dir.glob("hearth.db*"):
        assert _mode(sidecar) == 0o600, sidecar


def test_an_existing_install_is_tightened_but_a_chosen_models_folder_is_not(
    tmp_path: Path,
) -> None:
    paths = get_paths()
    chosen = tmp_path / "my-models"
    chosen.mkdir(mode=0o755)
    chosen.chmod(0o755)
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir):
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    update_settings(paths, models_dir=str(chosen))
    loose = [paths.settings_file, paths.database, paths.data_dir / "downloads.json"]
    for path in loose[1:]:
        path.write_bytes(b"")
    for path in loose:
        path.chmod(0o644)
    run = hearth_cli("models", "list", "--json")
    assert run.returncode == 0, run.stderr
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir):
        assert _mode(folder) == 0o700, folder
    for path in loose:
        assert _mode(path) == 0o600, path
    assert _mode(chosen) == 0o755  # the user's folder: never Hearth's to change
