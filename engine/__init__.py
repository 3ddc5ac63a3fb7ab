"""Hearth's engine: models, backends, the worker process and the tasks — everything but pixels."""

#: Hearth's version, in one place: pyproject.toml reads it from here for the package metadata.
__version__ = "0.1.0"
