"""The curated model catalog: loading ``resources/catalog.json`` and recommending entries that fit.

The catalog names well-known instruction-tuned GGUF repositories on the Hugging Face
hub, the quantizations they offer and what they are good for. It holds no file names,
sizes or hashes: those come from the hub at download time.

:func:`recommend` answers "which of these would run well here?" before anything is
downloaded, for the Code pane's "suggest a code model that fits" and the Discover tab.
It estimates each entry's memory from its parameter count, the bits per weight of its
recommended quantization and an approximate KV cache, and then asks the same planner
that places a real model (:func:`engine.models.plan.fit_badge`), so a catalog suggestion and
the badge shown for the downloaded file agree as far as an estimate can.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.models.gguf_info import MemoryEstimate
from engine.models.hardware import Hardware
from engine.models.plan import FitBadge, fit_badge
from engine.resources import resources_dir

log = logging.getLogger("engine.catalog")

#: The catalog format this code reads.
CATALOG_VERSION = 1

#: What an entry can be recommended for.
TASKS: tuple[str, ...] = ("chat", "summarize", "code")

#: Approximate bits per weight of common llama.cpp quantizations, averaged over a whole
#: file (K-quants keep some tensors at higher precision, hence the fractions).
BITS_PER_WEIGHT: dict[str, float] = {
    "Q2_K": 2.96,
    "Q3_K_S": 3.5,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "IQ4_XS": 4.25,
    "Q4_0": 4.55,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.85,
    "Q4_1": 5.0,
    "Q5_0": 5.54,
    "Q5_K_S": 5.54,
    "Q5_K_M": 5.7,
    "Q5_1": 6.0,
    "Q6_K": 6.56,
    "Q8_0": 8.5,
    "F16": 16.0,
    "BF16": 16.0,
    "F32": 32.0,
}

#: Share of a model's weights outside the repeating blocks (embeddings, output head).
#: A rough average: about 5% for 7B+ models, more for small ones with big vocabularies.
NON_LAYER_SHARE = 0.1

#: Bytes per K/V element: llama.cpp's default F16 KV cache.
KV_BYTES_PER_ELEMENT = 2

#: Attention heads assumed by the compute-buffer estimate (the catalog does not list them).
_ASSUMED_HEADS = 32

#: Vocabulary assumed for the logits buffer (Qwen's 152k, the largest in the catalog).
_ASSUMED_VOCAB = 152_064

#: llama.cpp's micro-batch, the number of tokens a compute buffer is sized for.
_N_UBATCH = 512

#: Above this many parameters a model that does not fit on a GPU generates only a few
#: tokens a second on a typical CPU, so :func:`recommend` lists it after smaller ones.
CPU_COMFORT_PARAMETERS = 8.5e9

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")

_REQUIRED = (
    "repo_id",
    "name",
    "parameters",
    "quantizations",
    "recommended_quant",
    "license",
    "context_length",
    "languages",
    "tasks",
    "description",
    "description_zh",
)
_OPTIONAL = ("fim", "layers", "kv_heads", "head_dim")


def default_catalog_path() -> Path:
    """The catalog shipped with Hearth: ``<resources>/catalog.json``."""
    return resources_dir() / "catalog.json"


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class CatalogEntry:
    """One curated GGUF repository.

    Attributes:
        repo_id: the hub repository, ``owner/name``.
        name: the name shown to users.
        parameters: parameter count, e.g. ``1.5e9``.
        quantizations: quantization names the repository offers, e.g. ``("Q4_K_M", "Q8_0")``.
        recommended_quant: the one to suggest; one of ``quantizations``.
        license: SPDX id or the model's own license name (``"llama3.1"``, ``"gemma"``).
        context_length: the context the model was trained for, in tokens.
        languages: ISO 639-1 codes of the languages it handles well.
        tasks: a subset of :data:`TASKS`.
        description: one line in English.
        description_zh: the same line in Simplified Chinese.
        fim: the model has fill-in-the-middle tokens (code completion).
        layers: transformer blocks, from the model's config (None: estimated).
        kv_heads: key/value attention heads (None: estimated).
        head_dim: size of one attention head (None: estimated).
    """

    repo_id: str
    name: str
    parameters: float
    quantizations: tuple[str, ...]
    recommended_quant: str
    license: str
    context_length: int
    languages: tuple[str, ...]
    tasks: tuple[str, ...]
    description: str
    description_zh: str
    fim: bool = False
    layers: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None

    @property
    def publisher(self) -> str:
        """The repository's owner (``"Qwen"``, ``"bartowski"``)."""
        return self.repo_id.partition("/")[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (for ``--json`` output)."""
        out = asdict(self)
        for key in ("quantizations", "languages", "tasks"):
            out[key] = list(out[key])
        return out

    def description_for(self, language: str) -> str:
        """The description in an interface language (``"zh_CN"`` or any ``zh*`` gives Chinese)."""
        return self.description_zh if language.lower().startswith("zh") else self.description

    def shape(self, quant: str | None = None) -> CatalogShape:
        """An estimated model shape the planner can read, before any file is downloaded.

        Args:
            quant: the quantization; defaults to :attr:`recommended_quant`.

        Returns:
            The estimate.

        Raises:
            EngineError: the quantization's bits per weight are not known.
        """
        quant = quant or self.recommended_quant
        bits = BITS_PER_WEIGHT.get(quant.upper())
        if bits is None:
            raise EngineError(
                f"Hearth cannot estimate the size of a {quant} file of {self.repo_id}; "
                "check its size on the hub instead."
            )
        weights = int(self.parameters * bits / 8)
        layers = self.layers or _guess_layers(self.parameters)
        # Without the catalog's numbers assume a Llama-style 8 KV heads × 128, which errs
        # high for most small models (they share fewer KV heads).
        kv_width = self.kv_heads * self.head_dim if self.kv_heads and self.head_dim else 8 * 128
        return CatalogShape(
            weights_bytes=weights,
            block_count=layers,
            kv_elements_per_token_per_layer=2 * kv_width,
            context_length=self.context_length,
        )


def _guess_layers(parameters: float) -> int:
    """A typical block count for a parameter count, when the catalog does not give one."""
    billions = parameters / 1e9
    if billions < 1.0:
        return 24
    if billions < 4.5:
        return 28
    if billions < 10.0:
        return 32
    return 48


@dataclass(frozen=True)
class CatalogShape:
    """A model's memory shape estimated from catalog data (fits ``engine.models.plan.ModelShape``).

    Everything here is approximate: the weights from parameters × bits per weight, the
    KV cache from the block count and KV width at an F16 cache, every block counted with
    the full context (an upper bound for sliding-window models such as Gemma 2), and the
    compute buffer from assumed head count and vocabulary (meant to err high). The real
    numbers come from the GGUF header once a file is chosen.

    Attributes:
        weights_bytes: estimated bytes of all weights.
        block_count: transformer blocks.
        kv_elements_per_token_per_layer: K plus V elements one token needs in one block.
        context_length: the trained context, in tokens.
    """

    weights_bytes: int
    block_count: int
    kv_elements_per_token_per_layer: int
    context_length: int

    @property
    def non_layer_bytes(self) -> int:
        """Embeddings and output head, as a fixed share of the weights."""
        return int(self.weights_bytes * NON_LAYER_SHARE)

    @property
    def layer_bytes(self) -> tuple[int, ...]:
        """The remaining weights spread evenly over the blocks."""
        each = (self.weights_bytes - self.non_layer_bytes) // max(1, self.block_count)
        return (each,) * self.block_count

    def layer_kv_bytes(self, n_ctx: int) -> int:
        """KV cache bytes of one block at ``n_ctx`` tokens (F16 cache)."""
        return max(0, n_ctx) * self.kv_elements_per_token_per_layer * KV_BYTES_PER_ELEMENT

    def compute_bytes(self, n_ctx: int) -> int:
        """A rough compute buffer plus logits at ``n_ctx`` tokens (same form as ``GGUFInfo``)."""
        n_tokens = max(1, min(_N_UBATCH, n_ctx))
        return 4 * n_tokens * (max(0, n_ctx) * _ASSUMED_HEADS + _ASSUMED_VOCAB)

    def memory_estimate(self, n_ctx: int) -> MemoryEstimate:
        """Weights + KV cache + compute buffer at ``n_ctx`` tokens."""
        kv = self.block_count * self.layer_kv_bytes(n_ctx)
        compute = self.compute_bytes(n_ctx)
        return MemoryEstimate(
            weights_bytes=self.weights_bytes,
            kv_bytes=kv,
            compute_bytes=compute,
            total_bytes=self.weights_bytes + kv + compute,
        )


# --------------------------------------------------------------------------- loading


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    """Read and validate a catalog file.

    Args:
        path: the file; defaults to the one shipped with Hearth (:func:`default_catalog_path`).

    Returns:
        The entries, in file order.

    Raises:
        EngineError: the file is missing, unreadable, not JSON, of another format
            version, or an entry is invalid (missing field, wrong type, unknown task,
            recommended quantization not offered, duplicate repo id); the message names
            the file and the entry.
    """
    path = path if path is not None else default_catalog_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EngineError(
            f"The model catalog {path} is missing; reinstall Hearth to restore it."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"The model catalog {path} could not be read: {exc}.") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineError(
            f"The model catalog {path} is not valid JSON: {exc.msg} "
            f"at line {exc.lineno}, column {exc.colno}."
        ) from exc
    return parse_catalog(data, source=str(path))


def parse_catalog(data: object, *, source: str = "catalog") -> list[CatalogEntry]:
    """Validate a decoded catalog document.

    Args:
        data: the JSON document (``{"version": 1, "models": [...]}``).
        source: how to name the catalog in error messages (its path).

    Returns:
        The entries, in order. Unknown keys in an entry are ignored with a logged warning;
        top-level keys starting with ``_`` are comments.

    Raises:
        EngineError: see :func:`load_catalog`.
    """
    if not isinstance(data, Mapping):
        raise EngineError(f"The model catalog {source} must be a JSON object with 'models'.")
    version = data.get("version")
    if version != CATALOG_VERSION:
        raise EngineError(
            f"The model catalog {source} has format version {version!r}; this Hearth "
            f"reads version {CATALOG_VERSION}. Update Hearth or restore the shipped catalog."
        )
    models = data.get("models")
    if not isinstance(models, list):
        raise EngineError(f"The model catalog {source} has no 'models' list.")
    entries: list[CatalogEntry] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(models, start=1):
        entry = _parse_entry(raw, index, source)
        key = entry.repo_id.lower()  # the hub's repo ids are case-insensitive
        if key in seen:
            raise EngineError(
                f"The model catalog {source}: entry {index} ({entry.repo_id}) repeats the "
                f"repository of entry {seen[key]}."
            )
        seen[key] = index
        entries.append(entry)
    return entries


def _parse_entry(raw: object, index: int, source: str) -> CatalogEntry:
    """One validated entry; errors name it by position and repo id."""
    label = f"entry {index}"
    if isinstance(raw, Mapping) and isinstance(raw.get("repo_id"), str):
        label += f" ({raw['repo_id']})"

    def fail(problem: str) -> EngineError:
        return EngineError(f"The model catalog {source}: {label} {problem}.")

    if not isinstance(raw, Mapping):
        raise fail("is not a JSON object")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise fail("is missing " + ", ".join(repr(k) for k in missing))
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        log.warning(
            "Model catalog %s: %s has unknown keys %s; they are ignored.",
            source,
            label,
            ", ".join(unknown),
        )

    def text(key: str) -> str:
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise fail(f"needs a non-empty text for {key!r}")
        return value.strip()

    def texts(key: str) -> tuple[str, ...]:
        value = raw[key]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise fail(f"needs a non-empty list of texts for {key!r}")
        return tuple(v.strip() for v in value)

    def positive_int(key: str) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise fail(f"needs a positive whole number for {key!r}, not {value!r}")
        return value

    repo_id = text("repo_id")
    if not _REPO_ID.match(repo_id):
        raise fail(f"has repo_id {repo_id!r}, which is not of the form 'owner/name'")
    parameters = raw["parameters"]
    if (
        isinstance(parameters, bool)
        or not isinstance(parameters, (int, float))
        or not math.isfinite(parameters)
        or parameters <= 0
    ):
        raise fail(f"needs a positive number for 'parameters', not {parameters!r}")
    quantizations = tuple(q.upper() for q in texts("quantizations"))
    recommended = text("recommended_quant").upper()
    if recommended not in quantizations:
        raise fail(
            f"recommends {recommended}, which is not among its quantizations "
            f"({', '.join(quantizations)})"
        )
    if recommended not in BITS_PER_WEIGHT:
        raise fail(f"recommends {recommended}, whose size Hearth cannot estimate")
    tasks = texts("tasks")
    bad_tasks = [t for t in tasks if t not in TASKS]
    if bad_tasks:
        raise fail(
            f"has unknown task {', '.join(repr(t) for t in bad_tasks)}; "
            f"known tasks are {', '.join(TASKS)}"
        )
    context_length = positive_int("context_length")
    if context_length is None:
        raise fail("needs a positive whole number for 'context_length', not null")
    fim = raw.get("fim", False)
    if not isinstance(fim, bool):
        raise fail(f"needs true or false for 'fim', not {fim!r}")
    return CatalogEntry(
        repo_id=repo_id,
        name=text("name"),
        parameters=float(parameters),
        quantizations=quantizations,
        recommended_quant=recommended,
        license=text("license"),
        context_length=context_length,
        languages=texts("languages"),
        tasks=tasks,
        description=text("description"),
        description_zh=text("description_zh"),
        fim=fim,
        layers=positive_int("layers"),
        kv_heads=positive_int("kv_heads"),
        head_dim=positive_int("head_dim"),
    )


# --------------------------------------------------------------------------- recommending


def entry_fit(entry: CatalogEntry, hardware: Hardware, n_ctx: int) -> FitBadge:
    """The fit badge an entry's recommended quantization would get on this computer.

    Args:
        entry: the catalog entry.
        hardware: the hardware probe.
        n_ctx: context size in tokens (0 = the planner's default for the model).

    Returns:
        "gpu", "ram" or "too_large", from :func:`engine.models.plan.fit_badge` on the
        entry's estimated shape (approximate; see :class:`CatalogShape`).
    """
    return fit_badge(hardware, entry.shape(), n_ctx)


def recommend(
    entries: Iterable[CatalogEntry],
    *,
    task: str,
    hardware: Hardware,
    n_ctx: int,
    language: str | None = None,
) -> list[CatalogEntry]:
    """The entries for a task that fit this computer, best first.

    Order: entries that fit wholly on a GPU, largest first (more parameters answer
    better and the GPU keeps them fast); then entries that fit in memory otherwise (CPU
    or partial offload), those up to :data:`CPU_COMFORT_PARAMETERS` first, largest
    first, then the bigger, slow ones. Within a size class (under 2 B, 2-5 B, 5-10 B,
    larger) an entry made for the task (listed first in its ``tasks``, such as a coder
    model for "code") comes before a general one. Entries that do not fit are left out. The memory
    needed is an estimate (see :class:`CatalogShape`), so a borderline entry may still
    turn out too large once its real file is known.

    Args:
        entries: the catalog (see :func:`load_catalog`).
        task: one of :data:`TASKS`.
        hardware: the hardware probe (``engine.models.hardware.probe_hardware``).
        n_ctx: the context size the user will run at, in tokens (0 = the planner's
            default for each model).
        language: when given (ISO code such as ``"zh"``), only entries listing it.

    Returns:
        The fitting entries, best first; empty when none fits.

    Raises:
        EngineError: ``task`` is not one of :data:`TASKS`.
    """
    if task not in TASKS:
        raise EngineError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    ranked: list[tuple[tuple[int, int, int, int, float], CatalogEntry]] = []
    for entry in entries:
        if task not in entry.tasks:
            continue
        if language is not None and language not in entry.languages:
            continue
        badge = entry_fit(entry, hardware, n_ctx)
        if badge == "too_large":
            continue
        on_gpu = badge == "gpu"
        slow = not on_gpu and entry.parameters > CPU_COMFORT_PARAMETERS
        specialist = bool(entry.tasks) and entry.tasks[0] == task
        key = (
            0 if on_gpu else 1,
            1 if slow else 0,
            -_size_class(entry.parameters),
            0 if specialist else 1,
            -entry.parameters,
        )
        ranked.append((key, entry))
    ranked.sort(key=lambda item: item[0])
    return [entry for _, entry in ranked]


def _size_class(parameters: float) -> int:
    """0 under 2 B parameters, 1 under 5 B, 2 under 10 B, 3 above: models of a class
    answer about as well, so within one the specialist for a task is preferred."""
    for bound, size_class in ((2e9, 0), (5e9, 1), (10e9, 2)):
        if parameters < bound:
            return size_class
    return 3


def find_entry(entries: Sequence[CatalogEntry], repo_id: str) -> CatalogEntry | None:
    """The entry for a repository id (case-insensitive, as on the hub), or None."""
    key = repo_id.lower()
    return next((e for e in entries if e.repo_id.lower() == key), None)
