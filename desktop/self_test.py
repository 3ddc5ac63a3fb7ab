"""``hearth --self-test``: checks that an installed Hearth works, one printed line per check.

It is what a packager, CI (``make package-test``) or a user who reports a bug runs to
learn whether this installation can show its window, find its bundled files, start the
engine, load the starter model, generate, and write its database and settings. It
uses the user's real folders (or ``$HEARTH_HOME``), the same ones the app uses, and
leaves nothing behind in them but the log lines and the files the app itself creates
on a first start (the settings file, the database, the starter model's link).

The window is made on Qt's ``offscreen`` platform, so the test needs no display. Its
output is for a terminal and a CI log, in English: it is not a translated interface.

Thread: the Qt thread, driving a qasync loop until the checks are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

log = logging.getLogger("desktop.self_test")

FLAG = "--self-test"
#: Hearth's translations that must ship (one per language besides English).
SHIPPED_LANGUAGES: tuple[str, ...] = ("zh_CN",)
#: A generous bound for one check: a cold start of the worker on a slow disk plus the
#: starter model's load take a few seconds; anything near this is broken.
CHECK_TIMEOUT_S = 120.0
#: Tokens the generation check asks for; a handful proves the model decodes.
TOKENS = 8
#: The conversation the database check writes, then deletes again.
PROBE_TITLE = "Hearth self-test"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: a short name (``"database"``).
        passed: whether the check passed.
        detail: what was found, or what went wrong.
        seconds: how long the check took.
    """

    name: str
    passed: bool
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        """The check as one line of output: ``PASS  database      written and read …``."""
        status = "PASS" if self.passed else "FAIL"
        return f"{status}  {self.name:<14}{self.detail} ({self.seconds:.1f} s)"


class SelfTest:
    """Runs the checks in order against one engine client and one offscreen window.

    Args:
        out: where each check's line is printed as it finishes.

    Checks that depend on an earlier one (generation needs a loaded model) fail with
    the reason rather than being left out, so the count of lines is always the same.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.results: list[CheckResult] = []

    @property
    def passed(self) -> bool:
        """Whether every check that ran passed (and at least one ran)."""
        return bool(self.results) and all(r.passed for r in self.results)

    async def check(self, name: str, probe: Callable[[], Awaitable[str]]) -> bool:
        """Run one check: ``probe`` returns the detail on success and raises on failure."""
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
            result = CheckResult(name, True, detail, time.perf_counter() - started)
        except Exception as exc:  # every failure is a result here, never a traceback
            log.exception("Self-test check %s failed", name)
            reason = (
                f"no answer in {CHECK_TIMEOUT_S:.0f} s"
                if isinstance(exc, asyncio.TimeoutError)
                else (str(exc) or type(exc).__name__)
            )
            result = CheckResult(name, False, reason, time.perf_counter() - started)
        self.results.append(result)
        print(result.line(), file=self._out, flush=True)
        return result.passed

    def summary(self) -> str:
        """The last line: how many checks passed."""
        failed = sum(not r.passed for r in self.results)
        total = len(self.results)
        if failed:
            return f"Self-test FAILED: {failed} of {total} checks failed"
        return f"Self-test passed: all {total} checks"


async def _run_checks(test: SelfTest) -> None:
    """The checks, in the order a start of the app needs them."""
    from PySide6.QtCore import QTranslator
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from desktop.i18n import Translations, qt_translations_dir, translations_dir
    from desktop.window.main_window import MainWindow
    from engine.data.config import get_paths, load_settings, save_settings
    from engine.models.store import ModelStore
    from engine.resources import resources_dir
    from engine.runtime.client import EngineClient
    from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

    paths = get_paths().ensure()
    app = QApplication.instance()
    assert isinstance(app, QApplication)

    async def platform() -> str:
        name = QGuiApplication.platformName()
        if name != "offscreen":
            raise RuntimeError(f"Qt started the {name!r} platform instead of 'offscreen'")
        return f"Qt {_qt_version()} on the {name} platform"

    async def resources() -> str:
        folder = resources_dir()
        missing = [
            part for part in ("catalog.json", "help/en/models.md") if not (folder / part).is_file()
        ]
        if missing:
            raise RuntimeError(f"missing from {folder}: {', '.join(missing)}")
        return str(folder)

    async def translations() -> str:
        loaded = []
        for code in SHIPPED_LANGUAGES:
            qm = translations_dir() / f"hearth_{code}.qm"
            if not QTranslator().load(str(qm)):
                raise RuntimeError(f"cannot load {qm}")
            loaded.append(qm.name)
            qt_qm = qt_translations_dir() / f"qtbase_{code}.qm"
            if not QTranslator().load(str(qt_qm)):
                raise RuntimeError(f"Qt's own {qt_qm} is missing")
            loaded.append(qt_qm.name)
        return ", ".join(loaded)

    async def starter() -> str:
        store = ModelStore.configured(paths)
        linked = await asyncio.to_thread(store.ensure_starter)
        if linked is None:
            raise RuntimeError(store.starter_problem or "the starter model is not installed")
        found = linked.resolve()
        return f"{found} ({found.stat().st_size / 1e6:.0f} MB)"

    settings = await asyncio.to_thread(load_settings, paths)
    translators = Translations(app)
    translators.apply(settings.language)
    client = EngineClient()
    window: MainWindow | None = None
    try:
        await test.check("qt platform", platform)
        await test.check("resources", resources)
        await test.check("translations", translations)

        async def main_window() -> str:
            nonlocal window
            # start() is not called: it would load the user's last model and save it as
            # the last one used. The checks below load the starter model themselves.
            window = MainWindow(client, paths, settings=settings, translations=translators)
            window.show()
            for _ in range(50):
                if window.isVisible() and window.windowHandle() is not None:
                    break
                await asyncio.sleep(0.02)
            if not window.isVisible():
                raise RuntimeError("the main window was not shown")
            if app.windowIcon().isNull():
                raise RuntimeError("the application has no icon")
            size = window.size()
            return f"{window.windowTitle() or 'Hearth'} shown at {size.width()}×{size.height()}"

        await test.check("main window", main_window)
        have_starter = await test.check("starter model", starter)

        async def engine() -> str:
            hello = await client.hello()
            if not hello.llama.available:
                raise RuntimeError(f"llama.cpp did not load: {hello.llama.error}")
            return f"worker {hello.pid}, llama-cpp-python {hello.llama.version}"

        have_engine = await test.check("engine", engine)

        async def load() -> str:
            if not (have_starter and have_engine):
                raise RuntimeError("skipped: needs the starter model and the engine")
            info = await client.load(None, n_ctx=512)
            return f"{info.model_id} in {info.load_s:.1f} s ({info.plan_reason})"

        loaded = await test.check("model load", load)

        async def generate() -> str:
            if not loaded:
                raise RuntimeError("skipped: no model loaded")
            params = SamplingParams(temperature=0.0, seed=1, max_tokens=TOKENS)
            messages = [ChatMessage("user", "Say hello in one short sentence.")]
            pieces: list[str] = []
            result: GenerationResult | None = None
            async for event in client.chat(messages, params):
                if isinstance(event, TokenEvent):
                    pieces.append(event.text)
                else:
                    result = event
            if result is None or result.stats.generated_tokens < 1:
                raise RuntimeError("the model generated nothing")
            text = "".join(pieces).strip().replace("\n", " ")
            return (
                f"{result.stats.generated_tokens} tokens at "
                f"{result.stats.tokens_per_s:.0f} tokens/s: {text!r}"
            )

        await test.check("generation", generate)

        async def database() -> str:
            return await asyncio.to_thread(_probe_database, paths.database)

        await test.check("database", database)

        async def settings_file() -> str:
            def probe() -> str:
                current = load_settings(paths)
                save_settings(paths, current)  # the same values: the user's choices stay
                again = load_settings(paths)
                if replace(again, extra={}) != replace(current, extra={}):
                    raise RuntimeError(f"{paths.settings_file} did not read back as written")
                return str(paths.settings_file)

            return await asyncio.to_thread(probe)

        await test.check("settings", settings_file)
    finally:
        await client.aclose()
        if window is not None:
            window.close()
            await window.aclose()


def _probe_database(path: Path) -> str:
    """Write a conversation with a message, read it back, then delete it for good.

    The History API only hides conversations (undo needs the rows); the probe removes
    its own row with SQL so the user's database is left as it was.
    """
    from engine.data.history import History

    history = History(path)
    try:
        conversation = history.create_conversation(PROBE_TITLE)
        history.add_message(conversation, "user", "self-test")
        stored = [m.content for m in history.messages(conversation)]
    finally:
        history.close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA foreign_keys=ON")  # messages go with their conversation
        db.execute("DELETE FROM conversations WHERE id = ?", (conversation,))
    if stored != ["self-test"]:
        raise RuntimeError(f"{path} returned {stored!r} for what was written")
    return str(path)


def _qt_version() -> str:
    from PySide6.QtCore import qVersion

    return qVersion()


def run_self_test(
    *,
    out: TextIO | None = None,
    qt_message_handler: Callable[..., None] | None = None,
    window_icon: Callable[[], object] | None = None,
) -> int:
    """Run every check on the offscreen platform and print one line each, then a summary.

    Args:
        out: where the lines go (defaults to ``sys.stdout``).
        qt_message_handler: installed with ``qInstallMessageHandler`` so Qt's own
            messages go to the log file, not between the lines of the report.
        window_icon: makes the application icon (``desktop.app.app_icon``).

    Returns:
        0 when every check passed, 1 otherwise.
    """
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import qasync
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from engine.data.config import get_paths
    from engine.data.logs import setup_logging

    stream = out if out is not None else sys.stdout
    setup_logging(get_paths(), console=False)
    if qt_message_handler is not None:
        qInstallMessageHandler(qt_message_handler)
    app = QApplication.instance() or QApplication([sys.argv[0], "-platform", "offscreen"])
    assert isinstance(app, QApplication)
    app.setApplicationName("Hearth")
    app.setOrganizationName("Hearth")
    # Closing the window at the end must not quit Qt, which would stop the loop while
    # the engine is still being shut down.
    app.setQuitOnLastWindowClosed(False)
    if window_icon is not None:
        app.setWindowIcon(window_icon())  # type: ignore[arg-type]
    test = SelfTest(stream)
    print(f"Hearth self-test ({sys.executable}, Python {sys.version.split()[0]})", file=stream)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(_run_checks(test))
    print(test.summary(), file=stream, flush=True)
    return 0 if test.passed else 1


__all__ = ["FLAG", "CheckResult", "SelfTest", "run_self_test"]
