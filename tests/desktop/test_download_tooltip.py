"""The download meter's tooltip: one line per download, the time left as the engine
writes it."""

from __future__ import annotations

from desktop.downloads import describe
from engine.models.downloads import DownloadProgress, State


def _progress(eta_s: float, state: State = "downloading") -> DownloadProgress:
    return DownloadProgress(
        id="1",
        repo_id="someone/model-GGUF",
        name="model.Q4_K_M.gguf",
        done_bytes=50_000_000,
        total_bytes=200_000_000,
        speed_bps=2_500_000.0,
        eta_s=eta_s,
        state=state,
    )


def test_a_download_shows_its_percent_speed_and_time_left() -> None:
    assert describe(_progress(65.4)) == "model.Q4_K_M.gguf · 25% · 2.5 MB/s · 1:05"


def test_a_time_left_not_known_yet_is_left_out() -> None:
    assert describe(_progress(-1.0)) == "model.Q4_K_M.gguf · 25% · 2.5 MB/s"
    assert describe(_progress(65.4, "paused")) == "model.Q4_K_M.gguf · 25%"
