"""Text from documents (txt, md, pdf, docx, html, source code), read safely and with markers.

Every way a document can hurt the app is refused before it can: files over a size
limit are refused before a byte is read, a ``.docx`` whose zip directory promises an
absurd amount of data is refused before it is parsed, a PDF is capped in pages and in
extracted characters, and binary files are recognised by their signature. Every
refusal is a :class:`~engine.errors.DocumentError` whose message names the file and is
meant for the user.

Reading is bounded in memory and time as well as in bytes. HTML and Word XML are read
as streams of parser events (:mod:`engine.tasks.html_text`, :mod:`engine.tasks.docx_text`), so
memory follows the text kept, not a tree of the markup; PDF pages are read in a child
process with a time budget per page and per file (:mod:`engine.tasks.pdf_text`); HTML and
Word documents have a time budget per megabyte too. When a budget runs out, what was
read is kept and :attr:`Document.notes` says what was cut.

:func:`extract` blocks (reading, decoding, parsing); callers run it on a worker thread,
never on the Qt thread. The libraries that parse documents are imported on first use,
so importing this module is cheap.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import logging
import os
import re
import stat
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from engine.errors import DocumentError, EngineError

__all__ = [
    "CODE_EXTENSIONS",
    "DEFAULT_MAX_BYTES",
    "Document",
    "Section",
    "extract",
    "from_text",
    "read_text_file",
]

log = logging.getLogger("engine.documents")

_MIB: Final = 1024 * 1024

#: Files larger than this are refused before they are read (a setting can change it).
DEFAULT_MAX_BYTES: Final = 200 * _MIB
#: A ``.docx`` whose members add up to more than this, uncompressed, is refused.
MAX_DOCX_UNCOMPRESSED: Final = 200 * _MIB
#: A ``.docx`` member that expands more than this many times is a zip bomb. Word's XML
#: compresses 5-20 times; only padding built to explode reaches 100.
MAX_DOCX_RATIO: Final = 100
#: Members smaller than this are never judged by their ratio (a tiny file can compress
#: well and still be harmless).
DOCX_RATIO_MIN_SIZE: Final = _MIB
#: More members than this is not a Word document anyone wrote.
MAX_DOCX_MEMBERS: Final = 10_000
#: A PDF with more pages than this is refused (no real document comes near it).
MAX_PDF_PAGES: Final = 5000
#: A document that yields more characters than this is refused: it would take days to
#: summarize, and a small PDF or DOCX that expands to this much is an attack.
MAX_TEXT_CHARS: Final = 100_000_000
#: Bytes read per progress report.
READ_CHUNK: Final = _MIB
#: Seconds any document may take to read, before the per-megabyte share below is added.
#: Past its budget a document is cut where it got to (a note says so), never refused.
READ_BASE_SECONDS: Final = 15.0
#: Seconds a PDF may take per megabyte of file. pypdf reads a dense text PDF at 3.4 s/MB
#: (4 ms a page); ten leaves room for fonts that take longer to decode, and stops a
#: 1.1 MB file whose 4,999 pages each draw one slow shared form after about 26 s.
PDF_SECONDS_PER_MB: Final = 10.0
#: Seconds HTML or Word XML may take per megabyte (of the XML, not of the zip around
#: it). The event parsers read 50 MB of nested <div> in 6 s of CPU and 120 MB of Word
#: paragraphs in 13 s (0.11-0.12 s/MB); one second leaves an eightfold margin for a
#: slow or busy machine.
MARKUP_SECONDS_PER_MB: Final = 1.0
#: Characters of HTML or XML given to the parser at a time: the budget is checked
#: between feeds, and progress reported.
_FEED_CHARS: Final = _MIB

#: File extensions read as source code: the text is kept exactly as it is.
CODE_EXTENSIONS: Final = frozenset(
    {
        "py", "pyi", "pyw", "js", "mjs", "cjs", "jsx", "ts", "tsx", "c", "h", "cc", "cpp",
        "cxx", "hpp", "hh", "hxx", "m", "mm", "java", "kt", "kts", "scala", "groovy", "go",
        "rs", "rb", "php", "pl", "pm", "lua", "r", "jl", "swift", "dart", "cs", "fs", "vb",
        "sh", "bash", "zsh", "fish", "ps1", "bat", "cmd", "sql", "css", "scss", "sass",
        "less", "json", "jsonl", "yaml", "yml", "toml", "ini", "cfg", "conf", "xml", "xsl",
        "proto", "graphql", "gql", "vue", "svelte", "hs", "ml", "mli", "ex", "exs", "erl",
        "hrl", "clj", "cljs", "lisp", "el", "scm", "zig", "nim", "v", "sv", "vhd", "vhdl",
        "asm", "s", "cmake", "mk", "gradle", "tf", "hcl", "dockerfile", "ipynb", "tex",
        "bib", "rst", "diff", "patch",
    }
)  # fmt: skip
#: File names without a telling extension that are source code all the same.
_CODE_NAMES: Final = frozenset({"makefile", "dockerfile", "cmakelists.txt", "gemfile", "rakefile"})
_MARKDOWN_EXTENSIONS: Final = frozenset({"md", "markdown", "mdown", "mkd"})
_HTML_EXTENSIONS: Final = frozenset({"html", "htm", "xhtml"})
_TEXT_EXTENSIONS: Final = frozenset({"txt", "text", "log", "csv", "tsv"})

#: Signatures of binary formats, so a refusal can say what the file looks like.
_SIGNATURES: Final[tuple[tuple[int, bytes, str], ...]] = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"),
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"GIF87a", "GIF image"),
    (0, b"GIF89a", "GIF image"),
    (0, b"II*\x00", "TIFF image"),
    (0, b"MM\x00*", "TIFF image"),
    (0, b"%PDF-", "PDF document"),
    (0, b"PK\x03\x04", "ZIP archive or Office document"),
    (0, b"PK\x05\x06", "ZIP archive"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"BZh", "bzip2 archive"),
    (0, b"\xfd7zXZ\x00", "xz archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (0, b"Rar!\x1a\x07", "RAR archive"),
    (0, b"\x28\xb5\x2f\xfd", "zstd archive"),
    (0, b"\x7fELF", "Linux program"),
    (0, b"MZ", "Windows program"),
    (0, b"\xcf\xfa\xed\xfe", "macOS program"),
    (0, b"\xca\xfe\xba\xbe", "macOS program or Java class"),
    (0, b"\x00asm", "WebAssembly module"),
    (0, b"SQLite format 3\x00", "SQLite database"),
    (0, b"GGUF", "GGUF model"),
    (0, b"ID3", "MP3 audio"),
    (0, b"OggS", "Ogg audio"),
    (0, b"fLaC", "FLAC audio"),
    (0, b"RIFF", "RIFF media (WAV, AVI or WebP)"),
    (4, b"ftyp", "MP4/MOV video or HEIC image"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Office document (.doc/.xls/.ppt)"),
)

_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    # UTF-32 first: the UTF-32-LE BOM begins with the UTF-16-LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_META_CHARSET: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_SPACES: Final = re.compile(r"[ \t\f\v\r\n\u00a0\u3000]+")
_BLANK_LINES: Final = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Section:
    """One part of a document: a page of a PDF, or the text under a heading.

    Attributes:
        title: "Page 3", the heading's text, or "" for text before any heading (and for
            documents without structure). Shown as a marker line like "[Page 3]" so a
            summary can say where things came from.
        text: the section's text, paragraphs separated by blank lines.
    """

    title: str
    text: str


@dataclass(frozen=True)
class Document:
    """The text of one document, with where it came from.

    Attributes:
        path: the absolute path it was read from ("" for pasted text).
        name: the file name shown to the user ("pasted text" for pasted text).
        kind: "text", "markdown", "pdf", "docx", "html" or "code".
        sections: the document's parts in order; never empty, none of them blank.
        encoding: the text encoding the bytes were decoded with ("utf-8", "gb18030",
            "utf-16-le", ...); "" for PDF and DOCX, which carry their own.
        sha256: hex digest of the file's bytes (of the UTF-8 text for pasted text).
        size: the file's size in bytes (of the UTF-8 text for pasted text).
        notes: what was left out, one sentence each for the user ("Read 120 of 4,999
            pages; the rest took too long to read (over 22 s)."); empty when the whole
            document was read.
    """

    path: str
    name: str
    kind: str
    sections: tuple[Section, ...]
    encoding: str
    sha256: str
    size: int
    notes: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """All sections joined by blank lines, each titled one after its "[title]" line."""
        parts = []
        for section in self.sections:
            parts.append(f"[{section.title}]\n{section.text}" if section.title else section.text)
        return "\n\n".join(parts)


def extract(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_progress: Callable[[float], None] | None = None,
) -> Document:
    """Read a document's text. Blocking: run it on a worker thread, never the Qt thread.

    The format comes from the extension (``.pdf``, ``.docx``, ``.html``/``.htm``,
    ``.md``, ``.txt``, source code); a file with any other extension is read as text
    if it decodes as text. Text is decoded by its byte-order mark, else as UTF-8, else
    by charset-normalizer's detection (GBK, Big5, Shift-JIS, cp1252, ...).

    Args:
        path: the file to read.
        max_bytes: files larger than this are refused before they are read.
        on_progress: called on the calling thread with the fraction done, after each
            megabyte read and each page or block parsed; fractions only grow and the
            last call is 1.0. An exception it raises (``Cancelled``, say) stops the
            extraction and propagates unchanged: that is how to cancel.

    Returns:
        The document, with at least one non-blank section. When a time budget ran out
        (:data:`READ_BASE_SECONDS` plus a share per megabyte) it holds what was read,
        and its ``notes`` say what was not.

    Raises:
        DocumentError: the file is missing, unreadable, a folder, too large, binary,
            damaged, encrypted, a zip bomb, a scanned PDF without text, or empty. The
            message names the file and says what to do where there is something to do.
    """
    path = Path(path)
    name = path.name or str(path)
    progress = _Progress(on_progress)
    kind = _kind_for(path)
    data = _read_bytes(path, name, max_bytes, progress.scaled(0.0, _read_share(kind)))
    if not data:
        raise DocumentError(f'"{name}" is empty: there is no text to read.')
    after_read = progress.scaled(_read_share(kind), 1.0)
    encoding = ""
    notes: tuple[str, ...] = ()
    if kind == "pdf":
        sections, notes = _pdf_sections(data, name, after_read)
    elif kind == "docx":
        sections, notes = _docx_sections(data, name, after_read)
    elif kind == "html":
        text, encoding = _decode(data, name, html=True)
        sections, notes = _html_sections(text, name, len(data), after_read)
    else:
        text, encoding = _decode(data, name)
        _check_text_size(len(text), name)
        sections = _plain_sections(text)
    if not sections:
        raise DocumentError(f'"{name}" contains no text to read.')
    progress(1.0)
    return Document(
        path=os.path.abspath(path),
        name=name,
        kind=kind,
        sections=sections,
        encoding=encoding,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        notes=notes,
    )


def read_text_file(path: Path, *, max_bytes: int = 4 * _MIB) -> tuple[str, str]:
    """A plain text file's text (source code, say), its encoding detected.

    Args:
        path: the file.
        max_bytes: larger files are refused before reading.

    Returns:
        The text with "\n" newlines, and the codec it was decoded with.

    Raises:
        DocumentError: missing, unreadable, too large, or binary (with what it looks like).
    """
    name = path.name
    data = _read_bytes(path, name, max_bytes, lambda _fraction: None)
    return _decode(data, name)


def from_text(text: str, *, name: str = "pasted text") -> Document:
    """Make a document of text the user pasted.

    Args:
        text: the text.
        name: what to call it in the queue and in the history.

    Returns:
        A "text" document with one untitled section; ``sha256`` and ``size`` are those
        of the text encoded as UTF-8.

    Raises:
        DocumentError: the text is blank or longer than Hearth reads.
    """
    normalized = _normalize_newlines(text).strip()
    if not normalized:
        raise DocumentError(f"The {name} is empty: there is no text to summarize.")
    _check_text_size(len(normalized), name)
    raw = text.encode("utf-8", errors="surrogatepass")
    return Document(
        path="",
        name=name,
        kind="text",
        sections=(Section("", normalized),),
        encoding="utf-8",
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
    )


# --- progress -------------------------------------------------------------------------


class _Progress:
    """Reports fractions that only grow, each at most once, to an optional callback."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if self._callback is None or fraction <= self._last:
            return
        self._last = fraction
        self._callback(fraction)

    def scaled(self, start: float, end: float) -> Callable[[float], None]:
        """A reporter of 0..1 that reports start..end through this one."""
        return lambda f: self(start + (end - start) * f)


def _read_share(kind: str) -> float:
    """How much of the progress bar reading the bytes takes, by kind."""
    return 0.1 if kind in ("pdf", "docx") else 0.8


# --- reading --------------------------------------------------------------------------


def _kind_for(path: Path) -> str:
    name = path.name.lower()
    ext = name.rpartition(".")[2] if "." in name else ""
    if ext == "pdf":
        return "pdf"
    if ext == "docx":
        return "docx"
    if ext in _HTML_EXTENSIONS:
        return "html"
    if ext in _MARKDOWN_EXTENSIONS:
        return "markdown"
    if ext in CODE_EXTENSIONS or name in _CODE_NAMES:
        return "code"
    return "text"


def _read_bytes(
    path: Path, name: str, max_bytes: int, on_progress: Callable[[float], None]
) -> bytes:
    """The file's bytes, refused by size before reading, by kind before opening."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DocumentError(f'"{name}" was not found ({path}).') from None
    except PermissionError:
        raise DocumentError(f'Hearth has no permission to read "{name}" ({path}).') from None
    except OSError as e:
        raise DocumentError(f'"{name}" could not be read: {e.strerror or e}.') from None
    if stat.S_ISDIR(st.st_mode):
        raise DocumentError(f'"{name}" is a folder, not a document. Drop the files inside it.')
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or a device (/dev/zero) never ends; only regular files are read.
        raise DocumentError(f'"{name}" is not a regular file (a device or a pipe), not a document.')
    _check_size(st.st_size, name, max_bytes)
    chunks = []
    total = 0
    try:
        with path.open("rb") as f:
            while True:
                # Read at most one byte past the limit: the file may grow while we read.
                chunk = f.read(min(READ_CHUNK, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    _check_size(total, name, max_bytes)
                on_progress(total / max(st.st_size, total, 1))
    except PermissionError:
        raise DocumentError(f'Hearth has no permission to read "{name}" ({path}).') from None
    except IsADirectoryError:
        raise DocumentError(f'"{name}" is a folder, not a document.') from None
    except OSError as e:
        raise DocumentError(f'"{name}" could not be read: {e.strerror or e}.') from None
    on_progress(1.0)
    return b"".join(chunks)


def _check_size(size: int, name: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise DocumentError(
            f'"{name}" is {_format_size(size)}; Hearth reads documents up to '
            f"{_format_size(max_bytes)} (Settings)."
        )


def _check_text_size(chars: int, name: str) -> None:
    if chars > MAX_TEXT_CHARS:
        raise DocumentError(
            f'"{name}" holds more than {MAX_TEXT_CHARS:,} characters of text, more than '
            "Hearth reads from one document. Split it into parts."
        )


def _format_size(n: int) -> str:
    """Sizes in binary units, so that the 200 MiB default reads as "200 MB"."""
    if n >= 10 * _MIB:
        return f"{n / _MIB:.0f} MB"
    if n >= _MIB:
        return f"{n / _MIB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def _looks_like(data: bytes) -> str:
    """What a binary file's signature says it is, or ""."""
    for offset, magic, what in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return what
    return ""


def _has_binary_signature(data: bytes) -> bool:
    """True for signatures no text file starts with (a byte outside printable ASCII, or a
    PDF header); "MZ" or "GGUF" at the start of a text file are only words."""
    for offset, magic, _ in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (
            magic == b"%PDF-" or any(b < 0x20 or b > 0x7E for b in magic)
        ):
            return True
    return False


def _binary_error(name: str, data: bytes) -> DocumentError:
    what = _looks_like(data)
    looks = f" (looks like {what})" if what else ""
    return DocumentError(f'"{name}" is a binary file{looks}, not a text document.')


# --- text decoding --------------------------------------------------------------------


def _decode(data: bytes, name: str, *, html: bool = False) -> tuple[str, str]:
    """Decode text: BOM, then strict UTF-8, then (HTML) the declared charset, then detection.

    Returns:
        The text with newlines normalized to "\\n", and the codec used.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _normalize_newlines(_strip_bom(data.decode(codec))), codec
            except UnicodeDecodeError:
                raise DocumentError(
                    f'"{name}" starts as {codec.upper()} text but is not valid {codec.upper()}; '
                    "the file is damaged or mislabelled."
                ) from None
    if _has_binary_signature(data):
        raise _binary_error(name, data)
    if b"\x00" in data:  # valid UTF-8, but no text file holds NULs; UTF-16 may
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return _checked_text(utf16[0], data, name), utf16[1]
        raise _binary_error(name, data)
    candidates: list[str] = ["utf-8"]
    if html:
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            candidates.append(declared.group(1).decode("ascii").lower())
    for codec in candidates:
        text = _try_decode(data, codec)
        if text is not None:
            return _checked_text(text, data, name), codec
    from charset_normalizer import from_bytes

    for match in from_bytes(data):
        if match.encoding.replace("-", "_").startswith(("utf_16", "utf_32")):
            # Without a BOM and without NULs (handled above), a UTF-16 guess is a
            # short GBK or Big5 text misread; Windows writes UTF-16 with a BOM.
            continue
        text = _try_decode(data, match.encoding)
        if text is not None:
            return _checked_text(text, data, name), match.encoding
    raise DocumentError(
        f'"{name}" is a binary file (or uses a text encoding Hearth does not recognise), '
        "not a text document."
    )


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text saved without a BOM shows NULs on every other byte (for Latin text)."""
    sample = data[:65536]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if half == 0 or len(data) % 2:
        return None
    for zeros, codec in ((odd, "utf-16-le"), (even, "utf-16-be")):
        if zeros > 0.3 * half and (even + odd - zeros) <= half // 100:
            text = _try_decode(data, codec)
            if text is not None:
                return text, codec
    return None


def _checked_text(text: str, data: bytes, name: str) -> str:
    """Refuse text full of control characters (a binary file that happened to decode)."""
    sample = text[:65536]
    controls = sum(
        1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v\x1b"
    )
    if controls > max(2, len(sample) // 100):
        raise _binary_error(name, data)
    return _normalize_newlines(text)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _plain_sections(text: str) -> tuple[Section, ...]:
    return (Section("", text),) if text.strip() else ()


# --- PDF ------------------------------------------------------------------------------


def _pdf_sections(
    data: bytes, name: str, on_progress: Callable[[float], None]
) -> tuple[tuple[Section, ...], tuple[str, ...]]:
    """One section per page with text, "Page N", read within a time budget; and the notes."""
    if b"%PDF-" not in data[:1024]:
        what = _looks_like(data)
        looks = f" (it looks like a {what})" if what else ""
        raise DocumentError(f'"{name}" is not a PDF file{looks}; it may be damaged.')
    from engine.tasks.pdf_text import read_pdf

    sections: list[Section] = []
    chars = 0

    def on_page(number: int, text: str) -> None:
        nonlocal chars
        text = _normalize_newlines(text).strip()
        if text:
            chars += len(text)
            _check_text_size(chars, name)
            sections.append(Section(f"Page {number}", text))

    budget = _budget(len(data), PDF_SECONDS_PER_MB)
    report = read_pdf(
        data, name, max_pages=MAX_PDF_PAGES, budget_s=budget, on_page=on_page,
        on_progress=on_progress,
    )  # fmt: skip
    if not sections:
        if report.failed == report.page_count:
            raise DocumentError(f'"{name}" is a damaged PDF; Hearth could not read it.')
        if report.pages_read < report.page_count:
            read = f"only {report.pages_read:,}" if report.pages_read else "none"
            raise DocumentError(
                f'"{name}" has no text in the pages Hearth could read in time ({read} of '
                f"{report.page_count:,}; the rest took too long). Save the pages you need "
                "as a smaller PDF and drop that."
            )
        count = report.page_count
        raise DocumentError(
            f'"{name}" has {count} page{"s" if count != 1 else ""} but no text '
            "layer — scanned document? Hearth cannot read scanned images (no OCR)."
        )
    return tuple(sections), report.notes


def _budget(size: int, seconds_per_mb: float) -> float:
    """Seconds a document of ``size`` bytes may take to read."""
    return READ_BASE_SECONDS + seconds_per_mb * size / _MIB


# --- DOCX -----------------------------------------------------------------------------


def _check_docx_zip(data: bytes, name: str) -> None:
    """Refuse a zip bomb from its central directory, before any member is inflated.

    The sizes checked are the directory's own claims; ``zipfile`` stops every member
    at its declared size, so a member cannot inflate past what was checked here.
    """
    damaged = f'"{name}" is a damaged Word document (.docx); Hearth could not open it.'
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        what = _looks_like(data)
        if what and not what.startswith("ZIP"):
            raise DocumentError(
                f'"{name}" is not a Word document (it looks like a {what}); it may be damaged '
                "or renamed."
            ) from None
        raise DocumentError(damaged) from None
    bomb = f'"{name}" was refused: it is built to expand to far more data than it holds ({{}}).'
    if len(members) > MAX_DOCX_MEMBERS:
        raise DocumentError(bomb.format(f"{len(members):,} files inside"))
    total = 0
    for member in members:
        total += member.file_size
        if total > MAX_DOCX_UNCOMPRESSED:
            raise DocumentError(
                bomb.format(f"over {_format_size(MAX_DOCX_UNCOMPRESSED)} uncompressed")
            )
        if member.file_size >= DOCX_RATIO_MIN_SIZE and (
            member.file_size > MAX_DOCX_RATIO * max(member.compress_size, 1)
        ):
            ratio = member.file_size // max(member.compress_size, 1)
            raise DocumentError(bomb.format(f"{member.filename} compressed {ratio:,} to 1"))
    if not any(m.filename == "word/document.xml" for m in members):
        raise DocumentError(
            f'"{name}" is a ZIP file but not a Word document (.docx); it may be damaged.'
        )


def _docx_sections(
    data: bytes, name: str, on_progress: Callable[[float], None]
) -> tuple[tuple[Section, ...], tuple[str, ...]]:
    """Headings start sections; paragraphs and tables (rows of " | " cells) in order."""
    _check_docx_zip(data, name)
    from engine.tasks.docx_text import DocxStyles, DocxText

    builder = _SectionBuilder(name)
    styles = DocxStyles()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        # By the XML's size, not the file's: Word's XML compresses 5 to 20 times.
        xml_size = sum(archive.getinfo(n).file_size for n in _DOCX_PARTS if n in names)
        budget = _Budget(_budget(xml_size, MARKUP_SECONDS_PER_MB))
        try:
            if _DOCX_STYLES in names:
                _parse_xml(archive, _DOCX_STYLES, styles, budget, lambda _f: None)
            cut = _parse_xml(
                archive, _DOCX_DOCUMENT, DocxText(builder, styles), budget, on_progress
            )
        except _MarkupError:
            log.warning("could not read the XML of %s", name, exc_info=True)
            raise DocumentError(
                f'"{name}" is a damaged Word document (.docx); Hearth could not open it.'
            ) from None
    return builder.sections(), _cut_note(cut, "document", budget.seconds)


_DOCX_DOCUMENT: Final = "word/document.xml"
_DOCX_STYLES: Final = "word/styles.xml"
_DOCX_PARTS: Final = (_DOCX_DOCUMENT, _DOCX_STYLES)


def _parse_xml(
    archive: zipfile.ZipFile,
    member: str,
    target: _Target,
    budget: _Budget,
    on_progress: Callable[[float], None],
) -> float:
    """Feed a zip member to an XML parser that calls ``target``; the fraction read."""
    from lxml import etree

    # No entities, no DTD, no network; huge_tree stays off, so libxml2 refuses nesting
    # over 256 levels and text nodes over 10 MB.
    parser = etree.XMLParser(target=target, resolve_entities=False, no_network=True, load_dtd=False)
    size = archive.getinfo(member).file_size
    with _markup_errors():
        stream = archive.open(member)
    with stream:  # its reads run in _feed, each under _markup_errors
        chunks = iter(lambda: stream.read(_FEED_CHARS), b"")
        return _feed(parser, target, chunks, size, budget, on_progress)


# --- markup read as parser events ------------------------------------------------------


class _Target(Protocol):
    """An lxml parser target (``html_text.HtmlText``, ``docx_text.DocxText``, ...)."""

    def close(self) -> None:
        """The end of the input."""


class _Parser(Protocol):
    """An lxml feed parser."""

    def feed(self, data: str | bytes) -> None:
        """Parse more input."""

    def close(self) -> object:
        """The end of the input: flushes the parser, then calls the target's close."""


class _Budget:
    """Seconds one document may take, counted from its creation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds

    def spent(self) -> bool:
        """Whether the time is up."""
        return time.monotonic() >= self._deadline


class _MarkupError(Exception):
    """The parser, or the zip stream under it, failed on the input: a damaged file."""


@contextlib.contextmanager
def _markup_errors() -> Iterator[None]:
    """Turn a parser's or zlib's own errors into :class:`_MarkupError`; ours pass."""
    try:
        yield
    except (EngineError, _MarkupError):  # the text cap, raised from a target
        raise
    except Exception as e:  # lxml, zlib and zipfile raise many kinds on a damaged file
        raise _MarkupError(str(e)) from e


def _feed(
    parser: _Parser,
    target: _Target,
    chunks: Iterator[str | bytes],
    size: int,
    budget: _Budget,
    on_progress: Callable[[float], None],
) -> float:
    """Feed chunks, ``size`` in all, while the budget lasts; the fraction read (1.0: all).

    ``on_progress`` is called outside the parser's error handling, so what it raises
    (Cancelled) propagates unchanged. Cut short, the target is closed on what it has.
    """
    fed = 0
    while not budget.spent():
        with _markup_errors():
            chunk = next(chunks, None)
            if chunk is None:
                parser.close()
                return 1.0
            parser.feed(chunk)
        fed += len(chunk)
        on_progress(min(fed / max(size, 1), 1.0))
    target.close()
    return min(fed / max(size, 1), 1.0)


def _cut_note(fraction: float, what: str, seconds: float) -> tuple[str, ...]:
    """The note for a document cut at ``fraction`` by its time budget, if it was."""
    if fraction >= 1.0:
        return ()
    return (
        f"Only the first {fraction:.0%} of the {what} was read; the rest took too long "
        f"to read (over {seconds:.0f} s).",
    )


# --- HTML -----------------------------------------------------------------------------


def _html_sections(
    text: str, name: str, size: int, on_progress: Callable[[float], None]
) -> tuple[tuple[Section, ...], tuple[str, ...]]:
    """Visible text only (no scripts or styles), headings start sections, paragraphs kept."""
    _check_text_size(len(text), name)
    from lxml import etree

    from engine.tasks.html_text import HtmlText

    builder = _SectionBuilder(name)
    budget = _Budget(_budget(size, MARKUP_SECONDS_PER_MB))
    target = HtmlText(builder)
    # libxml2's HTML parser calls the target for each event and builds no tree; it is
    # lenient like a browser (recover), never fetches anything, and with huge_tree
    # puts no cap on nesting (the target has its own) or on a text's length.
    parser = etree.HTMLParser(
        target=target, recover=True, no_network=True, remove_comments=True, remove_pis=True,
        huge_tree=True,
    )  # fmt: skip
    chunks = (text[i : i + _FEED_CHARS] for i in range(0, len(text), _FEED_CHARS))
    try:
        cut = _feed(parser, target, chunks, len(text), budget, on_progress)
    except _MarkupError:  # libxml2 recovers from almost anything; this is hostile
        log.warning("lxml could not parse %s", name, exc_info=True)
        raise DocumentError(f'"{name}" is a damaged HTML file; Hearth could not read it.') from None
    return builder.sections(), _cut_note(cut, "page", budget.seconds)


# --- sections -------------------------------------------------------------------------


class _SectionBuilder:
    """Collects paragraphs under the latest heading; drops sections left blank."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._done: list[Section] = []
        self._title = ""
        self._paragraphs: list[str] = []
        self._chars = 0

    def heading(self, title: str) -> None:
        if not title:
            return
        if not self._paragraphs and self._title:
            # Headings in a row ("Report" then "Introduction"): one marker names both.
            self._title = f"{self._title} / {title}"
            return
        self._close()
        self._title = title

    def paragraph(self, text: str, *, keep_spaces: bool = False) -> None:
        if not keep_spaces:
            text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
            text = _BLANK_LINES.sub("\n\n", text).strip()
        if not text.strip():
            return
        self._chars += len(text)
        _check_text_size(self._chars, self._name)
        self._paragraphs.append(text)

    def sections(self) -> tuple[Section, ...]:
        self._close()
        return tuple(self._done)

    def _close(self) -> None:
        if self._paragraphs:
            self._done.append(Section(self._title, "\n\n".join(self._paragraphs)))
        elif self._title:
            # A heading with nothing under it at the end still says something.
            self._done.append(Section("", self._title))
        self._paragraphs = []
        self._title = ""
