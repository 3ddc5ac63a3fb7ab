"""The model manager and a misbehaving hub: a capped listing says so, hub text shows clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.models.hub import MAX_LISTED_MODELS
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import wait_for_model
from tests.engine import gguf_factory as gf
from tests.hubserver import FakeHub

pytestmark = pytest.mark.slow

TINY = gf.build_gguf(gf.llama_metadata(), gf.llama_tensors())
MANY = "big/many-GGUF"


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as hub:
        names = [f"m{i:03d}-Q4_0.gguf" for i in range(MAX_LISTED_MODELS + 50)]
        hub.add_repo(MANY, dict.fromkeys(names, TINY), downloads=10)
        hub.add_repo("evil/\x1b]0;pwned\x07-GGUF", {"m.gguf": TINY}, downloads=10**6)
        hub.add_repo(
            "evil/names-GGUF",
            {"fine-Q8_0.gguf": TINY, "\x1b[2J-Q4_0.gguf": TINY, "a\u202egguf.Q2_K.gguf": TINY},
            downloads=100,
        )
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        yield hub


def test_a_capped_listing_is_said_and_hub_text_shows_clean(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync, fake_hub: FakeHub
) -> None:
    wait_for_model(qtbot, window)
    discover = window.open_models().discover
    assert run_async(discover.list_files(MANY))
    assert discover.files_table.rowCount() == MAX_LISTED_MODELS
    shown = discover.message_bar.text()
    assert f"Showing the first {MAX_LISTED_MODELS} of {MAX_LISTED_MODELS + 50} GGUF models" in shown

    assert run_async(discover.search("GGUF"))
    repos = [discover.repo_list.item(r).text() for r in range(discover.repo_list.count())]
    # The repository whose id carries escapes (the most downloaded) is not shown at all.
    assert [r.split(" · ")[0] for r in repos] == ["evil/names-GGUF", MANY]
    assert run_async(discover.list_files("evil/names-GGUF"))
    assert [f.name for f in discover.hub_files()] == ["fine-Q8_0.gguf"]
    assert not discover.message_bar.isVisible()
