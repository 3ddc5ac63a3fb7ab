"""Measure Ask's retrieval and indexing: recall@5 (full text, vectors, fused) on the labelled
planted-fact set, indexing throughput on a folder of mixed files, and search latency.

Run: ``PYTHONPATH=. python benchmarks/documents_bench.py [--embed-model GGUF] [--chunks 10000
100000]``; it prints a markdown table to paste into benchmarks/documents.md. The embedding
model defaults to the test suite's all-MiniLM-L6-v2 (``make embed-model``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.documents_corpus import EN_FACTS, ZH_FACTS, Fact, chinese_pages, english_pages  # noqa: E402
from engine.runtime.client import EngineClient  # noqa: E402
from engine.tasks.chunks import Chunk  # noqa: E402
from engine.tasks.collections import add_collection, index_collection  # noqa: E402
from engine.tasks.doc_index import DocumentIndex  # noqa: E402
from engine.tasks.retrieval import search  # noqa: E402

EMBED_MODEL = ROOT / "build/models/all-MiniLM-L6-v2-F16.gguf"


@dataclass(frozen=True)
class Recall:
    """recall@k of one method over a question set: hits / questions."""

    method: str
    language: str
    hits: int
    questions: int

    @property
    def value(self) -> float:
        """The share of questions whose passage was among the first k."""
        return self.hits / self.questions if self.questions else 0.0


def write_corpus(folder: Path) -> None:
    """The labelled documents: the English report as a PDF, the Chinese one as Markdown."""
    from tests.engine.tasks.test_documents import make_pdf

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.pdf").write_bytes(make_pdf(english_pages()))
    zh = "\n\n".join(f"## 第{i}节\n\n{t}" for i, t in enumerate(chinese_pages(), 1))
    (folder / "报告.md").write_text(zh, encoding="utf-8")


async def recall_at_k(
    client: EngineClient,
    index: DocumentIndex,
    collection: str,
    embed_model: str,
    k: int = 5,
) -> list[Recall]:
    """recall@k of full text, vectors and the fusion, per language, on the labelled questions.

    A question is a hit when a passage holding its planted sentence is among the first k.
    """
    out: list[Recall] = []
    for language, facts in (("en", EN_FACTS), ("zh", ZH_FACTS)):
        hits = {"text": 0, "vector": 0, "fused": 0}
        for fact in facts:
            for method, name in (("text", "text"), ("vector", "vector"), ("hybrid", "fused")):
                found = await search(
                    index, fact.question, collection, client=client, embed_model=embed_model,
                    limit=k, method=method,  # type: ignore[arg-type]
                )  # fmt: skip
                hits[name] += any(fact.text in p.text for p in found.passages[:k])
        out += [Recall(m, language, h, len(facts)) for m, h in hits.items()]
    return out


def paraphrased(facts: Sequence[Fact]) -> list[Fact]:
    """The questions worded unlike their page."""
    return [f for f in facts if f.paraphrase]


async def _latency(embed_model: str, sizes: Sequence[int], client: EngineClient) -> None:
    """Print search latency (median of 5) on synthetic collections of ``sizes`` passages."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    query = (
        await client.embed(["which supplier serviced the generator"], model=embed_model)
    ).vectors[0]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp, DocumentIndex(Path(tmp) / "i.db") as index:
            t0 = time.perf_counter()
            batch = 5000
            for start in range(0, size, batch):
                n = min(batch, size - start)
                chunks = [
                    Chunk("syn.txt", start + i, None, "", " ".join(rng.choice(words, 60)), 60)
                    for i in range(n)
                ]
                doc = index.add_document(
                    "syn", f"/syn/{start}", "syn.txt", "text", size=0, mtime_ns=0, sha256="",
                    chunks=chunks,
                )  # fmt: skip
                ids = [r[0] for r in index.query("SELECT id FROM chunks WHERE doc_id = ?", (doc,))]
                vectors = rng.normal(size=(n, len(query))).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                index.add_vectors(embed_model, list(zip(ids, vectors, strict=True)))
            build = time.perf_counter() - t0
            timings = {}
            for method in ("text", "vector", "hybrid"):
                samples = []
                for _ in range(5):
                    t = time.perf_counter()
                    await search(
                        index, "w17 w4242 w999", "syn", client=client, embed_model=embed_model,
                        limit=5, method=method,  # type: ignore[arg-type]
                    )  # fmt: skip
                    samples.append(time.perf_counter() - t)
                timings[method] = sorted(samples)[2] * 1000
            samples = []
            for _ in range(5):
                t = time.perf_counter()
                await client.embed(["which supplier serviced the generator"], model=embed_model)
                samples.append(time.perf_counter() - t)
            timings["embed"] = sorted(samples)[2] * 1000
            samples = []
            for _ in range(5):
                t = time.perf_counter()
                index.search_vectors(query, "syn", embed_model, 30)
                samples.append(time.perf_counter() - t)
            timings["scan"] = sorted(samples)[2] * 1000
            print(
                f"| {size:,} | {timings['text']:.0f} | {timings['embed']:.0f} | "
                f"{timings['scan']:.0f} | {timings['vector']:.0f} | {timings['hybrid']:.0f} | "
                f"{build:.0f} |",
                flush=True,
            )


async def _answer_times(client: EngineClient, model: str, ctx: int, folder: Path) -> list[str]:
    """Seconds and tokens of one answer per mode on the English report."""
    from benchmarks.documents_corpus import DEADLINES
    from engine.tasks.ask import AskOptions, ask
    from engine.tasks.documents import extract

    await client.load(model, n_ctx=ctx)
    report = extract(folder / "report.pdf")
    short = folder / "short.pdf"
    from tests.engine.tasks.test_documents import make_pdf

    short.write_bytes(make_pdf(english_pages(4)))
    rows = []
    for mode, doc, question in (
        ("whole", extract(short), EN_FACTS[0].question),
        ("retrieval", report, EN_FACTS[2].question),
        ("pass", report, DEADLINES[0].question),
    ):
        t = time.perf_counter()
        result = await ask(client, question, documents=[doc], options=AskOptions(max_tokens=96))
        seconds = time.perf_counter() - t
        cited = ", ".join(c.label for c in result.citations) or "none"
        rows.append(
            f"| {result.mode} (asked {mode}) | {Path(model).name} | {ctx:,} | "
            f"{result.tokens_read:,} | {result.prompt_tokens:,} | {result.generated_tokens:,} | "
            f"{seconds:.0f} | {cited} |"
        )
    return rows


async def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurements and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embed-model", default=str(EMBED_MODEL))
    parser.add_argument("--chunks", type=int, nargs="*", default=[10_000])
    parser.add_argument("--answer-model", help="a chat model: time one answer per mode")
    parser.add_argument("--ctx", type=int, default=2048, help="its context for --answer-model")
    parser.add_argument("--skip-index", action="store_true", help="only --answer-model's times")
    args = parser.parse_args(argv)
    async with EngineClient() as client:
        if args.answer_model:
            with tempfile.TemporaryDirectory() as tmp:
                write_corpus(Path(tmp))
                print("| mode | model | context | document tokens read | prompt tokens | "
                      "generated | seconds | cited |")  # fmt: skip
                print("|---|---|---|---|---|---|---|---|")
                for row in await _answer_times(client, args.answer_model, args.ctx, Path(tmp)):
                    print(row, flush=True)
        if not args.skip_index:
            await _index_and_recall(client, args.embed_model)
        if args.chunks:
            print()
            print("| passages | full text ms | query embedding ms | vector scan ms | "
                  "vectors ms (embed + scan) | fused ms | build s |")  # fmt: skip
            print("|---|---|---|---|---|---|---|")
            await _latency(args.embed_model, args.chunks, client)


async def _index_and_recall(client: EngineClient, embed_model: str) -> None:
    """Index a folder of mixed files with vectors; print throughput and recall@5."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        write_corpus(folder)
        # A folder of mixed files: the corpus, Markdown notes and source code.
        for i in range(40):
            (folder / f"note{i}.md").write_text(f"# Note {i}\n\n" + " ".join(
                    f"line {j} of note {i} about topic {j % 7}." for j in range(60)))  # fmt: skip
            (folder / f"mod{i}.py").write_text("\n".join(
                    f"def f{j}(x):\n    return x * {j}\n" for j in range(40)))  # fmt: skip
        with DocumentIndex(Path(tmp) / "index.db") as index:
            add_collection(index, "bench", [folder])
            t0 = time.perf_counter()
            report = await index_collection(index, "bench")
            text_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            from engine.tasks.retrieval import embed_passages

            tokens = await embed_passages(client, index, "bench", embed_model)
            embed_s = time.perf_counter() - t1
            pages = 42 + 16 + 80  # PDF pages, Chinese sections, and the 80 small files
            print("| files | passages | read+chunk+FTS s | pages/s | passages/s | "
                      "embedding tokens | embed s | embedding tokens/s |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|")
            print(f"| {report.files} | {report.chunks} | {text_s:.1f} | {pages / text_s:.0f} "
                      f"| {report.chunks / text_s:.0f} | {tokens:,} | {embed_s:.1f} | "
                      f"{tokens / embed_s:,.0f} |")  # fmt: skip
            print()
            recalls = await recall_at_k(client, index, "bench", embed_model)
            print("| language | method | recall@5 |")
            print("|---|---|---|")
            for r in recalls:
                print(f"| {r.language} | {r.method} | {r.hits}/{r.questions} ({r.value:.0%}) |")


if __name__ == "__main__":
    asyncio.run(main())
