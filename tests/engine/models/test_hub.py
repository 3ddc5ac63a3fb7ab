"""The hub client against a fake hub speaking huggingface_hub's HTTP protocol."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.data.config import Settings
from engine.errors import DownloadError, OfflineError
from engine.models.hardware import NO_TORCH, CpuInfo, GpuInfo, Hardware, LlamaBuild
from engine.models.hub import Hub, HubFile, is_safe_name, quant_of
from tests.hubserver import FakeHub

GB = 1000**3
REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"
PART1 = "big-Q8_0-00001-of-00002.gguf"
PART2 = "big-Q8_0-00002-of-00002.gguf"


@pytest.fixture
def fake_hub(smollm2: Path) -> Iterator[FakeHub]:
    with FakeHub() as hub:
        hub.add_repo(
            REPO,
            {SMOL: smollm2.read_bytes(), PART1: b"a" * 1000, PART2: b"b" * 500, "README.md": b"#"},
            downloads=500,
            likes=3,
            advertised=("../../evil.gguf", "/etc/evil.gguf", "C:/evil.gguf", "a\\..\\evil.gguf"),
        )
        hub.add_repo("other/Qwen2.5-0.5B-Instruct-GGUF", {"qwen-q4_k_m.gguf": b"x"}, likes=90)
        hub.add_repo("other/not-gguf", {"model.safetensors": b"x"}, downloads=10**6)
        yield hub


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything opens a network connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("a network connection was attempted in offline mode")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_search_finds_gguf_repos_sorted(fake_hub: FakeHub) -> None:
    hub = Hub(Settings(), endpoint=fake_hub.endpoint)
    by_downloads = hub.search("")
    assert [r.repo_id for r in by_downloads] == [REPO, "other/Qwen2.5-0.5B-Instruct-GGUF"]
    assert by_downloads[0].downloads == 500
    by_likes = hub.search("", sort="likes")
    assert by_likes[0].repo_id == "other/Qwen2.5-0.5B-Instruct-GGUF"
    assert [r.repo_id for r in hub.search("smollm2")] == [REPO]
    assert fake_hub.requests("GET", "/api/models")


def test_files_group_split_parts_and_drop_traversal_names(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    files = Hub(Settings(), endpoint=fake_hub.endpoint).files(REPO)
    assert [f.name for f in files] == [PART1, SMOL]
    split, smol = files
    assert split.parts == (PART1, PART2)
    assert split.sizes == (1000, 500)
    assert split.size == 1500
    assert split.quant == "Q8_0"
    assert smol.quant == "Q4_1"
    assert smol.size == fake_hub.repos[REPO].files[SMOL].__len__()
    assert len(smol.sha256[0]) == 64
    assert "../../evil.gguf" in caplog.text
    assert all("evil" not in f.name for f in files)


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("qwen2.5-7b-instruct-q4_k_m.gguf", "Q4_K_M"),
        ("Llama-3.2-1B-Instruct-IQ4_XS.gguf", "IQ4_XS"),
        ("gemma-2-2b-it-Q8_0.gguf", "Q8_0"),
        ("phi-4-BF16-00001-of-00003.gguf", "BF16"),
        ("model.F16.gguf", "F16"),
        ("Q4_K_M/model-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"),
        ("model.gguf", ""),
    ],
)
def test_quant_is_read_from_the_name(name: str, quant: str) -> None:
    assert quant_of(name) == quant


def test_unsafe_names_are_refused() -> None:
    for bad in ("../../evil.gguf", "/abs.gguf", "a\\b.gguf", "C:evil.gguf", "a//b.gguf", "./x"):
        assert not is_safe_name(bad), bad
    assert is_safe_name("Q4_K_M/model.gguf")


def test_header_is_read_remotely_with_range(fake_hub: FakeHub) -> None:
    hub = Hub(Settings(), endpoint=fake_hub.endpoint)
    smol = next(f for f in hub.files(REPO) if f.name == SMOL)
    info = hub.header(smol)
    assert info.architecture == "llama"
    assert info.chat_template
    served = fake_hub.bytes_served(SMOL)
    assert 0 < served <= 4 * 1024 * 1024 < smol.size // 10
    assert all(r[2].startswith("bytes=") for r in fake_hub.requests("GET", "/cdn/"))


def _hardware(*, gpu_gb: int = 0, ram_gb: float = 16) -> Hardware:
    gpus = ()
    if gpu_gb:
        gpus = (
            GpuInfo(
                name="NVIDIA GeForce RTX 4060",
                vendor="nvidia",
                api="cuda",
                vram_total=gpu_gb * GB,
                vram_free=gpu_gb * GB - GB // 2,
                driver="550.54.14",
                index=0,
            ),
        )
    return Hardware(
        cpu=CpuInfo(model="x86", physical_cores=4, logical_cores=8, flags=("avx2",)),
        ram_total=int(ram_gb * GB),
        ram_available=int(ram_gb * GB * 0.6),
        gpus=gpus,
        llama=LlamaBuild(
            available=True,
            gpu_offload=bool(gpu_gb),
            gpu_backend="CUDA" if gpu_gb else None,
            system_info="",
            version="0.3.36",
        ),
        torch=NO_TORCH,
        os="Linux",
        machine="x86_64",
    )


def test_fit_badges_from_the_remote_header(fake_hub: FakeHub) -> None:
    hub = Hub(Settings(), endpoint=fake_hub.endpoint)
    info = hub.header(next(f for f in hub.files(REPO) if f.name == SMOL))
    assert hub.fit(info, _hardware(gpu_gb=8), 4096) == "gpu"
    assert hub.fit(info, _hardware(ram_gb=16), 4096) == "ram"
    assert hub.fit(info, _hardware(ram_gb=0.1), 4096) == "too_large"


def test_offline_mode_opens_no_socket(no_sockets: None) -> None:
    hub = Hub(Settings(offline=True), endpoint="http://127.0.0.1:9")
    file = HubFile(REPO, SMOL, (SMOL,), (10,), ("0" * 64,), "Q4_1")
    for call in (lambda: hub.search("x"), lambda: hub.files(REPO), lambda: hub.header(file)):
        with pytest.raises(OfflineError, match="Offline mode is on"):
            call()


def test_unreachable_hub_fails_fast_with_a_clear_message() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hub = Hub(Settings(), endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadError, match=r"Cannot reach 127\.0\.0\.1.*turn on offline mode"):
        hub.search("smol")


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "gated or private"), (404, "does not exist"), (500, "server error")],
)
def test_http_errors_are_explained(fake_hub: FakeHub, status: int, message: str) -> None:
    fake_hub.add_repo("org/broken", {"m.gguf": b"x"}, status=status)
    with pytest.raises(DownloadError, match=message):
        Hub(Settings(), endpoint=fake_hub.endpoint).files("org/broken")


def test_missing_file_is_explained(fake_hub: FakeHub) -> None:
    hub = Hub(Settings(), endpoint=fake_hub.endpoint)
    ghost = HubFile(REPO, "ghost.gguf", ("ghost.gguf",), (100,), ("0" * 64,), "")
    with pytest.raises(DownloadError, match="not on the hub"):
        hub.header(ghost)
