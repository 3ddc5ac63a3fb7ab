"""Chat templates: the real models' templates, the fallback, and hostile templates refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import TemplateError
from engine.models.gguf_info import read_gguf_info
from engine.runtime.chat_templates import FALLBACK_STOP, ChatTemplate, probe_template

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Name a colour."},
]


def test_smollm2_template_renders_chatml(smollm2: Path) -> None:
    source = read_gguf_info(smollm2).chat_template
    assert source is not None
    text = ChatTemplate(source).render(CONVERSATION)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert "<|im_start|>user\nName a colour.<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_fallback_format_is_documented_plain_text() -> None:
    text = ChatTemplate.fallback().render(CONVERSATION)
    assert text == "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: Name a colour.\nAssistant:"
    assert "\nUser:" in FALLBACK_STOP


def test_non_ascii_survives_tojson() -> None:
    template = ChatTemplate("{{ messages | tojson }}")
    assert "你好" in template.render([{"role": "user", "content": "你好"}])


HOSTILE = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals": "{{ raise_exception.__globals__ }}",
    "cycler_init": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "mutate": "{% set x = messages.append({'role': 'user', 'content': 'x'}) %}{{ x }}",
    "huge_string": "{{ 'a' * 1000000000 }}",
    "huge_power": "{{ 10 ** 100000000 }}",
    "range_bomb": "{% for i in range(10) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "silent_loop": (
        "{% for m in messages %}{% for a in m.content %}{% for b in m.content %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    ),
    "explicit_raise": "{{ raise_exception('no system role') }}",
    "syntax": "{% for %}",
}


# Rendered without a budget, the loops run for hours (silent_loop: 400 million steps) and
# the huge values take gigabytes: the timeout is generous, and still fails such a render.
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_templates_are_refused_not_executed(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = HOSTILE[name].replace("'id'", f"'touch {marker}'")
    with pytest.raises(TemplateError):
        template = ChatTemplate(source)
        template.render([{"role": "user", "content": "x" * 20_000}])
    assert not marker.exists()


def test_probe_accepts_templates_that_reject_system_role() -> None:
    source = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    )
    probe_template(ChatTemplate(source))  # does not raise


def test_oversized_template_refused() -> None:
    with pytest.raises(TemplateError, match="refuses templates over"):
        ChatTemplate("x" * 300_000)
