"""Notices: every reason and warning has English, crosses the worker's pipe, and stays typed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from engine.models.plan import plan_backend
from engine.notices import ENGLISH, Notice, NoticeCode, render_notice, template_fields
from engine.runtime.client import EngineClient
from tests.engine.test_hardware import MODEL_135M, make_hw


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
