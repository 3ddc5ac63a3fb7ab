"""Chat formats a user can choose for a model instead of the template in its GGUF.

Some GGUFs carry a wrong template (a base model's, an old one without a system role)
or none at all; the user then picks one of the common formats by name, or a Jinja
template file. Either runs in the same sandbox as a GGUF's own template
(engine.runtime.chat_templates), so a template file is no more trusted than a model.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UsageError
from engine.runtime.chat_templates import MAX_TEMPLATE_CHARS

#: The formats by name; each is the family's published template, reduced to the roles
#: Hearth sends (system, user, assistant). Names match engine.data.model_settings.
CHAT_FORMATS: dict[str, str] = {
    # Qwen, SmolLM, Hermes, Yi and many fine-tunes.
    "chatml": (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    # Llama 3.x instruct.
    "llama3": (
        "{{ bos_token }}"
        "{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        " + message['content'] | trim + '<|eot_id|>' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}"
    ),
    # Gemma 2 and 3: no system role, so the system prompt opens the first user turn.
    "gemma": (
        "{{ bos_token }}"
        "{% set system = namespace(text='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{% set system.text = message['content'] + '\n\n' %}"
        "{% else %}"
        "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
        "{{ '<start_of_turn>' + role + '\n' + (system.text if role == 'user' else '')"
        " + message['content'] | trim + '<end_of_turn>\n' }}"
        "{% if role == 'user' %}{% set system.text = '' %}{% endif %}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
    # Mistral instruct v0.2/v0.3: [INST] turns, the system prompt in the first one.
    "mistral": (
        "{{ bos_token }}"
        "{% set system = namespace(text='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{% set system.text = message['content'] + '\n\n' %}"
        "{% elif message['role'] == 'user' %}"
        "{{ '[INST] ' + system.text + message['content'] + ' [/INST]' }}"
        "{% set system.text = '' %}"
        "{% else %}{{ ' ' + message['content'] + eos_token }}"
        "{% endif %}"
        "{% endfor %}"
    ),
    # Phi-3 and Phi-3.5.
    "phi3": (
        "{% for message in messages %}"
        "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    ),
}


def template_text(choice: str) -> str:
    """The template text of a chat-format choice: a known format's name or a file's path.

    Args:
        choice: one of :data:`CHAT_FORMATS`, or the path of a Jinja template file.

    Returns:
        The template, to be rendered in the sandbox.

    Raises:
        UsageError: the file cannot be read, is not UTF-8 text, or is too large.
    """
    if choice in CHAT_FORMATS:
        return CHAT_FORMATS[choice]
    path = Path(choice).expanduser()
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TEMPLATE_CHARS * 4 + 1)
    except OSError as exc:
        raise UsageError(
            f"The chat template file {path} cannot be read ({exc.strerror or exc}). "
            "Choose another file, or one of the known formats: " + ", ".join(CHAT_FORMATS) + "."
        ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"The chat template file {path} is not UTF-8 text.") from exc
    if len(text) > MAX_TEMPLATE_CHARS or len(data) > MAX_TEMPLATE_CHARS * 4:
        raise UsageError(
            f"The chat template file {path} is larger than {MAX_TEMPLATE_CHARS:,} characters; "
            "real templates are a few KiB."
        )
    if not text.strip():
        raise UsageError(f"The chat template file {path} is empty.")
    return text
