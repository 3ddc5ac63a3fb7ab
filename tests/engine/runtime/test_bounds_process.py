"""Bounds on the engine's process boundary: capped text inputs, a bounded protocol in both
directions, a worker that dies with its client, and one that stops answering replaced."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import resource
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import cli
from engine.cli.common import MAX_INPUT_BYTES, read_stdin_text
from engine.errors import DocumentError, EngineCrashed, UsageError
from engine.notices import Notice, NoticeCode
from engine.runtime import protocol
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent
from tests.measure import OWN_PEAK_RSS, launch_report, launched

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="measures memory in /proc, waits on pidfds"
    ),
]

_MIB = 1024 * 1024
#: The address space a process under test gets: a regression that reads a whole input
#: fails fast here instead of eating the shared machine.
_AS_LIMIT = 1536 * _MIB
#: A worker tokenizing 15 MB holds about a gigabyte more than that; the test of its exit
#: must not see it fail for want of memory instead.
_WORKER_AS_LIMIT = 4096 * _MIB
#: Generous: a worker that follows its client dies in well under a second.
_EXIT_WITHIN_S = 10.0
GREEDY = SamplingParams(temperature=0, max_tokens=8)
EIGHT = SamplingParams(temperature=0, max_tokens=8, ignore_eos=True)
LONG = SamplingParams(temperature=0, max_tokens=2000, ignore_eos=True)


# -- helpers ------------------------------------------------------------------------------


def _limit_memory(limit: int = _AS_LIMIT) -> None:
    """In the child, before exec: cap its address space (and its children's)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _limit_worker_memory() -> None:
    _limit_memory(_WORKER_AS_LIMIT)


def _run_measured(
    command: list[str], stdin_path: Path, tmp_path: Path, timeout: float = 120
) -> tuple[int, str, int]:
    """Run ``command`` under the memory cap: its exit status, stderr and peak RSS (bytes)."""
    err_path = tmp_path / "stderr.txt"
    report = tmp_path / "report.json"
    with stdin_path.open("rb") as stdin, err_path.open("wb") as stderr:
        proc = subprocess.Popen(
            launched(command, report, memory=_AS_LIMIT),
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # one group: a command past its time goes whole
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    returncode, peak = launch_report(report)
    return returncode, err_path.read_text(), peak


def _peak_rss(pid: int) -> int:
    """A live process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def _gone_within(pid: int, timeout: float) -> float | None:
    """Seconds until process ``pid`` ends (a zombie counts as ended), or None if it lives on."""
    start = time.monotonic()
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return 0.0
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return time.monotonic() - start if readable else None


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class _RawWorker:
    """``python -m engine.runtime.worker`` spoken to line by line, as EngineClient would."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.runtime.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            preexec_fn=_limit_worker_memory,
        )
        assert self.event()["event"] == "hello"

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the worker ended"
        return protocol.decode(line)

    def answer(self, rid: int) -> dict[str, Any]:
        """The next event for request ``rid``, skipping heartbeats."""
        while True:
            event = self.event()
            if event.get("id") == rid:
                return event

    def load(self, model: Path) -> None:
        request = {
            "id": 1,
            "op": "load",
            "path": str(model),
            "n_ctx": 2048,
            "n_gpu_layers": 0,
            "n_threads": 2,
            "n_threads_batch": 2,
            "plan_notice": Notice(NoticeCode.CPU_NO_GPU).to_dict(),
        }
        self.write(protocol.encode(request))
        answer = self.answer(1)
        assert answer["event"] == "result", answer

    def close(self) -> None:
        _kill_quietly(self.proc.pid)
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def raw_worker() -> Iterator[type[_RawWorker]]:
    """Start raw workers; every one started is killed afterwards."""
    started: list[_RawWorker] = []

    class Tracked(_RawWorker):
        def __init__(self, env: dict[str, str] | None = None) -> None:
            super().__init__(env)
            started.append(self)

    yield Tracked
    for worker in started:
        worker.close()


async def _collect(client: EngineClient, messages: list[ChatMessage]) -> GenerationResult:
    result: GenerationResult | None = None
    async for event in client.chat(messages, GREEDY):
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None
    return result


# -- standard input and arguments ------------------------------------------------------


def test_code_refuses_50_mb_on_standard_input_with_one_line_in_small_memory(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.py"
    big.write_bytes(b"x = compute(alpha, beta)  # a line of code\n" * (50 * _MIB // 43))
    rc, stderr, peak = _run_measured(
        [sys.executable, "-m", "engine", "code", "--task", "explain"], big, tmp_path
    )
    assert rc == 3, stderr
    assert stderr == (
        "hearth-cli: Standard input is larger than 4 MB; pass a smaller file or a part of it.\n"
    )
    # Python and the CLI's imports take about 60 MB; the input adds at most its 4 MB cap.
    assert peak < 150 * _MIB, f"the CLI peaked at {peak / _MIB:.0f} MB"


def _stdin_of(data: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def test_standard_input_is_read_up_to_the_cap_and_no_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exact = _stdin_of(b"a\r\n" * (MAX_INPUT_BYTES // 3) + b"b" * (MAX_INPUT_BYTES % 3))
    monkeypatch.setattr(sys, "stdin", exact)
    text = read_stdin_text()
    assert len(text) == MAX_INPUT_BYTES - MAX_INPUT_BYTES // 3  # "\r\n" became "\n"

    endless = _stdin_of(b"a" * (3 * MAX_INPUT_BYTES))
    monkeypatch.setattr(sys, "stdin", endless)
    with pytest.raises(DocumentError, match="larger than 4 MB"):
        read_stdin_text()
    assert endless.buffer.tell() == MAX_INPUT_BYTES + 1  # not a byte more was read

    monkeypatch.setattr(sys, "stdin", _stdin_of("café".encode("latin-1")))
    with pytest.raises(DocumentError, match="not UTF-8 text; pass the file with --file"):
        read_stdin_text()


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["chat", "中" * (MAX_INPUT_BYTES // 3 + 1)], "prompt"),
        (["chat", "--system", "s" * (MAX_INPUT_BYTES + 1), "hi"], "system prompt"),
        (["code", "--task", "generate", "w" * (MAX_INPUT_BYTES + 1)], "request"),
    ],
)
def test_an_argument_over_the_cap_is_refused_before_any_model_loads(
    argv: list[str], what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A shell cannot pass 4 MB in one argument (Linux stops at 128 kB), but main() can.
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"hearth-cli: The {what} is larger than 4 MB; shorten it or pass a part of it.\n"


# -- the protocol, both ways -------------------------------------------------------------


def test_an_over_long_request_line_is_refused_without_eating_memory(
    raw_worker: type[_RawWorker],
) -> None:
    worker = raw_worker()
    before = _peak_rss(worker.proc.pid)
    chunk = b"a" * _MIB
    worker.write(b'{"id":7,"op":"tokenize","text":"')
    for _ in range(200):  # 200 MB, twelve times the cap, and no newline until the end
        worker.write(chunk)
    worker.write(b'"}\n' + protocol.encode({"id": 8, "op": "ping"}))
    refusal = worker.answer(7)
    assert refusal["event"] == "error" and refusal["type"] == "UsageError"
    assert "200.0 MB, more than the 16 MB the engine reads at once" in refusal["message"]
    assert worker.answer(8)["value"] == "pong"  # and the worker goes on serving
    grown = _peak_rss(worker.proc.pid) - before
    assert grown < 64 * _MIB, f"the worker grew by {grown / _MIB:.0f} MB"


async def test_a_request_over_the_cap_is_refused_before_it_is_sent() -> None:
    async with EngineClient() as client:
        await client.load(None)
        pid = client.worker_pid
        with pytest.raises(
            UsageError,
            match=r"The text is 20\.0 MB, more than the 16\.0 MB the engine takes at once",
        ):
            await client.tokenize("a" * (20 * _MIB))
        with pytest.raises(UsageError, match="start a new conversation"):
            await client.count_chat_tokens([ChatMessage("user", "b" * (17 * _MIB))])
        assert await client.tokenize("Hello")
        assert client.worker_pid == pid


async def test_text_with_a_lone_surrogate_is_sent_with_a_replacement_character() -> None:
    # Half of a UTF-16 pair has no UTF-8 form; a paste can carry one. The request goes
    # through with U+FFFD in its place instead of failing to encode.
    async with EngineClient() as client:
        await client.load(None)
        pid = client.worker_pid
        assert await client.tokenize("caf\ud800e") == await client.tokenize("caf\ufffde")
        result = await _collect(client, [ChatMessage("user", "Say hi \udc80 please.")])
        assert result.stats.generated_tokens > 0
        assert client.worker_pid == pid


async def test_prompts_beyond_one_request_are_sent_in_several_in_order() -> None:
    async with EngineClient(max_request_bytes=1024) as client:
        await client.load(None, n_ctx=2048)
        # Five prompts of growing length, 0.3 to 0.4 kB: three requests of 1 kB at most.
        prompts = [f"Item {i}: " + "tea and cake " * (20 + 3 * i) for i in range(5)]
        seen: list[int] = []

        def on_event(index: int, event: TokenEvent | GenerationResult) -> None:
            if isinstance(event, GenerationResult):
                seen.append(index)

        results = await client.complete_many(prompts, EIGHT, on_event=on_event)
        assert sorted(seen) == list(range(5))
        lengths = [r.stats.prompt_tokens for r in results]
        assert lengths == sorted(lengths) and len(set(lengths)) == 5, lengths
        assert all(r.stats.stop_reason == "length" for r in results)

        # A cancel during the first request stops the later ones from starting at all.
        cancels: list[asyncio.Task[None]] = []

        def cancel_at_first_token(index: int, event: TokenEvent | GenerationResult) -> None:
            if isinstance(event, TokenEvent) and not cancels:
                cancels.append(asyncio.get_running_loop().create_task(client.cancel()))

        stopped = await client.complete_many(prompts, LONG, on_event=cancel_at_first_token)
        await asyncio.gather(*cancels)
        assert [r.stats.stop_reason for r in stopped] == ["cancelled"] * 5
        assert [r.text for r in stopped[2:]] == ["", "", ""]
        with pytest.raises(UsageError, match="Shorten it or split it into parts"):
            await client.complete_many(["x" * 1000], EIGHT)


def test_an_over_long_answer_from_a_broken_worker_ends_it_in_bounded_memory(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "fake_worker.py"
    fake.write_text(
        textwrap.dedent(
            """
            import json, os, sys
            from engine.models.hardware import LlamaBuild
            from engine.runtime import protocol
            out = sys.stdout.buffer
            llama = LlamaBuild(False, False, None, "", None, "not loaded")
            hello = protocol.WorkerHello(os.getpid(), protocol.PROTOCOL_VERSION, llama)
            out.write(json.dumps(hello.to_message()).encode() + b"\\n")
            out.flush()
            rid = json.loads(sys.stdin.buffer.readline())["id"]
            out.write(b'{"id":%d,"event":"result","value":"' % rid)
            chunk = b"a" * 1048576
            for _ in range(600):
                out.write(chunk)
            out.write(b'"}\\n')
            out.flush()
            sys.stdin.buffer.read()
            """
        )
    )
    script = tmp_path / "client.py"
    script.write_text(
        OWN_PEAK_RSS
        + textwrap.dedent(
            f"""
            import asyncio, json
            from engine.runtime.client import EngineClient
            from engine.errors import EngineCrashed

            async def main():
                async with EngineClient(command=[{sys.executable!r}, {str(fake)!r}]) as client:
                    await client.hello()
                    try:
                        await client.unload()
                    except EngineCrashed as exc:
                        print(json.dumps({{"reason": exc.reason}}))
                print(json.dumps({{"peak": own_peak_rss()}}))

            asyncio.run(main())
            """
        )
    )
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )
    assert run.returncode == 0, run.stderr
    reason, peak = (json.loads(line) for line in run.stdout.splitlines())
    assert reason == {"reason": "stopped by Hearth: it sent a message over 128 MB"}
    # asyncio's reader holds at most about twice its 128 MB limit, never the 600 MB line.
    assert peak["peak"] < 500 * _MIB, f"the client peaked at {peak['peak'] / _MIB:.0f} MB"


# -- the worker's lifetime -------------------------------------------------------------------


def _client_script(tmp_path: Path) -> Path:
    """A client that prints its worker's pid once the answer streams, then keeps reading."""
    script = tmp_path / "streaming_client.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from engine.runtime.client import EngineClient
            from engine.types import ChatMessage, SamplingParams, TokenEvent

            async def main():
                client = EngineClient()
                await client.load(None)
                params = SamplingParams(temperature=0, max_tokens=2000, ignore_eos=True)
                said = False
                async for event in client.chat([ChatMessage("user", "Count.")], params):
                    if isinstance(event, TokenEvent) and not said:
                        print(client.worker_pid, flush=True)
                        said = True

            asyncio.run(main())
            """
        )
    )
    return script


def _start_streaming_client(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(_client_script(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=_limit_memory,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip().isdigit(), "the client died before its answer streamed"
    return proc, int(line)


def test_the_worker_exits_when_its_client_is_killed_mid_generation(tmp_path: Path) -> None:
    client, worker_pid = _start_streaming_client(tmp_path)
    try:
        client.kill()
        client.wait(timeout=30)
        took = _gone_within(worker_pid, _EXIT_WITHIN_S)
        assert took is not None, f"the worker outlived its client by {_EXIT_WITHIN_S} s"
    finally:
        _kill_quietly(worker_pid)


def test_a_worker_that_cannot_run_still_dies_with_its_client(tmp_path: Path) -> None:
    # Stopped, the worker cannot notice the end of its input: only the kernel ends it,
    # as it does a worker inside a call that cannot be interrupted.
    client, worker_pid = _start_streaming_client(tmp_path)
    try:
        os.kill(worker_pid, signal.SIGSTOP)
        client.kill()
        client.wait(timeout=30)
        took = _gone_within(worker_pid, _EXIT_WITHIN_S)
        assert took is not None, "a stopped worker outlived its client"
    finally:
        _kill_quietly(worker_pid)


def test_the_worker_exits_soon_after_its_input_ends_even_inside_a_long_call(
    raw_worker: type[_RawWorker], smollm2: Path
) -> None:
    worker = raw_worker()
    worker.load(smollm2)
    # A tokenization of 15 MB is one native call; its answer would fill the pipe, which
    # nobody reads: a worker that waited for it to end would never exit.
    request = {"id": 2, "op": "tokenize", "text": "tea and cake " * (15 * _MIB // 13)}
    worker.write(protocol.encode(request))
    assert worker.proc.stdin is not None
    worker.proc.stdin.close()
    took = _gone_within(worker.proc.pid, _EXIT_WITHIN_S)
    assert took is not None, "the worker went on after its input ended"


def test_the_worker_sends_heartbeats_while_it_evaluates_a_prompt(
    raw_worker: type[_RawWorker], smollm2: Path
) -> None:
    worker = raw_worker(env={protocol.HEARTBEAT_ENV: "0.02"})
    worker.load(smollm2)
    prompt = "The history of tea, told in full. " * 40  # 350 tokens: a tenth of a second or more
    params = SamplingParams(temperature=0, max_tokens=1).to_dict()
    worker.write(protocol.encode({"id": 2, "op": "complete", "prompt": prompt, "params": params}))
    beats = 0
    while (event := worker.event())["id"] != 2:
        beats += event["event"] == "alive"
    assert beats >= 1, "no heartbeat came while the prompt was evaluated"


async def test_a_stopped_worker_is_reported_and_replaced() -> None:
    async with EngineClient(liveness_deadline_s=3.0) as client:
        await client.load(None)
        stopped = 0
        with pytest.raises(EngineCrashed) as caught:
            async for event in client.chat([ChatMessage("user", "Count.")], LONG):
                if isinstance(event, TokenEvent) and not stopped:
                    stopped = client.worker_pid or 0
                    os.kill(stopped, signal.SIGSTOP)
        assert caught.value.reason == "stopped by Hearth: it stopped responding for 3 s"
        assert "Nothing was lost; the next request starts it again." in str(caught.value)
        assert await asyncio.to_thread(_gone_within, stopped, _EXIT_WITHIN_S) is not None
        result = await _collect(client, [ChatMessage("user", "Hi")])
        assert result.stats.generated_tokens > 0
        assert client.worker_pid not in (None, stopped)
