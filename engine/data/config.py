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
from engine.notices import Notice, NoticeCode, render_notice
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
#: The port the window's API server listens on unless the user picks another (the CLI's too).
DEFAULT_API_PORT = 8080
#: The highest TCP port.
MAX_PORT = 65535
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
        api_server: serve the OpenAI-compatible API from the window (it comes back on at
            the next launch when it was on).
        api_port: the port the window's API listens on (on 127.0.0.1).
        remote_url: an OpenAI-compatible endpoint whose models the picker offers beside
            the installed ones ("" for none). Its key is kept apart, in a file only the
            user can read (engine/data/remote_key.py), never in this file.
        remote_allow_lan: with offline mode on, the endpoint may be on the local network
            (private addresses), not only on this computer.
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
    # Added in version 2 without a migration: a file without them reads the defaults.
    api_server: bool = False
    api_port: int = DEFAULT_API_PORT
    remote_url: str = ""
    remote_allow_lan: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_document_bytes(self) -> int:
        """The largest document read, in bytes (``max_document_mb`` is in MiB)."""
        return self.max_document_mb * 1024 * 1024


#: A field check: the value -> what it must be when it is not valid, or None when it is.
_Check = Callable[[object], Notice | None]


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


def _offload_problem(value: object) -> Notice | None:
    if not isinstance(value, str):
        return Notice(NoticeCode.MUST_BE_STRING)
    if value in ("auto", "off"):
        return None
    try:
        layers = int(value)
    except ValueError:
        return Notice(NoticeCode.MUST_BE_OFFLOAD)
    if not -1 <= layers <= MAX_GPU_LAYERS:
        return Notice(NoticeCode.MUST_BE_LAYERS, {"most": MAX_GPU_LAYERS})
    return None


def _context_problem(value: object) -> Notice | None:
    if _is_int(value) and (value == 0 or MIN_CONTEXT_SIZE <= value <= MAX_CONTEXT_SIZE):
        return None
    return Notice(NoticeCode.MUST_BE_CONTEXT, {"least": MIN_CONTEXT_SIZE, "most": MAX_CONTEXT_SIZE})


def _threads_problem(value: object) -> Notice | None:
    most = max_threads()
    if _is_int(value) and 0 <= value <= most:
        return None
    return Notice(NoticeCode.MUST_BE_THREADS, {"most": most})


def _text_problem(value: object) -> Notice | None:
    if not isinstance(value, str):
        return Notice(NoticeCode.MUST_BE_STRING)
    if len(value) > MAX_PATH_CHARS or "\0" in value:
        return Notice(NoticeCode.MUST_BE_SHORT_TEXT, {"most": MAX_PATH_CHARS})
    return None


def _choice(choices: tuple[str, ...]) -> _Check:
    def problem(value: object) -> Notice | None:
        if value in choices:
            return None
        return Notice(NoticeCode.MUST_BE_ONE_OF, {"choices": ", ".join(choices)})

    return problem


def _check(test: Callable[[Any], bool], requirement: Notice) -> _Check:
    def problem(value: object) -> Notice | None:
        return None if test(value) else requirement

    return problem


#: One check per field: the value -> what is wrong with it, or None.
_FIELD_CHECKS: dict[str, _Check] = {
    "version": _check(_is_int, Notice(NoticeCode.MUST_BE_WHOLE_NUMBER)),
    "backend": _choice(BACKENDS),
    "gpu_offload": _offload_problem,
    "context_size": _context_problem,
    "threads": _threads_problem,
    "offline": _check(lambda v: isinstance(v, bool), Notice(NoticeCode.MUST_BE_BOOLEAN)),
    "models_dir": _text_problem,
    "context_policy": _choice(CONTEXT_POLICIES),
    "last_model": _text_problem,
    "theme": _choice(THEMES),
    "language": _choice(LANGUAGES),
    "max_document_mb": _check(
        lambda v: _is_int(v) and 1 <= v <= MAX_DOCUMENT_MB,
        Notice(NoticeCode.MUST_BE_ONE_TO, {"most": MAX_DOCUMENT_MB}),
    ),
    "api_server": _check(lambda v: isinstance(v, bool), Notice(NoticeCode.MUST_BE_BOOLEAN)),
    "api_port": _check(
        lambda v: _is_int(v) and 1 <= v <= MAX_PORT,
        Notice(NoticeCode.MUST_BE_ONE_TO, {"most": MAX_PORT}),
    ),
    "remote_url": _text_problem,
    "remote_allow_lan": _check(lambda v: isinstance(v, bool), Notice(NoticeCode.MUST_BE_BOOLEAN)),
    "extra": _check(lambda v: isinstance(v, dict), Notice(NoticeCode.MUST_BE_OBJECT)),
}

#: What replaces an invalid value where the default would be unsafe. Offline mode is the
#: one such field: a damaged value (or file) must never turn it off behind the user's
#: back, so it fails closed. Being wrongly offline costs a click in Settings, which the
#: message names; being wrongly online would send requests the user had forbidden.
_FAIL_CLOSED: dict[str, Any] = {"offline": True}
#: How a message names each fail-closed value.
_FAIL_CLOSED_TEXT = {"offline": Notice(NoticeCode.KEEPING_OFFLINE)}


def _field_problem(name: str, value: object) -> Notice | None:
    """What ``value`` must be for the field ``name``, or None if it is valid."""
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
    problem = _field_problem(name, value)
    return render_notice(problem) if problem is not None else None


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
            problems.append(f"{f.name} = {shown(value)} {render_notice(problem)}")
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
        repairs: one notice per repaired field.
        set_aside: where the file as it was is kept, when it had problems.
        unreadable_because: why the file could not be read at all (everything is then a
            default), or "".
    """

    settings: Settings
    repairs: tuple[Notice, ...] = ()
    set_aside: Path | None = None
    unreadable_because: str = ""

    @property
    def unreadable(self) -> bool:
        """The file could not be read at all."""
        return bool(self.unreadable_because)

    @property
    def problems(self) -> tuple[str, ...]:
        """In English: one line per repaired field, or why the file could not be read."""
        if self.unreadable:
            return (self.unreadable_because,)
        return tuple(render_notice(n) for n in self.repairs)

    @property
    def notice(self) -> Notice | None:
        """What happened and what to do, for the user; None if nothing was wrong."""
        kept: str | Notice = ""
        if self.set_aside is not None:
            kept = Notice(NoticeCode.SETTINGS_KEPT, {"path": str(self.set_aside)})
        if self.unreadable:
            return Notice(
                NoticeCode.SETTINGS_UNREADABLE, {"problem": self.unreadable_because, "kept": kept}
            )
        if self.repairs:
            return Notice(NoticeCode.SETTINGS_RESET, {"problems": self.repairs, "kept": kept})
        return None

    @property
    def message(self) -> str:
        """The notice in English; "" if nothing was wrong."""
        notice = self.notice
        return render_notice(notice) if notice is not None else ""


def _parse_settings(raw: dict[str, Any], source: Path) -> tuple[Settings, list[Notice]]:
    """Settings from the file's object: migrated, each invalid field replaced safely."""
    problems: list[Notice] = []
    version = raw.get("version", 1)
    if not _is_int(version) or version < 1:
        problems.append(
            Notice(
                NoticeCode.SETTING_REPLACED,
                {
                    "name": "version",
                    "value": shown(version),
                    "requirement": Notice(NoticeCode.MUST_BE_WHOLE_NUMBER),
                    "instead": Notice(NoticeCode.READ_AS_VERSION_1),
                },
            )
        )
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
            default = shown(getattr(defaults, name))
            instead = Notice(NoticeCode.USING_DEFAULT, {"default": default})
        problems.append(
            Notice(
                NoticeCode.SETTING_REPLACED,
                {"name": name, "value": shown(value), "requirement": problem, "instead": instead},
            )
        )
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
        The settings, with what was repaired; show :attr:`SettingsRead.notice` to the user.
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
        return SettingsRead(settings, set_aside=aside, unreadable_because=str(exc))
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
