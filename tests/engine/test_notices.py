"""Notices: every reason and warning has English, crosses the worker's pipe, and stays typed."""

from __future__ import annotations

import json
import string
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.data.config import get_paths, read_settings
from engine.data.history import History
from engine.errors import HistoryError
from engine.models.hub import HubListing
from engine.models.plan import plan_backend
from engine.notices import ENGLISH, Notice, NoticeCode, render_notice
from engine.runtime.client import EngineClient
from tests.engine.models.test_hardware import MODEL_135M, make_hw


def template_fields(template: str) -> set[str]:
    """The names of a ``str.format`` template's fields."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_code_has_an_english_template() -> None:
    assert set(ENGLISH) == set(NoticeCode)
    assert all(ENGLISH[code].strip() for code in NoticeCode)


def test_a_nested_notice_renders_inside_its_parent_and_survives_json() -> None:
    cpu = Notice(NoticeCode.THREADS_SIMD, {"n_threads": 8, "simd": "AVX2"})
    reason = Notice(NoticeCode.CPU_NO_GPU, {"cpu": cpu})
    assert render_notice(reason) == "CPU: no supported GPU found; 8 threads (AVX2)"
    assert str(reason) == render_notice(reason)
    again = Notice.from_dict(json.loads(json.dumps(reason.to_dict())))
    assert again == reason and hash(again) == hash(reason)
    assert again.params["cpu"] == cpu


def test_numbers_are_written_the_english_way() -> None:
    warning = Notice(NoticeCode.CONTEXT_OVER_TRAINED, {"wanted": 1_000_000, "trained": 8192})
    assert render_notice(warning) == (
        "The context size 1,000,000 is larger than the 8,192 tokens this model was trained "
        "for; using 8,192."
    )


def test_a_notice_keeps_its_own_copy_of_the_parameters() -> None:
    params: dict[str, str | int | float | Notice] = {"n_threads": 4}
    notice = Notice(NoticeCode.THREADS, params)
    params["n_threads"] = 5
    assert render_notice(notice) == "4 threads"


@pytest.mark.parametrize(
    "data",
    [
        {"code": "plan.no_such_code", "params": {}},
        {"code": "plan.threads", "params": {"n_threads": [1, 2]}},
        {"code": "plan.threads", "params": {"n_threads": True}},
    ],
)
def test_a_notice_from_another_hearth_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Notice.from_dict(data)


def test_the_plan_gives_its_reason_and_warnings_as_notices() -> None:
    plan = plan_backend(make_hw(), MODEL_135M, n_ctx=10**9, threads=100_000)
    assert plan.reason_notice.code is NoticeCode.CPU_NO_GPU
    codes = [w.code for w in plan.warning_notices]
    assert codes == [NoticeCode.CONTEXT_OVER_TRAINED, NoticeCode.THREADS_OVER_CORES]
    # The English the command line prints is the notices', rendered.
    assert plan.reason == render_notice(plan.reason_notice)
    assert plan.warnings == tuple(render_notice(w) for w in plan.warning_notices)
    data = plan.to_dict()
    assert data["reason"] == plan.reason
    assert Notice.from_dict(data["reason_notice"]) == plan.reason_notice


def test_every_template_field_is_a_name() -> None:
    # Positional fields ("{}") could not be filled from a notice's named parameters.
    for code, template in ENGLISH.items():
        assert all(field.isidentifier() for field in template_fields(template)), code


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


@pytest.mark.slow
async def test_a_real_load_reports_its_plan_and_warnings_as_notices(client: EngineClient) -> None:
    # The starter model was trained for 8,192 tokens: a million is cut, and said so.
    info = await client.load(None, n_ctx=1_000_000)
    assert info.n_ctx == 8192
    assert info.plan_notice.code in (NoticeCode.CPU_NO_GPU, NoticeCode.GPU_FULL)
    [warning] = [w for w in info.warning_notices if w.code is NoticeCode.CONTEXT_OVER_TRAINED]
    assert warning.params == {"wanted": 1_000_000, "trained": 8192}
    assert render_notice(warning) in info.warnings
    assert info.plan_reason == render_notice(info.plan_notice)


def test_a_repaired_settings_file_says_so_field_by_field(tmp_path: Path) -> None:
    paths = get_paths()
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text(
        json.dumps({"version": 2, "threads": 100_000, "theme": "purple"}), encoding="utf-8"
    )
    read = read_settings(paths)
    notice = read.notice
    assert notice is not None and notice.code is NoticeCode.SETTINGS_RESET
    repairs = notice.params["problems"]
    assert isinstance(repairs, tuple)
    assert [r.params["name"] for r in repairs] == ["threads", "theme"]
    assert all(r.code is NoticeCode.SETTING_REPLACED for r in repairs)
    assert read.message == render_notice(notice)
    assert "threads = 100000 must be 0 (automatic) to " in read.message
    assert "; theme = 'purple' must be one of " in read.message
    assert Notice.from_dict(json.loads(json.dumps(notice.to_dict()))) == notice


def test_a_history_database_that_is_a_folder_says_so_as_a_notice(tmp_path: Path) -> None:
    folder = tmp_path / "history.db"
    folder.mkdir()
    with pytest.raises(HistoryError) as caught:
        History(folder)
    assert caught.value.notice == Notice(NoticeCode.HISTORY_IS_FOLDER, {"path": str(folder)})
    assert str(caught.value) == render_notice(caught.value.notice)


def test_a_listing_cut_short_says_why_as_notices() -> None:
    listing = HubListing(
        repo_id="big/many-GGUF",
        files=(),
        models_found=3,
        files_read=10_000,
        complete=False,
        stopped_because=Notice(NoticeCode.LISTING_STOPPED_OTHER_HOST),
    )
    assert [n.code for n in listing.notices()] == [
        NoticeCode.LISTING_CAPPED,
        NoticeCode.LISTING_INCOMPLETE,
    ]
    assert listing.note() == (
        "Showing the first 0 of 3 GGUF models in big/many-GGUF. Only the first 10,000 files "
        "of big/many-GGUF were read (its next page is on another host); look for a file by "
        "its exact name on the hub's website."
    )
