"""Hearth's translation catalogues: refresh them from the source, compile them, and check them.

Usage (from the repository root, with the virtual environment's Python)::

    python tools/translations.py           # refresh resources/translations/*.ts, build *.qm
    python tools/translations.py --check   # exit 1 if a string is untranslated or a .qm stale

The refresh runs ``lupdate`` over every ``.py`` file below ``desktop/`` (new panes
included), keeping the translations already in ``hearth_<code>.ts`` and dropping the
ones whose source text is gone (``-no-obsolete``), then ``lrelease`` to build
``hearth_<code>.qm``. Translate the strings it lists as untranslated — in Qt Linguist
(``pyside6-linguist resources/translations/hearth_zh_CN.ts``) or by editing the
``<translation>`` elements and removing ``type="unfinished"`` — and run it again.

The catalogues store no source locations (``-locations none``): other people's edits
that only move lines then change nothing in the ``.ts``, and ``--check`` compares
messages, not line numbers.

``--check`` changes nothing. It fails when a string in the source is missing from the
catalogue or untranslated, when the catalogue holds strings the source no longer has,
when a translation drops or invents a ``{placeholder}``, ``%n``-style marker or ``&``
mnemonic, or when the committed ``.qm`` differs from what the ``.ts`` compiles to.
How ``self.tr()`` contexts work is written in ``desktop/i18n.py``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Folders whose Python files hold translatable strings.
SOURCE_DIRS = ("desktop",)
#: Where the catalogues live.
TRANSLATIONS_DIR = ROOT / "resources" / "translations"
#: Languages Hearth is translated into (English is the source language).
TARGET_LANGUAGES = ("zh_CN",)
#: Catalogue file name prefix; desktop/i18n.py loads ``hearth_<code>.qm``.
PREFIX = "hearth"

_LUPDATE_OPTIONS = ("-no-obsolete", "-locations", "none", "-source-language", "en", "-silent")
#: Format markers a translation must keep: str.format fields, and Qt's %n / %v / %m / %1.
_MARKERS = re.compile(r"\{[^{}]*\}|%(?:n|v|m|p|L?\d+)")
#: lupdate's ``<extracomment>`` lines (from ``#:`` comments), dropped by :func:`lupdate`.
_EXTRACOMMENT = re.compile(
    r"^[ \t]*<extracomment>.*?</extracomment>\r?\n", re.MULTILINE | re.DOTALL
)
#: A keyboard mnemonic: & before a character that is not another &.
_MNEMONIC = re.compile(r"&[^&\s]")


class ToolMissing(RuntimeError):
    """lupdate or lrelease cannot be found."""


@dataclass(frozen=True)
class Message:
    """One message of a ``.ts`` catalogue.

    Attributes:
        context: the translation context (the class whose ``tr()`` holds the text).
        source: the English text.
        comment: the disambiguation comment, or "".
        translation: the translated text ("" when there is none; plural forms joined
            with a newline).
        finished: the translation is marked done (no ``type="unfinished"``) and not empty.
    """

    context: str
    source: str
    comment: str
    translation: str
    finished: bool

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the message: context, source and comment."""
        return (self.context, self.source, self.comment)

    def describe(self) -> str:
        """``[Context] "source"`` for reports."""
        comment = f" ({self.comment})" if self.comment else ""
        return f'[{self.context}] "{self.source}"{comment}'


def catalogue(language: str) -> Path:
    """The ``.ts`` file of a language."""
    return TRANSLATIONS_DIR / f"{PREFIX}_{language}.ts"


def compiled(language: str) -> Path:
    """The ``.qm`` file of a language."""
    return TRANSLATIONS_DIR / f"{PREFIX}_{language}.qm"


def source_files() -> list[Path]:
    """Every Python file with translatable strings, relative to the repository root."""
    found: list[Path] = []
    for folder in SOURCE_DIRS:
        found.extend(
            path.relative_to(ROOT)
            for path in (ROOT / folder).rglob("*.py")
            if "__pycache__" not in path.parts
        )
    return sorted(found)


def find_tool(name: str) -> list[str]:
    """The command that runs a Qt Linguist tool (``lupdate`` or ``lrelease``).

    PySide6 ships the Qt binaries inside its package and ``pyside6-<name>`` scripts that
    wrap them; the binary is called directly, the wrapper is the fallback.

    Raises:
        ToolMissing: PySide6 is not installed in this Python.
    """
    suffix = ".exe" if sys.platform == "win32" else ""
    try:
        import PySide6

        binary = Path(PySide6.__file__).resolve().parent / f"{name}{suffix}"
        if binary.is_file():
            return [str(binary)]
    except ImportError:
        pass
    for folder in (Path(sys.executable).parent, None):
        wrapper = shutil.which(f"pyside6-{name}", path=str(folder) if folder else None)
        if wrapper:
            return [wrapper]
    raise ToolMissing(
        f"{name} not found: install PySide6 in this Python ({sys.executable}), "
        "e.g. pip install -e '.[gui]'"
    )


def _run(command: Sequence[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{output}")


def lupdate(ts_file: Path, language: str) -> None:
    """Refresh ``ts_file`` from the source, keeping its translations."""
    _run(
        [
            *find_tool("lupdate"),
            *(str(p) for p in source_files()),
            *_LUPDATE_OPTIONS,
            "-target-language",
            language,
            "-ts",
            str(ts_file),
        ]
    )
    # lupdate reads a ``#:`` comment as a note for translators and attaches it to the
    # next tr() call, but here ``#:`` documents module attributes (Sphinx style), which
    # would reach translators as misleading notes. Tell translators things with
    # ``self.tr(text, disambiguation)`` instead.
    text = ts_file.read_bytes().decode("utf-8")
    ts_file.write_bytes(_EXTRACOMMENT.sub("", text).encode("utf-8"))


def lrelease(ts_file: Path, qm_file: Path) -> None:
    """Compile ``ts_file`` into ``qm_file``."""
    _run([*find_tool("lrelease"), "-silent", str(ts_file), "-qm", str(qm_file)])


def read_catalogue(ts_file: Path) -> list[Message]:
    """The messages of a ``.ts`` file, in file order (obsolete ones left out)."""
    messages: list[Message] = []
    root = ET.parse(ts_file).getroot()
    for context in root.iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            element = message.find("translation")
            kind = element.get("type", "") if element is not None else "unfinished"
            if kind in ("obsolete", "vanished"):
                continue
            if element is None:
                text = ""
            elif message.get("numerus") == "yes":
                text = "\n".join(form.text or "" for form in element.iter("numerusform"))
            else:
                text = element.text or ""
            messages.append(
                Message(
                    context=name,
                    source=message.findtext("source") or "",
                    comment=message.findtext("comment") or "",
                    translation=text,
                    finished=kind != "unfinished" and bool(text.strip()),
                )
            )
    return messages


def format_problems(message: Message) -> list[str]:
    """Ways a finished translation breaks its source's markers or mnemonic."""
    if not message.finished:
        return []
    problems = []
    forms = message.translation.split("\n") if "%n" in message.source else [message.translation]
    wanted = sorted(_MARKERS.findall(message.source))
    for form in forms:
        got = sorted(_MARKERS.findall(form))
        if got != wanted:
            problems.append(
                f"{message.describe()}: the translation has markers {got}, the source {wanted}"
            )
            break
    if _MNEMONIC.search(message.source) and not _MNEMONIC.search(message.translation):
        problems.append(f"{message.describe()}: the source has an & mnemonic, the translation none")
    return problems


def update() -> int:
    """Refresh and compile every catalogue; list what is left to translate.

    Returns:
        0 (the catalogues were written; untranslated strings are listed, not failed on).
    """
    TRANSLATIONS_DIR.mkdir(parents=True, exist_ok=True)
    for language in TARGET_LANGUAGES:
        ts_file, qm_file = catalogue(language), compiled(language)
        lupdate(ts_file, language)
        lrelease(ts_file, qm_file)
        messages = read_catalogue(ts_file)
        todo = [m for m in messages if not m.finished]
        print(
            f"{ts_file.relative_to(ROOT)}: {len(messages)} strings, "
            f"{len(messages) - len(todo)} translated; built {qm_file.relative_to(ROOT)}"
        )
        for message in todo:
            print(f"  untranslated: {message.describe()}")
        for message in messages:
            for problem in format_problems(message):
                print(f"  check: {problem}")
    return 0


def check() -> int:
    """Check every catalogue against the source and its compiled file; write nothing.

    Returns:
        0 when every catalogue is complete and compiled, 1 otherwise.
    """
    problems: list[str] = []
    for language in TARGET_LANGUAGES:
        ts_file, qm_file = catalogue(language), compiled(language)
        name = ts_file.relative_to(ROOT)
        if not ts_file.is_file():
            problems.append(f"{name} is missing")
            continue
        committed = read_catalogue(ts_file)
        known = {m.key for m in committed}
        with tempfile.TemporaryDirectory(prefix="hearth-translations-") as tmp:
            fresh_file = Path(tmp) / ts_file.name
            shutil.copyfile(ts_file, fresh_file)
            lupdate(fresh_file, language)
            fresh = read_catalogue(fresh_file)
            built = Path(tmp) / qm_file.name
            lrelease(ts_file, built)
            qm_current = qm_file.is_file() and built.read_bytes() == qm_file.read_bytes()
        current = {m.key for m in fresh}
        for message in fresh:
            if message.key not in known:
                problems.append(
                    f"{name}: new in the source, not in the catalogue: {message.describe()}"
                )
            elif not message.finished:
                problems.append(f"{name}: untranslated: {message.describe()}")
        for message in committed:
            if message.key not in current:
                problems.append(f"{name}: no longer in the source: {message.describe()}")
            problems.extend(f"{name}: {p}" for p in format_problems(message))
        if not qm_current:
            problems.append(
                f"{qm_file.relative_to(ROOT)} is missing or older than what {name} compiles to"
            )
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s); run `make translations`, translate, and run it again.")
        return 1
    print("Translations are complete and compiled.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool.

    Args:
        argv: the arguments without the program name.

    Returns:
        The exit status: 0 done, 1 ``--check`` found problems, 2 a tool is missing or failed.
    """
    parser = argparse.ArgumentParser(
        description="Refresh, compile (default) or check Hearth's translation catalogues."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if a string is untranslated or a .qm is out of date",
    )
    args = parser.parse_args(argv)
    try:
        return check() if args.check else update()
    except (ToolMissing, RuntimeError, ET.ParseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
