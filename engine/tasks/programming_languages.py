"""Which language a piece of code is in: from a file name, a fence's info string, or the code.

:func:`language_for` returns a canonical name (a key of :data:`LANGUAGES` for the
common languages, else a Pygments lexer name). Used by the desktop's highlighter and
by the Code tasks (engine/tasks/code.py) alike; Pygments only, no Qt.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import PurePath

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename, guess_lexer
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

#: Languages to offer in a picker: canonical name -> display name. The names are
#: proper nouns except "Plain text" and "Shell"; show them with
#: :func:`language_display_name`, which translates those two.
LANGUAGES: dict[str, str] = {
    "text": "Plain text",
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "c": "C",
    "cpp": "C++",
    "csharp": "C#",
    "java": "Java",
    "kotlin": "Kotlin",
    "go": "Go",
    "rust": "Rust",
    "swift": "Swift",
    "php": "PHP",
    "ruby": "Ruby",
    "sql": "SQL",
    "bash": "Shell",
    "powershell": "PowerShell",
    "html": "HTML",
    "css": "CSS",
    "json": "JSON",
    "yaml": "YAML",
    "toml": "TOML",
    "xml": "XML",
    "markdown": "Markdown",
    "diff": "Diff",
}

#: Other spellings (fence info strings, file extensions) of the languages above.
_ALIASES: dict[str, str] = {
    **{name: "text" for name in ("plain", "plaintext", "txt", "output", "none", "nohighlight")},
    **{name: "python" for name in ("py", "python3", "py3", "python2", "pyw", "pyi", "gyp")},
    **{name: "javascript" for name in ("js", "node", "nodejs", "mjs", "cjs", "ecmascript")},
    "ts": "typescript",
    "h": "c",
    **{name: "cpp" for name in ("c++", "cxx", "cc", "hpp", "hh", "hxx", "h++")},
    **{name: "csharp" for name in ("cs", "c#")},
    **{name: "kotlin" for name in ("kt", "kts")},
    "golang": "go",
    "rs": "rust",
    "rb": "ruby",
    **{name: "bash" for name in ("sh", "shell", "zsh", "ksh", "shellscript", "shell-script")},
    **{name: "powershell" for name in ("ps1", "pwsh", "psm1")},
    **{name: "html" for name in ("htm", "xhtml")},
    "yml": "yaml",
    **{name: "markdown" for name in ("md", "mkd", "markdown")},
    **{name: "diff" for name in ("patch", "udiff")},
}

#: How much of a text content detection looks at.
_SAMPLE_CHARS = 4096


def language_for(
    filename: str | None = None, text: str | None = None, hint: str | None = None
) -> str:
    """The language of some code, from a fence's info string, a file name or the code.

    Tried in that order: ``hint`` (``py``, ``python3``, ``c++``, ``golang``,
    ``python title="x.py"``…), then ``filename``, then the first few KB of ``text``.

    Args:
        filename: the code's file name (only its name and extension matter).
        text: the code.
        hint: a Markdown fence's info string, or a language name from a picker.

    Returns:
        A canonical name: a key of :data:`LANGUAGES` for the common languages, else the
        Pygments name of another known language (``haskell``, ``console``…), and
        ``"text"`` when nothing fits or the text does not clearly look like code.
    """
    if hint:
        found = language_from_hint(hint)
        if found is not None:
            return found
    if filename:
        found = _from_filename(filename)
        if found is not None:
            return found
    if text:
        found = language_from_content(text)
        if found is not None:
            return found
    return "text"


_HINT_WORD = re.compile(r"[^\s,{}]+")


def language_from_hint(hint: str) -> str | None:
    """The language named by a fence info string such as ``{.python}`` or ``js title=x``."""
    match = _HINT_WORD.search(hint.strip().lstrip("{").lstrip("."))
    if match is None:
        return None
    word = match.group().lower().removeprefix("language-").lstrip(".")
    return _canonical(word)


@lru_cache(maxsize=256)
def _canonical(word: str) -> str | None:
    if word in LANGUAGES:
        return word
    if word in _ALIASES:
        return _ALIASES[word]
    try:
        lexer = get_lexer_by_name(word)
    except ClassNotFound:
        return None
    return _canonical_for_lexer(lexer)


def _canonical_for_lexer(lexer: Lexer) -> str:
    for alias in lexer.aliases:
        if alias in LANGUAGES:
            return str(alias)
        if alias in _ALIASES:
            return _ALIASES[alias]
    return str(lexer.aliases[0]) if lexer.aliases else "text"


_SPECIAL_FILES = {"makefile": "make", "gnumakefile": "make", "dockerfile": "docker"}


def _from_filename(filename: str) -> str | None:
    name = PurePath(filename).name
    if name.lower() in _SPECIAL_FILES:
        return _SPECIAL_FILES[name.lower()]
    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix:
        found = _canonical(suffix) if suffix in _ALIASES or suffix in LANGUAGES else None
        if found is not None:
            return found
    try:
        return _canonical_for_lexer(get_lexer_for_filename(name))
    except ClassNotFound:
        return None


#: Signs that a text is in a language: (pattern, weight). A language scores the sum of
#: the weights of its patterns found at least once; TypeScript and C++ add theirs to
#: JavaScript's and C's.
_SIGNS: dict[str, tuple[tuple[str, int], ...]] = {
    "python": (
        (r"^\s*def \w+\s*\(.*\)\s*(->.+)?:\s*(#.*)?$", 3),
        (r"^\s*class \w+\s*(\(.*\))?:\s*$", 3),
        (r"^\s*(from [\w.]+ import \S|import [\w.]+(\s+as\s+\w+)?\s*$)", 2),
        (r"^\s*(elif .+|else|try|finally|except\b.*|with .+|for .+ in .+|while .+|if .+):\s*$", 2),
        (r"\bself\.\w+|__\w+__|\bNone\b", 1),
        (r"^\s*print\(", 1),
    ),
    "javascript": (
        (r"\b(const|let|var)\s+[\w$]+\s*=", 2),
        (r"=>", 1),
        (r"\bfunction\b\s*[\w$]*\s*\(", 2),
        (r"\bconsole\.\w+\(|\bdocument\.\w+|\bwindow\.\w+|\brequire\(['\"]", 3),
        (r"^\s*(import\s.+\sfrom\s+['\"]|export\s+(default|const|function|class)\b)", 3),
        (r";\s*$", 1),
    ),
    "typescript": (
        (r"(\)|\b[\w$]+)\??\s*:\s*(string|number|boolean|void|any|unknown|never)\b", 3),
        (r"^\s*(export\s+)?(interface|type|enum)\s+\w+", 3),
        (r"\b(private|public|readonly)\s+\w+\s*:", 2),
    ),
    "c": (
        (r"^\s*#\s*(include|define|ifn?def|endif|pragma)\b", 3),
        (
            r"\b(int|void|char|double|float|long|unsigned|size_t)\s+\*?\w+\s*"
            r"\([^;\n()]*\)\s*\{?[ \t]*$",
            2,
        ),
        (r"\b(printf|malloc|free|sizeof|fprintf|memcpy|strlen)\s*\(", 2),
        (r";\s*$", 1),
    ),
    "cpp": (
        (
            r"\bstd::|\b(cout|cerr|endl)\b|\bnamespace\s+\w+|\btemplate\s*<"
            r"|#include\s*<(iostream|vector|string|memory|map|algorithm|cstdio|cstdlib)>",
            4,
        ),
        (r"\b(nullptr|constexpr)\b", 2),
    ),
    "java": (
        (r"\b(public|private|protected)\s+(static\s+)?(final\s+)?(class|interface|enum)\s+\w+", 3),
        (r"\bpublic\s+static\s+void\s+main\s*\(", 4),
        (r"\bSystem\.(out|err)\.print", 4),
        (r"^\s*(import\s+java\.|package\s+[\w.]+;)", 4),
        (r"^\s*@Override\b", 2),
        (r";\s*$", 1),
    ),
    "go": (
        (r"^\s*package\s+\w+\s*$", 3),
        (r"^\s*func\s+(\([^)]*\)\s*)?\w+\s*\(", 4),
        (r"\bfmt\.\w+\(", 3),
        (r":=", 1),
        (r"^\s*import\s+(\(|\")", 2),
    ),
    "rust": (
        (r"^\s*(pub(\(\w+\))?\s+)?(async\s+)?fn\s+\w+", 4),
        (r"\blet\s+mut\b", 3),
        (r"\b(println|format|vec|panic|assert_eq|eprintln)!", 3),
        (r"^\s*use\s+\w+(::[\w{}*, ]+)+;", 3),
        (r"&mut\b|->\s*(Self|Result|Option|Vec|String|bool|[iu](8|16|32|64|size))\b", 2),
    ),
    "sql": (
        (
            r"^\s*(SELECT\b.*\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b"
            r"|CREATE\s+(TABLE|INDEX|VIEW|UNIQUE)\b|ALTER\s+TABLE\b|DROP\s+(TABLE|INDEX|VIEW)\b)",
            4,
        ),
        (
            r"(?i)^\s*(select\s.+\sfrom\s+\w+|insert\s+into\s+\w+|update\s+\w+\s+set\s"
            r"|delete\s+from\s+\w+|create\s+table\s)",
            2,
        ),
        (r"\b(WHERE|GROUP BY|ORDER BY|JOIN|VALUES|PRIMARY KEY|NOT NULL)\b", 1),
        (r";\s*$", 1),
    ),
    "console": ((r"^\s*\$ \S", 5),),
    "bash": (
        (
            r"^\s*(sudo\s+)?(apt(-get)?|pip3?|npm|npx|yarn|pnpm|brew|cd|ls|mkdir|rm|cp|mv|echo"
            r"|export|git|curl|wget|chmod|chown|docker|make|cmake|conda|source|cat|grep|tar|ssh)\s",
            3,
        ),
        (r"^\s*(if\s+\[|fi$|then$|do$|done$|esac$|for\s+\w+\s+in\b.*;\s*do)", 3),
        (r"\$\{?\w+\}?|\$\(", 1),
        (r"&&|\|\||\s\|\s", 1),
    ),
    "html": (
        (r"(?i)<!doctype\s+html|<html\b", 6),
        (
            r"(?i)<(head|body|div|span|p|a|ul|ol|li|table|tr|td|script|style|form|input"
            r"|button|h[1-6]|img|link|meta)\b[^>]*>",
            3,
        ),
        (r"</\w+>", 1),
    ),
    "xml": ((r"^\s*<\?xml\b", 6),),
    "css": (
        (r"^[\w.#:*\[\]=\"' \t>+~,-]+\{\s*$", 2),
        (r"^[ \t]*[a-z-]+[ \t]*:[^;{}\n]+;[ \t]*$", 2),
        (r"@media\b|@import\b|@keyframes\b|!important\b", 2),
    ),
    "yaml": (
        (r"^---\s*$", 2),
        (r"^[\w.-]+:\s*\n(\s+[\w.-]+:|\s*-\s)", 4),
        (r"^\s*-\s+[\w.-]+:\s", 2),
        (r"^\s*[\w.-]+:\s+\S", 1),
    ),
    "markdown": (
        (r"^#{1,6}\s+\S", 2),
        (r"^```", 3),
        (r"\[[^\]\n]+\]\([^)\n]+\)", 2),
        (r"^\s*([-*+]|\d+\.)\s+\S", 1),
    ),
}
_COMPILED_SIGNS = {
    language: tuple((re.compile(pattern, re.MULTILINE), weight) for pattern, weight in signs)
    for language, signs in _SIGNS.items()
}
#: The least score that makes a text "clearly" code in a language.
_MIN_SCORE = 3
_SHEBANG = re.compile(r"\A#!\S*?(?:env\s+)?\b(python[\d.]*|node|bash|sh|zsh|ruby|perl|php)\b")
_SHEBANG_LANGUAGE = {"node": "javascript", "sh": "bash", "zsh": "bash"}
#: Pygments' analysers are weak (they call Go "Python" and YAML "Transact-SQL"), so
#: their guess is taken only when it is this sure.
_MIN_GUESS_SCORE = 0.8


def language_from_content(text: str) -> str | None:
    sample = text[:_SAMPLE_CHARS]
    stripped = sample.strip()
    if not stripped:
        return None
    shebang = _SHEBANG.match(stripped)
    if shebang is not None:
        word = re.sub(r"[\d.]+$", "", shebang.group(1))
        return _SHEBANG_LANGUAGE.get(word, word)
    if stripped[0] in "[{" and stripped[-1] in "]}" and len(text) <= 1_000_000:
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            return "json"
    scores = {
        language: sum(weight for pattern, weight in signs if pattern.search(sample))
        for language, signs in _COMPILED_SIGNS.items()
    }
    if scores["typescript"]:
        scores["typescript"] += scores["javascript"]
    if scores["cpp"]:
        scores["cpp"] += scores["c"]
    best = max(scores, key=lambda language: scores[language])
    if scores[best] >= _MIN_SCORE:
        return best
    if not _looks_like_code(sample):
        return None
    return _guess_with_pygments(_quantized(sample))


def _looks_like_code(sample: str) -> bool:
    """Whether most lines end the way code lines do (prose lines end in words and dots)."""
    lines = [line.rstrip() for line in sample.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    code_like = sum(1 for line in lines if line[-1] in ";{}()[]:,=" or line[:1] in " \t")
    return code_like * 5 >= len(lines) * 3


def _quantized(sample: str) -> str:
    """``sample`` cut to a few fixed lengths, so a block that grows while it streams is
    guessed again only now and then (the guess is cached)."""
    for size in (4096, 2048, 1024, 512):
        if len(sample) >= size:
            return sample[:size]
    return sample


@lru_cache(maxsize=64)
def _guess_with_pygments(sample: str) -> str | None:
    try:
        lexer = guess_lexer(sample)
    except ClassNotFound:
        return None
    if isinstance(lexer, TextLexer) or type(lexer).analyse_text(sample) < _MIN_GUESS_SCORE:
        return None
    return _canonical_for_lexer(lexer)


__all__ = [
    "LANGUAGES",
    "language_for",
    "language_from_content",
    "language_from_hint",
]
