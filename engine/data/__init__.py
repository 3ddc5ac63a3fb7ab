"""Hearth's own files: settings and paths, history, presets, logs, and the JSON and atomic
writers under them."""
