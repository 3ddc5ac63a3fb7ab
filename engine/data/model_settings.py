"""Settings that belong to one model: load settings, sampling, system prompt, template.

A value set here wins over the GGUF's own recommendation, which wins over Hearth's
global settings (see :func:`engine.runtime.model_defaults.effective_settings`). Only
what the user set is stored; an unset field is ``None`` and follows the defaults.

Entries are keyed by a fingerprint of the file's content, not by its path: renaming or
moving a model keeps its settings. Hashing a whole multi-gigabyte file takes tens of
seconds, so the fingerprint is the sha256 of the file's size and of three 1 MiB samples
(start, middle, end): the start holds the GGUF header (name, architecture, tokenizer,
tensor layout) and the samples hold weights, so two different quantizations or
fine-tunes of one model differ while a renamed copy matches.

The file is ``<config>/model-settings.json``, versioned, written atomically and
private; a damaged file is set aside and read as empty, never fatal.

Thread: no Qt. Every function here touches the disk: call it off the Qt thread and off
the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from engine.data.config import Paths, setting_problem
from engine.data.jsonfile import BrokenFile, locked, read_json, set_aside, shown, write_json
from engine.errors import UsageError
from engine.types import sampling_problem

log = logging.getLogger("engine.model_settings")

MODEL_SETTINGS_FILE = "model-settings.json"
MODEL_SETTINGS_VERSION = 1
#: The largest file read: a few hundred bytes per model, plus system prompts.
MAX_MODEL_SETTINGS_BYTES = 8 * 1024 * 1024
#: The longest system prompt kept per model (the presets' own bound is the file's).
MAX_SYSTEM_PROMPT_CHARS = 100_000
#: How much of the file each fingerprint sample reads.
SAMPLE_BYTES = 1024 * 1024

#: The chat formats Hearth knows by name (engine.runtime.chat_formats holds their text);
#: anything else in ``chat_template`` is the path of a Jinja template file.
KNOWN_TEMPLATE_FORMATS = ("chatml", "llama3", "gemma", "mistral", "phi3")

LOAD_KEYS = ("context_size", "gpu_offload", "threads", "backend")
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")
OTHER_KEYS = ("system_prompt", "thinking", "chat_template")
_FLOAT_KEYS = ("temperature", "top_p", "min_p", "repeat_penalty")


def fingerprint(path: str | os.PathLike[str]) -> str:
    """The key a model's settings are stored under: its content, not its name.

    Args:
        path: the model file.

    Returns:
        ``"fp1:"`` and 32 hex digits.

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        digest.update(size.to_bytes(8, "little"))
        middle = max(0, size // 2 - SAMPLE_BYTES // 2)
        for offset in sorted({0, middle, max(0, size - SAMPLE_BYTES)}):
            file.seek(offset)
            digest.update(file.read(SAMPLE_BYTES))
    return "fp1:" + digest.hexdigest()[:32]


def _template_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be one of " + ", ".join(KNOWN_TEMPLATE_FORMATS) + " or a template file's path"
    if value in KNOWN_TEMPLATE_FORMATS:
        return None
    if len(value) > 4096 or "\0" in value:
        return "must be a path of at most 4,096 characters"
    return None


def model_setting_problem(name: str, value: object) -> str | None:
    """What is wrong with ``value`` for the per-model setting ``name``, or None.

    The same checks as the global settings and the sampling parameters.

    Args:
        name: one of :data:`LOAD_KEYS`, :data:`SAMPLING_KEYS`, :data:`OTHER_KEYS`.
        value: the value to check; None (follow the defaults) is always valid.

    Returns:
        What the value must be, or None.
    """
    if value is None:
        return None
    if name in LOAD_KEYS:
        return setting_problem(name, value)
    if name in SAMPLING_KEYS:
        return sampling_problem(name, value)
    if name == "system_prompt":
        if isinstance(value, str) and len(value) <= MAX_SYSTEM_PROMPT_CHARS:
            return None
        return f"must be text of at most {MAX_SYSTEM_PROMPT_CHARS:,} characters"
    if name == "thinking":
        return None if isinstance(value, bool) else "must be true or false"
    if name == "chat_template":
        return _template_problem(value)
    return "is not a per-model setting (" + ", ".join(ALL_KEYS) + ")"


@dataclass(frozen=True)
class ModelSettings:
    """What the user set for one model; ``None`` follows the defaults.

    Attributes:
        context_size: tokens of context (0: the plan chooses).
        gpu_offload: "auto", "off" or a number of layers.
        threads: decode threads (0: the plan chooses).
        backend: "auto", "llamacpp" or "torch".
        temperature, top_p, top_k, min_p, repeat_penalty, max_tokens: sampling.
        system_prompt: the instructions this model reads before each conversation.
        thinking: a reasoning model thinks before answering (where its template can
            switch it).
        chat_template: one of :data:`KNOWN_TEMPLATE_FORMATS` or a Jinja file's path,
            used instead of the template in the GGUF.
    """

    context_size: int | None = None
    gpu_offload: str | None = None
    threads: int | None = None
    backend: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    max_tokens: int | None = None
    system_prompt: str | None = None
    thinking: bool | None = None
    chat_template: str | None = None

    def __post_init__(self) -> None:
        """Check every value.

        Raises:
            UsageError: a value is not valid for its field.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _FLOAT_KEYS and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            problem = model_setting_problem(f.name, value)
            if problem is not None:
                raise UsageError(f"The model setting {f.name} = {shown(value)} {problem}.")

    def set_values(self) -> dict[str, Any]:
        """The fields the user set, by name."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def empty(self) -> bool:
        """Nothing is set: the model follows the defaults everywhere."""
        return not self.set_values()


#: Every per-model setting. The context policy stays global: it is how the user wants
#: long chats handled, not a property of a model.
ALL_KEYS = tuple(f.name for f in fields(ModelSettings))


_BOOLEANS = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}


def parse_value(name: str, text: str) -> object:
    """A per-model value from command-line text (``--set temperature=0.7``).

    "default" (or an empty text) clears the value; numbers, true/false and text are read
    as the field needs.

    Raises:
        UsageError: the name is unknown or the value is not valid for it.
    """
    if name not in ALL_KEYS:
        raise UsageError(f"{name!r} is not a per-model setting; choose from {', '.join(ALL_KEYS)}.")
    if text.strip().lower() in ("", "default", "none"):
        return None
    value: object = text
    if name in ("context_size", "threads", "top_k", "max_tokens"):
        try:
            value = int(text)
        except ValueError:
            value = text
    elif name in _FLOAT_KEYS:
        try:
            value = float(text)
        except ValueError:
            value = text
    elif name == "thinking":
        value = _BOOLEANS.get(text.strip().lower(), text)
    problem = model_setting_problem(name, value)
    if problem is not None:
        raise UsageError(f"The model setting {name} = {shown(value)} {problem}.")
    return value


@dataclass(frozen=True)
class ModelSettingsStore:
    """Reads and writes ``<config>/model-settings.json``.

    Attributes:
        path: the file.
    """

    path: Path

    @classmethod
    def for_paths(cls, paths: Paths) -> ModelSettingsStore:
        """The store in Hearth's config folder."""
        return cls(paths.config_dir / MODEL_SETTINGS_FILE)

    def _read(self) -> dict[str, dict[str, Any]]:
        """The entries by key. A damaged file is set aside (and reads as empty); a newer
        version's file is read as far as this version understands it, never rewritten."""
        try:
            raw = read_json(self.path, max_bytes=MAX_MODEL_SETTINGS_BYTES)
            if not isinstance(raw, dict) or not isinstance(raw.get("models", {}), dict):
                raise BrokenFile("it does not hold a JSON object with a models object")
        except FileNotFoundError:
            return {}
        except BrokenFile as exc:
            aside = set_aside(self.path, keep=True)
            log.warning("Model settings %s cannot be used (%s); kept as %s", self.path, exc, aside)
            return {}
        models: dict[str, dict[str, Any]] = {}
        for key, record in raw.get("models", {}).items():
            if isinstance(key, str) and isinstance(record, dict):
                models[key] = record
        return models

    def _settings_of(self, record: dict[str, Any]) -> ModelSettings:
        stored = record.get("settings", {})
        if not isinstance(stored, dict):
            return ModelSettings()
        kept: dict[str, Any] = {}
        for name, value in stored.items():
            if name not in ALL_KEYS:
                continue
            problem = model_setting_problem(name, value)
            if problem is None:
                kept[name] = value
            else:
                log.warning("Per-model setting %s = %s ignored: it %s", name, shown(value), problem)
        return ModelSettings(**kept)

    def _newer(self) -> bool:
        try:
            raw = read_json(self.path, max_bytes=MAX_MODEL_SETTINGS_BYTES)
        except (FileNotFoundError, BrokenFile):
            return False
        version = raw.get("version", 1) if isinstance(raw, dict) else 1
        return isinstance(version, int) and version > MODEL_SETTINGS_VERSION

    def get(self, key: str) -> ModelSettings:
        """The settings stored under ``key`` (empty when there are none; never raises)."""
        record = self._read().get(key)
        return self._settings_of(record) if record is not None else ModelSettings()

    def get_for_file(self, path: str | os.PathLike[str]) -> ModelSettings:
        """The settings of the model file ``path`` (empty when it cannot be read)."""
        try:
            key = fingerprint(path)
        except OSError as exc:
            log.warning("Cannot read %s for its settings: %s", path, exc)
            return ModelSettings()
        return self.get(key)

    def put(self, key: str, settings: ModelSettings, *, name: str = "", path: str = "") -> None:
        """Store ``settings`` under ``key``; empty settings remove the entry.

        Args:
            key: the model's :func:`fingerprint`.
            settings: what the user set.
            name: the model's id or file name, to make the file readable by hand.
            path: where the file was last seen (shown, never used as the key).

        Raises:
            UsageError: the file is a newer version's (it is left as it is).
            OSError: the config folder cannot be written.
        """
        with locked(self.path):
            if self._newer():
                raise UsageError(
                    f"{self.path} was written by a newer version of Hearth; "
                    "change the model's settings there, or update Hearth."
                )
            models = self._read()
            if settings.empty:
                models.pop(key, None)
            else:
                models[key] = {"name": name, "path": path, "settings": settings.set_values()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self.path, {"version": MODEL_SETTINGS_VERSION, "models": models})

    def update(
        self, path: str | os.PathLike[str], *, name: str = "", **changes: Any
    ) -> ModelSettings:
        """Change some of the settings of the model file ``path``; ``None`` clears one.

        Returns:
            The model's settings after the change.

        Raises:
            UsageError: a value is not valid (nothing is written).
            OSError: the model cannot be read or the config folder cannot be written.
        """
        key = fingerprint(path)
        settings = replace(self.get(key), **changes)
        self.put(key, settings, name=name, path=str(path))
        return settings

    def reset(self, path: str | os.PathLike[str]) -> None:
        """Forget everything set for the model file ``path``: it follows the defaults."""
        self.put(fingerprint(path), ModelSettings())


__all__ = [
    "ALL_KEYS",
    "KNOWN_TEMPLATE_FORMATS",
    "LOAD_KEYS",
    "OTHER_KEYS",
    "SAMPLING_KEYS",
    "ModelSettings",
    "ModelSettingsStore",
    "fingerprint",
    "model_setting_problem",
    "parse_value",
]
