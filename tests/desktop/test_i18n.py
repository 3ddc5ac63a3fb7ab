"""The interface language: resolving the setting, switching it live, and the catalogue tool."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop import i18n
from desktop.dialogs.help import HelpDialog
from desktop.i18n import LANGUAGES, Translations, resolve_language

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "translations.py"


@pytest.fixture
def translations(qapp: QApplication, qtbot: QtBot) -> Iterator[Translations]:
    """The app's translators; English again afterwards, so no other test sees Chinese."""
    owner = Translations(qapp)
    yield owner
    owner.apply("en")
    qapp.processEvents()


# -- resolve_language -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["zh_CN", "zh_TW", "zh_HK", "zh_SG"])
def test_system_setting_picks_simplified_chinese_on_any_chinese_system(name: str) -> None:
    assert resolve_language("system", QLocale(name)) == "zh_CN"


@pytest.mark.parametrize("name", ["en_US", "en_GB", "de_DE", "ja_JP", "C"])
def test_system_setting_picks_english_elsewhere(name: str) -> None:
    assert resolve_language("system", QLocale(name)) == "en"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("en", "en"), ("zh_CN", "zh_CN"), ("zh-CN", "zh_CN"), (" ZH_cn ", "zh_CN"), ("System", "en")],
)
def test_explicit_codes_pass_through(setting: str, expected: str) -> None:
    # "System" on a German locale: the setting is matched without regard to case.
    assert resolve_language(setting, QLocale("de_DE")) == expected


@pytest.mark.parametrize("setting", ["fr", "klingon", ""])
def test_unknown_languages_fall_back_to_english(setting: str) -> None:
    assert resolve_language(setting, QLocale("zh_CN")) == "en"


def test_every_language_has_a_native_name() -> None:
    assert LANGUAGES == {"en": "English", "zh_CN": "简体中文"}


# -- finding resources -----------------------------------------------------------------


def test_resources_are_found_in_the_source_checkout() -> None:
    assert i18n.resources_dir() == ROOT / "resources"
    assert (i18n.translations_dir() / "hearth_zh_CN.qm").is_file()


def test_a_frozen_app_finds_its_bundled_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resources" / "translations").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert i18n.resources_dir() == tmp_path / "resources"


def test_a_bundle_without_resources_falls_back_to_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert i18n.resources_dir() == ROOT / "resources"


def test_qt_ships_its_own_chinese_catalogue() -> None:
    # Standard buttons (OK, Cancel, Close) are translated by Qt's catalogue, not ours.
    assert (i18n.qt_translations_dir() / "qtbase_zh_CN.qm").is_file()


# -- switching the language ------------------------------------------------------------


def _titles(dialog: HelpDialog) -> list[str]:
    return [dialog.guide_list.item(row).text() for row in range(dialog.guide_list.count())]


def test_switching_to_chinese_and_back_retranslates_open_windows(
    qtbot: QtBot, translations: Translations
) -> None:
    dialog = HelpDialog("en")
    qtbot.addWidget(dialog)
    dialog.show()
    close = dialog.buttons.button(QDialogButtonBox.StandardButton.Close)
    assert _titles(dialog) == ["Choosing a model", "Using the GPU", "Troubleshooting"]
    assert close.text() == "Close"

    translations.apply("zh_CN")
    assert translations.language == "zh_CN"
    assert len(translations.installed) == 2  # Hearth's catalogue and Qt's
    qtbot.waitUntil(lambda: _titles(dialog) == ["选择模型", "使用 GPU", "故障排除"])
    assert dialog.windowTitle() == "选择模型 — Hearth 帮助"
    assert dialog.guide_list.accessibleName() == "指南"
    assert close.text() == "关闭"  # from Qt's own qtbase_zh_CN.qm

    translations.apply("en")
    assert translations.installed == ()
    qtbot.waitUntil(
        lambda: _titles(dialog) == ["Choosing a model", "Using the GPU", "Troubleshooting"]
    )
    assert dialog.windowTitle() == "Choosing a model — Hearth Help"
    assert close.text() == "Close"


def test_a_subclass_finds_the_translations_of_its_base_class(
    qtbot: QtBot, translations: Translations
) -> None:
    # lupdate files the strings under "HelpDialog"; at run time tr() starts from the
    # subclass's own name and walks its bases (see desktop/i18n.py).
    class ProbeHelpDialog(HelpDialog):
        """A subclass with no strings of its own."""

    dialog = ProbeHelpDialog("en", "gpu")
    qtbot.addWidget(dialog)
    translations.apply("zh_CN")
    qtbot.waitUntil(lambda: dialog.windowTitle() == "使用 GPU — Hearth 帮助")


def test_widgets_created_after_the_switch_start_in_chinese(
    qtbot: QtBot, translations: Translations
) -> None:
    translations.apply("zh_CN")
    dialog = HelpDialog("zh_CN", "troubleshooting")
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "故障排除 — Hearth 帮助"


def test_applying_the_same_language_again_changes_nothing(translations: Translations) -> None:
    translations.apply("zh_CN")
    first = translations.installed
    translations.apply("zh_CN")
    assert translations.installed == first
    translations.apply("en")
    translations.apply("en")
    assert translations.installed == ()


def test_system_setting_follows_the_system_locale(
    qtbot: QtBot, translations: Translations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n.QLocale, "system", staticmethod(lambda: QLocale("zh_TW")))
    translations.apply("system")
    assert translations.language == "zh_CN"


def test_a_missing_catalogue_leaves_hearth_in_english(
    qtbot: QtBot, qapp: QApplication, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    owner = Translations(qapp, folder=tmp_path)
    dialog = HelpDialog("en")
    qtbot.addWidget(dialog)
    try:
        with caplog.at_level(logging.WARNING, logger="desktop.i18n"):
            owner.apply("zh_CN")
        qtbot.waitUntil(
            lambda: dialog.buttons.button(QDialogButtonBox.StandardButton.Close).text() == "关闭"
        )
        assert _titles(dialog)[0] == "Choosing a model"
        assert "No Hearth translation for zh_CN" in caplog.text
    finally:
        owner.apply("en")
        qapp.processEvents()


# -- the catalogue tool ----------------------------------------------------------------


def _run_tool(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "translations.py"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_translations_are_complete_and_compiled() -> None:
    result = _run_tool(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "complete and compiled" in result.stdout


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """A copy of the parts of the repository the tool reads and writes."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "tools", root / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "desktop", root / "desktop", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "resources" / "translations", root / "resources" / "translations")
    return root


NEW_WIDGET = """
from PySide6.QtWidgets import QLabel


class BrandNewPane(QLabel):
    def retranslate_ui(self) -> None:
        self.setText(self.tr("A string nobody has translated yet"))
"""


def test_check_catches_a_new_string_until_it_is_translated(scratch_repo: Path) -> None:
    (scratch_repo / "desktop" / "brand_new_pane.py").write_text(NEW_WIDGET, encoding="utf-8")
    result = _run_tool(scratch_repo, "--check")
    assert result.returncode == 1
    assert 'not in the catalogue: [BrandNewPane] "A string nobody has translated yet"' in (
        result.stdout
    )

    # Refreshing adds it, untranslated, and keeps every existing translation.
    before = (scratch_repo / "resources" / "translations" / "hearth_zh_CN.ts").read_text("utf-8")
    result = _run_tool(scratch_repo)
    assert result.returncode == 0, result.stderr
    assert 'untranslated: [BrandNewPane] "A string nobody has translated yet"' in result.stdout
    ts_text = (scratch_repo / "resources" / "translations" / "hearth_zh_CN.ts").read_text("utf-8")
    assert before.count("<translation>") == ts_text.count("<translation>")
    result = _run_tool(scratch_repo, "--check")
    assert result.returncode == 1
    assert 'untranslated: [BrandNewPane] "A string nobody has translated yet"' in result.stdout

    # Translating it and rebuilding makes the check pass.
    ts_file = scratch_repo / "resources" / "translations" / "hearth_zh_CN.ts"
    ts_file.write_text(
        ts_text.replace(
            "<source>A string nobody has translated yet</source>\n"
            '        <translation type="unfinished"></translation>',
            "<source>A string nobody has translated yet</source>\n"
            "        <translation>一个还没人翻译的字符串</translation>",
        ),
        encoding="utf-8",
    )
    assert _run_tool(scratch_repo).returncode == 0
    result = _run_tool(scratch_repo, "--check")
    assert result.returncode == 0, result.stdout


def test_check_catches_a_stale_qm_and_a_lost_placeholder(scratch_repo: Path) -> None:
    ts_file = scratch_repo / "resources" / "translations" / "hearth_zh_CN.ts"
    text = ts_file.read_text("utf-8")
    assert "<translation>无法加载 {name}：{reason}</translation>" in text
    ts_file.write_text(
        text.replace(
            "<translation>无法加载 {name}：{reason}</translation>",
            "<translation>无法加载 {name}</translation>",
        ),
        encoding="utf-8",
    )
    result = _run_tool(scratch_repo, "--check")
    assert result.returncode == 1
    assert "hearth_zh_CN.qm is missing or older than what" in result.stdout
    assert '[MainWindow] "Could not load {name}: {reason}": the translation has markers' in (
        result.stdout
    )


def test_check_catches_strings_the_source_no_longer_has(scratch_repo: Path) -> None:
    (scratch_repo / "desktop" / "dialogs" / "help.py").unlink()
    result = _run_tool(scratch_repo, "--check")
    assert result.returncode == 1
    assert 'no longer in the source: [HelpDialog] "Using the GPU"' in result.stdout
