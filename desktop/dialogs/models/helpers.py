"""What the model manager's tabs share: how a parameter count and a fit badge read."""

from __future__ import annotations

from desktop.notices import notice_text
from engine.models.plan import FIT_NOTICES
from engine.notices import Notice


def format_parameters(count: int) -> str:
    """A parameter count as people say it: 135M, 1.5B, 14B."""
    if count <= 0:
        return "?"
    if count >= 1e9:
        value = count / 1e9
        return f"{value:.1f}B" if value < 10 else f"{value:.0f}B"
    return f"{count / 1e6:.0f}M"


def badge_text(badge: str) -> str:
    """A fit badge ("gpu", "ram", "too_large") as the user reads it, translated."""
    code = FIT_NOTICES.get(badge)
    return notice_text(Notice(code)) if code is not None else badge
