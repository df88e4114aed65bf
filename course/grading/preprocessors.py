"""nbgrader preprocessors that close the gaps between nbgrader 0.9.6 and this course.

Each class is one step, configured into the pipeline by nbgrader_config.py:
- autograde: ``ExportArtifacts`` runs before nbgrader's execution step, which ``ResilientExecute`` replaces;
  ``TrustedVerification`` and ``StderrDoesNotScore`` run before ``SaveAutoGrades``; `course grade` sends the
  first three to a worker through ``ExecuteOnWorker`` (course.grading.cluster);
- feedback: nbgrader's ``ClearHiddenTests`` and ``FailedTestsAsMessages`` run before the HTML export.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from nbclient.util import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
import nbformat
from nbformat.v4 import new_code_cell
from traitlets import Bool, Dict, Integer

from .artifacts import ARTIFACTS_DIR
from .sandbox import Sandbox, SandboxedKernelManager, bwrap_available, bwrap_command, sandbox_limits

GRADING_STOPPED = "GradingStopped"
VERIFICATION_FAILED = "VerificationFailed"
VERIFICATION_FILE = "verification.json"
EXPORT_MARK = "course_artifact_export"
VERIFICATION_RESOURCE = "course_outside_verification"
# The harness and the verifier yield the CPU to the student's kernel, whose run is what grading waits for; they
# still get any core the kernel leaves idle (docs/benchmarks.md, issue 3).
HELPER_NICENESS = 10


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class ResilientExecute(Execute):
    """Execute that keeps a notebook whose kernel died or hung, with the reason in it.

    nbgrader's Execute lets DeadKernelError or a timeout escape; nbgrader then deletes the autograded
    notebook and leaves a bare 0. Here the failing cell gets an error saying what happened, every later
    code cell gets an error saying it did not run (a test cell without output would otherwise score full
    marks), and the cells that ran before keep their credit. A timeout ends the run: a kernel that ignores
    interrupts would otherwise make every later cell wait out the timeout too.
    """

    interrupt_on_timeout = False
    # the kernel is thrown away after grading: waiting for it to exit in order costs a second of TensorFlow teardown
    shutdown_kernel = "immediate"
    sandboxed = Bool(True, help="Run each kernel in the bubblewrap sandbox (course.grading.sandbox).").tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Output kept per cell; the rest is dropped with a note.").tag(config=True)
    keras_steps_per_execution = Integer(
        64, help="Training batches per compiled Keras call in each kernel, where the student's compile does not choose "
        "(course.grading.keras_batching); 1 leaves Keras' own default.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.sandboxed:
            if not bwrap_available():
                raise RuntimeError(
                    "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed. Install it "
                    "(Debian: apt-get install bubblewrap), or set c.ResilientExecute.sandboxed = False in "
                    "nbgrader_config.py to grade without a sandbox."
                )
            self.kernel_manager_class = SandboxedKernelManager
        if self.keras_steps_per_execution > 1:
            install = f"__import__('course.grading.keras_batching', fromlist=['install']).install({self.keras_steps_per_execution})"
            self.extra_arguments = [*self.extra_arguments, f"--IPKernelApp.exec_lines={install}"]

    def output(self, outs, msg, display_id, cell_index):
        # A flood of output would fill the grader's memory and the notebook; keep the start and say so.
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(value)) for value in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=f"\n[grader: output beyond {self.max_output_bytes:,} bytes was dropped]\n"))
        return None

    async def async_start_new_kernel(self, **kwargs):
        # The kernel process's own stdout/stderr (TensorFlow start-up logs) would flood the grader's console;
        # what a cell prints still reaches the notebook through the kernel's output capture.
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess(self, nb, resources=None, km=None):
        self.stopped_because = None
        self._output_bytes = {}
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self.stopped_because:
            cell.outputs = [error_output(GRADING_STOPPED, f"This cell did not run: {self.stopped_because}.")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            if EXPORT_MARK in cell.metadata and VERIFICATION_RESOURCE in resources:
                resources[VERIFICATION_RESOURCE].trained_model_saved()
            return cell, resources
        except CellTimeoutError:
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


class StderrDoesNotScore(NbGraderPreprocessor):
    """Turn stderr in test cells into stdout, so warnings are shown but cannot zero a test.

    nbgrader scores 0 for a test cell that wrote to stderr. Keras warns on stderr when a correct answer uses
    the spec's ``input_shape=`` argument, and TensorFlow logs there; failures are raised errors, never stderr.
    """

    def preprocess_cell(self, cell, resources, index):
        if utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class FailedTestsAsMessages(NbGraderPreprocessor):
    """Show a failed test as its message alone: a traceback would print the hidden test lines."""

    def preprocess_cell(self, cell, resources, index):
        if utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class SandboxedProcess:
    """``python -m MODULE ARGS`` in the sandbox (or bare when sandboxing is off), started at once, at a lower
    priority than the kernel (``HELPER_NICENESS``).

    ``writable`` and ``readable``: folders outside ``workdir`` it may also write, or only read.
    """

    def __init__(self, parent, module_and_args: list[str], workdir: Path, sandboxed: bool, timeout: int,
                 writable: tuple[Path, ...] = (), readable: tuple[Path, ...] = ()):
        self.module, self.workdir, self.timeout = module_and_args[0], workdir, timeout
        self.runtime_dir = tempfile.mkdtemp(prefix="course-verify-")
        command = [sys.executable, "-m", *module_and_args]
        limits = None
        if sandboxed:
            sandbox = Sandbox(parent=parent)
            command = bwrap_command(command, workdir, Path(self.runtime_dir), Path(sandbox.course_root or os.getcwd()),
                                    sandbox.tmp_bytes, writable, readable)
            limits = sandbox_limits(sandbox)

        def before_exec():
            os.nice(HELPER_NICENESS)
            if limits:
                limits()

        self.process = subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=before_exec,
        )

    def say(self, line: str) -> None:
        """One line on its stdin, now; a process that has ended is told nothing (``wait`` reports it)."""
        try:
            self.process.stdin.write(line)
            self.process.stdin.flush()
        except (OSError, ValueError):
            pass

    def wait(self, check: bool) -> str:
        """Close its stdin, then return its stdout. With check=False (the harness, which student code may kill or
        hang) failures are quiet."""
        try:
            stdout, stderr = self.process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            if check:
                raise RuntimeError(f"{self.module} took longer than {self.timeout} s on {self.workdir}") from None
        finally:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        if check and self.process.returncode != 0:
            raise RuntimeError(f"{self.module} failed on {self.workdir}:\n{stderr[-2000:]}")
        return stdout


class OutsideVerification:
    """The harness and the verifier of one notebook, running beside its kernel.

    The harness starts with the kernel and saves what the student's functions return in a folder of its own, outside
    the notebook's working folder: the kernel cannot see it, so it cannot forge it. The verifier starts idle; told
    that the harness has ended, it warms up (after the kernel's own start-up, which it would slow) and checks those
    outputs while the notebook trains; told that the notebook has saved its trained model (its export cell ran, or
    the notebook ended), it checks that while the notebook's last cells run.

    Both processes are started from the grading thread, which outlives them: bubblewrap's --die-with-parent ends a
    sandbox when the thread that started it ends.
    """

    def __init__(self, parent, answers: NotebookNode, workdir: Path, sandboxed: bool, timeout: int, notebook_timeout: int):
        self.harness_dir = Path(tempfile.mkdtemp(prefix="course-harness-"))
        answers_path = self.harness_dir / "answers.ipynb"
        nbformat.write(answers, answers_path)
        self.harness = SandboxedProcess(
            parent, ["course.grading.harness", str(answers_path), str(self.harness_dir)], workdir, sandboxed, timeout,
            writable=(self.harness_dir,),
        )
        self.verifier = SandboxedProcess(
            parent, ["course.grading.verify", str(workdir), str(self.harness_dir)], workdir, sandboxed,
            timeout + notebook_timeout, readable=(self.harness_dir,),
        )
        self._model_saved = threading.Event()
        self._teller = threading.Thread(target=self._tell_verifier, daemon=True)
        self._teller.start()

    def _tell_verifier(self) -> None:
        try:
            self.harness.wait(check=False)
        finally:
            self.verifier.say("harness ended\n")
        # bounded, so that a pipeline that failed before TrustedVerification leaves no verifier waiting for ever
        self._model_saved.wait(timeout=self.verifier.timeout)
        self.verifier.say("trained model saved\n")

    def trained_model_saved(self) -> None:
        self._model_saved.set()

    def verdicts(self) -> dict[str, dict]:
        """After the notebook has run: every test cell's verdict, from outside the kernel."""
        try:
            self._model_saved.set()  # the notebook has ended, whether or not its export cell ran
            self._teller.join()
            return json.loads(self.verifier.wait(check=True))
        finally:
            shutil.rmtree(self.harness_dir, ignore_errors=True)


class ExportArtifacts(NbGraderPreprocessor):
    """Prepare verification outside the kernel; runs before execution.

    Inserts, after the notebook's evaluation cell, a cell saving the trained model and the returned values, and
    starts the harness (``course.grading.harness``, on the student's answers) and the verifier at once, so that
    they run (and warm up) beside the kernel. ``TrustedVerification`` collects them after execution.
    """

    anchors = Dict({"run_evaluation": "trained"}, help="grade_id of a cell -> artifact stage").tag(config=True)
    sandboxed = Bool(True, help="Run the harness and the verifier in the bubblewrap sandbox.").tag(config=True)
    timeout = Integer(300, help="Seconds the harness may take, all five functions together.").tag(config=True)
    notebook_timeout = Integer(7200, help="Seconds the verifier waits for the notebook's run to end.").tag(config=True)

    def preprocess(self, nb, resources):
        workdir = Path(resources["metadata"]["path"])
        shutil.rmtree(workdir / ARTIFACTS_DIR, ignore_errors=True)  # only what this run saves may be verified
        answers = nbformat.v4.new_notebook(cells=[
            cell for cell in nb.cells
            if cell.cell_type == "code" and (utils.is_solution(cell) or cell.metadata.get("nbgrader", {}).get("grade_id") == "imports")
        ])
        resources[VERIFICATION_RESOURCE] = OutsideVerification(
            self, answers, workdir, self.sandboxed, self.timeout, self.notebook_timeout
        )
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            stage = self.anchors.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
            if stage:
                export = new_code_cell(f'__import__("course.grading.artifacts", fromlist=["save"]).save("{stage}", globals())')
                export.metadata[EXPORT_MARK] = stage
                cells.append(export)
        nb.cells = cells
        return nb, resources


class TrustedVerification(NbGraderPreprocessor):
    """Score every test cell from outside the kernel; where the kernel's result differs, this one stands.

    Runs after execution. It removes the export cells and collects the verdicts of the ``OutsideVerification``
    that ``ExportArtifacts`` started: ``course.grading.harness`` called the student's functions on the grader's
    inputs in a fresh sandboxed process, and ``course.grading.verify``, which runs no student code, checked what
    they returned and the trained model. Cells whose verdict differs from the kernel's get the verifier's output,
    and every verdict and disagreement is kept in ``verification.json`` beside the autograded notebook.
    """

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if EXPORT_MARK not in cell.metadata]
        workdir = Path(resources["metadata"]["path"])
        verification = resources.pop(VERIFICATION_RESOURCE, None)
        if verification is None:
            raise RuntimeError("TrustedVerification needs ExportArtifacts earlier in c.Autograde.autograde_preprocessors.")
        verdicts = verification.verdicts()
        disagreements = []
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id not in verdicts or not utils.is_grade(cell):
                continue
            kernel_passed = not any(output.output_type == "error" for output in cell.outputs)
            verdict = verdicts[grade_id]
            if verdict["passed"] == kernel_passed:
                continue
            disagreements.append({"cell": grade_id, "kernel": kernel_passed, "trusted": verdict["passed"], "message": verdict["message"]})
            if verdict["passed"]:
                cell.outputs = [NotebookNode(output_type="stream", name="stdout", text="Checked outside your notebook: passed.\n")]
            else:
                cell.outputs = [error_output(VERIFICATION_FAILED, verdict["message"])]
        (workdir / VERIFICATION_FILE).write_text(json.dumps({"verdicts": verdicts, "disagreements": disagreements}, indent=1))
        return nb, resources


class ExecuteOnWorker(NbGraderPreprocessor):
    """The execution stage, sent to a grading worker: ``course grade`` puts this in place of ExportArtifacts,
    ResilientExecute and TrustedVerification (see course.grading.cluster)."""

    def preprocess(self, nb, resources):
        from .cluster import active_cluster

        workdir = Path(resources["metadata"]["path"])
        name = resources["metadata"]["name"] + ".ipynb"
        files = {
            str(path.relative_to(workdir)): path.read_bytes()
            for path in sorted(workdir.rglob("*"))
            if path.is_file() and path.name != name
        }
        student, assignment = workdir.parent.name, workdir.name
        outcome = active_cluster().execute(student, assignment, name, nbformat.writes(nb), files)
        for relative, content in outcome.files.items():
            (workdir / relative).write_bytes(content)
        return nbformat.reads(outcome.notebook, as_version=4), resources
