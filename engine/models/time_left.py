"""The time left of a long operation (a download, a summary), written as people read it."""

from __future__ import annotations

import math


def format_time_left(seconds: float) -> str:
    """``seconds`` as minutes and seconds, ``"m:ss"``: ``"0:07"``, ``"1:05"``, ``"75:00"``.

    The one spelling of a time left, for the command line and the desktop (which puts
    it in its own translated sentence). Minutes do not roll over into hours: an
    estimate that long is rough anyway, and the shape stays the same. A fraction of a
    second is dropped.

    Args:
        seconds: the estimate, 0 or more.

    Raises:
        ValueError: ``seconds`` is negative, NaN or infinite (an unknown estimate is the
            caller's to leave out).
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a time left must be a finite number of seconds from 0, not {seconds}")
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"
