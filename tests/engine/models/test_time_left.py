"""What the command line and the desktop share to show progress: the time left, the
progress line, and the document size limit from the settings."""

from __future__ import annotations

import math

import pytest

from engine.cli.common import StatusLine, progress_line
from engine.data.config import Settings
from engine.models.time_left import format_time_left


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (7.9, "0:07"), (65, "1:05"), (599.5, "9:59"), (4500, "75:00")],
)
def test_the_time_left_is_minutes_and_seconds(seconds: float, text: str) -> None:
    assert format_time_left(seconds) == text


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_a_time_left_that_is_not_one_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="a time left must be a finite number of seconds"):
        format_time_left(seconds)


def test_the_progress_line_shows_the_time_left_only_when_it_is_known() -> None:
    line = progress_line("report.pdf", "Summarizing part 2 of 5", 0.4, 65.0)
    assert line == "report.pdf: Summarizing part 2 of 5 (40%, 1:05 left)"
    assert progress_line("a.gguf", "1 MB of 2 MB", 0.5, -1.0) == "a.gguf: 1 MB of 2 MB (50%)"
    assert progress_line("report.pdf", "Done", 1.0, 0.0) == "report.pdf: Done (100%)"


def test_the_status_line_prints_each_change_once_when_not_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = StatusLine()
    for line in ("a: reading…", "a: reading…", "a: Done (100%)"):
        status.show(line)
    status.end()
    assert capsys.readouterr().err == "a: reading…\na: Done (100%)\n"


def test_the_document_limit_is_the_setting_in_bytes() -> None:
    assert Settings(max_document_mb=3).max_document_bytes == 3 * 1024 * 1024
