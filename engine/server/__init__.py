"""Hearth's OpenAI-compatible HTTP API (``hearth-cli serve``), safe by default."""
