"""hearth-cli ask and collections: the JSON contract, citations that exist, the same refusals
as summarize, and a collection added, indexed, searched, asked and removed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.documents_corpus import EN_FACTS, english_pages
from tests.engine.cli.test_cli import cli
from tests.engine.tasks.test_documents import make_pdf

pytestmark = pytest.mark.slow


def test_ask_json_answers_from_files_and_cites_what_exists(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(english_pages(12, sentences=6)))
    notes = tmp_path / "notes.md"
    notes.write_text("# Kestrel\n\nProject Kestrel launches from pad 39A.\n", encoding="utf-8")
    fact = EN_FACTS[0]
    run = cli(
        "ask", "--file", str(report), "--file", str(notes), "--json", "--ctx", "1024",
        "--embed-model", "none", fact.question, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    for key in ("answer", "citations", "mode", "reason", "tokens_read", "used_vectors"):
        assert key in data
    assert data["mode"] in ("whole", "retrieval") and data["tokens_read"] > 0
    from engine.tasks.documents import extract

    texts = {p.name: re.sub(r"\s+", " ", extract(p).text) for p in (report, notes)}
    for citation in data["citations"]:
        assert re.sub(r"\s+", " ", citation["quote"]) in texts[citation["file"]]

    forced = cli(
        "ask", "--file", str(report), "--json", "--mode", "retrieval", "--ctx", "1024",
        "--embed-model", "none", fact.question, timeout=300,
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    data = json.loads(forced.stdout)
    assert data["mode"] == "retrieval" and "asked for" in data["reason"]
    assert data["used_vectors"] is False and "embedding model" in data["search_note"]


def test_ask_refuses_what_summarize_refuses(tmp_path: Path) -> None:
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    for path in (binary, tmp_path / "missing.txt"):
        run = cli("ask", "--file", str(path), "What is this?")
        summarize = cli("summarize", str(path))
        assert run.returncode == summarize.returncode == 3, run.stderr
        assert run.stderr.strip().splitlines()[-1] == summarize.stderr.strip().splitlines()[-1]
    run = cli("ask", "What is this?")
    assert run.returncode == 2 and "--file" in run.stderr
    run = cli("ask", "--file", str(binary), "--mode", "guess", "Hm?")
    assert run.returncode == 2


def test_collections_add_index_search_ask_and_rm(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(make_pdf(english_pages(12, sentences=6)))
    (folder / "b.md").write_text("# Beta\n\nThe beta notes mention quokkas twice. Quokkas.\n")
    index = ["--index", str(tmp_path / "index.db"), "--embed-model", "none"]
    run = cli("collections", "add", "work", str(folder), *index)
    assert run.returncode == 0, run.stderr
    run = cli("collections", "index", "work", "--json", *index)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["files"] == 2 and report["indexed"] == 2 and report["vectors"] is False
    again = json.loads(cli("collections", "index", "work", "--json", *index).stdout)
    assert again["indexed"] == 0 and again["unchanged"] == 2

    run = cli("collections", "search", "work", "quokkas", "--json", *index)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["passages"][0]["file"] == "b.md" and found["used_vectors"] is False

    listed = json.loads(cli("collections", "list", "--json", *index).stdout)
    assert [(c["name"], c["documents"], c["state"]) for c in listed] == [("work", 2, "done")]

    fact = EN_FACTS[0]
    run = cli(
        "ask", "--collection", "work", "--json", "--ctx", "1024", *index, fact.question,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["mode"] in ("whole", "retrieval")

    assert cli("collections", "rm", "work", *index).returncode == 0
    assert cli("collections", "rm", "work", *index).returncode == 2
    assert json.loads(cli("collections", "list", "--json", *index).stdout) == []
    missing = cli("ask", "--collection", "work", "Hm?", *index)
    assert missing.returncode == 2 and "no collection" in missing.stderr


def test_collections_index_killed_mid_way_resumes_without_redoing_finished_files(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        (folder / f"n{i:04d}.txt").write_text(f"Note {i}: the word is zx{i:04d}q.\n")
    index = ["--index", str(tmp_path / "index.db"), "--embed-model", "none"]
    assert cli("collections", "add", "many", str(folder), *index).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "collections", "index", "many", *index],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # one progress line per file: "many: Indexed n0041.txt (42)"
        if "(200)" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    listed = json.loads(cli("collections", "list", "--json", *index).stdout)
    assert listed[0]["state"] == "interrupted" and listed[0]["documents"] >= 200
    run = cli("collections", "index", "many", "--json", *index, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    # Every file finished before the kill is unchanged now; only the rest were read.
    assert report["unchanged"] >= 200 and report["indexed"] + report["unchanged"] == 1500
    assert report["indexed"] <= 1300
    listed = json.loads(cli("collections", "list", "--json", *index).stdout)
    assert listed[0]["state"] == "done" and listed[0]["documents"] == 1500
