"""A real `hearth-cli serve` process on the test model, for tests of Hearth as a remote engine
(tests/engine/runtime/test_remote.py, tests/desktop/test_remote_model.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TOKEN = "remote-test-token-0123456789"


@dataclass
class Served:
    """A running `hearth-cli serve`."""

    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        """The base address (without ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, object]:
        """``GET /health``: the loaded model and whether it is generating."""
        request = urllib.request.Request(
            self.url + "/health", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data: dict[str, object] = json.load(response)
        return data


@contextmanager
def serve_hearth(home: Path, model: Path) -> Iterator[Served]:
    """`hearth-cli serve` on a free port with its own HEARTH_HOME, serving ``model``."""
    env = {**os.environ, "HEARTH_HOME": str(home), "HEARTH_STARTER_MODEL": str(model)}
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Hearth API: http://127.0.0.1:"), (first, process.stderr)
    port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
    try:
        yield Served(process, port)
    finally:
        process.terminate()
        process.wait(timeout=30)
