"""Text extraction from real documents built in each test, and every refusal's message."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import zipfile
import zlib
from pathlib import Path

import pytest

from engine.errors import Cancelled, DocumentError
from engine.tasks import documents
from engine.tasks.documents import DEFAULT_MAX_BYTES, Document, Section, extract, from_text

CHINESE = (
    "人工智能正在改变我们的生活方式。本地运行的大语言模型可以保护隐私，"
    "不需要网络连接，也不会把文件上传到服务器。这份文件用于测试编码检测。"
)


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], *, padding: int = 0) -> bytes:
    """A minimal valid PDF by hand: one content stream per page, Helvetica text lines.

    A page given as an empty list draws a filled rectangle and no text, like a scan.
    With ``padding``, each content stream ends with that many spaces, Flate-compressed.
    """
    n = len(pages)
    font_id = 3 + 2 * n
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        (
            "<< /Type /Pages /Kids ["
            + " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
            + f"] /Count {n} >>"
        ).encode(),
    ]
    for i, lines in enumerate(pages):
        if lines:
            ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
            for line in lines:
                ops += [f"({_pdf_string(line)}) Tj", "T*"]
            ops.append("ET")
        else:
            ops = ["0.5 g", "72 72 468 648 re", "f"]
        stream = "\n".join(ops).encode("latin-1")
        flate = b""
        if padding:
            stream = zlib.compress(stream + b" " * padding, 9)
            flate = b" /Filter /FlateDecode"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length %d%s >>\nstream\n" % (len(stream), flate) + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_docx(path: Path) -> Path:
    """A Word document with a title, two headings, paragraphs and a table between them."""
    import docx

    document = docx.Document()
    document.add_paragraph("Before any heading.")
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Region", "Q1", "Q2"], ["North", "10", "12"], ["South", "7", "9"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    document.add_heading("Outlook", level=2)
    document.add_paragraph("Next year looks steady.")
    document.save(str(path))
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- formats ----------------------------------------------------------------------------


def test_pdf_pages_become_marked_sections(tmp_path: Path) -> None:
    data = make_pdf(
        [
            ["The first page talks about apples.", "It has two lines (and parentheses)."],
            ["The second page talks about pears."],
            ["The third page concludes."],
        ]
    )
    path = write(tmp_path / "fruit.pdf", data)
    doc = extract(path)
    assert doc.kind == "pdf"
    assert [s.title for s in doc.sections] == ["Page 1", "Page 2", "Page 3"]
    assert "apples" in doc.sections[0].text
    assert "(and parentheses)" in doc.sections[0].text
    assert "pears" in doc.sections[1].text
    assert "[Page 2]\nThe second page talks about pears." in doc.text
    assert doc.text.startswith("[Page 1]\n")
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.size == len(data)
    assert doc.name == "fruit.pdf"
    assert doc.path == str(path.resolve())


def test_pdf_blank_pages_are_skipped_but_numbering_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "gap.pdf", make_pdf([["One."], [], ["Three."]]))
    doc = extract(path)
    assert [s.title for s in doc.sections] == ["Page 1", "Page 3"]


def test_docx_headings_paragraphs_and_table_in_order(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "report.docx")
    doc = extract(path)
    assert doc.kind == "docx"
    assert [s.title for s in doc.sections] == ["", "Quarterly report", "Outlook"]
    assert doc.sections[0].text == "Before any heading."
    body = doc.sections[1].text
    assert body == (
        "Revenue grew in every region.\n\n"
        "Region | Q1 | Q2\nNorth | 10 | 12\nSouth | 7 | 9\n\n"
        "After the table."
    )
    assert "[Outlook]\nNext year looks steady." in doc.text


def test_html_drops_scripts_and_styles_and_keeps_structure(tmp_path: Path) -> None:
    html = """<!DOCTYPE html>
<html><head><title>Page title</title>
<style>body { color: SECRET_STYLE; }</style>
<script>var leaked = "SECRET_SCRIPT";</script></head>
<body>
<noscript>SECRET_NOSCRIPT</noscript>
<template><p>SECRET_TEMPLATE</p></template>
<!-- SECRET_COMMENT -->
<p>Intro paragraph
   spread over lines.</p>
<h1>First <em>heading</em></h1>
<p>One.</p><p>Two<br>lines.</p>
<script type="module">SECRET_MODULE()</script>
<h2>Second</h2>
<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>31</td></tr></table>
<pre>  keep   this
    indentation</pre>
</body></html>"""
    path = write(tmp_path / "page.html", html.encode())
    doc = extract(path)
    assert doc.kind == "html"
    assert "SECRET" not in doc.text
    assert "color" not in doc.text
    assert [s.title for s in doc.sections] == ["", "First heading", "Second"]
    assert doc.sections[0].text == "Intro paragraph spread over lines."
    assert doc.sections[1].text == "One.\n\nTwo\nlines."
    assert doc.sections[2].text == "Name | Age\nAnn | 31\n\n  keep   this\n    indentation"


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    html = f'<html><head><meta charset="gbk"></head><body><p>{CHINESE}</p></body></html>'
    doc = extract(write(tmp_path / "zh.htm", html.encode("gbk")))
    assert doc.encoding == "gbk"
    assert doc.text == CHINESE


def test_deeply_nested_html_is_read_without_recursion(tmp_path: Path) -> None:
    html = "<div>" * 20000 + "deep text" + "</div>" * 20000
    doc = extract(write(tmp_path / "deep.html", html.encode()))
    assert doc.text == "deep text"


def test_gbk_chinese_text_file(tmp_path: Path) -> None:
    text = (CHINESE + "\n") * 5
    doc = extract(write(tmp_path / "中文.txt", text.encode("gbk")))
    assert doc.kind == "text"
    assert doc.text == text
    assert doc.encoding.lower() in {"gbk", "gb2312", "gb18030", "cp936"}


def test_utf16_chinese_text_file(tmp_path: Path) -> None:
    text = CHINESE + "\r\nSecond line.\r\n"
    doc = extract(write(tmp_path / "utf16.txt", text.encode("utf-16")))
    assert doc.text == CHINESE + "\nSecond line.\n"
    assert doc.encoding.startswith("utf-16")


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-32", "utf-16-le", "utf-16-be"])
def test_boms_and_bomless_utf16(tmp_path: Path, codec: str) -> None:
    # utf-8-sig and utf-32 write a BOM; utf-16-le/-be do not, and are recognised by the
    # NULs on every other byte.
    text = "Plain English text, saved oddly.\n"
    doc = extract(write(tmp_path / "odd.txt", text.encode(codec)))
    assert doc.text == text
    assert doc.encoding.startswith(codec)


def test_utf8_markdown_and_unknown_extension(tmp_path: Path) -> None:
    md = "# Title\n\nSome *markdown* text, naïve café.\n"
    doc = extract(write(tmp_path / "notes.md", md.encode()))
    assert (doc.kind, doc.encoding, doc.text) == ("markdown", "utf-8", md)
    assert doc.sections == (Section("", md),)
    other = extract(write(tmp_path / "README.nfo", b"just text\n"))
    assert other.kind == "text"


def test_python_file_is_code_kept_as_is(tmp_path: Path) -> None:
    source = "def f(x):\n    return x  # indentation matters\n\n\nprint(f(1))\n"
    doc = extract(write(tmp_path / "tool.py", source.encode()))
    assert doc.kind == "code"
    assert doc.text == source
    assert extract(write(tmp_path / "Makefile", b"all:\n\techo hi\n")).kind == "code"


def test_from_text(tmp_path: Path) -> None:
    doc = from_text("  Pasted\r\nwords  ")
    assert doc == Document(
        path="",
        name="pasted text",
        kind="text",
        sections=(Section("", "Pasted\nwords"),),
        encoding="utf-8",
        sha256=hashlib.sha256(b"  Pasted\r\nwords  ").hexdigest(),
        size=len(b"  Pasted\r\nwords  "),
    )
    with pytest.raises(DocumentError, match="The pasted text is empty"):
        from_text(" \n ")


# --- refusals ---------------------------------------------------------------------------


def test_pdf_without_text_layer_says_scanned(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", make_pdf([[], []]))
    with pytest.raises(DocumentError) as info:
        extract(path)
    message = str(info.value)
    assert '"scan.pdf" has 2 pages but no text layer — scanned document?' in message
    assert "no OCR" in message


def test_password_protected_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf([["Secret plans."]])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = write(tmp_path / "locked.pdf", buffer.getvalue())
    with pytest.raises(DocumentError, match=re.escape('"locked.pdf" is protected by a password')):
        extract(path)


def test_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Readable anyway."]]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = extract(write(tmp_path / "restricted.pdf", buffer.getvalue()))
    assert doc.sections == (Section("Page 1", "Readable anyway."),)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\nthis is not a real pdf at all\n%%EOF\n",
        b"%PDF-1.7\n" + bytes(range(256)) * 40,
    ],
)
def test_damaged_pdf(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(DocumentError, match=r'"broken.pdf" is a damaged PDF'):
        extract(write(tmp_path / "broken.pdf", data))


def test_png_named_pdf_says_what_it_is(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    with pytest.raises(DocumentError, match=r"not a PDF file \(it looks like a PNG image\)"):
        extract(write(tmp_path / "photo.pdf", data))


def test_pdf_page_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_PDF_PAGES", 2)
    path = write(tmp_path / "long.pdf", make_pdf([["a"], ["b"], ["c"]]))
    with pytest.raises(DocumentError, match="has 3 pages; Hearth reads PDFs of up to 2 pages"):
        extract(path)


def test_compressed_streams_are_read(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "z.pdf", make_pdf([["Squeezed text."]], padding=1000)))
    assert doc.sections == (Section("Page 1", "Squeezed text."),)


def test_pdf_decompression_bomb(tmp_path: Path) -> None:
    # 100 MB of content stream in about 100 kB: past pypdf's 75 MB inflate limit.
    data = make_pdf([["Looks innocent."]], padding=100 * 1024 * 1024)
    assert len(data) < 200_000
    with pytest.raises(DocumentError) as info:
        extract(write(tmp_path / "bomb.pdf", data))
    assert "a PDF bomb?" in str(info.value)


def test_text_character_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_TEXT_CHARS", 40)
    path = write(tmp_path / "many.pdf", make_pdf([["x" * 30], ["y" * 30]]))
    with pytest.raises(DocumentError, match=re.escape('"many.pdf" holds more than 40 characters')):
        extract(path)


def test_zip_bomb_docx_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docx

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", bytes(20 * 1024 * 1024))
    info = zipfile.ZipFile(buffer).getinfo("word/document.xml")
    assert info.file_size / info.compress_size > 1000
    path = write(tmp_path / "bomb.docx", buffer.getvalue())

    def must_not_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bomb was parsed")

    monkeypatch.setattr(docx, "Document", must_not_parse)
    with pytest.raises(DocumentError) as refused:
        extract(path)
    message = str(refused.value)
    assert message.startswith('"bomb.docx" was refused: it is built to expand')
    assert "word/document.xml compressed" in message


def test_docx_too_many_members_or_too_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        for i in range(20):
            archive.writestr(f"word/media/{i}.bin", os.urandom(2048))
    path = write(tmp_path / "crowded.docx", buffer.getvalue())
    monkeypatch.setattr(documents, "MAX_DOCX_MEMBERS", 10)
    with pytest.raises(DocumentError, match="21 files inside"):
        extract(path)
    monkeypatch.setattr(documents, "MAX_DOCX_MEMBERS", 10_000)
    monkeypatch.setattr(documents, "MAX_DOCX_UNCOMPRESSED", 10_000)
    with pytest.raises(DocumentError, match="uncompressed"):
        extract(path)


def test_damaged_docx(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=re.escape('"notzip.docx" is a damaged Word document')):
        extract(write(tmp_path / "notzip.docx", b"this is plain text, not a zip"))
    good = make_docx(tmp_path / "good.docx").read_bytes()
    with pytest.raises(DocumentError, match=re.escape('"cut.docx" is a damaged Word document')):
        extract(write(tmp_path / "cut.docx", good[: len(good) // 2]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(DocumentError, match="a ZIP file but not a Word document"):
        extract(write(tmp_path / "plain.docx", buffer.getvalue()))


def test_png_renamed_txt_is_binary(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + os.urandom(256)
    with pytest.raises(DocumentError) as info:
        extract(write(tmp_path / "image.txt", data))
    assert str(info.value) == (
        '"image.txt" is a binary file (looks like PNG image), not a text document.'
    )


def test_unrecognised_binary_is_refused(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    with pytest.raises(DocumentError, match=r'"blob.dat" is a binary file'):
        extract(write(tmp_path / "blob.dat", data))


def test_oversized_file_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "huge.txt", b"word " * 1000)
    opened: list[Path] = []
    real_open = Path.open

    def spy_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", spy_open)
    with pytest.raises(DocumentError) as info:
        extract(path, max_bytes=1024)
    assert str(info.value) == ('"huge.txt" is 5 KB; Hearth reads documents up to 1 KB (Settings).')
    assert opened == []
    assert DEFAULT_MAX_BYTES == 200 * 1024 * 1024
    assert documents._format_size(312 * 1024 * 1024) == "312 MB"


def test_missing_folder_empty_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=re.escape('"gone.txt" was not found')):
        extract(tmp_path / "gone.txt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DocumentError, match=re.escape('"folder" is a folder, not a document')):
        extract(tmp_path / "folder")
    with pytest.raises(DocumentError, match=re.escape('"empty.txt" is empty')):
        extract(write(tmp_path / "empty.txt", b""))
    with pytest.raises(DocumentError, match=re.escape('"blank.md" contains no text')):
        extract(write(tmp_path / "blank.md", b"  \n\n\t\n"))
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match="not a regular file"):
        extract(fifo)


def test_unreadable_file(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", b"private")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions do not stop reading")
        with pytest.raises(DocumentError, match=re.escape('no permission to read "locked.txt"')):
            extract(locked)
    finally:
        locked.chmod(0o600)


# --- progress ---------------------------------------------------------------------------


def _progress_of(path: Path) -> list[float]:
    seen: list[float] = []
    extract(path, on_progress=seen.append)
    return seen


def test_progress_is_monotonic_and_ends_at_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "READ_CHUNK", 1000)
    pdf = write(tmp_path / "p.pdf", make_pdf([[f"Page {i} text."] for i in range(10)]))
    text = write(tmp_path / "t.txt", b"line of text\n" * 1000)
    for path, minimum_calls in ((pdf, 10), (text, 10), (make_docx(tmp_path / "d.docx"), 3)):
        seen = _progress_of(path)
        assert len(seen) >= minimum_calls, path
        assert all(a < b for a, b in itertools.pairwise(seen)), seen
        assert seen[-1] == 1.0
        assert seen[0] > 0.0


def test_raising_from_progress_cancels(tmp_path: Path) -> None:
    pdf = write(tmp_path / "p.pdf", make_pdf([[f"Page {i}."] for i in range(20)]))
    seen: list[float] = []

    def cancel_midway(fraction: float) -> None:
        seen.append(fraction)
        if fraction > 0.5:
            raise Cancelled("stopped")

    with pytest.raises(Cancelled):
        extract(pdf, on_progress=cancel_midway)
    assert seen[-1] < 1.0
