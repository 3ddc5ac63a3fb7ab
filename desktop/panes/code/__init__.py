"""The Code pane, by job: the pane that assembles the parts (:mod:`.pane`), the editor
(:mod:`.editor`) and its file (:mod:`.files`), the task form (:mod:`.form`), task runs
(:mod:`.runs`), the answer with its code blocks' links (:mod:`.answer`) and a fix's diff
(:mod:`.diff_view`), and completion at the cursor (:mod:`.completion`)."""

from desktop.panes.code.answer import CODE_TASKS
from desktop.panes.code.form import TASKS
from desktop.panes.code.pane import CodePane

__all__ = ["CODE_TASKS", "TASKS", "CodePane"]
