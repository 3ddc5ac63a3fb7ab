"""Inference backends, each behind the small protocol in ``base``."""
