"""Syntax highlighting: code blocks in Markdown documents as the transcript fills them, the
code editor's highlighter, and telling languages apart."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from PySide6.QtGui import (
    QColor,
    QPalette,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QApplication, QPlainTextEdit
from pytestqt.qtbot import QtBot

from desktop.highlight.blocks import CodeBlock, code_blocks, style_code_blocks
from desktop.highlight.highlighter import CodeHighlighter
from desktop.highlight.languages import language_display_name
from desktop.highlight.schemes import code_background, contrast_ratio
from engine.tasks.programming_languages import LANGUAGES, language_for


def make_palette(*, dark: bool) -> QPalette:
    """A light or dark palette like the app's themes (the roles code colours use)."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: ("#efefef", "#2b2b2b"),
        QPalette.ColorRole.WindowText: ("#000000", "#e8e8e8"),
        QPalette.ColorRole.Base: ("#ffffff", "#1e1e1e"),
        QPalette.ColorRole.Text: ("#000000", "#e8e8e8"),
    }
    for role, (light, dark_colour) in roles.items():
        palette.setColor(role, QColor(dark_colour if dark else light))
    return palette


LIGHT = make_palette(dark=False)
DARK = make_palette(dark=True)


@pytest.fixture(autouse=True)
def _application(qapp: QApplication) -> QApplication:
    """Documents lay out text with the application's fonts: every test needs the app."""
    return qapp


PYTHON_ANSWER = '''Here is the function:

```python
def greet(name):
    """Say hello.

    Politely, to name.
    """
    message = "hello " + name
    return message  # done
```

Call `greet("x")` to use it.
'''


def fill(document: QTextDocument, markdown: str) -> None:
    """Append ``markdown`` the way the transcript does: after an invisible spacer paragraph."""
    cursor = QTextCursor(document)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertMarkdown("\u200b\n\n" + markdown)


def styled(markdown: str, palette: QPalette = LIGHT) -> QTextDocument:
    document = QTextDocument()
    fill(document, markdown)
    style_code_blocks(document, 0, palette)
    return document


def line(document: QTextDocument, text: str) -> QTextBlock:
    """The first block whose text is ``text``, without its indentation."""
    block = document.begin()
    while block.isValid():
        if block.text().strip() == text:
            return block
        block = block.next()
    raise AssertionError(f"no line {text!r}")


def colour_at(block: QTextBlock, text: str) -> QColor | None:
    """The token colour of ``text`` (its first character) in ``block``; None when plain."""
    before = block.text()[: block.text().index(text)]
    column = len(before.encode("utf-16-le")) // 2  # Qt counts UTF-16 units
    for piece in block.layout().formats():
        inside = piece.start <= column < piece.start + piece.length
        if inside and piece.format.hasProperty(QTextFormat.Property.ForegroundBrush):
            return piece.format.foreground().color()
    return None


def colours(block: QTextBlock) -> list[tuple[int, int, str]]:
    return [
        (piece.start, piece.length, piece.format.foreground().color().name())
        for piece in block.layout().formats()
    ]


# -- code blocks in Markdown -------------------------------------------------------------


def test_python_fence_colours_keywords_and_strings_apart_from_plain_text() -> None:
    document = styled(PYTHON_ANSWER)
    text_colour = LIGHT.color(QPalette.ColorRole.Text)

    keyword = colour_at(line(document, "def greet(name):"), "def")
    string = colour_at(line(document, 'message = "hello " + name'), '"hello')
    plain = colour_at(line(document, 'message = "hello " + name'), "message")
    comment = colour_at(line(document, "return message  # done"), "# done")

    assert keyword is not None and string is not None and comment is not None
    assert plain is None  # a variable name is drawn in the text colour
    assert len({keyword.name(), string.name(), comment.name(), text_colour.name()}) == 4
    # Prose around the code is left alone.
    assert line(document, "Here is the function:").layout().formats() == []


def test_multiline_docstring_is_a_string_on_every_line() -> None:
    document = styled(PYTHON_ANSWER)
    string = colour_at(line(document, 'message = "hello " + name'), '"hello')

    for text in ('"""Say hello.', "Politely, to name.", '"""'):
        assert colour_at(line(document, text), text[0]) == string, text
    # The blank line inside the docstring does not end it.
    assert colour_at(line(document, "return message  # done"), "return") != string


def test_code_blocks_are_tinted_and_wrap_and_inline_code_is_tinted() -> None:
    document = styled(PYTHON_ANSWER)
    tint = code_background(LIGHT)

    code_line = line(document, "def greet(name):")
    assert code_line.blockFormat().background().color() == tint
    assert not code_line.blockFormat().nonBreakableLines()
    prose = line(document, 'Call greet("x") to use it.')
    column = prose.text().index("greet")
    inline = QTextCursor(document)
    inline.setPosition(prose.position() + column + 1)
    assert inline.charFormat().background().color() == tint
    prose_format = line(document, "Here is the function:").blockFormat()
    assert not prose_format.hasProperty(QTextFormat.Property.BackgroundBrush)


def test_colours_land_on_the_right_characters_after_emoji() -> None:
    document = styled('```python\nx = "🦊🦊"; import os  # 🦊 fox\n```\n')
    code_line = line(document, 'x = "🦊🦊"; import os  # 🦊 fox')

    keyword = colour_at(code_line, "import")
    assert keyword is not None
    assert colour_at(code_line, "os") is None
    assert colour_at(code_line, "fox") == colour_at(code_line, "#") != keyword


def test_unlabelled_fence_is_coloured_when_it_is_code_and_left_plain_when_not() -> None:
    code = styled("```\nimport os\n\ndef main():\n    return os.getcwd()\n```\n")
    prose = styled("```\nThe results are in. Nothing more to say\nabout it today.\n```\n")

    assert colour_at(line(code, "def main():"), "def") is not None
    assert all(block_formats == [] for block_formats in _all_formats(prose))


def _all_formats(document: QTextDocument) -> list[list[object]]:
    result = []
    block = document.begin()
    while block.isValid():
        result.append(block.layout().formats())
        block = block.next()
    return result


def test_code_blocks_returns_each_block_with_its_exact_text() -> None:
    document = QTextDocument()
    fill(
        document,
        "Install it:\n\n```sh\npip install hearth\n```\n\nThen:\n\n"
        "```py\nclass A:\n\n    x = 'a\tb  '\n    return\n```\n\nAnd `inline` is not a block.\n",
    )

    blocks = code_blocks(document)

    assert [(block.language, block.text) for block in blocks] == [
        ("bash", "pip install hearth"),
        ("python", "class A:\n\n    x = 'a\tb  '\n    return"),
    ]
    second = blocks[1]
    assert isinstance(second, CodeBlock)
    assert document.findBlock(second.first_position).text() == "class A:"
    assert document.findBlock(second.last_position).text() == "    return"
    # From a position inside the second block on, only that block is listed.
    assert code_blocks(document, second.first_position + 3) == [second]


def test_streamed_code_ends_coloured_as_when_rendered_whole() -> None:
    """Restyled on every frame while it grows, then once more whole (as finish_answer
    does), a block ends with the colours a fresh render gives, even where a change at
    the end re-colours lines far above it (a block comment closed at last)."""
    answer = (
        "```js\n/* start\nconst x = 1;\nend */\nlet y = `a\nb`;\nfunction f() { return y; }\n```\n"
    )
    document = QTextDocument()
    for size in range(1, len(answer) + 1, 3):
        document.clear()
        fill(document, answer[:size])
        style_code_blocks(document, 0, LIGHT)
    document.clear()
    fill(document, answer)
    style_code_blocks(document, 0, LIGHT)
    document.clear()
    fill(document, answer)  # finish_answer renders the whole text once more
    style_code_blocks(document, 0, LIGHT)

    comment = colour_at(line(document, "/* start"), "/*")
    assert colour_at(line(document, "const x = 1;"), "const") == comment
    assert colour_at(line(document, "const x = 1;"), "1") == comment
    assert colour_at(line(document, "let y = `a"), "let") not in (None, comment)
    assert colour_at(line(document, "b`;"), "b") == colour_at(line(document, "let y = `a"), "`a")
    fresh = styled(answer.replace("let y", "let  y"))  # a text never seen before
    assert colours(line(document, "const x = 1;")) == colours(line(fresh, "const x = 1;"))
    assert colours(line(document, "function f() { return y; }")) == colours(
        line(fresh, "function f() { return y; }")
    )


def test_colours_stay_when_a_line_is_added_after_the_code() -> None:
    """The transcript puts a "Copy code" line right after each code block once styled."""
    document = styled(PYTHON_ANSWER)
    last = line(document, "return message  # done")
    before = colours(last)
    cursor = QTextCursor(document)
    cursor.setPosition(last.position() + last.length() - 1)
    cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
    cursor.insertText("Copy code")

    assert colours(line(document, "return message  # done")) == before != []
    assert line(document, "Copy code").layout().formats() == []
    assert [block.text.splitlines()[-1] for block in code_blocks(document)] == [
        "    return message  # done"
    ]


def test_dark_and_light_palettes_give_different_readable_colours() -> None:
    samples = {
        "keyword": ("def greet(name):", "def"),
        "function": ("def greet(name):", "greet"),
        "string": ('message = "hello " + name', '"hello'),
        "comment": ("return message  # done", "# done"),
    }
    found: dict[str, dict[str, QColor]] = {}
    for name, palette in (("light", LIGHT), ("dark", DARK)):
        document = styled(PYTHON_ANSWER, palette)
        background = code_background(palette)
        found[name] = {}
        for kind, (text, token) in samples.items():
            colour = colour_at(line(document, text), token)
            assert colour is not None, (name, kind)
            assert contrast_ratio(colour, background) >= 4.5, (name, kind, colour.name())
            found[name][kind] = colour
    for kind in samples:
        assert found["light"][kind] != found["dark"][kind], kind
    assert found["dark"]["keyword"].lightness() > found["light"]["keyword"].lightness()


def test_a_palette_with_poor_colours_still_gets_readable_tokens() -> None:
    palette = QPalette(LIGHT)
    palette.setColor(QPalette.ColorRole.Base, QColor("#c8c8c8"))  # a mid grey
    document = styled(PYTHON_ANSWER, palette)
    background = code_background(palette)

    for text, token in (("return message  # done", "# done"), ("def greet(name):", "def")):
        colour = colour_at(line(document, text), token)
        assert colour is not None and contrast_ratio(colour, background) >= 4.5


# -- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"hint": "py"}, "python"),
        ({"hint": "python3"}, "python"),
        ({"hint": "Python"}, "python"),
        ({"hint": 'python title="a.py"'}, "python"),
        ({"hint": "{.python}"}, "python"),
        ({"hint": "js"}, "javascript"),
        ({"hint": "ts"}, "typescript"),
        ({"hint": "c++"}, "cpp"),
        ({"hint": "sh"}, "bash"),
        ({"hint": "bash"}, "bash"),
        ({"hint": "zsh"}, "bash"),
        ({"hint": "golang"}, "go"),
        ({"hint": "rs"}, "rust"),
        ({"hint": "yml"}, "yaml"),
        ({"hint": "md"}, "markdown"),
        ({"hint": "text"}, "text"),
        ({"hint": "haskell"}, "haskell"),
        ({"filename": "main.py"}, "python"),
        ({"filename": "/src/app/index.tsx"}, "tsx"),
        ({"filename": "lib.rs"}, "rust"),
        ({"filename": "a.hpp"}, "cpp"),
        ({"filename": "Main.java"}, "java"),
        ({"filename": "q.sql"}, "sql"),
        ({"filename": "page.html"}, "html"),
        ({"filename": "site.css"}, "css"),
        ({"filename": "data.json"}, "json"),
        ({"filename": "ci.yml"}, "yaml"),
        ({"filename": "README.md"}, "markdown"),
        ({"filename": "Makefile"}, "make"),
        ({"filename": "notes.unknownext"}, "text"),
        ({"hint": "nonsense-lang", "filename": "x.go"}, "go"),
        ({"text": "#!/usr/bin/env python3\nprint(1)\n"}, "python"),
        ({"text": "def f(x):\n    return x + 1\n\nprint(f(2))\n"}, "python"),
        ({"text": "const add = (a, b) => a + b;\nconsole.log(add(1, 2));\n"}, "javascript"),
        ({"text": "interface A { x: number }\nconst a: A = { x: 1 };\n"}, "typescript"),
        ({"text": '#include <stdio.h>\nint main(void) {\n  printf("hi");\n}\n'}, "c"),
        ({"text": "#include <iostream>\nint main() { std::cout << 1; }\n"}, "cpp"),
        ({"text": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(1)\n}\n'}, "go"),
        (
            {"text": 'fn main() {\n    let mut v = Vec::new();\n    println!("{:?}", v);\n}\n'},
            "rust",
        ),
        (
            {
                "text": "public class Main {\n  public static void main(String[] a) {\n"
                '    System.out.println("x");\n  }\n}\n'
            },
            "java",
        ),
        ({"text": "SELECT name, count(*) FROM users WHERE age > 3 GROUP BY name;\n"}, "sql"),
        ({"text": "cd build && cmake .. && make -j4\n"}, "bash"),
        ({"text": '<div class="x">\n  <p>Hello</p>\n</div>\n'}, "html"),
        ({"text": ".btn {\n  color: red;\n  margin: 0 auto;\n}\n"}, "css"),
        ({"text": '{"name": "hearth", "tags": [1, 2]}'}, "json"),
        ({"text": "name: test\njobs:\n  build:\n    runs-on: ubuntu-latest\n"}, "yaml"),
        ({"text": "The answer is that it returns the value.\nSo f(2) is 3.\n"}, "text"),
        ({"text": "3\n4\n5\n"}, "text"),
        ({}, "text"),
    ],
)
def test_language_for(kwargs: dict[str, str], expected: str) -> None:
    assert language_for(**kwargs) == expected


def test_languages_for_a_picker_have_display_names() -> None:
    for name in ("python", "javascript", "typescript", "c", "cpp", "java", "go", "rust"):
        assert name in LANGUAGES
    for name in ("sql", "bash", "html", "css", "json", "yaml", "markdown", "text"):
        assert name in LANGUAGES
    assert language_display_name("cpp") == "C++"
    assert language_display_name("text") == "Plain text"
    assert language_display_name("haskell") == "Haskell"
    assert all(language_for(hint=name) == name for name in LANGUAGES)


# -- the editor --------------------------------------------------------------------------


def editor_with(qtbot: QtBot, text: str, language: str) -> tuple[QPlainTextEdit, CodeHighlighter]:
    editor = QPlainTextEdit()
    qtbot.addWidget(editor)
    editor.setPalette(LIGHT)
    editor.setPlainText(text)
    highlighter = CodeHighlighter(editor)
    highlighter.set_language(language)
    return editor, highlighter


def editor_line(editor: QPlainTextEdit, text: str) -> QTextBlock:
    return line(editor.document(), text)


def test_editor_colours_a_def_keyword(qtbot: QtBot) -> None:
    editor, highlighter = editor_with(qtbot, "def area(r):\n    return 3.14 * r * r\n", "py")

    assert highlighter.language() == "python"
    first = editor_line(editor, "def area(r):")
    keyword = colour_at(first, "def")
    assert keyword is not None
    assert colour_at(first, "area") not in (None, keyword)  # a function name
    assert colour_at(editor_line(editor, "return 3.14 * r * r"), "3.14") is not None
    assert colour_at(editor_line(editor, "return 3.14 * r * r"), "r *") is None

    highlighter.set_language("text")
    assert colour_at(editor_line(editor, "def area(r):"), "def") is None


def type_at(editor: QPlainTextEdit, after: str, text: str) -> None:
    """Put the cursor just after the first ``after`` and type ``text``, as a user would."""
    cursor = editor.document().find(after)
    assert not cursor.isNull()
    cursor.clearSelection()
    editor.setTextCursor(cursor)
    editor.insertPlainText(text)


def test_editor_keeps_a_triple_quoted_string_coloured_across_lines(qtbot: QtBot) -> None:
    source = 'x = 1\ns = """first\nif x:\n    pass\n"""\nwhile x:\n    x = 0\n'
    editor, _highlighter = editor_with(qtbot, source, "python")
    string = colour_at(editor_line(editor, 's = """first'), '"""')
    assert string is not None

    assert colour_at(editor_line(editor, "if x:"), "if") == string
    assert colour_at(editor_line(editor, "pass"), "pass") == string
    keyword = colour_at(editor_line(editor, "while x:"), "while")
    assert keyword not in (None, string)

    # Closing the string early turns the lines after it back into code…
    type_at(editor, "first", '"""')
    assert colour_at(editor_line(editor, "if x:"), "if") == keyword
    # …and the old closing quotes now open a string that runs to the end.
    assert colour_at(editor_line(editor, "while x:"), "while") == string
    assert colour_at(editor_line(editor, "x = 0"), "x") == string

    # Undo: the string spans the lines again.
    editor.undo()
    assert colour_at(editor_line(editor, "if x:"), "if") == string
    assert colour_at(editor_line(editor, "while x:"), "while") == keyword


def test_editor_colours_a_c_block_comment_on_every_line(qtbot: QtBot) -> None:
    source = "int a;\nint b;\nint c;\nint d;\n"
    editor, _highlighter = editor_with(qtbot, source, "c")
    keyword = colour_at(editor_line(editor, "int b;"), "int")
    assert keyword is not None

    type_at(editor, "int a;", " /* note")
    type_at(editor, "int c", "; */")
    comment = colour_at(editor_line(editor, "int a; /* note"), "/*")
    assert comment not in (None, keyword)
    assert colour_at(editor_line(editor, "int b;"), "int") == comment
    assert colour_at(editor_line(editor, "int c; */;"), "int") == comment
    assert colour_at(editor_line(editor, "int d;"), "int") == keyword


def document_colours(editor: QPlainTextEdit) -> list[list[tuple[int, int, str]]]:
    result = []
    block = editor.document().begin()
    while block.isValid():
        result.append(colours(block))
        block = block.next()
    return result


def test_editor_colours_match_a_fresh_highlight_after_each_edit(qtbot: QtBot) -> None:
    """Edits anywhere, strings opened and closed inside and around a docstring: after
    every keystroke each line has the colours a freshly opened editor gives it."""
    rng = random.Random(7)
    source = (
        "import os\n\n\ndef walk(top):\n"
        '    """List files.\n\n    Recursively.\n    """\n'
        "    for root, dirs, files in os.walk(top):  # all\n"
        "        yield from (os.path.join(root, f) for f in files)\n\n\n"
        "class Tree:\n    size = 0x1F\n    name = 'tree'\n"
    )
    editor, _highlighter = editor_with(qtbot, source, "python")
    inserts = ['"""', "'''", "#", "\n", "def ", "(", ")", '"', " x = 1", "\n    "]
    for _ in range(40):
        cursor = editor.textCursor()
        cursor.setPosition(rng.randrange(editor.document().characterCount()))
        if rng.random() < 0.3:
            cursor.movePosition(
                QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
            )
        editor.setTextCursor(cursor)
        editor.insertPlainText(rng.choice(inserts))

        fresh, _fresh_highlighter = editor_with(qtbot, editor.toPlainText(), "python")
        assert document_colours(editor) == document_colours(fresh), editor.toPlainText()


def test_editor_recolours_lines_above_an_edit_that_changes_them(qtbot: QtBot) -> None:
    """Closing a JavaScript block comment turns the lines above into comment, as a
    fresh highlight shows them, once typing pauses."""
    source = "let a = 1;\n/* a\nlet b = 2;\nlet c = 3;\nlet d = 4;\n"
    editor, _highlighter = editor_with(qtbot, source, "js")
    keyword = colour_at(editor_line(editor, "let b = 2;"), "let")
    assert keyword is not None

    type_at(editor, "let c = 3;", " */")

    fresh, _fresh_highlighter = editor_with(qtbot, editor.toPlainText(), "js")
    comment = colour_at(editor_line(fresh, "/* a"), "/*")
    assert comment not in (None, keyword)
    assert colour_at(editor_line(fresh, "let b = 2;"), "let") == comment
    qtbot.waitUntil(lambda: document_colours(editor) == document_colours(fresh), timeout=5000)
    assert colour_at(editor_line(editor, "let d = 4;"), "let") == keyword


def test_editor_colours_land_on_the_right_characters_after_emoji(qtbot: QtBot) -> None:
    editor, _highlighter = editor_with(qtbot, 's = "🦊"\nt = "🦊🦊"; return s\n', "python")
    code_line = editor_line(editor, 't = "🦊🦊"; return s')

    keyword = colour_at(code_line, "return")
    string = colour_at(code_line, '"')
    assert keyword is not None and string is not None and keyword != string
    assert colour_at(code_line, "; return") is None


def test_editor_recolours_when_the_palette_changes(qtbot: QtBot) -> None:
    editor, _highlighter = editor_with(qtbot, "while True:\n    pass\n", "python")
    light = colour_at(editor_line(editor, "while True:"), "while")

    editor.setPalette(DARK)

    dark = colour_at(editor_line(editor, "while True:"), "while")
    assert light is not None and dark is not None and light != dark
    background = DARK.color(QPalette.ColorRole.Base)
    assert contrast_ratio(dark, background) >= 4.5


def test_editor_colours_long_documents_a_slice_at_a_time(qtbot: QtBot) -> None:
    """A long document is coloured without blocking: first plain, then in slices."""
    rows = ",\n".join(f'  {{"id": {n}, "name": "row {n}", "ok": true}}' for n in range(800))
    editor, _highlighter = editor_with(qtbot, "[\n" + rows + "\n]\n", "json")
    last = editor.document().lastBlock().previous().previous()
    assert '"row 799"' in last.text()

    qtbot.waitUntil(lambda: colour_at(last, '"row 799"') is not None, timeout=10000)
    string = colour_at(last, '"row 799"')
    type_at(editor, '"row 5', "!")
    qtbot.waitUntil(
        lambda: (
            colour_at(editor_line(editor, '{"id": 5, "name": "row 5!", "ok": true},'), '"row')
            == string
        ),
        timeout=10000,
    )


def test_the_lexer_lexes_without_loading_qt() -> None:
    # So it can be tested, benchmarked and warmed up where no display or Qt is at hand.
    code = (
        "import sys; from desktop.highlight.lexer import lex; "
        "relexed = lex('python', 'def f():\\n    return \"x\"\\n'); "
        "print(len(relexed.lexed.lines), 'PySide6' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["3", "False"]
