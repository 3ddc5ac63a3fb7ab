"""The model manager dialog: one module per tab, assembled by ``dialog.py``."""

from desktop.dialogs.models.discover import (
    DiscoverTab,
    DownloadsTab,
    InstalledTab,
    ModelsDialog,
    badge_text,
    format_parameters,
)

__all__ = [
    "DiscoverTab",
    "DownloadsTab",
    "InstalledTab",
    "ModelsDialog",
    "badge_text",
    "format_parameters",
]
