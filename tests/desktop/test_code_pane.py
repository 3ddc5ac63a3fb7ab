"""The Code pane, driven as a user would: files opened, dropped and saved; the language
picked and overridden; a fix shown as a diff, accepted and undone; Complete at cursor
offered only for models with fill-in-the-middle tokens; tasks run on the real starter
model, stopped, stored and listed in the sidebar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QPalette, QTextCursor
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from desktop.dialogs.models import ModelsDialog
from desktop.panes.code import CodePane
from desktop.window.main_window import CODE, MainWindow
from engine.data.config import get_paths
from engine.data.history import History
from engine.notices import Notice, NoticeCode
from engine.runtime.client import EngineClient
from engine.tasks.code import CodeRequest, CodeResult, result_of
from engine.types import GenerationStats, ModelInfo, SamplingParams
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, wait_for_model

BUGGY = "def average(values):\n    return sum(values) / len(value)\n"
FIXED = (
    "def average(values):\n"
    "    if not values:\n"
    "        return 0.0\n"
    "    return sum(values) / len(values)\n"
)
RUST = 'fn main() {\n    let name = "Hearth";\n    println!("Hello, {}!", name);\n}\n'


@pytest.fixture
def pane(qtbot: QtBot, client: EngineClient, qloop: object) -> Iterator[CodePane]:
    """A Code pane on its own, on an engine client that has no model loaded."""
    widget = CodePane(client)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()
    qtbot.waitUntil(lambda: not widget.busy, timeout=15000)


def drop(target: object, paths: list[Path]) -> QDropEvent:
    """Drop files as a file manager does: a QDropEvent with file URLs.

    Delivered to the widget's handler directly: the offscreen platform has no drag manager.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    target.dropEvent(event)  # type: ignore[attr-defined]
    return event


def stats(generated: int = 20) -> GenerationStats:
    return GenerationStats(
        prompt_tokens=50,
        cached_tokens=0,
        generated_tokens=generated,
        ttft_s=0.1,
        tokens_per_s=40.0,
        prompt_tokens_per_s=400.0,
        total_s=0.6,
        stop_reason="eos",
    )


def model_info(path: Path) -> ModelInfo:
    return ModelInfo(
        model_id=path.name,
        path=str(path),
        architecture="llama",
        n_ctx=4096,
        n_ctx_train=8192,
        backend="llamacpp",
        device="cpu",
        n_gpu_layers=0,
        n_threads=2,
        plan_notice=Notice(
            NoticeCode.CPU_NO_GPU, {"cpu": Notice(NoticeCode.THREADS, {"n_threads": 2})}
        ),
        chat_template="gguf",
    )


# -- files and languages ---------------------------------------------------------------


def test_dropped_files_pick_the_language_and_a_manual_choice_sticks_until_the_next_file(
    qtbot: QtBot, pane: CodePane, tmp_path: Path
) -> None:
    script = tmp_path / "app.py"
    script.write_text(BUGGY, encoding="utf-8")
    crate = tmp_path / "main.rs"
    crate.write_text(RUST, encoding="utf-8")

    assert drop(pane, [script]).isAccepted()
    qtbot.waitUntil(lambda: pane.editor.toPlainText() == BUGGY)
    assert pane.language == "python" and pane.editor.language() == "python"
    assert pane.form.language_combo.currentText() == "Python"
    assert pane.title_label.text() == "app.py"

    # The user overrides it; an edit does not undo the choice.
    pane.form.language_combo.setCurrentIndex(pane.form.language_combo.findData("cpp"))
    pane.form.language_combo.activated.emit(pane.form.language_combo.currentIndex())
    assert pane.editor.language() == "cpp"
    pane.editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(pane.editor, "# more")
    assert pane.language == "cpp"
    assert pane.title_label.text() == "app.py •"  # unsaved changes show

    # Another file: it asks about the unsaved changes, then picks that file's language.
    drop(pane, [crate])
    box = pane.file.discard_box
    assert box is not None and "app.py" in box.text()
    box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: pane.editor.toPlainText() == RUST)
    assert pane.language == "rust" and pane.editor.language() == "rust"
    assert pane.title_label.text() == "main.rs"


def test_code_pasted_into_an_empty_editor_gets_its_language(qtbot: QtBot, pane: CodePane) -> None:
    QGuiApplication.clipboard().setText(RUST)
    pane.editor.setFocus()
    pane.editor.paste()
    assert pane.editor.toPlainText() == RUST
    assert pane.language == "rust"


def test_binary_and_huge_files_are_refused_and_the_editor_keeps_its_code(
    qtbot: QtBot, pane: CodePane, tmp_path: Path
) -> None:
    pane.editor.setPlainText(BUGGY)
    pane.editor.document().setModified(False)
    image = tmp_path / "logo.py"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + bytes(range(256)) * 8)
    drop(pane, [image])
    qtbot.waitUntil(pane.message_bar.isVisible)
    assert "logo.py" in pane.message_bar.text() and "not a text file" in pane.message_bar.text()
    assert pane.editor.toPlainText() == BUGGY

    huge = tmp_path / "dump.sql"
    huge.write_text("-- x\n" * (1024 * 1024), encoding="utf-8")  # 5 MB
    drop(pane, [huge])
    qtbot.waitUntil(lambda: "dump.sql" in pane.message_bar.text())
    assert "4 MB" in pane.message_bar.text()
    assert pane.editor.toPlainText() == BUGGY


def test_open_edit_save_round_trip(
    qtbot: QtBot, pane: CodePane, tmp_path: Path, run_async: RunAsync
) -> None:
    source = tmp_path / "stats.py"
    source.write_text(BUGGY, encoding="utf-8")
    assert run_async(pane.file.load(source))
    assert pane.path == source and pane.language == "python"

    pane.editor.moveCursor(QTextCursor.MoveOperation.End)
    pane.editor.setFocus()
    qtbot.keyClicks(pane.editor, "print(average([1, 2]))")
    assert pane.title_label.text() == "stats.py •"
    qtbot.keyClick(pane.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Save
    qtbot.waitUntil(lambda: pane.title_label.text() == "stats.py")
    assert source.read_text(encoding="utf-8") == BUGGY + "print(average([1, 2]))\n"

    # Save as: a new file, which becomes the editor's file and sets the language.
    copy = tmp_path / "copy.rs"
    assert run_async(pane.save(copy))
    assert pane.path == copy and pane.title_label.text() == "copy.rs"
    assert copy.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


def test_tab_indents_with_spaces_in_python_and_enter_keeps_the_indentation(
    qtbot: QtBot, pane: CodePane
) -> None:
    pane.set_language("python")
    pane.editor.setFocus()
    qtbot.keyClicks(pane.editor, "if x:")
    qtbot.keyClick(pane.editor, Qt.Key.Key_Return)
    qtbot.keyClick(pane.editor, Qt.Key.Key_Tab)
    qtbot.keyClicks(pane.editor, "y = 1")
    qtbot.keyClick(pane.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(pane.editor, "z = 2")
    assert pane.editor.toPlainText() == "if x:\n    y = 1\n    z = 2"
    assert pane.editor.line_number_width() > 0
    assert pane.editor.viewportMargins().left() == pane.editor.line_number_width()


# -- the answer and the diff -----------------------------------------------------------


def fix_result(code: str, answer_code_text: str, language: str = "python") -> CodeResult:
    """What ``run_task`` gives for a fix whose answer proposes ``answer_code_text``."""
    request = CodeRequest(task="fix", language=language, code=code, filename="stats.py")
    answer = (
        "The list was misspelled, and an empty list divided by zero.\n\n"
        f"```{language}\n{answer_code_text}```\n\nNow it returns 0.0 for an empty list."
    )
    result = result_of(request, answer, stats())
    assert result.code is not None and result.diff
    return result


def test_a_fix_is_shown_as_a_diff_applied_on_accept_and_undone_with_one_undo(
    qtbot: QtBot, pane: CodePane
) -> None:
    pane.editor.setPlainText(BUGGY)
    pane.set_task("fix")
    assert pane.form.error_edit.isVisibleTo(pane)  # Fix takes an optional traceback
    result = fix_result(BUGGY, FIXED)
    pane.show_result(result)

    assert pane.answer_view.diff_view.isVisible()
    marks = [mark for mark, _line in pane.answer_view.diff_view.lines()]
    assert "-" in marks and "+" in marks
    assert ("-", "    return sum(values) / len(value)") in pane.answer_view.diff_view.lines()
    assert ("+", "    return sum(values) / len(values)") in pane.answer_view.diff_view.lines()
    assert pane.answer_view.diff_view.counts() == (3, 1)
    # Added and removed lines are tinted apart from the unchanged ones, and readably.
    diff_view = pane.answer_view.diff_view
    base = diff_view.view.palette().color(QPalette.ColorRole.Base)
    added, removed = diff_view.line_color("+"), diff_view.line_color("-")
    assert added != base and removed != base and added != removed
    assert added.green() > added.red() and removed.red() > removed.green()
    assert "Now it returns 0.0" in pane.answer_view.output.toPlainText()
    assert pane.editor.toPlainText() == BUGGY  # nothing changes before Accept

    qtbot.mouseClick(pane.answer_view.diff_view.accept_button, Qt.MouseButton.LeftButton)
    assert pane.editor.toPlainText() == FIXED
    assert not pane.answer_view.diff_view.isVisible()

    pane.editor.undo()  # one Ctrl+Z
    assert pane.editor.toPlainText() == BUGGY
    pane.editor.redo()
    assert pane.editor.toPlainText() == FIXED


def test_reject_leaves_the_editor_alone(qtbot: QtBot, pane: CodePane) -> None:
    pane.editor.setPlainText(BUGGY)
    pane.show_result(fix_result(BUGGY, FIXED))
    qtbot.mouseClick(pane.answer_view.diff_view.reject_button, Qt.MouseButton.LeftButton)
    assert not pane.answer_view.diff_view.isVisible()
    assert pane.editor.toPlainText() == BUGGY


def test_code_block_links_copy_and_apply_to_the_selection_the_task_ran_on(
    qtbot: QtBot, pane: CodePane
) -> None:
    pane.editor.setPlainText("import os\n\n" + BUGGY + "\nprint('done')\n")
    cursor = pane.editor.document().find("def average")
    cursor.setPosition(cursor.selectionStart())
    cursor.setPosition(cursor.position() + len(BUGGY), QTextCursor.MoveMode.KeepAnchor)
    pane.editor.setTextCursor(cursor)
    pane.set_task("fix")
    request = pane.request()  # what Fix sends: the selection only, with its line number
    assert request.code == BUGGY and request.first_line == 3
    pane.target = cursor  # as run() sets it: the selection the task ran on
    pane.show_result(fix_result(BUGGY, FIXED))
    assert pane.answer_view.block_code() == [FIXED.rstrip("\n")]
    assert "Apply to editor" in pane.answer_view.output.toPlainText()

    pane.answer_view.output.anchorClicked.emit(QUrl("code:copy/0"))
    assert QGuiApplication.clipboard().text() == FIXED.rstrip("\n")
    pane.answer_view.output.anchorClicked.emit(QUrl("code:apply/0"))
    assert pane.editor.toPlainText() == "import os\n\n" + FIXED + "\nprint('done')\n"
    pane.editor.undo()
    assert pane.editor.toPlainText() == "import os\n\n" + BUGGY + "\nprint('done')\n"


# -- complete at cursor ----------------------------------------------------------------


def test_complete_at_cursor_is_offered_only_for_models_with_fim_tokens(
    qtbot: QtBot, pane: CodePane, run_async: RunAsync, smollm2: Path
) -> None:
    pane.set_model_ready(True)  # as when a model is loaded; the check below is for it

    run_async(pane.check_model(model_info(smollm2)))
    assert pane.fim is not None and not pane.fim.available
    assert not pane.complete_button.isEnabled()
    assert "fill-in-the-middle" in pane.complete_button.toolTip()
    assert "Qwen2.5-Coder" in pane.complete_button.toolTip()

    # The worker reports FIM tokens found in the loaded vocabulary (ModelInfo.fim).
    coder = replace(model_info(Path("tiny-coder.gguf")), fim=True)
    run_async(pane.check_model(coder))
    assert pane.fim is not None and pane.fim.available
    assert pane.complete_button.isEnabled()
    assert "Ctrl+Space" in pane.complete_button.toolTip()

    run_async(pane.check_model(model_info(Path("tiny-chat.gguf"))))
    assert not pane.complete_button.isEnabled()


# -- on the real engine ----------------------------------------------------------------


@pytest.mark.slow
def test_a_task_runs_on_the_starter_model_is_stored_listed_and_reopened(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    source = tmp_path / "stats.py"
    source.write_text(BUGGY, encoding="utf-8")
    wait_for_model(qtbot, window)
    window.show_pane(CODE)
    pane = window.code_page
    assert window.sidebar.mode == "code"

    # The starter model is a general chat model: a code model that fits is suggested.
    qtbot.waitUntil(lambda: pane.model_advice.entry is not None, timeout=10000)
    advice = pane.model_advice.entry
    assert advice is not None and "code" in advice.tasks
    assert pane.model_advice.bar.isVisible() and advice.name in pane.model_advice.bar.text()
    assert not pane.complete_button.isEnabled()  # SmolLM2 has no FIM tokens

    # A source file dropped on the window goes to the Code pane while it is shown.
    drop(window, [source])
    qtbot.waitUntil(lambda: pane.editor.toPlainText() == BUGGY)
    assert window.stack.currentWidget() is pane

    pane.params = SamplingParams(max_tokens=120, seed=3, temperature=0.0)
    pane.set_task("explain")
    pane.editor.setFocus()
    qtbot.keyClick(pane.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: pane.generating, timeout=5000)
    qtbot.waitUntil(lambda: not pane.generating, timeout=ANSWER_TIMEOUT_MS)
    assert pane.answer_view.answer.strip()
    assert pane.answer_view.output.toPlainText().strip()
    assert not pane.message_bar.isVisible()

    history = History(get_paths().database)
    # Stored when the task started, completed when it ended.
    qtbot.waitUntil(lambda: [t.status for t in history.code_tasks()] == ["done"], timeout=5000)
    task = history.code_tasks()[0]
    history.close()
    assert (task.task, task.language) == ("explain", "python")
    assert task.code == BUGGY and task.filename == "stats.py"
    assert task.answer == pane.answer_view.answer
    qtbot.waitUntil(lambda: window.sidebar.conversation_ids() == [task.id])

    # Opened from the sidebar: the code, the task and the answer come back.
    pane.editor.setPlainText("")
    pane.set_task("generate")
    item = window.sidebar.conversations.item(0)
    window.sidebar.conversations.itemActivated.emit(item)
    qtbot.waitUntil(lambda: pane.editor.toPlainText() == BUGGY)
    assert pane.task == "explain" and pane.language == "python"
    assert pane.answer_view.answer == task.answer

    # Searched, deleted with Undo, like conversations and summaries.
    sidebar = window.sidebar
    assert task.title in sidebar.conversations.item(0).text()
    assert task.title in sidebar.conversations.item(0).toolTip()
    sidebar.search.setText("no such words anywhere")
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [])
    sidebar.search.clear()
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [task.id])
    sidebar.conversations.setCurrentRow(0)
    sidebar.delete_action.trigger()
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [])
    assert sidebar.undo_bar.isVisible() and task.title in sidebar.undo_bar.text()
    sidebar.undo_bar.action_button.click()
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [task.id])

    # The advice's button opens the model manager.
    with qtbot.waitSignal(pane.models_requested):
        pane.model_advice.bar.action_button.click()
    qtbot.waitUntil(lambda: any(w.isVisible() for w in window.findChildren(ModelsDialog)))


@pytest.mark.slow
def test_stop_keeps_the_partial_answer_and_stores_it_as_cancelled(
    qtbot: QtBot, window: MainWindow
) -> None:
    wait_for_model(qtbot, window)
    window.show_pane(CODE)
    pane = window.code_page
    pane.params = SamplingParams(max_tokens=4000, ignore_eos=True, seed=7)
    pane.set_task("generate")
    pane.form.instruction_edit.setText("a Python function that checks whether a number is prime")
    pane.form.instruction_edit.setFocus()
    qtbot.keyClick(pane.form.instruction_edit, Qt.Key.Key_Return)
    output = pane.answer_view.output
    qtbot.waitUntil(lambda: len(output.toPlainText()) > 80, timeout=ANSWER_TIMEOUT_MS)
    qtbot.keyClick(pane.form.instruction_edit, Qt.Key.Key_Escape)
    # No deadline (a loaded machine is slow): what shows that Esc stopped it is that the
    # answer ends as stopped, far short of the 4,000 tokens it was allowed.
    qtbot.waitUntil(lambda: not pane.generating, timeout=ANSWER_TIMEOUT_MS)
    partial = pane.answer_view.answer
    assert 40 < len(partial) < 4000
    assert "Stopped" in pane.answer_view.status_label.text()

    history = History(get_paths().database)
    qtbot.waitUntil(lambda: history.code_tasks()[0].status == "cancelled", timeout=5000)
    assert history.code_tasks()[0].answer == partial
    history.close()


def test_the_pane_switches_language_at_run_time_and_names_its_controls(
    qtbot: QtBot, pane: CodePane
) -> None:
    from desktop.i18n import Translations

    translations = Translations()
    try:
        translations.apply("zh_CN")
        qtbot.waitUntil(lambda: pane.form.run_button.text() == "运行")
        assert pane.form.task_buttons["fix"].text() == "修复(&I)"
        assert pane.form.task_buttons["fix"].accessibleName() == "修复"
        assert pane.answer_view.diff_view.accept_button.text() == "接受(&A)"
        assert pane.title_label.text() == "未命名"
    finally:
        translations.apply("en")
    qtbot.waitUntil(lambda: pane.form.run_button.text() == "Run")
    assert pane.form.task_buttons["fix"].accessibleName() == "Fix"

    # Every control Tab reaches in the pane has a name for screen readers.
    pane.set_task("fix")
    pane.answer_view.diff_view.show()
    controls = [
        w
        for w in pane.findChildren(QWidget)
        if w.isVisible() and w.focusPolicy() & Qt.FocusPolicy.TabFocus
    ]
    assert pane.editor in controls and pane.form.error_edit in controls
    for control in controls:
        assert control.accessibleName(), f"{type(control).__name__} has no accessible name"
