"""Running one student's notebook in its sandboxed kernel, with every limit a notebook can reach.

nbgrader's Execute lets DeadKernelError or a timeout escape; nbgrader then deletes the autograded notebook and
leaves a bare 0. ``ResilientExecute`` keeps the notebook instead: the failing cell gets an error saying what
happened, every later code cell gets an error saying it did not run (a test cell without output would otherwise
score full marks), and the cells that ran before keep their credit. Why it stopped is kept as data
(``stopped_because``), never read back from the notebook, whose outputs the student's code writes.
"""

from __future__ import annotations

import contextlib
import subprocess
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

from .sandbox import KernelWithHarnessManager, SandboxedKernelManager, SandboxSettings

GRADING_STOPPED = "GradingStopped"


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class ResilientExecute(Execute):
    """Execute in a sandboxed kernel; a dead or hung kernel, or a notebook over its deadline, stops with a reason."""

    max_output_bytes = Integer(2_000_000, help="Output kept per cell; the rest is dropped with a note.").tag(config=True)
    max_notebook_output_bytes = Integer(
        20_000_000, help="Output kept for the whole notebook; the rest is dropped with a note.").tag(config=True)
    notebook_timeout = Integer(
        3600, help="Seconds the whole notebook may run, all cells together (c.Execute.timeout caps each cell).",
    ).tag(config=True)
    keras_steps_per_execution = Integer(
        64, help="Training batches per compiled Keras call in each kernel, where the student's compile does not choose "
        "(course.sandboxed.keras_batching); 1 leaves Keras' own default.",
    ).tag(config=True)

    def __init__(self, settings: SandboxSettings, kernel_env: dict, **kwargs):
        # the kernel is thrown away after grading: no polite shutdown (a second of TensorFlow teardown), and a
        # kernel that ignores interrupts would make every later cell wait out its timeout too
        kwargs.setdefault("interrupt_on_timeout", False)
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(**kwargs)
        self.settings, self.kernel_env = settings, kernel_env
        # the harness forked beside the kernel (course.grading.verification.HarnessBesideKernel), or None
        self.harness = None
        # before the first cell, outside the student's namespace: Keras imported at less cost (every notebook here
        # imports it), and its batching default where asked
        start = "__import__('course.sandboxed.keras_import', fromlist=['import_keras']).import_keras()"
        if self.keras_steps_per_execution > 1:
            start += f"; __import__('course.sandboxed.keras_batching', fromlist=['install']).install({self.keras_steps_per_execution})"
        self.extra_arguments = [*self.extra_arguments, f"--IPKernelApp.exec_lines={start}"]
        self.after_cell = None  # called with (cell, index) after each cell that ran
        self.stopped_because: str | None = None
        self.executed: list[str] = []  # grade_ids of the graded cells the kernel really ran (before any stop)

    def create_kernel_manager(self):
        if not self.settings.bwrap:
            self.kernel_manager_class = KernelWithHarnessManager
            super().create_kernel_manager().harness = self.harness
            return self.km
        self.km = SandboxedKernelManager(self.settings, self.kernel_env, harness=self.harness,
                                         kernel_name=self.kernel_name or "python3", config=self.config)
        return self.km

    @contextlib.contextmanager
    def setup_kernel(self, **kwargs):
        with super().setup_kernel(**kwargs):
            try:
                yield
            finally:
                # the kernel's sandbox is its harness's too: it ends once the harness has, or has run out of time
                if self.harness is not None:
                    self.harness.wait()

    def _get_timeout(self, cell):
        per_cell = super()._get_timeout(cell)
        left = max(1, int(self.notebook_timeout - (time.monotonic() - self._started)))
        return left if per_cell is None else min(per_cell, left)

    def output(self, outs, msg, display_id, cell_index):
        # A flood of output would fill the grader's memory and the notebook; keep the start and say so.
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(value)) for value in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        self._notebook_bytes += size
        if used + size <= self.max_output_bytes and self._notebook_bytes <= self.max_notebook_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if cell_index not in self._truncated:
            self._truncated.add(cell_index)
            limit = (f"{self.max_output_bytes:,} bytes in a cell" if used + size > self.max_output_bytes
                     else f"{self.max_notebook_output_bytes:,} bytes in the notebook")
            outs.append(NotebookNode(output_type="stream", name="stdout", text=f"\n[grader: output beyond {limit} was dropped]\n"))
        return None

    async def async_start_new_kernel(self, **kwargs):
        # The kernel process's own stdout/stderr (TensorFlow start-up logs) would flood the grader's console;
        # what a cell prints still reaches the notebook through the kernel's output capture.
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        if not self.settings.bwrap:  # unsandboxed, by the instructor's choice: the same threads and MNIST file
            kwargs.setdefault("env", self.settings.bare_env(self.kernel_env))
        try:
            await super().async_start_new_kernel(**kwargs)
        finally:
            if self.harness is not None:
                self.harness.kernel_started()

    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess(self, nb, resources=None, km=None):
        self.stopped_because = None
        self.executed = []
        self._output_bytes, self._notebook_bytes, self._truncated = {}, 0, set()
        self._started = time.monotonic()
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self.stopped_because:
            cell.outputs = [error_output(GRADING_STOPPED, f"This cell did not run: {self.stopped_because}.")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                self.executed.append(grade_id)
            if self.after_cell is not None:
                self.after_cell(cell, index)
            return cell, resources
        except CellTimeoutError:
            elapsed = time.monotonic() - self._started
            if elapsed >= self.notebook_timeout - 1:
                self.stopped_because = (
                    f"the notebook was still running at cell {index + 1} after {self.notebook_timeout} s, the limit "
                    "for the whole notebook, so grading stopped there"
                )
            else:
                self.stopped_because = (
                    f"cell {index + 1} was still running after {self.timeout} s (an endless loop, or training far "
                    "longer than the assignment asks), so grading stopped there"
                )
        except DeadKernelError:
            self.stopped_because = (
                f"the Python kernel died while running cell {index + 1} (it exited, crashed or ran out of memory)"
            )
        self.log.warning("Stopped executing %s: %s", resources.get("unique_key", "notebook"), self.stopped_because)
        cell.outputs.append(error_output(GRADING_STOPPED, self.stopped_because[0].upper() + self.stopped_because[1:] + "."))
        return cell, resources
