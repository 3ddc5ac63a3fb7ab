"""The worker's hello: its protocol version is compared before anything is asked of it."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from engine.errors import EngineError
from engine.models.hardware import LlamaBuild
from engine.runtime import protocol
from engine.runtime.client import EngineClient

BUILD = LlamaBuild(
    available=True,
    gpu_offload=False,
    gpu_backend=None,
    system_info="CPU : AVX2 = 1 |",
    version="0.3.16",
)


def test_a_hello_reads_back_as_it_was_written() -> None:
    hello = protocol.WorkerHello(pid=1234, protocol=protocol.PROTOCOL_VERSION, llama=BUILD)
    message = protocol.decode(protocol.encode(hello.to_message()))
    assert message["event"] == "hello" and message["id"] == 0
    assert protocol.WorkerHello.from_message(message) == hello


@pytest.mark.parametrize("version", [protocol.PROTOCOL_VERSION + 1, 0, "2", True, None])
def test_a_hello_of_another_protocol_version_is_refused(version: object) -> None:
    message = {**protocol.WorkerHello(7, 0, BUILD).to_message(), "protocol": version}
    if version is None:
        del message["protocol"]  # a worker from before the version was sent
    ours = f"this Hearth speaks version {protocol.PROTOCOL_VERSION}"
    with pytest.raises(EngineError, match=ours):
        protocol.WorkerHello.from_message(message)


def test_a_hello_that_cannot_be_read_is_refused() -> None:
    message = protocol.WorkerHello(7, protocol.PROTOCOL_VERSION, BUILD).to_message()
    message["llama"] = {**message["llama"], "cuda_graphs": True}  # a field nobody knows
    with pytest.raises(EngineError, match="greeting could not be read"):
        protocol.WorkerHello.from_message(message)
    del message["pid"]
    with pytest.raises(EngineError, match="greeting could not be read"):
        protocol.WorkerHello.from_message(message)


@pytest.mark.slow
async def test_a_worker_of_another_protocol_version_is_refused_and_stopped(
    tmp_path: Path,
) -> None:
    # The real worker, started the way EngineClient starts it, but speaking version 99:
    # as a worker from another installation of Hearth would.
    script = tmp_path / "other_worker.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from engine.runtime import protocol, worker

            protocol.PROTOCOL_VERSION = 99
            sys.exit(worker.main())
            """
        )
    )
    before = set(psutil.Process().children())
    client = EngineClient(command=[sys.executable, str(script)])
    try:
        with pytest.raises(EngineError) as caught:
            await client.hello()
        started = [c for c in psutil.Process().children() if c not in before]
    finally:
        await client.aclose()
    message = str(caught.value)
    assert "protocol version 99" in message
    assert f"this Hearth speaks version {protocol.PROTOCOL_VERSION}" in message
    assert client.worker_pid is None
    # Generous: on a loaded 2-core machine the kill can take a few seconds to land.
    _gone, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, "the refused worker was left running"


@pytest.mark.slow
async def test_hardware_carries_the_llama_cpp_build_the_worker_reported() -> None:
    async with EngineClient() as client:
        hello = await client.hello()
        hw = await client.hardware()
    assert hello.protocol == protocol.PROTOCOL_VERSION and hello.pid > 0
    assert hw.llama == hello.llama
    assert hw.llama.available, hw.llama.error  # llama-cpp-python is installed for the tests
    assert hw.cpu.logical_cores >= 1 and hw.ram_total > 0
