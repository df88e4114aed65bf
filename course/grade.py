"""`course grade`: autograde submitted/<student>/<assignment>/ through nbgrader, several students at once.

Scores go to nbgrader's gradebook. Each student gets one line saying what happened; a student's code
failing is a result, not an error: the command exits non-zero only when the grader itself fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from .grading import quick_imports  # noqa: F401  (before nbgrader, which imports nbformat)
from .coursedir import CourseError, course_root, nbgrader_api
from .grading.cluster import GradingCluster

# nbgrader and what comes with it (a second to import) are imported where used: the grading workers start first
# and load while the coordinator does (GradingCluster.start).

GRADED_MARKER = ".course-graded.json"


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
    interrupted: bool = False  # the run stopped before this student was done
    unchanged: bool = False  # graded by an earlier run from the same submission

    def describe(self) -> str:
        if self.interrupted:
            return "[yellow]not graded yet[/]: the run was stopped"
        if not self.graded:
            return f"[red]not graded[/]: {self.grader_error}"
        text = f"{self.score:g}/{self.max_score:g}"
        if self.stopped:
            text += f"  [yellow]stopped early[/]: {self.stopped}"
        elif self.failed_tests:
            text += f"  failed {len(self.failed_tests)} test(s): {', '.join(self.failed_tests)}"
        else:
            text += "  [green]all tests passed[/]"
        if self.unchanged:
            text += "  (unchanged since graded)"
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
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            if gradebook.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise CourseError(f"Could not register '{assignment}' in the gradebook:\n{result['error']}\n{result['log']}")


def read_results(api, root: Path, assignment: str, students: list[str]) -> list[StudentResult]:
    """Each student's result as the gradebook has it, in one session however many students there are."""
    from nbgrader.api import Gradebook

    results = []
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        for student in students:
            submission = gradebook.find_submission(assignment, student)
            failed = tuple(
                grade.name
                for notebook in submission.notebooks
                for grade in notebook.grades
                if grade.max_score and (grade.score or 0) < grade.max_score
            )
            results.append(StudentResult(student, True, submission.score, submission.max_score, failed))
    for result in results:
        result.stopped = stopped_reason(root / "autograded" / result.student / assignment)
        result.flagged = tuple(disagreements(root / "autograded" / result.student / assignment))
    return results


def disagreements(autograded_dir: Path) -> list[str]:
    """Test cells that passed in the student's kernel but failed verification outside it: the mark of tampering.

    (The other way round, a cell the kernel never reached but whose function verifies, is no cause for alarm.)
    """
    from .grading.preprocessors import VERIFICATION_FILE

    path = autograded_dir / VERIFICATION_FILE
    if not path.is_file():
        return []
    return [item["cell"] for item in json.loads(path.read_text()).get("disagreements", []) if item["kernel"] and not item["trusted"]]


def stopped_reason(autograded_dir: Path) -> str | None:
    import nbformat

    from .grading.preprocessors import GRADING_STOPPED

    for path in sorted(autograded_dir.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.get("ename") == GRADING_STOPPED and not output.evalue.startswith("This cell did not run"):
                    return output.evalue
    return None


def submission_digest(submission_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(submission_dir.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(submission_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def students_in_gradebook(api, assignment: str) -> set[str]:
    """Students with a submission of ``assignment`` in the gradebook: one query, however large the class."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            return {submission.student_id for submission in gradebook.find_assignment(assignment).submissions}
        except MissingEntry:
            return set()


def already_graded(root: Path, assignment: str, student: str, in_gradebook: set[str]) -> bool:
    """Graded to the end by an earlier run, from the submission as it is now (an interrupted run resumes here)."""
    marker = root / "autograded" / student / assignment / GRADED_MARKER
    if student not in in_gradebook or not marker.is_file():
        return False
    return json.loads(marker.read_text()).get("submission") == submission_digest(root / "submitted" / student / assignment)


def split_pipeline(pipeline: list) -> tuple[list[str], list]:
    """The configured autograde pipeline, cut after its execution stage (which runs on the workers)."""
    from nbgrader.preprocessors import Execute
    from traitlets.utils.importstring import import_item

    from .grading.preprocessors import ExportArtifacts, TrustedVerification

    classes = [import_item(item) if isinstance(item, str) else item for item in pipeline]
    remote = [index for index, cls in enumerate(classes) if issubclass(cls, (ExportArtifacts, Execute, TrustedVerification))]
    if not remote:
        raise CourseError("c.Autograde.autograde_preprocessors in nbgrader_config.py has no execution step (Execute).")
    cut = remote[-1] + 1
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in classes[:cut]], classes[cut:]


def autograde(api, assignment: str, student: str) -> dict:
    """nbgrader's autograde of one student (as ``NbGraderAPI.autograde``), logging to this student's log only."""
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log

    log = logging.getLogger(f"course.grade.{assignment}.{student}")
    log.setLevel(logging.INFO)
    log.propagate = False
    api.coursedir.assignment_id, api.coursedir.student_id = assignment, student
    app = Autograde(coursedir=api.coursedir, parent=api, log=log)
    app.force, app.create_student = True, True
    return capture_log(app)


def grade_student(cluster: GradingCluster, root: Path, assignment: str, student: str, overrides: dict) -> StudentResult:
    """One student, in a thread of its own; nbgrader's steps hold the gradebook lock, the worker's do not."""
    try:
        return _grade_student(cluster, root, assignment, student, overrides)
    except Exception as error:  # a fault of the grader's: report it with this student, grade the others
        return StudentResult(student, False, grader_error=f"{type(error).__name__}: {error}")


def _grade_student(cluster: GradingCluster, root: Path, assignment: str, student: str, overrides: dict) -> StudentResult:
    from nbgrader.api import Gradebook, MissingEntry

    with cluster.gradebook_lock:
        if cluster.stopping.is_set():
            return StudentResult(student, False, interrupted=True)
        api = nbgrader_api(root, **overrides)
        outcome = autograde(api, assignment, student)
        if cluster.stopping.is_set() and not outcome["success"]:
            # nbgrader removed the partial notebook; no half-made score may stand in the gradebook either
            with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
                try:
                    gradebook.remove_submission(assignment, student)
                except MissingEntry:
                    pass
            return StudentResult(student, False, interrupted=True)
        if not outcome["success"]:
            result = StudentResult(student, False, grader_error=grader_failure(outcome))
            (root / "autograded").mkdir(exist_ok=True)
            log_path = root / "autograded" / f"{student}.{assignment}.grading-error.log"
            log_path.write_text(f"{outcome.get('error', '')}\n{outcome.get('log', '')}")
            result.grader_error += f" (log: {log_path.relative_to(root)})"
            return result
        [result] = read_results(api, root, assignment, [student])
        marker = root / "autograded" / student / assignment / GRADED_MARKER
        executions = [
            {"notebook": execution.notebook_name, "worker": execution.worker, "seconds": round(execution.seconds, 2),
             "peak_memory_bytes": execution.peak_memory_bytes}
            for name, execution in cluster.outcomes if name == student
        ]
        marker.write_text(json.dumps({"submission": submission_digest(root / "submitted" / student / assignment),
                                      "executions": executions}, indent=1))
        return result


def main(
    assignment: str,
    student: str | list[str] | None = None,
    root: Path | None = None,
    console: Console | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
) -> list[StudentResult]:
    """Grade the class (or one student) on ``workers`` local processes, or on the Dask cluster at ``scheduler``.

    Without ``force``, students graded to the end from an unchanged submission keep their grade (so a stopped
    run resumes where it stopped); students named in ``student`` (one, or a list) are always regraded.
    """
    console = console or Console()
    root = course_root(root)
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"No assignment '{assignment}' under {root / 'source'}.")
    if workers is not None and workers < 1:
        raise CourseError(f"--workers must be at least 1 (got {workers}).")
    students = submitted_students(root, assignment)
    if student is not None:
        named = [student] if isinstance(student, str) else list(student)
        for name in named:
            if name not in students:
                raise CourseError(f"No submission for student '{name}': expected {root / 'submitted' / name / assignment}/.")
        students = named
    if not students:
        raise CourseError(f"No submissions to grade: put them in {root / 'submitted'}/<student>/{assignment}/.")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # kernels inherit it: less TensorFlow noise in the notebooks
    cluster = GradingCluster(workers or os.cpu_count() or 1, scheduler, root, tasks=len(students))
    cluster.start()
    try:
        return _grade(console, root, assignment, student, students, force, cluster)
    finally:
        cluster.close()


def _grade(console, root, assignment, student, students, force, cluster) -> list[StudentResult]:
    from .grading.preprocessors import ExecuteOnWorker
    from .grading.sandbox import bwrap_available
    from .grading.worker import WorkerNotReadyError, check_ready

    api = nbgrader_api(root)
    scheduler = cluster.scheduler
    if scheduler is None and api.config.ResilientExecute.get("sandboxed", True) and not bwrap_available():
        raise CourseError(
            "Student kernels run in a bubblewrap sandbox, and bwrap is not installed. Install it "
            "(Debian/Ubuntu: sudo apt-get install bubblewrap), or set c.ResilientExecute.sandboxed = False and "
            "c.ExportArtifacts.sandboxed = False in nbgrader_config.py to grade without one."
        )
    if scheduler is None:
        try:
            check_ready(api.config)
        except WorkerNotReadyError as error:
            raise CourseError(str(error).replace("worker local", "this machine")) from None
    ensure_in_gradebook(api, assignment)
    stage, rest = split_pipeline(list(api.config.Autograde.autograde_preprocessors))
    overrides = {"Autograde": {"autograde_preprocessors": [ExecuteOnWorker, *rest]}}

    in_gradebook = students_in_gradebook(api, assignment) if not force and student is None else set()
    unchanged = {name for name in students if already_graded(root, assignment, name, in_gradebook)}
    pending = [name for name in students if name not in unchanged]
    results = read_results(api, root, assignment, [name for name in students if name in unchanged])
    for result in results:
        result.unchanged = True
        console.print(f"{result.student}: {result.describe()}")

    interrupted = False
    if pending:
        try:
            cluster.open(stage, dict(api.config), tasks=len(pending))
        except (OSError, TimeoutError) as error:
            raise CourseError(f"Could not start the grading workers: {error}") from None
        with environment_kept_for_the_run():
            interrupted = grade_pending(console, cluster, root, assignment, pending, overrides, results)
    summarize(console, assignment, results, students)
    if interrupted:
        raise KeyboardInterrupt
    return results


@contextmanager
def environment_kept_for_the_run():
    """nbgrader 0.9.6's ``utils.setenv`` looks the old value up by the new one (``os.environ.get(value)``), so it
    deletes NBGRADER_EXECUTION after every student; with students graded at once, one deletion pulls it from under
    another (KeyError). For the run, its variables are set and left set, and restored at the end."""
    import nbgrader.utils

    saved, original = dict(os.environ), nbgrader.utils.setenv

    @contextmanager
    def setenv(**variables):
        os.environ.update(variables)
        yield

    nbgrader.utils.setenv = setenv
    try:
        yield
    finally:
        nbgrader.utils.setenv = original
        for name in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING"):
            if name in saved:
                os.environ[name] = saved[name]
            else:
                os.environ.pop(name, None)


def grade_pending(console, cluster, root, assignment, pending, overrides, results) -> bool:
    """Grade ``pending`` students at once on the open ``cluster``, appending to ``results``; True when stopped by Ctrl-C."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    console.print(f"Grading {len(pending)} submission(s) of {assignment} on {cluster.describe()}.")
    with Progress(*columns, console=console, transient=True) as progress, \
            ThreadPoolExecutor(max_workers=cluster.slots + 1, thread_name_prefix="grade") as threads:
        task = progress.add_task(f"Grading {assignment}", total=len(pending))
        futures = [threads.submit(grade_student, cluster, root, assignment, name, overrides) for name in pending]
        try:
            for future in as_completed(futures):
                result = future.result()
                console.print(f"{result.student}: {result.describe()}")
                results.append(result)
                progress.advance(task)
        except KeyboardInterrupt:
            console.print("[yellow]Interrupted[/]: stopping the submissions in progress; finished grades are kept.")
            cluster.stop()
            reported = {result.student for result in results}
            for future in futures:
                if not future.cancel() and future.result().student not in reported:
                    results.append(future.result())
            return True
    return False


def summarize(console: Console, assignment: str, results: list[StudentResult], students: list[str]) -> None:
    graded = [result for result in results if result.graded]
    unchanged = [result for result in graded if result.unchanged]
    stopped = [result for result in graded if result.stopped]
    flagged = [result for result in graded if result.flagged]
    failed = [result for result in results if not result.graded and not result.interrupted]
    waiting = len(students) - len(graded) - len(failed)
    console.print(
        f"Graded {len(graded)} of {len(students)} submission(s) of {assignment}"
        + (f" ({len(unchanged)} unchanged since their last grading)" if unchanged else "")
        + (f"; {len(stopped)} stopped early" if stopped else "")
        + (f"; {len(flagged)} flagged" if flagged else "")
        + (f"; [red]{len(failed)} could not be graded[/]" if failed else "")
        + (f"; [yellow]{waiting} not graded yet: run the same command again to resume[/]" if waiting else "")
        + ". Scores are in the gradebook; `course export` writes them to CSV."
    )
