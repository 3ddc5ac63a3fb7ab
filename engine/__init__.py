"""Hearth's engine: models, backends, the worker process and the tasks — everything but pixels."""

__version__ = "0.1.0"
