"""System prompt presets and the Chat pane's sampling settings, stored as versioned JSON.

:class:`ChatOptions` is the value the Chat pane edits: the presets (built-in ones, with
the user's overrides, then the user's own), which one is selected, the prompt as the
user left it in the editor, and the :class:`~engine.types.SamplingParams`.
:class:`ChatOptionsStore` reads and writes it in ``<config>/chat-options.json``.

Only what the user changed is written: overrides of built-in presets and the user's own
presets. Unchanged built-ins are not stored, so a later version of Hearth can improve
their wording and users get the better text.

Thread: no Qt here. :class:`ChatOptions` is immutable and safe anywhere; the store's
:meth:`~ChatOptionsStore.load` and :meth:`~ChatOptionsStore.save` touch the disk and are
meant for a worker thread (``asyncio.to_thread``), never the Qt thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.data.config import Paths
from engine.data.jsonfile import BrokenFile, read_json, set_aside, shown, write_json
from engine.errors import UsageError
from engine.types import SamplingParams, sampling_problem

log = logging.getLogger("engine.presets")

#: The file, in Hearth's config folder, that holds the chat options.
CHAT_OPTIONS_FILE = "chat-options.json"
CHAT_OPTIONS_VERSION = 1
#: The longest preset name accepted (it has to fit in a combo box).
MAX_NAME_LENGTH = 60
#: The largest chat options file read. Presets are prompts people write by hand, a few
#: hundred bytes each: 8 MiB holds thousands of long ones, and is still read at once.
MAX_OPTIONS_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SystemPreset:
    """A named system prompt.

    Attributes:
        name: what the user picks it by; unique among the presets (ignoring case).
        prompt: the instructions the model reads before the conversation.
        builtin: whether Hearth ships it (it can be edited and restored, not deleted).
    """

    name: str
    prompt: str
    builtin: bool = False


DEFAULT_PRESET = "Assistant"

# Plain, short instructions: the starter model has 135M parameters and follows simple
# sentences far better than long rule lists.
BUILTIN_PRESETS: tuple[SystemPreset, ...] = (
    SystemPreset(
        DEFAULT_PRESET,
        "You are a helpful assistant. Answer clearly and truthfully. "
        "If you do not know something, say so.",
        builtin=True,
    ),
    SystemPreset(
        "Concise",
        "You are a helpful assistant. Give short, direct answers: one or two sentences "
        "unless the user asks for more.",
        builtin=True,
    ),
    SystemPreset(
        "Explain like a teacher",
        "You are a patient teacher. Explain step by step in simple words. "
        "Give a short example when it helps. End with a one-sentence summary.",
        builtin=True,
    ),
    SystemPreset(
        "Translator (English ↔ 中文)",
        "You are a translator. If the user writes in English, translate the text into "
        "Simplified Chinese. If the user writes in Chinese, translate it into English. "
        "Reply with the translation only.",
        builtin=True,
    ),
    SystemPreset(
        "Code helper",
        "You are a programming assistant. Write correct, simple code in Markdown code "
        "blocks marked with the language. Explain briefly what the code does.",
        builtin=True,
    ),
    SystemPreset(
        "Writing editor",
        "You are a careful editor. Fix the spelling, grammar and punctuation of the "
        "user's text and make it clearer, but keep its meaning and tone. Reply with the "
        "improved text, then list the main changes.",
        builtin=True,
    ),
)

_ORIGINALS: dict[str, str] = {p.name: p.prompt for p in BUILTIN_PRESETS}


def builtin_prompt(name: str) -> str | None:
    """The shipped text of the built-in preset ``name``, or None if there is no such built-in."""
    return _ORIGINALS.get(name)


@dataclass(frozen=True)
class ChatOptions:
    """System prompt presets and sampling settings, as the Chat pane's side panel edits them.

    Every ``with_*`` method returns a new value; the ones that change presets raise
    :class:`~engine.errors.UsageError` for a request that cannot be met (a duplicate
    name, deleting a built-in preset, an unknown preset).

    Attributes:
        presets: built-in presets first (with the user's overrides), then the user's own.
        selected: the selected preset's name, or "" for a custom prompt that is no preset.
        sampling: the sampling settings for answers.
        draft: the prompt as edited but not saved into the selected preset; None when the
            editor holds the selected preset's own text.
    """

    presets: tuple[SystemPreset, ...] = BUILTIN_PRESETS
    selected: str = DEFAULT_PRESET
    sampling: SamplingParams = field(default_factory=SamplingParams)
    draft: str | None = None

    @classmethod
    def defaults(cls) -> ChatOptions:
        """The options of a first run: the built-in presets, the default one selected."""
        return cls()

    # -- reading -----------------------------------------------------------------------

    def preset(self, name: str) -> SystemPreset | None:
        """The preset called ``name`` (exactly), or None."""
        return next((p for p in self.presets if p.name == name), None)

    @property
    def selected_preset(self) -> SystemPreset | None:
        """The selected preset, or None when the prompt is custom."""
        return self.preset(self.selected) if self.selected else None

    @property
    def system_prompt(self) -> str:
        """The system prompt to send: the draft if there is one, else the selected preset's."""
        if self.draft is not None:
            return self.draft
        preset = self.selected_preset
        return preset.prompt if preset is not None else ""

    def is_overridden(self, name: str) -> bool:
        """Whether ``name`` is a built-in preset whose text the user changed."""
        preset = self.preset(name)
        original = builtin_prompt(name)
        return preset is not None and original is not None and preset.prompt != original

    def find_name(self, name: str) -> SystemPreset | None:
        """The preset whose name matches ``name`` ignoring case and outer spaces, or None."""
        key = name.strip().casefold()
        return next((p for p in self.presets if p.name.casefold() == key), None)

    # -- selection and editing ---------------------------------------------------------

    def with_selected(self, name: str) -> ChatOptions:
        """Select the preset ``name``; the editor shows its own text (any draft is dropped)."""
        self._require(name)
        return replace(self, selected=name, draft=None)

    def with_prompt(self, text: str) -> ChatOptions:
        """The user edited the prompt; it stays a draft until saved into a preset."""
        preset = self.selected_preset
        if preset is not None and text == preset.prompt:
            return replace(self, draft=None)
        return replace(self, draft=text)

    def with_custom_prompt(self, text: str) -> ChatOptions:
        """Show ``text`` as a custom prompt that belongs to no preset."""
        return replace(self, selected="", draft=text)

    def with_sampling(self, sampling: SamplingParams) -> ChatOptions:
        """Replace the sampling settings."""
        return replace(self, sampling=sampling)

    # -- presets -----------------------------------------------------------------------

    def with_preset_saved(self, name: str, prompt: str) -> ChatOptions:
        """Overwrite the text of the existing preset ``name`` (a built-in gets an override).

        If ``name`` is the selected preset, its draft becomes its text.
        """
        self._require(name)
        presets = tuple(replace(p, prompt=prompt) if p.name == name else p for p in self.presets)
        draft = None if name == self.selected else self.draft
        return replace(self, presets=presets, draft=draft)

    def with_preset_added(self, name: str, prompt: str) -> ChatOptions:
        """Add a user preset and select it.

        Raises:
            UsageError: the name is empty, too long, or taken (ignoring case).
        """
        name = self._check_new_name(name)
        presets = (*self.presets, SystemPreset(name, prompt))
        return replace(self, presets=presets, selected=name, draft=None)

    def with_preset_renamed(self, old: str, new: str) -> ChatOptions:
        """Rename the user preset ``old`` to ``new``; the selection follows it.

        Raises:
            UsageError: ``old`` is unknown or built in, or ``new`` is empty, too long or taken.
        """
        preset = self._require_user_preset(old, "renamed")
        new = new.strip()
        # Changing only the case of its own name is not a clash with itself.
        if new.casefold() != old.casefold():
            new = self._check_new_name(new)
        presets = tuple(replace(p, name=new) if p is preset else p for p in self.presets)
        selected = new if self.selected == old else self.selected
        return replace(self, presets=presets, selected=selected)

    def with_preset_deleted(self, name: str) -> ChatOptions:
        """Delete the user preset ``name``; if it was selected, the default preset is.

        Raises:
            UsageError: ``name`` is unknown or a built-in preset.
        """
        preset = self._require_user_preset(name, "deleted")
        presets = tuple(p for p in self.presets if p is not preset)
        if self.selected != name:
            return replace(self, presets=presets)
        return replace(self, presets=presets, selected=DEFAULT_PRESET, draft=None)

    def with_preset_restored(self, name: str) -> ChatOptions:
        """Bring back the shipped text of the built-in preset ``name``.

        If it is selected, the editor shows the restored text (any draft is dropped).

        Raises:
            UsageError: ``name`` is not a built-in preset.
        """
        original = builtin_prompt(name)
        if original is None:
            raise UsageError(f"“{name}” is not a built-in preset, so there is nothing to restore.")
        return self.with_preset_saved(name, original)

    # -- checks ------------------------------------------------------------------------

    def _require(self, name: str) -> SystemPreset:
        preset = self.preset(name)
        if preset is None:
            raise UsageError(f"There is no preset called “{name}”.")
        return preset

    def _require_user_preset(self, name: str, action: str) -> SystemPreset:
        preset = self._require(name)
        if preset.builtin:
            raise UsageError(f"“{name}” is a built-in preset; it cannot be {action}.")
        return preset

    def _check_new_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise UsageError("A preset needs a name.")
        if len(name) > MAX_NAME_LENGTH:
            raise UsageError(f"A preset name can be at most {MAX_NAME_LENGTH} characters long.")
        if self.find_name(name) is not None:
            raise UsageError(f"A preset called “{name}” already exists; choose another name.")
        return name


# -- validation of stored sampling values ----------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_sampling(raw: dict[str, Any], *, source: str = "") -> SamplingParams:
    """Sampling settings from a stored dict; a bad value falls back to its default alone.

    Each value is checked by :func:`engine.types.sampling_problem`, the same check the
    command line and :class:`~engine.types.SamplingParams` use.

    Args:
        raw: the stored form (:meth:`SamplingParams.to_dict`), possibly damaged or old.
        source: where it came from, for the log.

    Returns:
        The settings; every missing, out-of-range or ill-typed value is the default of
        :class:`~engine.types.SamplingParams`, with a warning in the log.
    """
    defaults = SamplingParams()
    values: dict[str, Any] = {}
    for f in fields(SamplingParams):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if sampling_problem(f.name, value) is None:
            values[f.name] = value
        else:
            log.warning(
                "Chat options %s: sampling value %s=%s is out of range; using the default %r",
                source,
                f.name,
                shown(value),
                getattr(defaults, f.name),
            )
    unknown = sorted(set(raw) - {f.name for f in fields(SamplingParams)})
    if unknown:
        log.warning("Chat options %s: ignoring unknown sampling keys %s", source, shown(unknown))
    return replace(defaults, **values)


# -- the store -------------------------------------------------------------------------


class _Broken(BrokenFile):
    """The file is JSON, but not chat options at all."""


# Migrations take the raw dict of version N and return version N+1.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class ChatOptionsStore:
    """Reads and writes :class:`ChatOptions` as versioned JSON.

    The file looks like ``{"version": 1, "presets": [...], "selected": name,
    "sampling": {...}, "draft": text-or-null}``; ``presets`` holds the user's own
    presets and overrides of built-in ones, each ``{"name", "prompt", "builtin"}``.

    A file that cannot be read at all (not JSON, larger than :data:`MAX_OPTIONS_BYTES`,
    nested too deeply, the wrong shape) is moved aside as
    ``chat-options.json.broken-<timestamp>`` and the defaults are used; a file with some
    unusable presets is copied there and the usable rest is loaded, so nothing the user
    wrote is silently lost.

    Thread: a worker thread (``asyncio.to_thread``); saves from several threads are
    serialized, but the caller should still send them in order (the last one wins).

    Args:
        path: the JSON file; see :meth:`for_paths` for the usual place.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    @classmethod
    def for_paths(cls, paths: Paths) -> ChatOptionsStore:
        """The store in Hearth's config folder (``<config>/chat-options.json``)."""
        return cls(paths.config_dir / CHAT_OPTIONS_FILE)

    @property
    def path(self) -> Path:
        """The JSON file."""
        return self._path

    def load(self) -> ChatOptions:
        """Read the options; a missing file gives the defaults.

        Returns:
            The stored options, repaired where needed (see the class docstring).
        """
        with self._lock:
            try:
                return self._parse(read_json(self._path, max_bytes=MAX_OPTIONS_BYTES))
            except FileNotFoundError:
                return ChatOptions()
            except BrokenFile as exc:
                log.warning("Chat options file %s unreadable (%s); using defaults", self._path, exc)
                set_aside(self._path)
                return ChatOptions()

    def save(self, options: ChatOptions) -> None:
        """Write the options atomically: a temporary file beside it, then ``os.replace``.

        Raises:
            OSError: the folder cannot be created or written.
        """
        data = {
            "version": CHAT_OPTIONS_VERSION,
            "presets": [
                {"name": p.name, "prompt": p.prompt, "builtin": p.builtin}
                for p in options.presets
                if not p.builtin or options.is_overridden(p.name)
            ],
            "selected": options.selected,
            "sampling": options.sampling.to_dict(),
            "draft": options.draft,
        }
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self._path, data)

    # -- parsing -----------------------------------------------------------------------

    def _parse(self, raw: Any) -> ChatOptions:
        if not isinstance(raw, dict):
            raise _Broken("the file does not hold an object")
        version = raw.get("version", CHAT_OPTIONS_VERSION)
        if not _is_int(version) or version < 1:
            raise _Broken(f"unknown version {shown(version)}")
        while version < CHAT_OPTIONS_VERSION:
            raw = _MIGRATIONS[version](raw)
            version += 1
        stored = raw.get("presets", [])
        sampling = raw.get("sampling", {})
        if not isinstance(stored, list):
            raise _Broken("'presets' is not a list")
        if not isinstance(sampling, dict):
            raise _Broken("'sampling' is not an object")

        presets, dropped = _merge_presets(stored, source=str(self._path))
        if dropped:
            # Keep a copy of what could not be used: the next save drops it from the file.
            set_aside(self._path, keep=True)
        options = ChatOptions(
            presets=presets, sampling=validate_sampling(sampling, source=str(self._path))
        )

        selected = raw.get("selected", DEFAULT_PRESET)
        draft = raw.get("draft")
        if draft is not None and not isinstance(draft, str):
            log.warning("Chat options %s: ignoring a draft that is not text", self._path)
            draft = None
        if selected == "":
            return options.with_custom_prompt(draft or "")
        if not isinstance(selected, str) or options.preset(selected) is None:
            log.warning(
                "Chat options %s: selected preset %r does not exist; selecting %r",
                self._path,
                selected,
                DEFAULT_PRESET,
            )
            return options
        options = options.with_selected(selected)
        return options.with_prompt(draft) if draft is not None else options


def _merge_presets(stored: list[Any], *, source: str) -> tuple[tuple[SystemPreset, ...], bool]:
    """Built-in presets with the stored overrides applied, then the stored user presets.

    Returns:
        The presets, and whether some stored entries were unusable and left out.
    """
    overrides: dict[str, str] = {}
    users: list[SystemPreset] = []
    seen: set[str] = {p.name.casefold() for p in BUILTIN_PRESETS}
    dropped = False
    for entry in stored:
        name = entry.get("name") if isinstance(entry, dict) else None
        prompt = entry.get("prompt") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip() or not isinstance(prompt, str):
            log.warning("Chat options %s: skipping an unusable preset entry %r", source, entry)
            dropped = True
            continue
        name = name.strip()
        if name in _ORIGINALS:
            overrides[name] = prompt
            continue
        # A built-in preset a later version no longer ships becomes the user's own,
        # whatever its stored "builtin" flag says: its text is not lost.
        if name.casefold() in seen:
            log.warning("Chat options %s: skipping a second preset named %r", source, name)
            dropped = True
            continue
        seen.add(name.casefold())
        users.append(SystemPreset(name, prompt))
    builtins = tuple(replace(p, prompt=overrides.get(p.name, p.prompt)) for p in BUILTIN_PRESETS)
    return (*builtins, *users), dropped


__all__ = [
    "BUILTIN_PRESETS",
    "CHAT_OPTIONS_FILE",
    "CHAT_OPTIONS_VERSION",
    "DEFAULT_PRESET",
    "MAX_NAME_LENGTH",
    "MAX_OPTIONS_BYTES",
    "ChatOptions",
    "ChatOptionsStore",
    "SystemPreset",
    "builtin_prompt",
    "validate_sampling",
]
