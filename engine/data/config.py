"""Where Hearth keeps its files (platformdirs, or $HEARTH_HOME) and its versioned settings."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeGuard

import platformdirs

from engine.data.jsonfile import (
    PRIVATE_FILE_MODE,
    BrokenFile,
    make_private,
    read_json,
    set_aside,
    shown,
    write_json,
)
from engine.errors import UsageError
from engine.types import MAX_CONTEXT_TOKENS

log = logging.getLogger("engine.config")

APP_NAME = "Hearth"
HOME_ENV = "HEARTH_HOME"

#: Mode of Hearth's own folders: conversations, prompts and settings are the user's alone.
PRIVATE_DIR_MODE = 0o700


def _private_dir(folder: Path) -> None:
    """Create ``folder`` (mode 0700), or tighten it to 0700 if it exists; never raises."""
    try:
        folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        if sys.platform != "win32" and stat.S_IMODE(folder.stat().st_mode) != PRIVATE_DIR_MODE:
            # mkdir's mode passes through the umask and does not touch an existing
            # folder: chmod makes it exact (an install from before this was enforced).
            folder.chmod(PRIVATE_DIR_MODE)
    except OSError as exc:
        log.warning("Cannot make %s private: %s", folder, exc)


def _tighten_files(folder: Path) -> None:
    """Make the files directly in ``folder`` private (not its subfolders: models live there)."""
    if sys.platform == "win32":
        return  # the user's profile folder's ACL already keeps other users out
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        log.warning("Cannot list %s to make its files private: %s", folder, exc)
        return
    for entry in entries:
        try:
            # Symbolic links are left alone: what they point to may not be Hearth's.
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mode & 0o077:
                os.chmod(entry.path, PRIVATE_FILE_MODE)
        except OSError as exc:
            log.warning("Cannot make %s private: %s", entry.path, exc)


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; never raises."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        log.warning("Cannot create %s: %s", path, exc)
        return
    os.close(fd)
    with contextlib.suppress(OSError):
        make_private(path)


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
        """Create Hearth's folders private to the user, and tighten an existing install.

        The data, config, cache and log folders get mode 0700 and the files directly in
        the data, config and log folders 0600, whatever the umask (on POSIX; on Windows
        the user's profile folder is already private). The history database is created
        empty here with mode 0600: an empty file is a valid SQLite database, and SQLite
        gives its ``-wal`` and ``-shm`` files the database's mode, so the conversations
        are private from the first write. A models folder chosen in Settings is never
        touched. Problems are logged, never raised: a read-only folder must not stop the
        app. Call it once at start, before anything else writes.

        Returns:
            self.
        """
        for folder in (self.data_dir, self.config_dir, self.cache_dir, self.log_dir):
            _private_dir(folder)
        for folder in (self.data_dir, self.config_dir, self.log_dir):
            _tighten_files(folder)
        _create_private(self.database)
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
#: The smallest context size the settings and flags take (0 means automatic): a system
#: prompt, a short question and its answer fit; llama.cpp pads smaller ones to 256 anyway.
MIN_CONTEXT_SIZE = 256
#: The largest context size the settings and flags take (see MAX_CONTEXT_TOKENS): it
#: only keeps absurd numbers out; each load lowers the context further to the model's
#: trained length and to the memory that is free (engine.models.plan).
MAX_CONTEXT_SIZE = MAX_CONTEXT_TOKENS
#: The most GPU layers the settings take: no model has near a thousand layers (the
#: largest have under 200); the plan caps a count to the model's own.
MAX_GPU_LAYERS = 999
#: The longest text a path or model id setting holds (Linux's PATH_MAX).
MAX_PATH_CHARS = 4096
#: The largest settings file read: it holds a few hundred bytes; even a newer version's
#: extra keys stay far below this, so a larger file is damaged, not settings.
MAX_SETTINGS_BYTES = 1024 * 1024


def max_threads() -> int:
    """The most decode threads the settings and flags take: this computer's logical cores.

    llama.cpp starts that many threads for every request: 5,000 hung it for minutes and
    100,000 crashed it, and more threads than cores only makes decoding slower.
    """
    return os.cpu_count() or 1


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

    @property
    def max_document_bytes(self) -> int:
        """The largest document read, in bytes (``max_document_mb`` is in MiB)."""
        return self.max_document_mb * 1024 * 1024


#: A field check: the value -> what is wrong with it, or None when it is valid.
_Check = Callable[[object], str | None]


def _is_int(value: object) -> TypeGuard[int]:
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
    if not -1 <= layers <= MAX_GPU_LAYERS:
        return f"must be a number of layers from -1 (all) to {MAX_GPU_LAYERS}"
    return None


def _context_problem(value: object) -> str | None:
    if _is_int(value) and (value == 0 or MIN_CONTEXT_SIZE <= value <= MAX_CONTEXT_SIZE):
        return None
    return (
        f"must be 0 (automatic) or a whole number of tokens from {MIN_CONTEXT_SIZE:,} "
        f"to {MAX_CONTEXT_SIZE:,}"
    )


def _threads_problem(value: object) -> str | None:
    most = max_threads()
    if _is_int(value) and 0 <= value <= most:
        return None
    return f"must be 0 (automatic) to {most} (the logical cores of this computer)"


def _text_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_PATH_CHARS or "\0" in value:
        return f"must be at most {MAX_PATH_CHARS:,} characters, with no NUL character"
    return None


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
    "context_size": _context_problem,
    "threads": _threads_problem,
    "offline": _check(lambda v: isinstance(v, bool), "must be true or false"),
    "models_dir": _text_problem,
    "context_policy": _choice(CONTEXT_POLICIES),
    "last_model": _text_problem,
    "theme": _choice(THEMES),
    "language": _choice(LANGUAGES),
    "max_document_mb": _check(
        lambda v: _is_int(v) and 1 <= v <= MAX_DOCUMENT_MB, f"must be 1 to {MAX_DOCUMENT_MB}"
    ),
    "extra": _check(lambda v: isinstance(v, dict), "must be an object"),
}

#: What replaces an invalid value where the default would be unsafe. Offline mode is the
#: one such field: a damaged value (or file) must never turn it off behind the user's
#: back, so it fails closed. Being wrongly offline costs a click in Settings, which the
#: message names; being wrongly online would send requests the user had forbidden.
_FAIL_CLOSED: dict[str, Any] = {"offline": True}
#: How a message names each fail-closed value.
_FAIL_CLOSED_TEXT = {"offline": "keeping offline mode on"}


def _field_problem(name: str, value: object) -> str | None:
    """What is wrong with ``value`` for the field ``name``, or None if it is valid."""
    return _FIELD_CHECKS[name](value)


def setting_problem(name: str, value: object) -> str | None:
    """What is wrong with ``value`` for the setting ``name``, or None if it is valid.

    The same check the settings file gets, for the command line's flags (``--ctx``,
    ``--threads``, ``--gpu-offload``). GPU offload is read in any spelling the plan
    reads ("Off", "cpu").

    Args:
        name: a field of :class:`Settings`.
        value: the value to check.

    Returns:
        What the value must be ("must be 0 (automatic) or 1 to 8, ..."), or None.
    """
    if name == "gpu_offload":
        value = _normalize_offload(value)
    return _field_problem(name, value)


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
            problems.append(f"{f.name} = {shown(value)} {problem}")
    return problems


def _migrate_v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds the theme and the interface language; a v1 file keeps every value."""
    return {"theme": "system", "language": "system", **raw, "version": 2}


# Migrations take the raw dict of version N and return version N+1.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _migrate_v1_to_v2}


@dataclass(frozen=True)
class SettingsRead:
    """The settings as read from the file, and what had to be repaired on the way.

    Attributes:
        settings: the settings to use: the file's valid values, a safe value for each
            invalid one (the default; for offline mode, on).
        problems: one line per repaired field, or the reason the file could not be read.
        set_aside: where the file as it was is kept, when it had problems.
        unreadable: the file could not be read at all (everything is a default).
    """

    settings: Settings
    problems: tuple[str, ...] = ()
    set_aside: Path | None = None
    unreadable: bool = False

    @property
    def message(self) -> str:
        """One paragraph for the user saying what happened and what to do; "" if nothing."""
        if not self.problems:
            return ""
        kept = f" The file as it was is kept as {self.set_aside}." if self.set_aside else ""
        if self.unreadable:
            return (
                f"Hearth's settings file could not be read ({self.problems[0]}), so the "
                "default settings are used, with offline mode on: turn it off in Settings "
                f"to allow downloads.{kept}"
            )
        return (
            f"Some settings were invalid and were reset: {'; '.join(self.problems)}. "
            f"Check them in Settings.{kept}"
        )


def _parse_settings(raw: dict[str, Any], source: Path) -> tuple[Settings, list[str]]:
    """Settings from the file's object: migrated, each invalid field replaced safely."""
    problems: list[str] = []
    version = raw.get("version", 1)
    if not _is_int(version) or version < 1:
        problems.append(f"version = {shown(version)} must be a whole number; read as version 1")
        version = 1
    while version < SETTINGS_VERSION:
        raw = _MIGRATIONS[version](raw)
        version += 1
    raw = {**raw, "version": SETTINGS_VERSION}
    known = {f.name for f in fields(Settings)}
    defaults = Settings()
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            continue
        if name == "gpu_offload":
            value = _normalize_offload(value)
        problem = _field_problem(name, value)
        if problem is None:
            kwargs[name] = value
            continue
        if name in _FAIL_CLOSED:
            kwargs[name] = _FAIL_CLOSED[name]
            instead = _FAIL_CLOSED_TEXT[name]
        else:
            instead = f"using the default, {shown(getattr(defaults, name))}"
        problems.append(f"{name} = {shown(value)} {problem}; {instead}")
    extra = {k: v for k, v in raw.items() if k not in known}
    kwargs["extra"] = {**kwargs.get("extra", {}), **extra}
    for problem in problems:
        log.warning("Settings file %s: %s", source, problem)
    return Settings(**kwargs), problems


def _write_repaired(paths: Paths, settings: Settings) -> None:
    """Replace the damaged file by the settings in use, so the next start reads them."""
    try:
        save_settings(paths, settings)
    except OSError as exc:
        log.warning("Cannot write the repaired settings to %s: %s", paths.settings_file, exc)


def read_settings(paths: Paths) -> SettingsRead:
    """Read the settings file, migrating old versions and repairing what is damaged.

    A missing file gives the defaults. A file that cannot be read at all (not JSON,
    larger than :data:`MAX_SETTINGS_BYTES`, nested too deeply, not a regular file, not
    an object) is set aside as ``settings.json.broken-<timestamp>`` and replaced by the
    defaults with offline mode on, since the user may have had it on. A readable file
    with invalid values (threads above this computer's cores, a context size of 1e9, a
    NaN, ``"offline": "yes"``) keeps every valid value; each invalid one is replaced
    (offline mode fails closed, to on; the others by their default), the original is
    kept as ``settings.json.broken-<timestamp>`` and the repaired file written in its
    place, so the problem is reported once, not on every start.

    Args:
        paths: Hearth's folders.

    Returns:
        The settings, with what was repaired; show :attr:`SettingsRead.message` to the user.
    """
    path = paths.settings_file
    try:
        raw = read_json(path, max_bytes=MAX_SETTINGS_BYTES)
        if not isinstance(raw, dict):
            raise BrokenFile("it does not hold a JSON object")
    except FileNotFoundError:
        return SettingsRead(Settings())
    except BrokenFile as exc:
        log.warning("Settings file %s cannot be used: %s", path, exc)
        settings = Settings(**_FAIL_CLOSED)
        aside = set_aside(path)
        _write_repaired(paths, settings)
        return SettingsRead(settings, (str(exc),), aside, unreadable=True)
    settings, problems = _parse_settings(raw, path)
    if not problems:
        return SettingsRead(settings)
    aside = set_aside(path, keep=True)
    _write_repaired(paths, settings)
    return SettingsRead(settings, tuple(problems), aside)


def load_settings(paths: Paths) -> Settings:
    """The settings to use; :func:`read_settings` without the report (it is logged)."""
    return read_settings(paths).settings


def save_settings(paths: Paths, settings: Settings) -> None:
    """Write the settings atomically (a temporary file, then a rename), private to the user.

    Raises:
        UsageError: a value is out of range (nothing is written).
        OSError: the config folder cannot be written.
    """
    problems = validate_settings(settings)
    if problems:
        raise UsageError("These settings cannot be saved: " + "; ".join(problems) + ".")
    _private_dir(paths.config_dir)
    write_json(paths.settings_file, asdict(settings))


def update_settings(paths: Paths, **changes: Any) -> Settings:
    """Load, change and save the settings; return the new value."""
    settings = replace(load_settings(paths), **changes)
    save_settings(paths, settings)
    return settings
