"""Which value applies to a model: the user's for it, the GGUF's recommendation, or Hearth's.

For each per-model setting (engine.data.model_settings) the order is:

1. what the user set for this model;
2. what the model's publisher recommends in the GGUF header (``general.sampling.*``,
   written by llama.cpp's converter from ``generation_config.json``);
3. Hearth's default: the global settings, the Chat options, :class:`SamplingParams`.

A value given for one request (a command-line flag) wins over all three; the callers
apply it.

Thread: no Qt. :func:`model_defaults` reads two files; call it off the event loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from engine.data.config import Paths
from engine.data.model_settings import (
    SAMPLING_KEYS,
    ModelSettings,
    ModelSettingsStore,
    fingerprint,
    model_setting_problem,
)
from engine.errors import ModelFileError
from engine.models.gguf_info import read_gguf_info
from engine.types import SamplingParams

log = logging.getLogger("engine.model_settings")

Source = Literal["model", "gguf", "default"]

#: Per-model sampling field -> the GGUF key that recommends it (llama.cpp's
#: LLM_KV_GENERAL_SAMPLING_* names).
GGUF_SAMPLING_KEYS = {
    "temperature": "general.sampling.temp",
    "top_p": "general.sampling.top_p",
    "top_k": "general.sampling.top_k",
    "min_p": "general.sampling.min_p",
    "repeat_penalty": "general.sampling.penalty_repeat",
}


def gguf_recommendations(metadata: Mapping[str, object]) -> dict[str, object]:
    """The sampling values a GGUF header recommends; invalid ones are ignored.

    Args:
        metadata: the header's key-value pairs (``GGUFInfo.metadata``).

    Returns:
        Per-model setting name -> value, for each valid recommendation.
    """
    found: dict[str, object] = {}
    for name, key in GGUF_SAMPLING_KEYS.items():
        value = metadata.get(key)
        if value is None or isinstance(value, bool):
            continue
        if name == "top_k" and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and name != "top_k":
            value = float(value)
        if model_setting_problem(name, value) is None:
            found[name] = value
        else:
            log.info("The model recommends %s = %r, which Hearth cannot use", key, value)
    return found


@dataclass(frozen=True)
class ModelDefaults:
    """What applies to one model, before any per-request flag.

    Attributes:
        key: the model's fingerprint (engine.data.model_settings.fingerprint).
        settings: what the user set for it.
        recommended: what its GGUF header recommends (:func:`gguf_recommendations`).
    """

    key: str = ""
    settings: ModelSettings = field(default_factory=ModelSettings)
    recommended: Mapping[str, object] = field(default_factory=dict)

    def source(self, name: str) -> Source:
        """Where the value of ``name`` comes from for this model."""
        if getattr(self.settings, name) is not None:
            return "model"
        if name in self.recommended:
            return "gguf"
        return "default"

    def value(self, name: str, default: object) -> object:
        """The value of ``name`` for this model, ``default`` when neither sets it."""
        own = getattr(self.settings, name)
        if own is not None:
            return own
        return self.recommended.get(name, default)

    def sampling(self, base: SamplingParams) -> SamplingParams:
        """``base`` (the global sampling settings) with this model's values applied."""
        changes: dict[str, Any] = {
            name: self.value(name, getattr(base, name))
            for name in SAMPLING_KEYS
            if self.source(name) != "default"
        }
        return replace(base, **changes) if changes else base

    def system_prompt(self, base: str) -> str:
        """The system prompt for this model: its own, else ``base``."""
        own = self.settings.system_prompt
        return own if own is not None else base

    def thinking(self, base: bool | None) -> bool | None:
        """Whether a reasoning model thinks: its own choice, else ``base``."""
        own = self.settings.thinking
        return own if own is not None else base


def model_defaults(paths: Paths, path: str | os.PathLike[str]) -> ModelDefaults:
    """Read what applies to the model file ``path``: its settings and its header's advice.

    Never raises: a file that cannot be read gives the defaults (loading it reports
    the problem).
    """
    store = ModelSettingsStore.for_paths(paths)
    try:
        key = fingerprint(path)
    except OSError as exc:
        log.warning("Cannot read %s for its settings: %s", path, exc)
        return ModelDefaults()
    try:
        recommended = gguf_recommendations(read_gguf_info(path).metadata)
    except (ModelFileError, OSError) as exc:
        log.info("No recommendations from %s: %s", path, exc)
        recommended = {}
    return ModelDefaults(key=key, settings=store.get(key), recommended=recommended)
