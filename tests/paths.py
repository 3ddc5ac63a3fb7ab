"""Where the repository lies, for tests that run its scripts or start Python inside it."""

from __future__ import annotations

from pathlib import Path

#: The repository's root: the folder holding ``engine/``, ``benchmarks/`` and ``tests/``.
ROOT = Path(__file__).resolve().parent.parent
