"""Where the tests find a real code model with fill-in-the-middle tokens (Qwen2.5-Coder).

Not a conftest: a test module that needs the model asks :func:`coder_model_path` from its
own fixture. ``$HEARTH_TEST_CODER_MODEL`` names a GGUF file to use; else the known place
of Qwen2.5-Coder-0.5B-Instruct Q4_K_M is tried; the test is skipped, saying how to
provide the model, when neither holds it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The environment variable naming the coder model's GGUF file.
ENV = "HEARTH_TEST_CODER_MODEL"
#: Qwen2.5-Coder-0.5B-Instruct Q4_K_M: its GGUF header declares no FIM tokens, but its
#: vocabulary has them (llama.cpp finds them by their text).
FILE_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
_KNOWN_PLACES = (Path("/work/models") / FILE_NAME,)


def coder_model_path() -> Path:
    """The coder model's GGUF file; skips the calling test when there is none."""
    named = os.environ.get(ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            pytest.fail(f"${ENV} names {named}, which is not a file")
        return path
    for path in _KNOWN_PLACES:
        if path.is_file():
            return path
    pytest.skip(f"no coder model: set ${ENV} to a Qwen2.5-Coder GGUF file ({FILE_NAME})")
