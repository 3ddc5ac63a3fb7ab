"""Running a code task: streamed into the answer view, stored in the history as it goes.

:class:`TaskRunner` runs one ``engine.tasks.code.CodeRequest`` at a time through
``engine.tasks.code.run_task``. The task is stored when it starts and updated when it
ends (done, stopped or failed), so the sidebar lists it; the answer streams into the
:class:`~desktop.panes.code.answer.AnswerView`, and a stopped or failed answer keeps
what came.

Thread: the Qt thread; generation runs in the engine, history writes on its thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.panes.base import Pane
from desktop.panes.code.answer import AnswerView
from engine.errors import EngineError
from engine.runtime.client import EngineClient

if TYPE_CHECKING:
    from engine.tasks.code import CodeRequest
    from engine.types import SamplingParams


class TaskRunner(QObject):
    """Runs code tasks, one at a time, for a pane.

    Args:
        client: the app's one engine client.
        answer_view: where the answer streams in.
        pane: the pane (its history, message bar and tasks).

    Signals:
        started: a task started.
        ended: it ended (finished, stopped or failed); its answer is shown.
        finished(object): it finished (its ``engine.tasks.code.CodeResult``).
        stored: the task was stored or changed in the history (the sidebar list is stale).
    """

    started = Signal()
    ended = Signal()
    finished = Signal(object)
    stored = Signal()

    def __init__(self, client: EngineClient, answer_view: AnswerView, pane: Pane) -> None:
        super().__init__(pane)
        self._client = client
        self._answer = answer_view
        self._pane = pane
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a task is being generated."""
        return self._task is not None and not self._task.done()

    def start(
        self, request: CodeRequest, params: SamplingParams | None = None
    ) -> asyncio.Task[None]:
        """Run ``request`` with ``params`` (None: the engine's defaults); returns its task."""
        self._task = self._pane.start_task(self._run(request, params), name="code-run")
        return self._task

    def stop(self) -> None:
        """Stop the task being generated; the answer so far stays."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self, request: CodeRequest, params: SamplingParams | None) -> None:
        from engine.tasks.code import run_task

        self._pane.message_bar.hide()
        self._answer.begin(request.task, request.language)
        self.started.emit()
        model = self._client.model
        task_id = 0
        try:
            task_id = (
                await self._pane.history_call(
                    lambda h: h.add_code_task(
                        request.task,
                        language=request.language,
                        filename=request.filename,
                        code=request.code,
                        instruction=request.instruction,
                        error=request.error,
                        model_id=model.model_id if model else "",
                    )
                )
                or 0
            )
            self.stored.emit()
            result = await run_task(
                self._client, request, on_token=self._answer.append, params=params
            )
        except asyncio.CancelledError:
            self._answer.show_partial(self.tr("Stopped; the answer so far is kept."))
            await self._store(task_id, "cancelled")
            raise
        except EngineError as exc:
            self._answer.show_partial(self.tr("The task failed."))
            self._pane.message_bar.show_message(
                self.tr("The task failed: {reason}").format(reason=exc)
            )
            await self._store(task_id, "failed")
            return
        finally:
            self._task = None
            self.ended.emit()
        self._answer.show_result(result)
        await self._store(task_id, "done")
        self.finished.emit(result)

    async def _store(self, task_id: int, status: str) -> None:
        if not task_id:
            return
        answer = self._answer.answer
        await self._pane.history_call(
            lambda h: h.update_code_task(task_id, answer=answer, status=status)
        )
        self.stored.emit()


__all__ = ["TaskRunner"]
