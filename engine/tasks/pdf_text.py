"""PDF page text read by pypdf in a child process, with a time budget per page and per file.

pypdf is pure Python: one page whose content stream holds a million operators takes
seconds to parse, and a small file can make thousands of pages share that stream
(a 711 KB file of 4,999 such pages took 3.7 s a page, over five hours in all). A
thread cannot be stopped mid-parse, so the pages are read in a child process the
parent can kill: a page over :data:`PAGE_SECONDS` is skipped (the child is restarted
after it), a file over its whole budget stops where it is, and the caller keeps the
pages read with a note saying what was cut. The child's address space is capped too,
so a page that would eat the machine's memory fails alone.

Pages that share one content stream and one set of resources have the same text; the
child reads such a stream once, and a stream that was too slow once is not tried again.

Thread: :func:`read_pdf` blocks (callers run it on a worker thread); it starts one
reader thread per child process.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final

import engine
from engine.errors import DocumentError

__all__ = ["PAGE_SECONDS", "PdfReport", "child_command", "main", "read_pdf"]

log = logging.getLogger("engine.documents.pdf")

#: A page taking longer than this is skipped. pypdf reads a dense page of text in 5 to
#: 50 ms; ten seconds is a page built of millions of operators, not one a person wrote.
PAGE_SECONDS: Final = 10.0
#: Address space of the reading process, besides twice the file's size (the bytes read
#: from the pipe, and pypdf's objects for them). pypdf caps a stream at 75 MB decompressed
#: and 2 million parsed tokens (a few hundred MB of Python objects, measured 260 MB); a
#: page needing more fails alone instead of swapping the machine.
PROCESS_MEMORY: Final = 1024 * 1024 * 1024
#: Characters kept from one page. A printed page holds about 3,000; a million is a page
#: built to flood the summary, and its excess would only be cut later anyway.
MAX_PAGE_CHARS: Final = 1_000_000
#: The flag a frozen app is started with to be the reading process (no ``python -m``).
FROZEN_FLAG: Final = "--pdf-text"
#: Page numbers listed in a note at most; the rest are counted.
_NOTE_PAGES: Final = 10

#: The folder holding the ``engine`` package, so the reading process imports the same code.
_SOURCE_ROOT: Final = os.path.dirname(os.path.dirname(os.path.abspath(engine.__file__)))


@dataclass(frozen=True)
class PdfReport:
    """How reading a PDF went, besides the pages' text (given to ``on_page``).

    Attributes:
        page_count: the pages the PDF has.
        pages_read: pages whose text was read (blank ones included).
        failed: pages pypdf could not read (damaged), skipped.
        notes: what was cut, one sentence each, for the user.
    """

    page_count: int
    pages_read: int
    failed: int
    notes: tuple[str, ...]


def child_command() -> list[str]:
    """How to start the reading process: ``python -m engine.tasks.pdf_text``, or the frozen app."""
    if getattr(sys, "frozen", False):
        return [sys.executable, FROZEN_FLAG]
    return [sys.executable, "-m", "engine.tasks.pdf_text"]


def read_pdf(
    data: bytes,
    name: str,
    *,
    max_pages: int,
    budget_s: float,
    on_page: Callable[[int, str], None],
    on_progress: Callable[[float], None],
) -> PdfReport:
    """Read each page's text in a child process, within the time budgets.

    Args:
        data: the PDF file's bytes.
        name: the file name, for messages.
        max_pages: a PDF with more pages is refused before any page is read.
        budget_s: seconds the whole file may take; past them reading stops and a note
            says how many pages were read.
        on_page: called with (page number from 1, text) for each page read, in order.
            It may raise to stop (the child is killed).
        on_progress: called with the fraction of pages done; it may raise to cancel.

    Returns:
        The page count and what was cut.

    Raises:
        DocumentError: password-protected, damaged, a PDF bomb, no pages, too many
            pages, or the reading process could not start.
    """
    reading = _Reading(name, max_pages, time.monotonic() + budget_s, on_page, on_progress)
    start: int | None = 0
    while start is not None:
        start = reading.run_child(data, start)
    return PdfReport(
        max(reading.page_count, 0), reading.pages_read, len(reading.failed), reading.notes(budget_s)
    )


class _Reading:
    """The state of one PDF's reading across the child processes it takes."""

    def __init__(
        self,
        name: str,
        max_pages: int,
        deadline: float,
        on_page: Callable[[int, str], None],
        on_progress: Callable[[float], None],
    ) -> None:
        self.name = name
        self.max_pages = max_pages
        self.deadline = deadline
        self.on_page = on_page
        self.on_progress = on_progress
        self.page_count = -1
        self.pages_read = 0
        self.failed: list[int] = []  # page numbers pypdf failed on
        self.slow: list[int] = []  # page numbers skipped for their time
        self.slow_streams: list[str] = []  # content keys of slow pages, not tried again
        self.out_of_time = False

    def run_child(self, data: bytes, start: int) -> int | None:
        """Read pages from ``start`` in one child; the page to go on from, or None at the end."""
        with _Child.start(data, start=start, slow_streams=self.slow_streams) as child:
            current = -1  # the page being parsed, -1 between pages
            key = ""
            next_page = start
            while True:
                waiting_for_page = current >= 0
                message = child.next_message(
                    min(self.deadline, child.page_deadline) if waiting_for_page else self.deadline
                )
                if message is None:
                    return self._interrupted(child, key, next_page)
                if "error" in message:
                    error = _ERRORS.get(str(message["error"]), _ERRORS["damaged"])
                    raise DocumentError(error.format(name=self.name))
                if "pages" in message:
                    self.page_count = int(message["pages"])
                    _check_page_count(self.page_count, self.max_pages, self.name)
                elif "start" in message:
                    current, key = int(message["start"]), str(message.get("key") or "")
                    child.page_deadline = time.monotonic() + PAGE_SECONDS
                elif "page" in message:
                    index = int(message["page"])
                    current, next_page = -1, index + 1
                    self._page(index, message)
                elif message.get("done"):
                    return None

    def _page(self, index: int, message: dict[str, Any]) -> None:
        if message.get("failed"):
            self.failed.append(index + 1)
        elif message.get("skipped"):
            self.slow.append(index + 1)
        else:
            self.pages_read += 1
            self.on_page(index + 1, str(message.get("text", "")))
        self.on_progress((index + 1) / self.page_count)

    def _interrupted(self, child: _Child, key: str, next_page: int) -> int | None:
        """The child went quiet past a deadline or died: where to go on from, if anywhere."""
        if child.alive and time.monotonic() >= self.deadline:
            self.out_of_time = True
            return None
        if self.page_count < 0:
            _raise_for(child, self.name)
        if child.alive:  # the page took too long: skip it, and its stream from now on
            self.slow.append(next_page + 1)
            if key:
                self.slow_streams.append(key)
        else:  # it died on that page (its memory cap, a crash in a C library)
            log.warning("the PDF reader died on page %d of %s", next_page + 1, self.name)
            self.failed.append(next_page + 1)
        after = next_page + 1
        return after if after < self.page_count else None

    def notes(self, budget_s: float) -> tuple[str, ...]:
        """What was cut, for the user."""
        notes: list[str] = []
        if self.out_of_time:
            notes.append(
                f"Read {self.pages_read:,} of {self.page_count:,} pages; the rest took too "
                f"long to read (over {budget_s:.0f} s)."
            )
        for pages, why in (
            (self.slow, f"took too long to read (over {PAGE_SECONDS:.0f} s a page)"),
            (self.failed, "could not be read (damaged)"),
        ):
            if pages:
                verb = "was" if len(pages) == 1 else "were"
                notes.append(f"{_pages(pages)} {why} and {verb} skipped.")
        return tuple(notes)


_ERRORS: Final = {
    "encrypted": (
        '"{name}" is protected by a password. Open it in a PDF viewer, save a copy '
        "without the password, and drop that copy."
    ),
    "bomb": (
        '"{name}" was refused: part of it expands to far more data than a document '
        "holds (a PDF bomb?)."
    ),
    "damaged": '"{name}" is a damaged PDF; Hearth could not read it.',
}


def _check_page_count(page_count: int, max_pages: int, name: str) -> None:
    if page_count == 0:
        raise DocumentError(f'"{name}" has no pages.')
    if page_count > max_pages:
        raise DocumentError(
            f'"{name}" has {page_count:,} pages; Hearth reads PDFs of up to '
            f"{max_pages:,} pages. Split it into parts."
        )


def _raise_for(child: _Child, name: str) -> None:
    """The child ended before saying how many pages there are."""
    log.warning(
        "the PDF reader stopped before opening %s (exit status %s): %s",
        name,
        child.returncode(),
        " | ".join(child.stderr_tail),
    )
    raise DocumentError(
        f'"{name}" could not be opened: Hearth\'s PDF reader stopped on it (the file may be '
        "damaged, or need more memory than a document is allowed). Try saving it again "
        "from a PDF viewer."
    )


def _pages(numbers: Sequence[int]) -> str:
    """ "Page 3", "Pages 3, 7 and 9", "Pages 3, 4, ... and 20 more"."""
    if len(numbers) == 1:
        return f"Page {numbers[0]}"
    shown = ", ".join(str(n) for n in numbers[:_NOTE_PAGES])
    if len(numbers) > _NOTE_PAGES:
        return f"Pages {shown} and {len(numbers) - _NOTE_PAGES:,} more"
    head, _, last = shown.rpartition(", ")
    return f"Pages {head} and {last}"


class _Child:
    """One reading process: the PDF goes in on stdin, one JSON line per event comes out.

    A reader thread turns the child's stdout into a queue, so waiting for the next
    line has a timeout on every platform (select() does not wait on pipes on Windows).
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.page_deadline = float("inf")
        self.alive = True
        assert proc.stdout is not None and proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read, args=(proc.stdout,), daemon=True),
            threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def start(cls, data: bytes, *, start: int, slow_streams: Sequence[str]) -> _Child:
        env = dict(os.environ)
        if not getattr(sys, "frozen", False):
            path = env.get("PYTHONPATH", "")
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_SOURCE_ROOT, path) if p)
        memory = PROCESS_MEMORY + 2 * len(data)
        options = json.dumps({"start": start, "slow": list(slow_streams), "memory": memory})
        try:
            proc = subprocess.Popen(
                [*child_command(), options],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as e:
            raise DocumentError(f"Hearth could not start its PDF reader: {e.strerror or e}.") from e
        child = cls(proc)
        assert proc.stdin is not None
        try:
            # The child reads all of stdin before it writes a line, so this cannot block
            # on a full stdout pipe.
            proc.stdin.write(data)
            proc.stdin.close()
        except OSError:  # it died at once; its stderr says why (see _raise_for)
            pass
        return child

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_message(self, deadline: float) -> dict[str, Any] | None:
        """The next event, or None when the deadline passed (alive) or the child ended."""
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            return None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self.alive = False
            return None
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.alive = False  # not our child's protocol: treat it as dead
            log.warning("the PDF reader wrote a line that is not an event: %.200r", line)
            return None
        return message

    def returncode(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self._proc.wait(timeout=5)
        return None

    def close(self) -> None:
        """Kill the child (idempotent) and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _read(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in stream:
                self._lines.put(line)
        self._lines.put(None)

    def _drain(self, stream: IO[bytes]) -> None:
        # Read it all, so that pypdf's warnings never fill the pipe and stall the child.
        with contextlib.suppress(OSError, ValueError):
            for line in stream:
                self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())


# --- the child process ------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """The reading process: the PDF on stdin; JSON lines on stdout, one per event.

    Lines: ``{"pages": N}`` once opened (or ``{"error": "encrypted" | "damaged" |
    "bomb"}``), then per page from ``start`` either ``{"start": i, "key": k}`` before a
    page is parsed and ``{"page": i, "text": ...}`` (or ``"failed"``/``"skipped"``)
    after it, and ``{"done": true}`` at the end.

    Args:
        argv: one JSON argument: ``{"start": first page index, "slow": [content keys
            not to parse again], "memory": the address space to allow, in bytes}``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    options = json.loads(args[0]) if args else {}
    _limit_memory(int(options.get("memory", PROCESS_MEMORY)))
    # pypdf warns on every oddity of a damaged file; the parent keeps only a tail.
    logging.basicConfig(level=logging.ERROR)
    data = sys.stdin.buffer.read()
    out = sys.stdout

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
        out.flush()

    _read_pages(data, int(options.get("start", 0)), set(options.get("slow", ())), send)
    return 0


def _read_pages(
    data: bytes, start: int, slow: set[str], send: Callable[[dict[str, Any]], None]
) -> None:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty user password (print/copy
            # restrictions only); those open without asking anyone anything.
            try:
                opened = bool(reader.decrypt(""))
            except (DependencyError, NotImplementedError):
                opened = False
            if not opened:
                send({"error": "encrypted"})
                return
        count = len(reader.pages)
    except FileNotDecryptedError:
        send({"error": "encrypted"})
        return
    except LimitReachedError:
        send({"error": "bomb"})
        return
    except Exception:  # pypdf raises assorted built-in errors on hostile input
        logging.getLogger("pypdf").exception("could not open the PDF")
        send({"error": "damaged"})
        return
    send({"pages": count})
    texts: dict[str, str] = {}  # content key -> text, for pages that share a stream
    for index in range(start, count):
        try:
            page = reader.pages[index]
            key = _content_key(page)
        except LimitReachedError:
            send({"error": "bomb"})
            return
        except Exception:
            send({"page": index, "failed": True})
            continue
        if key and key in texts:
            send({"page": index, "text": texts[key]})
            continue
        if key and key in slow:
            send({"page": index, "skipped": True})
            continue
        send({"start": index, "key": key})
        try:
            text = (page.extract_text() or "")[:MAX_PAGE_CHARS]
        except LimitReachedError:  # pypdf's own caps on decompression and stream sizes
            send({"error": "bomb"})
            return
        except Exception:  # one bad page is not the whole PDF (MemoryError included)
            logging.getLogger("pypdf").warning("page %d failed", index + 1, exc_info=True)
            send({"page": index, "failed": True})
            continue
        if key:
            texts[key] = text
        send({"page": index, "text": text})
    send({"done": True})


def _content_key(page: Any) -> str:
    """What a page's text depends on, when it is all shared objects; else "".

    The content streams and the resources by object number, and the rotation (text
    extraction keeps the upright text). A page with its own inline objects has no key
    and is always parsed.
    """
    from pypdf.generic import ArrayObject, IndirectObject

    def ref(value: Any) -> str:
        return f"{value.idnum}.{value.generation}" if isinstance(value, IndirectObject) else ""

    # dict.get, not page.get: pypdf's get resolves references, and the key needs them.
    contents = dict.get(page, "/Contents")
    if isinstance(contents, IndirectObject):
        resolved = contents.get_object()
        parts = [ref(c) for c in resolved] if isinstance(resolved, ArrayObject) else [ref(contents)]
    elif isinstance(contents, ArrayObject):
        parts = [ref(c) for c in contents]
    else:
        return ""
    resources = ref(dict.get(page, "/Resources"))
    if not resources or not all(parts):
        return ""
    return f"{','.join(parts)}|{resources}|{page.get('/Rotate', 0)}"


def _limit_memory(limit: int) -> None:
    """Cap the address space where the platform allows it (not on Windows or macOS)."""
    try:
        import resource
    except ImportError:
        return
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


if __name__ == "__main__":
    sys.exit(main())
