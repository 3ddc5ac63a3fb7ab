"""Collections on real folders and a real index file: incremental indexing (changed, added,
deleted files), resuming after a run stopped half-way, and folders that try to hurt it
(symlink loops, FIFOs, dangling links, a 10 GB sparse file, too many files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import Cancelled, UsageError
from engine.tasks.collections import (
    IndexProgress,
    Limits,
    add_collection,
    index_collection,
    list_collections,
    remove_collection,
)
from engine.tasks.doc_index import DocumentIndex


def _write_notes(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"note{i:03d}.md"
        path.write_text(f"# Note {i}\n\nThe secret word of note {i} is word{i:03d}x.\n")
        paths.append(path)
    return paths


async def _index(
    index: DocumentIndex, name: str, **kwargs: object
) -> tuple[object, list[IndexProgress]]:
    events: list[IndexProgress] = []
    report = await index_collection(index, name, on_progress=events.append, **kwargs)  # type: ignore[arg-type]
    return report, events


def _actions(events: list[IndexProgress]) -> dict[str, str]:
    return {Path(e.path).name: e.action for e in events if e.path}


async def test_only_changed_added_and_deleted_files_are_indexed_again(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    paths = _write_notes(docs, 6)
    (docs / "sub").mkdir()
    (docs / "sub" / "deep.txt").write_text("A nested file about gooseberries.")
    with DocumentIndex(tmp_path / "index.db") as index:
        add_collection(index, "notes", [docs])
        report, _ = await _index(index, "notes")
        assert (report.files, report.indexed, report.unchanged) == (7, 7, 0)
        assert [p.document for p in index.search_text("gooseberries", "notes")] == ["deep.txt"]

        paths[1].write_text("# Note 1\n\nThe secret word is now changed-word-one.\n")
        os.utime(paths[2], ns=(1, 1))  # touched, same bytes: hashed, not read again
        paths[3].unlink()
        (docs / "new.txt").write_text("A brand new file about elderflowers.")
        report, events = await _index(index, "notes")
        actions = _actions(events)
        assert actions["note001.md"] == "indexed" and actions["new.txt"] == "indexed"
        assert actions["note002.md"] == "unchanged" and actions["note000.md"] == "unchanged"
        assert actions["note003.md"] == "removed"
        assert (report.indexed, report.unchanged, report.removed) == (2, 5, 1)
        assert index.search_text("word003x", "notes") == []
        assert index.search_text("word001x", "notes") == []
        assert index.search_text("changed-word-one", "notes")[0].document == "note001.md"

        [info] = list_collections(index)
        assert (info.name, info.documents, info.state) == ("notes", 7, "done")
        assert info.last["indexed"] == 2
        assert remove_collection(index, "notes") and list_collections(index) == []
        assert index.query("SELECT count(*) FROM chunks") == [(0,)]
        assert paths[0].exists()  # the files stay


async def test_an_interrupted_run_resumes_without_redoing_finished_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write_notes(docs, 10)
    db = tmp_path / "index.db"
    with DocumentIndex(db) as index:
        add_collection(index, "notes", [docs])

        def stop_after_four(event: IndexProgress) -> None:
            if event.action == "indexed" and event.done == 4:
                raise Cancelled("stopped")

        with pytest.raises(Cancelled):
            await index_collection(index, "notes", on_progress=stop_after_four)
        assert list_collections(index)[0].state == "interrupted"
    # A fresh process would open the file again: what was finished is there.
    with DocumentIndex(db) as index:
        assert index.counts("notes")[0] == 4
        report, events = await _index(index, "notes")
        actions = _actions(events)
        assert sorted(n for n, a in actions.items() if a == "unchanged") == [
            f"note{i:03d}.md" for i in range(4)
        ]
        assert report.indexed == 6 and report.unchanged == 4
        assert list_collections(index)[0].state == "done"


async def test_hostile_folders_are_indexed_as_far_as_the_limits_allow(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write_notes(docs, 3)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    os.mkfifo(docs / "pipe.txt")  # opening it would block forever
    (docs / "huge.txt").touch()  # 10 GB, sparse: skipped by size, never read
    os.truncate(docs / "huge.txt", 10 * 1024**3)
    (docs / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (docs / "fake.txt").write_bytes(b"\x7fELF" + bytes(range(256)) * 10)
    (docs / ".git").mkdir()
    (docs / ".git" / "config.txt").write_text("hidden")
    tiny = docs / "tiny"
    _write_notes(tiny, 40)
    with DocumentIndex(tmp_path / "index.db") as index:
        add_collection(index, "hostile", [docs])
        report, _ = await _index(
            index, "hostile", limits=Limits(max_files=20, max_file_bytes=1024**2)
        )
    reasons = dict(report.skipped_by_reason)
    assert reasons["link loop"] == 1
    assert reasons["unreadable"] == 1  # the dangling link
    assert reasons["not a regular file"] == 1
    assert reasons["too large"] == 1
    assert reasons["not a document"] == 1
    assert reasons["could not be read"] == 1  # a program named .txt: Summarize's refusal
    # 45 files look like documents (43 notes, huge.txt, fake.txt); past 20 they are counted.
    assert reasons["limit"] == 45 - 20
    assert report.files == 20
    by_name = {Path(s.path).name: s.reason for s in report.skipped}
    assert "larger than 1 MB" in by_name["huge.txt"]
    assert "program" in by_name["fake.txt"] or "binary" in by_name["fake.txt"]
    assert "config.txt" not in by_name  # hidden folders are not the user's documents


async def test_bad_collections_are_refused(tmp_path: Path) -> None:
    with DocumentIndex(tmp_path / "index.db") as index:
        with pytest.raises(UsageError, match="not a folder"):
            add_collection(index, "x", [tmp_path / "missing"])
        with pytest.raises(UsageError, match="name"):
            add_collection(index, "  ", [tmp_path])
        with pytest.raises(UsageError, match="no collection"):
            await index_collection(index, "never-added")
