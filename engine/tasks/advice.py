"""Which catalog model to suggest when the loaded one is too small for a task.

The sizes come from ``benchmarks/quality.md``: on its documents with planted facts the
0.5 B coder (the starter model before the 1.5 B one) keeps about a third of the facts in
its summaries, while Qwen2.5-Coder-1.5B wrote correct points on the same Chinese guide
that the 0.5 B model copied; so a summary wants a model of about 1 B parameters or more.
(For code, the 0.5 B coder passes the benchmark's hidden tests;
``engine.tasks.code.code_model_advice`` suggests a code model only in place of a general
one.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.tasks.code import SMALL_CPU_CORES, SMALL_CPU_PARAMETERS

if TYPE_CHECKING:
    from engine.models.catalog import CatalogEntry
    from engine.models.hardware import Hardware

#: Below this size a model's summaries lose most of a document (see the module's text).
SUMMARY_MIN_PARAMETERS = 1_000_000_000


def summary_model_advice(
    parameters: int,
    entries: Sequence[CatalogEntry],
    hardware: Hardware,
    n_ctx: int,
) -> CatalogEntry | None:
    """A catalog model to summarize with in place of a model of ``parameters``.

    Args:
        parameters: the loaded model's size (0: unknown, and then no advice).
        entries: the catalog.
        hardware: this computer's hardware.
        n_ctx: the context size the model will run at.

    Returns:
        None when the model is big enough (or its size unknown) or nothing larger fits;
        else the best fitting summary model of at least :data:`SUMMARY_MIN_PARAMETERS`.
        On a computer with a few CPU cores and no GPU, models up to
        ``SMALL_CPU_PARAMETERS`` come first, smallest first: a summary is many chunks,
        and a 7 B model there would take many minutes over a long document.
    """
    from engine.models.catalog import recommend

    if not 0 < parameters < SUMMARY_MIN_PARAMETERS:
        return None
    fitting = [
        e
        for e in recommend(entries, task="summarize", hardware=hardware, n_ctx=n_ctx)
        if e.parameters >= SUMMARY_MIN_PARAMETERS
    ]
    if not hardware.gpus and hardware.cpu.physical_cores <= SMALL_CPU_CORES:
        quick = sorted(
            (e for e in fitting if e.parameters <= SMALL_CPU_PARAMETERS), key=lambda e: e.parameters
        )
        fitting = quick + [e for e in fitting if e not in quick]
    return fitting[0] if fitting else None


__all__ = ["SUMMARY_MIN_PARAMETERS", "summary_model_advice"]
