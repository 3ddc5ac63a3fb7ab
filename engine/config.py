"""Where Hearth keeps its files (platformdirs, or $HEARTH_HOME) and its versioned settings."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger("engine.config")

APP_NAME = "Hearth"
HOME_ENV = "HEARTH_HOME"


@dataclass(frozen=True)
class Paths:
    """Every folder and file Hearth writes to.

    With ``$HEARTH_HOME`` set, everything lives below it (tests, portable installs);
    otherwise each kind of file goes where the platform expects it.
    """

    data_dir: Path
    config_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def models_dir(self) -> Path:
        """Installed models: ``<data>/models/<publisher>/<repo>/<file>.gguf``."""
        return self.data_dir / "models"

    @property
    def database(self) -> Path:
        """The SQLite history database."""
        return self.data_dir / "hearth.db"

    @property
    def settings_file(self) -> Path:
        """The versioned settings file."""
        return self.config_dir / "settings.json"

    def ensure(self) -> Paths:
        """Create the folders (not the files) and return self."""
        for folder in (self.data_dir, self.config_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def get_paths(environ: dict[str, str] | None = None) -> Paths:
    """Resolve Hearth's folders from the environment.

    Args:
        environ: the environment to read (defaults to ``os.environ``).

    Returns:
        The paths; nothing is created on disk.
    """
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(
            data_dir=root / "data",
            config_dir=root / "config",
            cache_dir=root / "cache",
            log_dir=root / "logs",
        )
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


SETTINGS_VERSION = 1


@dataclass(frozen=True)
class Settings:
    """User settings, stored as JSON with a schema version.

    Attributes:
        backend: "auto", "llamacpp" or "torch".
        gpu_offload: "auto", "off", or a number of layers as a string.
        context_size: tokens of context to allocate; 0 means the plan chooses.
        threads: decode threads; 0 means the plan chooses.
        offline: forbid every network access (downloads and hub search).
        models_dir: an alternative models folder, or "" for the default.
        context_policy: "truncate" (keep system prompt and newest turns) or "stop".
        last_model: id of the model loaded last time.
    """

    version: int = SETTINGS_VERSION
    backend: str = "auto"
    gpu_offload: str = "auto"
    context_size: int = 0
    threads: int = 0
    offline: bool = False
    models_dir: str = ""
    context_policy: str = "truncate"
    last_model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# Migrations take the raw dict of version N and return version N+1.
_MIGRATIONS: dict[int, Any] = {}


def load_settings(paths: Paths) -> Settings:
    """Read the settings file, migrating old versions; a missing or broken file gives defaults.

    A broken file is kept beside as ``settings.json.broken`` so nothing the user
    set is silently lost.
    """
    path = paths.settings_file
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("settings file does not hold an object")
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("Settings file %s unreadable (%s); using defaults", path, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".json.broken"))
        return Settings()
    version = int(raw.get("version", 1))
    while version < SETTINGS_VERSION:
        raw = _MIGRATIONS[version](raw)
        version += 1
    raw["version"] = SETTINGS_VERSION
    known = {f.name for f in fields(Settings)}
    extra = {k: v for k, v in raw.items() if k not in known}
    kwargs = {k: v for k, v in raw.items() if k in known and k != "extra"}
    kwargs["extra"] = {**raw.get("extra", {}), **extra}
    try:
        return Settings(**kwargs)
    except TypeError as exc:
        log.warning("Settings file %s has an unexpected shape (%s); using defaults", path, exc)
        return Settings()


def save_settings(paths: Paths, settings: Settings) -> None:
    """Write the settings atomically (write a temporary file, then rename)."""
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.settings_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(paths.settings_file)


def update_settings(paths: Paths, **changes: Any) -> Settings:
    """Load, change and save the settings; return the new value."""
    settings = replace(load_settings(paths), **changes)
    save_settings(paths, settings)
    return settings
