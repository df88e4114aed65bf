"""`course grade`: autograde submitted/<student>/<assignment>/ through nbgrader, one student at a time.

Scores go to nbgrader's gradebook. Each student gets one line saying what happened; a student's code
failing is a result, not an error: the command exits non-zero only when the grader itself fails.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .coursedir import CourseError, course_root, nbgrader_api
from .grading.preprocessors import GRADING_STOPPED, VERIFICATION_FILE
from .grading.sandbox import bwrap_available


@dataclass
class StudentResult:
    student: str
    graded: bool
    score: float = 0.0
    max_score: float = 0.0
    failed_tests: tuple[str, ...] = ()
    stopped: str | None = None  # why execution stopped early (kernel died, timeout)
    flagged: tuple[str, ...] = ()  # test cells where the kernel and the verification outside it disagreed
    grader_error: str | None = None

    def describe(self) -> str:
        if not self.graded:
            return f"[red]not graded[/]: {self.grader_error}"
        text = f"{self.score:g}/{self.max_score:g}"
        if self.stopped:
            text += f"  [yellow]stopped early[/]: {self.stopped}"
        elif self.failed_tests:
            text += f"  failed {len(self.failed_tests)} test(s): {', '.join(self.failed_tests)}"
        else:
            text += "  [green]all tests passed[/]"
        if self.flagged:
            text += f"  [magenta]flagged[/]: the kernel's result was overruled on {', '.join(self.flagged)}"
        return text


def grader_failure(outcome: dict) -> str:
    """The root cause in nbgrader's log (its own summary line says only "see the traceback above")."""
    text = f"{outcome.get('log', '')}\n{outcome.get('error', '')}"
    causes = [
        match.group(1).strip()
        for match in re.finditer(r"^\s*((?:[\w.]+\.)?\w+(?:Error|Exception): .+)$", text, re.MULTILINE)
        if "NbGraderException" not in match.group(1)
    ]
    return causes[-1] if causes else "nbgrader failed; see its log"


def submitted_students(root: Path, assignment: str) -> list[str]:
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(path.name for path in submitted.iterdir() if (path / assignment).is_dir())


def ensure_in_gradebook(api, assignment: str) -> None:
    """nbgrader needs the assignment's cells in the gradebook; a fresh clone has none, so release it once."""
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            if gradebook.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise CourseError(f"Could not register '{assignment}' in the gradebook:\n{result['error']}\n{result['log']}")


def read_result(api, root: Path, assignment: str, student: str) -> StudentResult:
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        failed = tuple(
            grade.name
            for notebook in submission.notebooks
            for grade in notebook.grades
            if grade.max_score and (grade.score or 0) < grade.max_score
        )
        result = StudentResult(student, True, submission.score, submission.max_score, failed)
    result.stopped = stopped_reason(root / "autograded" / student / assignment)
    result.flagged = tuple(disagreements(root / "autograded" / student / assignment))
    return result


def disagreements(autograded_dir: Path) -> list[str]:
    """Test cells that passed in the student's kernel but failed verification outside it: the mark of tampering.

    (The other way round, a cell the kernel never reached but whose function verifies, is no cause for alarm.)
    """
    path = autograded_dir / VERIFICATION_FILE
    if not path.is_file():
        return []
    return [item["cell"] for item in json.loads(path.read_text()).get("disagreements", []) if item["kernel"] and not item["trusted"]]


def stopped_reason(autograded_dir: Path) -> str | None:
    for path in sorted(autograded_dir.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.get("ename") == GRADING_STOPPED and not output.evalue.startswith("This cell did not run"):
                    return output.evalue
    return None


def main(assignment: str, student: str | None = None, root: Path | None = None, console: Console | None = None) -> list[StudentResult]:
    console = console or Console()
    root = course_root(root)
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"No assignment '{assignment}' under {root / 'source'}.")
    students = submitted_students(root, assignment)
    if student is not None:
        if student not in students:
            raise CourseError(
                f"No submission for student '{student}': expected {root / 'submitted' / student / assignment}/."
            )
        students = [student]
    if not students:
        raise CourseError(f"No submissions to grade: put them in {root / 'submitted'}/<student>/{assignment}/.")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # kernels inherit it: less TensorFlow noise in the notebooks
    api = nbgrader_api(root)
    if api.config.ResilientExecute.get("sandboxed", True) and not bwrap_available():
        raise CourseError(
            "Student kernels run in a bubblewrap sandbox, and bwrap is not installed. Install it "
            "(Debian/Ubuntu: sudo apt-get install bubblewrap), or set c.ResilientExecute.sandboxed = False "
            "c.ExportArtifacts.sandboxed = False in nbgrader_config.py to grade without one."
        )
    ensure_in_gradebook(api, assignment)
    results = []
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"Grading {assignment}", total=len(students))
        for name in students:
            progress.update(task, description=f"Grading {assignment}: {name}")
            outcome = api.autograde(assignment, name, force=True, create=True)
            if outcome["success"]:
                result = read_result(api, root, assignment, name)
            else:
                result = StudentResult(name, False, grader_error=grader_failure(outcome))
                (root / "autograded").mkdir(exist_ok=True)
                log_path = root / "autograded" / f"{name}.{assignment}.grading-error.log"
                log_path.write_text(f"{outcome.get('error', '')}\n{outcome.get('log', '')}")
                result.grader_error += f" (log: {log_path.relative_to(root)})"
            console.print(f"{name}: {result.describe()}")
            results.append(result)
            progress.advance(task)
    graded = [result for result in results if result.graded]
    stopped = [result for result in graded if result.stopped]
    flagged = [result for result in graded if result.flagged]
    console.print(
        f"Graded {len(graded)} of {len(results)} submission(s) of {assignment}"
        + (f"; {len(stopped)} stopped early" if stopped else "")
        + (f"; {len(flagged)} flagged" if flagged else "")
        + (f"; [red]{len(results) - len(graded)} could not be graded[/]" if len(graded) < len(results) else "")
        + ". Scores are in the gradebook; `course export` writes them to CSV."
    )
    return results
