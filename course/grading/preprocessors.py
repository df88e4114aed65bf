"""nbgrader preprocessors of this course, each one step, named in nbgrader_config.py's pipelines.

- autograde: ``ExecuteOnWorker`` is the execution step (in nbgrader's ``Execute`` place): it sends the notebook to
  a grading worker and puts the verdicts from outside the kernel in place; ``StderrDoesNotScore`` runs before
  ``SaveAutoGrades``.
- feedback: ``ClearHiddenTestCells``, ``FailedTestsAsMessages`` and ``SanitizeStudentContent`` run before the HTML
  export.

These run in the coordinating process (`course grade`), which runs no student code; student code runs only on the
workers, in sandboxes (course.grading.worker).
"""

from __future__ import annotations

import functools
import json
import re
import traceback
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata, NbGraderPreprocessor, OverwriteCells, SaveAutoGrades
from traitlets import Any

from course.spec import load

from .exceptions import GradingError
from .kernel_run import error_output

VERIFICATION_FAILED = "VerificationFailed"
NOT_VERIFIED = "NotVerified"
VERIFICATION_FILE = "verification.json"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
UNSAFE_LINK = re.compile(r"(?i)\b(?:javascript|vbscript|data)\s*:")


def is_test_cell(cell) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def without_hidden_tests(source: str) -> tuple[str, bool]:
    """The source as students see it (what nbgrader's release leaves), and whether it had hidden tests."""
    lines, kept, hidden = source.splitlines(), [], False
    inside = False
    for line in lines:
        marker = line.strip()
        if marker == HIDDEN_BEGIN:
            inside = hidden = True
        elif marker == HIDDEN_END and inside:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), hidden


class ExecuteOnWorker(NbGraderPreprocessor):
    """The execution step: the notebook goes to a grading worker, the verdicts from outside the kernel stand.

    What the worker gets: the notebook with its hidden test code removed (hidden test cells are judged outside the
    kernel only, so no hidden check ever runs where student code does), and the answers the harness runs. What comes
    back is checked to be this job's before anything is kept. Then every test cell with a verdict from outside the
    kernel gets it; where the kernel said otherwise on a visible test, in either direction, the student is flagged.
    A notebook that could not be verified keeps its kernel's visible results, gets no point for a hidden test, and is
    flagged "could not verify". Everything is kept in ``verification.json`` beside the autograded notebook, which
    only this process writes.
    """

    executor = Any(None, help="The grading run that sends a job to a worker (course.grade sets it).").tag(config=True)

    def preprocess(self, nb, resources):
        if self.executor is None:
            raise GradingError("ExecuteOnWorker runs only inside `course grade`, which gives it its workers.")
        workdir = Path(resources["metadata"]["path"])
        student, assignment = workdir.parent.name, workdir.name
        name = resources["metadata"]["name"] + ".ipynb"
        hidden_sources = {}
        shipped = nbformat.from_dict(json.loads(json.dumps(nb)))
        for index, cell in enumerate(shipped.cells):
            if is_test_cell(cell):
                cell.source, hidden = without_hidden_tests(cell.source)
                if hidden:
                    hidden_sources[index] = nb.cells[index].source
        spec = load(assignment)
        answers = answer_cells(shipped, spec.setup_cells, self.executor.ungraded_sources(assignment, name))
        outcome = self.executor.execute(student, assignment, name, nbformat.writes(shipped), nbformat.writes(answers))
        executed = nbformat.reads(outcome.notebook, as_version=4)
        if len(executed.cells) != len(nb.cells):
            raise GradingError(f"the worker returned {len(executed.cells)} cells for {student}'s {name}, which has {len(nb.cells)}")
        for index, source in hidden_sources.items():
            executed.cells[index].source = source  # the instructor's copy keeps them; feedback removes them
        distrusted = {}
        if any(STEP_COUNTER.search(cell.source) for cell in answers.cells):
            for trained_by in {artifact.trained_by for artifact in spec.artifacts if artifact.trained_by}:
                distrusted[trained_by] = (
                    "your notebook changes the optimizer's step counter, which is how the grader confirms the training "
                    f"{trained_by} did, so its tests cannot pass; train with model.fit and leave the optimizer alone.")
        summary = apply_verdicts(executed, outcome.record, set(hidden_sources), distrusted)
        summary["flags"] += suspicious_code(answers)
        summary.update(worker=outcome.worker, seconds=round(outcome.seconds, 2), peak_memory_bytes=outcome.peak_memory_bytes)
        (workdir / VERIFICATION_FILE).write_text(json.dumps(summary, indent=1))
        return executed, resources


def answer_cells(nb, setup_cells, teaching: set[str]):
    """The cells the harness runs, in notebook order: the setup cells (the notebook's imports and data, so that a
    function that reads a global finds it as it did in the notebook), then every cell the student could edit,
    except the release's own ungraded cells (the self-check calls), unchanged."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in setup_cells or (not meta.get("locked") and not meta.get("grade") and cell.source.strip() not in teaching):
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"nbgrader": {"grade_id": meta.get("grade_id", "cell")}}))
    return nbformat.v4.new_notebook(cells=cells)


# The optimizer's step count is the trusted side's evidence of the training a spec's training function did
# (course.grading.verify).
STEP_COUNTER = re.compile(r"\.iterations\b|\biterations\s*\.\s*assign")
# What the cross-checks rest on, and honest code has no reason to touch: a cell that does is shown to a human.
# The harness ends with os._exit (it is forked: course.sandboxed.kernel_launcher) and holds its folders as
# /proc/self/fd, so replacing os._exit or reaching into /proc/self/fd is an exit hook on its records.
GRADER_EVIDENCE = re.compile(
    r"\.iterations\b|course\.sandboxed|\.artifacts|atexit|sys\.excepthook|\bos\._exit(?=\s*=[^=])|/proc/self/fd"
    r"|get_ipython\(\)\.(?:events|input_transformers)")


def suspicious_code(answers) -> list[dict]:
    """Flags for student cells that touch what grading measures (the optimizer's step counter, the grader's own
    modules and records, exit hooks, IPython's hooks). Scores are not changed by this; a human looks."""
    flags = []
    for cell in answers.cells:
        found = sorted(set(GRADER_EVIDENCE.findall(cell.source)))
        if found:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "cell")
            flags.append({"cell": None, "reason": f"a student cell ({grade_id}) touches {', '.join(found)}: check it by hand"})
    return flags


def apply_verdicts(nb, record: dict, hidden_cells: set[int], distrusted: dict[str, str] | None = None) -> dict:
    """Put the verdicts from outside the kernel in the notebook's test cells; return what happened, as data.

    The outside's verdict stands, with one exception that closes the other direction: a function whose visible test
    the kernel really ran and failed, while the outside passed that same test, gets no point from outside for any of
    its cells (the notebook's own test rejects it; what the harness recorded of it may have been written by the
    student's code). Both directions are flagged. Where the kernel and the outside agree a visible test fails, the
    function's other cells keep their own verdicts: one honest mistake costs its own points only.
    """
    verdicts = record.get("verdicts") if isinstance(record.get("verdicts"), dict) else {}
    executed = set(record.get("executed") or [])
    could_not_verify = record.get("error")
    flags, disagreements = [], []
    tests = [(index, cell) for index, cell in enumerate(nb.cells) if is_test_cell(cell)]
    kernel_passed = {
        cell.metadata["nbgrader"].get("grade_id"): not any(output.output_type == "error" for output in cell.outputs)
        for _, cell in tests
    }
    rejected_in_kernel = {}  # function -> the visible test of it that failed in the kernel
    for index, cell in tests:
        grade_id = cell.metadata["nbgrader"].get("grade_id")
        verdict = verdicts.get(grade_id)
        if (index not in hidden_cells and grade_id in executed and not kernel_passed[grade_id]
                and isinstance(verdict, dict) and verdict.get("passed")):
            rejected_in_kernel.setdefault(verdict.get("function"), grade_id)
    rejected_in_kernel.pop(None, None)
    for index, cell in tests:
        grade_id = cell.metadata["nbgrader"].get("grade_id")
        verdict = verdicts.get(grade_id)
        if not isinstance(verdict, dict):
            if index in hidden_cells:  # judged outside only: no verdict, no point
                reason = f"the grader could not verify this notebook ({could_not_verify})" if could_not_verify else "no verdict from the grader"
                cell.outputs = [error_output(NOT_VERIFIED, f"Not checked: {reason}. Your instructor will review it.")]
                flags.append({"cell": grade_id, "reason": f"hidden test not verified: {reason}"})
            continue
        passed, message = bool(verdict.get("passed")), str(verdict.get("message", ""))
        if verdict.get("flag"):
            flags.append({"cell": grade_id, "reason": str(verdict["flag"])})
        visible = index not in hidden_cells
        if visible and grade_id in executed and passed != kernel_passed[grade_id]:
            disagreements.append({"cell": grade_id, "kernel": kernel_passed[grade_id], "trusted": passed, "message": message})
            flags.append({"cell": grade_id, "reason": (
                "passed in the kernel, failed outside it" if kernel_passed[grade_id] else "failed in the kernel, passed outside it")})
        function = verdict.get("function")
        if passed and function in rejected_in_kernel:
            passed = False
            message = (f"Your notebook's own test of {function} ({rejected_in_kernel[function]}) failed, so no test of "
                       f"{function} can pass: fix what that test says first.")
        elif passed and function in (distrusted or {}):
            passed = False
            message = f"Checked outside your notebook: {distrusted[function]}"
            flags.append({"cell": grade_id, "reason": f"not credited: {distrusted[function]}"})
        if passed:
            if not visible or not kernel_passed[grade_id]:
                cell.outputs = [NotebookNode(output_type="stream", name="stdout", text="Checked outside your notebook: passed.\n")]
        elif visible and not kernel_passed[grade_id] and function in rejected_in_kernel and rejected_in_kernel[function] == grade_id:
            pass  # the kernel's own failure message says what to fix
        else:
            cell.outputs = [error_output(VERIFICATION_FAILED, message)]
    if could_not_verify:
        flags.append({"cell": None, "reason": f"could not verify: {could_not_verify}"})
    return {
        "verdicts": verdicts, "disagreements": disagreements, "flags": flags, "could_not_verify": could_not_verify,
        "stopped": record.get("stopped"), "sandboxed": record.get("sandboxed"), "skipped_files": record.get("skipped_files", []),
    }


class StderrDoesNotScore(NbGraderPreprocessor):
    """Turn stderr in test cells into stdout, so warnings are shown but cannot zero a test.

    nbgrader scores 0 for a test cell that wrote to stderr. Keras warns on stderr when a correct answer uses
    the spec's ``input_shape=`` argument, and TensorFlow logs there; failures are raised errors, never stderr.
    """

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class ClearHiddenTestCells(NbGraderPreprocessor):
    """Feedback: remove hidden test code from test cells only (nbgrader's ClearHiddenTests reads every cell, so a
    student's comment that looks like a marker in a solution cell stopped feedback for the whole class)."""

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            cell.source, _ = without_hidden_tests(cell.source)
        return cell, resources


class SanitizeStudentContent(NbGraderPreprocessor):
    """Feedback: what a student wrote or their code displayed is rendered inert.

    nbgrader's feedback template renders Markdown cells itself, past nbconvert's ``sanitize_html``; so the cells a
    student could edit (Markdown and raw) lose every tag and attribute that could run script, links lose
    ``javascript:`` and ``data:`` targets, and code outputs lose JavaScript and unsafe HTML (nbconvert's SanitizeHTML).
    The instructor's own locked cells are left as written.
    """

    def preprocess(self, nb, resources):
        from nbconvert.preprocessors.sanitize import SanitizeHTML

        self._sanitizer = SanitizeHTML(parent=self)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        locked = cell.metadata.get("nbgrader", {}).get("locked", False)
        if cell.cell_type in ("markdown", "raw") and not locked:
            source = self._sanitizer.sanitize_html_tags(cell.source)
            # not an entity: Markdown decodes entities in link targets, and `javascript&#58;` would run again
            cell.source = UNSAFE_LINK.sub("blocked-scheme:", source)
        elif cell.cell_type == "code":
            cell.outputs = self._sanitizer.sanitize_code_outputs(cell.outputs)
        return cell, resources


class FailedTestsAsMessages(NbGraderPreprocessor):
    """Show a failed test as its message alone: a traceback would print the hidden test lines."""

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


@functools.lru_cache(maxsize=4)
def _compiled_schema(version: int, schema_text: str):
    import jsonschema

    schema = json.loads(schema_text)
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's cell check with its JSON schema checked once, not once per cell (``jsonschema.validate`` checks
    the schema itself on every call: a fifth of the coordinator's time per student, benchmarks/coordinator_scale.py).
    Cells of another schema version get nbgrader's own check and error."""

    def validate_cell(self, cell) -> None:
        meta = cell.metadata.get("nbgrader")
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)
        import jsonschema

        error = jsonschema.exceptions.best_match(
            _compiled_schema(self.schema_version, json.dumps(self.schema, sort_keys=True)).iter_errors(meta))
        if error is not None:
            raise error


class _CellMetadataValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's current validator (its cross-cell and per-cell rules), its schema step from _SchemaCheckedOnce."""


class CheckCellMetadataOnce(CheckCellMetadata):
    """nbgrader's CheckCellMetadata, as fast for a class of thousands: the same checks and the same error."""

    def preprocess(self, nb, resources):
        try:
            _CellMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message)
        return nb, resources


def _rows_by_cell_name(gradebook, row_class, notebook: str, assignment: str, student: str | None = None) -> dict:
    """One query for what nbgrader's ``find_grade``, ``find_comment``, ``find_source_cell`` or ``find_graded_cell``
    would fetch for each cell of one (submitted) notebook, by cell name: the same rows of the same session."""
    from nbgrader.api import (Assignment, BaseCell, Notebook, SourceCell, Student, SubmittedAssignment,
                              SubmittedNotebook)

    db = gradebook.db
    if row_class is SourceCell or issubclass(row_class, BaseCell):
        query = db.query(row_class.name, row_class).join(Notebook, Notebook.id == row_class.notebook_id)
    else:
        query = db.query(BaseCell.name, row_class).join(BaseCell, BaseCell.id == row_class.cell_id)\
            .join(SubmittedNotebook, SubmittedNotebook.id == row_class.notebook_id)\
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)\
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)\
            .join(Student, Student.id == SubmittedAssignment.student_id)\
            .filter(Student.id == student)
    query = query.join(Assignment, Assignment.id == Notebook.assignment_id)\
        .filter(Notebook.name == notebook, Assignment.name == assignment)
    return dict(query.all())


def _look_up_in(rows: dict, what: str):
    """A stand-in for one of nbgrader's ``find_*`` methods, answering from ``rows`` with its error when missing."""
    from nbgrader.api import MissingEntry

    def find(name: str, notebook: str, assignment: str, student: str | None = None):
        try:
            return rows[name]
        except KeyError:
            raise MissingEntry(f"No such {what}: {assignment}/{notebook}/{name}" + (f" for {student}" if student else ""))
    return find


class OverwriteCellsAtOnce(OverwriteCells):
    """nbgrader's OverwriteCells with the instructor's cells of the notebook fetched in one query, not one query per
    cell, twice (a tenth of the coordinator's time per student, benchmarks/coordinator_scale.py). Same checks, same
    fixes."""

    def preprocess_cell(self, cell, resources, index):
        from nbgrader.api import GradeCell, SourceCell, TaskCell

        gradebook, ids = self.gradebook, (self.notebook_id, self.assignment_id)
        if "find_source_cell" not in vars(gradebook):  # nbgrader opens a new gradebook for each notebook
            gradebook.find_source_cell = _look_up_in(_rows_by_cell_name(gradebook, SourceCell, *ids), "source cell")
            graded = {**_rows_by_cell_name(gradebook, TaskCell, *ids), **_rows_by_cell_name(gradebook, GradeCell, *ids)}
            gradebook.find_graded_cell = _look_up_in(graded, "grade cell")
        return super().preprocess_cell(cell, resources, index)


class SaveAutoGradesAtOnce(SaveAutoGrades):
    """nbgrader's SaveAutoGrades made one transaction and two queries per notebook: its commit after every cell
    (about forty per notebook, each a disk sync) waits for one at the end, and the grades and comments it
    looks up cell by cell are fetched together (together a third of the coordinator's time per student,
    benchmarks/coordinator_scale.py). A student's grades land together or not at all; what is saved is nbgrader's
    own."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Comment, Grade, Gradebook

        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            ids = (self.notebook_id, self.assignment_id, self.student_id)
            self.gradebook.find_grade = _look_up_in(_rows_by_cell_name(self.gradebook, Grade, *ids), "grade")
            self.gradebook.find_comment = _look_up_in(_rows_by_cell_name(self.gradebook, Comment, *ids), "comment")
            session = self.gradebook.db
            session.commit = lambda: None  # the cells' commits (SaveAutoGrades._add_score, _add_comment)
            try:
                nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            finally:
                del session.commit
            session.commit()
        return nb, resources
