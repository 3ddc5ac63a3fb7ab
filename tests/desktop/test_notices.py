"""The desktop's words for the engine's notices: every code has them, in English and Chinese."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication

from desktop.i18n import Translations
from desktop.notices import notice_text, templates
from engine.notices import ENGLISH, Notice, NoticeCode, render_notice
from tests.desktop.english import english_sentences

#: A format field, with or without a format spec: "{n_ctx}", "{wanted:,}".
FIELD = re.compile(r"\{[^{}]*\}")


@pytest.fixture
def chinese(qapp: QApplication) -> Iterator[Translations]:
    owner = Translations(qapp)
    owner.apply("zh_CN")
    yield owner
    owner.apply("en")


def template_fields(template: str) -> set[str]:
    """The names of a ``str.format`` template's fields."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_code_has_a_desktop_text() -> None:
    # A new code added to the engine without its text here fails this test.
    assert set(templates()) == set(NoticeCode)


def test_the_english_interface_says_what_the_command_line_says() -> None:
    assert templates() == dict(ENGLISH)
    cpu = Notice(NoticeCode.THREADS_SIMD, {"n_threads": 8, "simd": "AVX2"})
    reason = Notice(NoticeCode.CPU_NO_GPU, {"cpu": cpu})
    assert (
        notice_text(reason)
        == render_notice(reason)
        == "CPU: no supported GPU found; 8 threads (AVX2)"
    )


def test_every_code_is_translated_into_chinese_with_the_same_fields(chinese: Translations) -> None:
    texts = templates()
    for code in NoticeCode:
        text = texts[code]
        assert text != ENGLISH[code], f"{code} is not translated"
        assert template_fields(text) == template_fields(ENGLISH[code]), code
        # Fields and their format specs are kept as they are ("{wanted:,}").
        assert sorted(FIELD.findall(text)) == sorted(FIELD.findall(ENGLISH[code])), code
        assert english_sentences(FIELD.sub(" ", text)) == [], f"{code}: {text}"


def test_a_nested_notice_is_translated_too(chinese: Translations) -> None:
    cpu = Notice(NoticeCode.THREADS_SIMD, {"n_threads": 8, "simd": "AVX2"})
    reason = Notice(NoticeCode.CPU_NO_GPU, {"cpu": cpu})
    assert notice_text(reason) == "CPU：未找到受支持的 GPU；8 个线程（AVX2）"
    default = Notice(NoticeCode.USING_DEFAULT, {"default": "0"})
    replaced = Notice(
        NoticeCode.SETTING_REPLACED,
        {
            "name": "threads",
            "value": "100000",
            "requirement": Notice(NoticeCode.MUST_BE_THREADS, {"most": 8}),
            "instead": default,
        },
    )
    offline = Notice(
        NoticeCode.SETTING_REPLACED,
        {
            "name": "offline",
            "value": "'yes'",
            "requirement": Notice(NoticeCode.MUST_BE_BOOLEAN),
            "instead": Notice(NoticeCode.KEEPING_OFFLINE),
        },
    )
    repairs = Notice(NoticeCode.SETTINGS_RESET, {"problems": (replaced, offline), "kept": ""})
    assert notice_text(repairs) == (
        "部分设置无效，已重置：threads = 100000：必须为 0（自动）到 8（这台电脑的逻辑核心数），"
        "改用默认值 0；offline = 'yes'：必须是 true 或 false，保持离线模式开启。请在“设置”中检查。"
    )
