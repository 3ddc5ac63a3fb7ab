"""Hearth's desktop app: Qt widgets only; the engine is reached through EngineClient."""
