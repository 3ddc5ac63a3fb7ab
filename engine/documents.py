"""Text from documents (txt, md, pdf, docx, html, source code), read safely and with markers.

Every way a document can hurt the app is refused before it can: files over a size
limit are refused before a byte is read, a ``.docx`` whose zip directory promises an
absurd amount of data is refused before it is parsed, a PDF is capped in pages and in
extracted characters, and binary files are recognised by their signature. Every
refusal is a :class:`~engine.errors.DocumentError` whose message names the file and is
meant for the user.

:func:`extract` blocks (reading, decoding, parsing); callers run it on a worker thread,
never on the Qt thread. The libraries that parse documents are imported on first use,
so importing this module is cheap.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from engine.errors import DocumentError

if TYPE_CHECKING:
    from bs4 import PageElement
    from docx.table import Table
    from docx.text.paragraph import Paragraph

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

_DROPPED_HTML: Final = frozenset(
    {"script", "style", "noscript", "template", "head", "svg", "math", "canvas", "iframe",
     "object", "embed", "audio", "video", "select", "button"}
)  # fmt: skip
_HTML_HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HTML_BLOCKS: Final = frozenset(
    {"p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "ul",
     "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "blockquote",
     "pre", "figure", "figcaption", "address", "details", "summary", "form", "fieldset",
     "hr", "caption", "body", "html", "center"}
)  # fmt: skip
_HTML_CELLS: Final = frozenset({"td", "th"})
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
    """

    path: str
    name: str
    kind: str
    sections: tuple[Section, ...]
    encoding: str
    sha256: str
    size: int

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
        The document, with at least one non-blank section.

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
    if kind == "pdf":
        sections = _pdf_sections(data, name, after_read)
    elif kind == "docx":
        sections = _docx_sections(data, name, after_read)
    elif kind == "html":
        text, encoding = _decode(data, name, html=True)
        sections = _html_sections(text, name, after_read)
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
) -> tuple[Section, ...]:
    """One section per page with text, "Page N"; pypdf's own limits guard its filters."""
    if b"%PDF-" not in data[:1024]:
        what = _looks_like(data)
        looks = f" (it looks like a {what})" if what else ""
        raise DocumentError(f'"{name}" is not a PDF file{looks}; it may be damaged.')
    from pypdf import PdfReader
    from pypdf.errors import (
        DependencyError,
        FileNotDecryptedError,
        LimitReachedError,
        PyPdfError,
    )

    damaged = f'"{name}" is a damaged PDF; Hearth could not read it.'
    bomb = (
        f'"{name}" was refused: part of it expands to far more data than a document '
        "holds (a PDF bomb?)."
    )
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
                raise DocumentError(
                    f'"{name}" is protected by a password. Open it in a PDF viewer, save a '
                    "copy without the password, and drop that copy."
                )
        page_count = len(reader.pages)
    except DocumentError:
        raise
    except FileNotDecryptedError:
        raise DocumentError(f'"{name}" is protected by a password.') from None
    except LimitReachedError:
        raise DocumentError(bomb) from None
    except (PyPdfError, RecursionError, MemoryError, Exception):
        # Besides its own errors, pypdf raises assorted built-in ones on hostile input.
        log.warning("pypdf could not open %s", name, exc_info=True)
        raise DocumentError(damaged) from None
    if page_count == 0:
        raise DocumentError(f'"{name}" has no pages.')
    if page_count > MAX_PDF_PAGES:
        raise DocumentError(
            f'"{name}" has {page_count:,} pages; Hearth reads PDFs of up to '
            f"{MAX_PDF_PAGES:,} pages. Split it into parts."
        )
    sections: list[Section] = []
    chars = 0
    failed = 0
    for index in range(page_count):
        try:
            page_text = reader.pages[index].extract_text() or ""
        except LimitReachedError:  # pypdf's own caps on decompression and stream sizes
            raise DocumentError(bomb) from None
        except Exception:  # one bad page is not the whole PDF; on_progress is outside
            log.warning("pypdf failed on page %d of %s", index + 1, name, exc_info=True)
            failed += 1
            page_text = ""
        page_text = _normalize_newlines(page_text).strip()
        if page_text:
            chars += len(page_text)
            _check_text_size(chars, name)
            sections.append(Section(f"Page {index + 1}", page_text))
        on_progress((index + 1) / page_count)
    if not sections:
        if failed == page_count:
            raise DocumentError(damaged)
        raise DocumentError(
            f'"{name}" has {page_count} page{"s" if page_count != 1 else ""} but no text '
            "layer — scanned document? Hearth cannot read scanned images (no OCR)."
        )
    return tuple(sections)


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
) -> tuple[Section, ...]:
    """Headings start sections; paragraphs and tables (rows of " | " cells) in order."""
    _check_docx_zip(data, name)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
    except Exception:  # python-docx and lxml raise many kinds of error on bad input
        log.warning("python-docx could not open %s", name, exc_info=True)
        raise DocumentError(
            f'"{name}" is a damaged Word document (.docx); Hearth could not open it.'
        ) from None
    on_progress(0.2)
    builder = _SectionBuilder(name)
    for index, block in enumerate(blocks):
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if text and _is_docx_heading(block):
                builder.heading(_SPACES.sub(" ", text))
            elif text:
                builder.paragraph(text)
        elif isinstance(block, Table):
            builder.paragraph("\n".join(_table_rows(block)))
        on_progress(0.2 + 0.8 * (index + 1) / len(blocks))
    return builder.sections()


def _is_docx_heading(paragraph: Paragraph) -> bool:
    try:
        style = paragraph.style
        style_name = (style.name or "") if style is not None else ""
    except (KeyError, ValueError, AttributeError):
        return False
    return style_name.startswith("Heading") or style_name == "Title"


def _table_rows(table: Table) -> Iterator[str]:
    """Rows of a Word table as " | "-separated cells; merged cells appear once."""
    for row in table.rows:
        cells: list[str] = []
        previous: object = None
        for cell in row.cells:
            if cell._tc is previous:  # a horizontally merged cell repeats itself
                continue
            previous = cell._tc
            cells.append(_SPACES.sub(" ", cell.text).strip())
        if any(cells):
            yield " | ".join(cells)


# --- HTML -----------------------------------------------------------------------------


def _html_sections(
    text: str, name: str, on_progress: Callable[[float], None]
) -> tuple[Section, ...]:
    """Visible text only (no scripts or styles), headings start sections, paragraphs kept."""
    _check_text_size(len(text), name)
    from bs4 import BeautifulSoup, NavigableString, Tag
    from bs4.element import PreformattedString

    try:
        soup = BeautifulSoup(text, "html.parser")
    except Exception:  # html.parser is lenient; anything it raises means a hostile file
        log.warning("BeautifulSoup could not parse %s", name, exc_info=True)
        raise DocumentError(f'"{name}" is a damaged HTML file; Hearth could not read it.') from None
    on_progress(0.3)
    builder = _SectionBuilder(name)
    line: list[str] = []  # the text of the paragraph being read
    cells: list[str] = []  # the cells of the table row being read
    tables: list[list[str]] = []  # the rows of each table being read, innermost last

    def flush() -> None:
        joined = "".join(line)
        line.clear()
        for paragraph in joined.split("\n\n"):
            builder.paragraph(paragraph)

    # An explicit stack, not recursion: html.parser nests unclosed tags arbitrarily deep.
    # Each tag is pushed twice: (tag, False) to open it, (tag, True) to close a block.
    stack: list[tuple[PageElement, bool]] = [(soup, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, NavigableString):
            # Comments, doctypes, CDATA and processing instructions are not visible text.
            if not isinstance(node, PreformattedString):
                line.append(_SPACES.sub(" ", str(node)))
            continue
        if not isinstance(node, Tag):
            continue
        tag_name = node.name
        if closing:
            if tag_name in _HTML_CELLS:
                cells.append(_SPACES.sub(" ", "".join(line)).strip())
                line.clear()
            elif tag_name == "tr":
                line.clear()
                if any(cells):
                    row = " | ".join(cells)
                    if tables:
                        tables[-1].append(row)
                    else:
                        builder.paragraph(row)
                cells.clear()
            elif tag_name == "table":
                flush()
                builder.paragraph("\n".join(tables.pop()))
            else:
                flush()
            continue
        if tag_name in _DROPPED_HTML:
            continue
        if tag_name in _HTML_HEADINGS:
            flush()
            builder.heading(_SPACES.sub(" ", node.get_text(" ")).strip())
        elif tag_name == "br":
            line.append("\n")
        elif tag_name == "pre":
            flush()
            builder.paragraph(_normalize_newlines(node.get_text()).strip("\n"), keep_spaces=True)
        else:
            if tag_name in _HTML_BLOCKS or tag_name in _HTML_CELLS or node is soup:
                if tag_name not in _HTML_CELLS:
                    flush()
                if tag_name == "table":
                    tables.append([])
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    on_progress(1.0)
    return builder.sections()


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
