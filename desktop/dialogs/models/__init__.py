"""The model manager dialog: one module per tab, assembled by ``dialog.py``."""

from desktop.dialogs.models.dialog import ModelsDialog
from desktop.dialogs.models.discover import DiscoverTab
from desktop.dialogs.models.downloads import DownloadsTab
from desktop.dialogs.models.helpers import badge_text, format_parameters
from desktop.dialogs.models.installed import InstalledTab

__all__ = [
    "DiscoverTab",
    "DownloadsTab",
    "InstalledTab",
    "ModelsDialog",
    "badge_text",
    "format_parameters",
]
