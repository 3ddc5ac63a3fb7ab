"""Where Hearth keeps its files (platformdirs, or $HEARTH_HOME) and its versioned settings."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
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


SETTINGS_VERSION = 2

#: Values the choice fields accept; the first is the default.
BACKENDS = ("auto", "llamacpp", "torch")
THEMES = ("system", "light", "dark")
LANGUAGES = ("system", "en", "zh_CN")
CONTEXT_POLICIES = ("truncate", "stop")
#: The largest document size limit the settings take, in MiB.
MAX_DOCUMENT_MB = 10_000


@dataclass(frozen=True)
class Settings:
    """User settings, stored as JSON with a schema version.

    Attributes:
        backend: "auto", "llamacpp" or "torch".
        gpu_offload: "auto", "off", or a number of layers as a string ("-1" = all).
        context_size: tokens of context to allocate; 0 means the plan chooses.
        threads: decode threads; 0 means the plan chooses.
        offline: forbid every network access (downloads and hub search).
        models_dir: an alternative models folder, or "" for the default.
        context_policy: "truncate" (keep system prompt and newest turns) or "stop".
        last_model: id of the model loaded last time.
        theme: "system" (follow the OS), "light" or "dark".
        language: "system" (follow the OS locale), "en" or "zh_CN".
        max_document_mb: documents larger than this (MiB) are refused before they are read.
        extra: keys this version does not know, kept so a newer version's file survives.
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
    theme: str = "system"
    language: str = "system"
    max_document_mb: int = 200
    extra: dict[str, Any] = field(default_factory=dict)


#: A field check: the value -> what is wrong with it, or None when it is valid.
_Check = Callable[[object], str | None]


def _is_int(value: object) -> bool:
    # JSON true/false load as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)


def _normalize_offload(value: object) -> object:
    """Spellings the backend plan also reads ("Off", "cpu", 20) in the one stored form."""
    if _is_int(value):
        return str(value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    return {"": "auto", "none": "off", "cpu": "off"}.get(text, text)


def _offload_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if value in ("auto", "off"):
        return None
    try:
        layers = int(value)
    except ValueError:
        return "must be 'auto', 'off' or a number of layers"
    return None if layers >= -1 else "must not be below -1 (all layers)"


def _choice(choices: tuple[str, ...]) -> _Check:
    def problem(value: object) -> str | None:
        return None if value in choices else "must be one of " + ", ".join(choices)

    return problem


def _check(test: Callable[[Any], bool], message: str) -> _Check:
    def problem(value: object) -> str | None:
        return None if test(value) else message

    return problem


#: One check per field: the value -> what is wrong with it, or None.
_FIELD_CHECKS: dict[str, _Check] = {
    "version": _check(_is_int, "must be a whole number"),
    "backend": _choice(BACKENDS),
    "gpu_offload": _offload_problem,
    "context_size": _check(lambda v: _is_int(v) and v >= 0, "must be a whole number >= 0"),
    "threads": _check(lambda v: _is_int(v) and v >= 0, "must be a whole number >= 0"),
    "offline": _check(lambda v: isinstance(v, bool), "must be true or false"),
    "models_dir": _check(lambda v: isinstance(v, str), "must be a string"),
    "context_policy": _choice(CONTEXT_POLICIES),
    "last_model": _check(lambda v: isinstance(v, str), "must be a string"),
    "theme": _choice(THEMES),
    "language": _choice(LANGUAGES),
    "max_document_mb": _check(
        lambda v: _is_int(v) and 1 <= v <= MAX_DOCUMENT_MB, f"must be 1 to {MAX_DOCUMENT_MB}"
    ),
    "extra": _check(lambda v: isinstance(v, dict), "must be an object"),
}


def _field_problem(name: str, value: object) -> str | None:
    """What is wrong with ``value`` for the field ``name``, or None if it is valid."""
    return _FIELD_CHECKS[name](value)


def validate_settings(settings: Settings) -> list[str]:
    """List what is wrong with ``settings``; an empty list means every field is valid.

    Args:
        settings: the value to check.

    Returns:
        One line per invalid field, naming the field, its value and what it must be.
    """
    problems = []
    for f in fields(Settings):
        value = getattr(settings, f.name)
        problem = _field_problem(f.name, value)
        if problem is not None:
            problems.append(f"{f.name} = {value!r} {problem}")
    return problems


def _migrate_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds the theme and the interface language; a v1 file keeps every value."""
    return {"theme": "system", "language": "system", **raw, "version": 2}


# Migrations take the raw dict of version N and return version N+1.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _migrate_v1_to_v2}


def load_settings(paths: Paths) -> Settings:
    """Read the settings file, migrating old versions; a missing or broken file gives defaults.

    A file that is not JSON is kept beside as ``settings.json.broken`` so nothing the
    user set is silently lost. In a readable file, a field with an invalid value
    (a theme "purple", negative threads) falls back to its default with a logged
    warning, and every other field is kept.
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
    version = raw.get("version", 1)
    if not _is_int(version) or version < 1:
        log.warning("Settings file %s has version %r; reading it as version 1", path, version)
        version = 1
    while version < SETTINGS_VERSION:
        raw = _MIGRATIONS[version](raw)
        version += 1
    raw["version"] = SETTINGS_VERSION
    known = {f.name for f in fields(Settings)}
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            continue
        if name == "gpu_offload":
            value = _normalize_offload(value)
        problem = _field_problem(name, value)
        if problem is None:
            kwargs[name] = value
        else:
            log.warning(
                "Settings file %s: %s = %r %s; using the default", path, name, value, problem
            )
    extra = {k: v for k, v in raw.items() if k not in known}
    kwargs["extra"] = {**kwargs.get("extra", {}), **extra}
    return Settings(**kwargs)


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
