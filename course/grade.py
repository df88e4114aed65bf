"""`course grade`: autograde submitted/<student>/<assignment>/ through nbgrader, several students at once.

Scores go to nbgrader's gradebook. Each student gets one line saying what happened; a student's code
failing is a result, not an error: the command exits non-zero only when a submission could not be graded (the
grader failed on it, or it was refused: a link, an unsafe student id, a file too large, another run grading it).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from traitlets import Bool
from traitlets.config import Configurable

from .grading import quick_imports  # noqa: F401  (before nbgrader, which imports nbformat)
from .coursedir import CourseError, course_root, nbgrader_api
from .spec import load as load_spec
from .grading.cluster import GradingCluster
from .grading.records import GRADED_MARKER, disagreements, flags, graded_digest, stopped_reason, write_marker  # noqa: F401

# nbgrader and what comes with it (a second to import) are imported where used: the grading workers start first
# and load while the coordinator does (GradingCluster.start).

LOCK_FILE = ".course-grade.lock"
MAX_NOTEBOOK_BYTES = 50_000_000  # a submitted notebook larger than this is refused, with the reason


@dataclass
class StudentResult:
    student: str
    graded: bool
    score: float = 0.0
    max_score: float = 0.0
    failed_tests: tuple[str, ...] = ()
    stopped: str | None = None  # why execution stopped early (kernel died, timeout)
    flagged: tuple[str, ...] = ()  # why a human should look: disagreements, anything not verified
    grader_error: str | None = None
    interrupted: bool = False  # the run stopped before this student was done
    unchanged: bool = False  # graded by an earlier run from the same submission
    how: str | None = None  # with --reverify: re-verified from its stored run, or why it was run again

    def describe(self) -> str:
        """One line of console markup; everything a student's files could have shaped is escaped."""
        if self.interrupted:
            return "[yellow]not graded yet[/]: the run was stopped"
        if not self.graded:
            return f"[red]not graded[/]: {escape(str(self.grader_error))}"
        text = f"{self.score:g}/{self.max_score:g}"
        if self.stopped:
            text += f"  [yellow]stopped early[/]: {escape(self.stopped)}"
        elif self.failed_tests:
            text += f"  failed {len(self.failed_tests)} test(s): {escape(', '.join(self.failed_tests))}"
        else:
            text += "  [green]all tests passed[/]"
        if self.unchanged:
            text += "  (unchanged since graded)"
        if self.how:
            text += f"  [dim]({escape(self.how)})[/]"
        if self.flagged:
            text += f"  [magenta]flagged[/]: {escape('; '.join(self.flagged))}"
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
    """Every folder name under submitted/ with this assignment in it (read with scandir: no glob misreads a name)."""
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    with os.scandir(submitted) as entries:
        return sorted(entry.name for entry in entries if os.path.isdir(os.path.join(entry.path, assignment)))


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
        raise CourseError(f"Could not register '{assignment}' in the gradebook:\n{result.get('error', '')}\n{result.get('log', '')}")


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
        result.flagged = tuple(flags(root / "autograded" / result.student / assignment))
    return results


@dataclass
class Staged:
    """A submission as the grader took it in: its notebooks' bytes, copied where only the grader writes."""

    digest: str  # sha256 of the notebooks' names and bytes: what is graded, and what resume compares
    notes: list[str]  # what was left out, and why


def stage_submission(root: Path, assignment: str, student: str, notebooks: list[str], staging: Path | None) -> Staged:
    """Only the notebook crosses in: read each of the assignment's notebooks from submitted/<student>/<assignment>/
    as a regular file of bounded size (no link followed, no FIFO read), and, with ``staging``, copy it there with
    the submission's timestamp. Everything else in the folder is left alone and named in the notes."""
    from .grading.exceptions import SubmissionRefused
    from .grading.untrusted_files import open_dir, read_regular

    folder = Path("submitted") / student / assignment
    digest, notes = hashlib.sha256(), []
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = root_fd
        for part in folder.parts:  # every level refused if it is a link
            next_fd = open_dir(Path(part), dir_fd=fd)
            if fd != root_fd:
                os.close(fd)
            fd = next_fd
        try:
            with os.scandir(fd) as entries:
                present = sorted(entry.name for entry in entries)
            files = {}
            for name in notebooks:
                if name not in present:
                    continue
                try:
                    files[name] = read_regular(name, MAX_NOTEBOOK_BYTES, dir_fd=fd)
                except SubmissionRefused as error:
                    raise SubmissionRefused(f"{folder / name}: {error}".replace(f"{name}: {name}", name)) from None
            timestamp = None
            if "timestamp.txt" in present:
                try:
                    timestamp = read_regular("timestamp.txt", 1000, dir_fd=fd)
                except SubmissionRefused as error:
                    notes.append(f"timestamp.txt ignored: {error}")
            extra = [name for name in present if name not in files and name != "timestamp.txt"]
            if extra:
                notes.append(f"only the notebook is graded; left alone: {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else ""))
        finally:
            os.close(fd)
    finally:
        if fd != root_fd:
            os.close(root_fd)
    if not files:
        raise SubmissionRefused(f"{folder} holds none of the assignment's notebooks ({', '.join(notebooks)})")
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    if staging is not None:
        target = staging / student / assignment
        target.mkdir(parents=True)
        for name, content in files.items():
            (target / name).write_bytes(content)
        if timestamp is not None:
            (target / "timestamp.txt").write_bytes(timestamp)
    return Staged(digest.hexdigest(), notes)


def students_in_gradebook(api, assignment: str) -> set[str]:
    """Students with a submission of ``assignment`` in the gradebook: one query, however large the class."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            return {submission.student_id for submission in gradebook.find_assignment(assignment).submissions}
        except MissingEntry:
            return set()


def already_graded(root: Path, assignment: str, student: str, in_gradebook: set[str], digest: str) -> bool:
    """Graded to the end by an earlier run, from exactly these bytes (an interrupted run resumes here). The marker
    holds the hash of the bytes that were graded, taken before grading: a file replaced meanwhile is regraded."""
    return student in in_gradebook and graded_digest(root / "autograded" / student / assignment) == digest


class StudentLocks:
    """Which students this run grades: two `course grade` runs on one course never grade the same student at once.

    One lock file, one byte-range lock per student (so a class of thousands needs one file descriptor). Runs on
    disjoint students (several graders sharing a PostgreSQL gradebook) go ahead side by side.
    """

    def __init__(self, root: Path):
        (root / "autograded").mkdir(exist_ok=True)
        self.path = root / "autograded" / LOCK_FILE
        self.handle = open(self.path, "a+b")

    @staticmethod
    def _offset(assignment: str, student: str) -> int:
        return int(hashlib.sha256(f"{assignment}\0{student}".encode()).hexdigest()[:15], 16)

    def take(self, assignment: str, student: str) -> bool:
        try:
            fcntl.lockf(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self._offset(assignment, student))
            return True
        except OSError:
            return False

    def close(self) -> None:
        self.handle.close()  # releases every lock this run holds


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


def grade_student(cluster: GradingCluster, root: Path, assignment: str, student: str, overrides: dict, digest: str) -> StudentResult:
    """One student, in a thread of its own; nbgrader's steps hold the gradebook lock, the worker's do not."""
    try:
        return _grade_student(cluster, root, assignment, student, overrides, digest)
    except Exception as error:  # a fault of the grader's: report it with this student, grade the others
        return StudentResult(student, False, grader_error=f"{type(error).__name__}: {error}")


class GradePolicy(Configurable):
    """What a failed grade does to the score before it: c.GradePolicy.<name> in nbgrader_config.py."""

    keep_old_score_on_failure = Bool(False, help="Keep a student's old score when their regrade fails (flagged in "
                                     "every export), instead of removing it.").tag(config=True)


def void_old_score(api, assignment: str, student: str) -> None:
    """A grade that failed leaves no score behind: an old one would stand for work that is no longer there, unless
    the instructor chose to keep it (``GradePolicy``), which every export then flags."""
    from nbgrader.api import Gradebook, MissingEntry

    if GradePolicy(config=api.config).keep_old_score_on_failure:
        return

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        try:
            gradebook.remove_submission(assignment, student)
        except MissingEntry:
            pass


def _grade_student(cluster: GradingCluster, root: Path, assignment: str, student: str, overrides: dict, digest: str) -> StudentResult:
    with cluster.gradebook_lock:
        if cluster.stopping.is_set():
            return StudentResult(student, False, interrupted=True)
        api = nbgrader_api(root, **overrides)
        outcome = autograde(api, assignment, student)
        if cluster.stopping.is_set() and not outcome["success"]:
            void_old_score(api, assignment, student)  # nbgrader removed the partial notebook; no half-made score either
            return StudentResult(student, False, interrupted=True)
        if not outcome["success"]:
            void_old_score(api, assignment, student)
            result = StudentResult(student, False, grader_error=grader_failure(outcome))
            (root / "autograded").mkdir(exist_ok=True)
            log_path = root / "autograded" / f"{student}.{assignment}.grading-error.log"
            log_path.write_text(f"{outcome.get('error', '')}\n{outcome.get('log', '')}")
            result.grader_error += f" (log: {log_path.relative_to(root)})"
            return result
        (root / "autograded" / f"{student}.{assignment}.grading-error.log").unlink(missing_ok=True)
        [result] = read_results(api, root, assignment, [student])
        executions = [
            {"notebook": execution.job_id, "worker": execution.worker, "seconds": round(execution.seconds, 2),
             "peak_memory_bytes": execution.peak_memory_bytes}
            for name, execution in cluster.outcomes if name == student
        ]
        write_marker(root / "autograded" / student / assignment, digest, executions)
        if cluster.reverification is not None:
            result.how = cluster.reverification.how.get(student)
        return result


def main(
    assignment: str,
    student: str | list[str] | None = None,
    root: Path | None = None,
    console: Console | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    cluster_factory=GradingCluster,
    reverify: bool = False,
    coordinators: int = 1,
) -> list[StudentResult]:
    """Grade the class (or one student) on ``workers`` local processes, or on the Dask cluster at ``scheduler``.

    ``cluster_factory`` makes the run's GradingCluster (benchmarks give one whose execution returns at once).
    With ``reverify``, every student is graded again from their stored run where it still stands
    (course.grading.reverify): new verdicts of the current spec, no notebook run. With ``coordinators`` > 1,
    nbgrader's steps run in that many processes at once (grade_in_coordinators), on the same workers.

    Without ``force``, students graded to the end from an unchanged submission keep their grade (so a stopped
    run resumes where it stopped); students named in ``student`` (one, or a list) are always regraded.
    """
    console = console or Console()
    root = course_root(root)
    if not (root / "source" / assignment).is_dir():
        raise CourseError(f"No assignment '{assignment}' under {root / 'source'}.")
    if workers is not None and workers < 1:
        raise CourseError(f"--workers must be at least 1 (got {workers}).")
    if coordinators < 1:
        raise CourseError(f"--coordinators must be at least 1 (got {coordinators}).")
    load_spec(assignment)  # what grading checks: without it, nothing can be graded (SpecError says what to write)
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
    locks = StudentLocks(root)
    try:
        cluster = cluster_factory(workers or os.cpu_count() or 1, scheduler, root, tasks=len(students))
        cluster.start()
        try:
            return _grade(console, root, assignment, student, students, force or reverify, cluster, locks, reverify, coordinators)
        finally:
            cluster.close()
    finally:
        locks.close()


def check_sandbox(api, console: Console, local: bool) -> None:
    """Grading starts only where the sandbox can; grading without it is the instructor's explicit choice, said."""
    from .grading.bwrap_binary import BwrapBinary, bwrap_version, userns_problem
    from .grading.exceptions import SandboxUnavailableError
    from .grading.sandbox import Sandbox, find_bwrap as configured_bwrap, process_cap

    sandbox = Sandbox(config=api.config)
    if not sandbox.enabled:
        console.print("[bold red]warning:[/] c.Sandbox.enabled = False in nbgrader_config.py: student code runs "
                      "WITHOUT a sandbox, with your rights on this machine. The export records it.")
        return
    if not local:
        return  # each worker checks its own (course.grading.worker.check_ready)
    try:
        path = configured_bwrap(sandbox.bwrap)
    except SandboxUnavailableError as error:
        raise CourseError(str(error)) from None
    problem = userns_problem(BwrapBinary(path, bwrap_version(path), "in use"))
    if problem:
        raise CourseError(f"{problem} Until then, `course grade` will not run student code (`course doctor` checks this machine).")
    if process_cap() is None:
        console.print("[yellow]note:[/] this machine lets grading make no pids cgroup, so a sandbox's number of "
                      "processes is not capped (memory, CPU time and file size still are). `course doctor` says why.")


def _grade(console, root, assignment, student, students, force, cluster, locks, reverify=False, coordinators=1) -> list[StudentResult]:
    from .student.data import MnistLoadError, resolve_mnist_file
    from .grading.exceptions import SubmissionRefused
    from .student_ids import id_problem, lookalikes, visible

    api = nbgrader_api(root)
    local = cluster.scheduler is None
    check_sandbox(api, console, local)
    mnist_file = None
    if local or reverify:  # --reverify verifies here: its verifiers need MNIST on this machine too
        try:
            mnist_file = str(resolve_mnist_file())
        except MnistLoadError as error:
            if local:
                raise CourseError(f"Grading needs MNIST on this machine: {error}") from None
            console.print(f"[yellow]note:[/] no MNIST on this machine ({escape(str(error))}): --reverify cannot verify "
                          "here, so every notebook is run again on the workers.")
    ensure_in_gradebook(api, assignment)
    notebooks = sorted(path.name for path in (root / "source" / assignment).glob("*.ipynb"))

    results: list[StudentResult] = []
    digests: dict[str, str] = {}
    for first, second in lookalikes(students):
        console.print(f"[yellow]note:[/] the student ids {escape(visible(first))} and {escape(visible(second))} look alike: "
                      "check they are two students, not one filed twice.")
    for name in students:
        problem = id_problem(name)
        if problem is None:
            try:
                staged = stage_submission(root, assignment, name, notebooks, None)
                digests[name] = staged.digest
                continue
            except (SubmissionRefused, OSError) as error:
                problem = f"submission refused: {error}"
                void_old_score(api, assignment, name)
                (root / "autograded").mkdir(exist_ok=True)
                (root / "autograded" / f"{name}.{assignment}.grading-error.log").write_text(f"{problem}\n")
        result = StudentResult(visible(name), False, grader_error=problem)
        results.append(result)
        console.print(f"{escape(visible(name))}: {result.describe()}")
    in_gradebook = students_in_gradebook(api, assignment) if not force and student is None else set()
    unchanged = {name for name, digest in digests.items() if already_graded(root, assignment, name, in_gradebook, digest)}
    pending = []
    for name in students:
        if name not in digests or name in unchanged:
            continue
        if locks.take(assignment, name):
            pending.append(name)
            continue
        result = StudentResult(name, False, grader_error=(
            f"another `course grade` on this course is grading this student now (lock: {locks.path}); "
            "run again when it has finished"))
        results.append(result)
        console.print(f"{escape(name)}: {result.describe()}")
    kept = read_results(api, root, assignment, [name for name in students if name in unchanged])
    for result in kept:
        result.unchanged = True
        console.print(f"{escape(result.student)}: {result.describe()}")
    results += kept

    interrupted = False
    if pending:
        staging = Path(tempfile.mkdtemp(prefix="course-staged-"))
        try:
            for name in pending:
                staged = stage_submission(root, assignment, name, notebooks, staging)
                digests[name] = staged.digest  # the bytes actually graded: resume compares these
                for note in staged.notes:
                    console.print(f"{escape(name)}: [dim]{escape(note)}[/]")
            try:
                cluster.open(dict(api.config), mnist_file, tasks=len(pending))
            except (OSError, TimeoutError) as error:
                raise CourseError(f"Could not start the grading workers: {error}") from None
            shard = Shard(root, assignment, pending, notebooks, digests, str(staging), dict(api.config), mnist_file,
                          cluster.workers, reverify, cluster.task)
            stop = threading.Event()  # Ctrl-C: the submissions in progress stop, finished grades are kept
            with progress_shown(console, assignment, len(pending)) as advance, ctrl_c_sets(stop, console):
                def report(result: StudentResult) -> None:
                    console.print(f"{escape(result.student)}: {result.describe()}")
                    results.append(result)
                    advance()

                if coordinators > 1:
                    console.print(f"Grading {len(pending)} submission(s) of {assignment} on {cluster.describe()}, "
                                  f"{coordinators} coordinator processes.")
                    grade_in_coordinators(cluster, shard, coordinators, report, stop)
                else:
                    console.print(f"Grading {len(pending)} submission(s) of {assignment} on {cluster.describe()}.")
                    grade_shard(cluster, shard, report, stop)
            interrupted = stop.is_set()
        finally:
            shutil.rmtree(staging, ignore_errors=True)
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


@contextmanager
def one_engine_per_gradebook():
    """nbgrader opens the gradebook about ten times per student, each time with a new SQLAlchemy engine (so
    SQLAlchemy compiles every query anew: its statement cache belongs to the engine) and each time checking that
    every table exists (a query per table): together over a quarter of the coordinator's time per student
    (benchmarks/coordinator_scale.py). For the run, one engine per database URL serves them all, and its tables are
    checked the first time only; closing a gradebook still returns its connections (``dispose``), and nothing else
    changes."""
    import nbgrader.api

    original_engine, original_inspect = nbgrader.api.create_engine, nbgrader.api.inspect
    metadata = nbgrader.api.Base.metadata
    engines, inspectors, checked, lock = {}, {}, set(), threading.Lock()

    def create_engine(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        with lock:
            if key not in engines:
                engines[key] = original_engine(url, **options)
            return engines[key]

    def inspect(engine):  # once the tables exist, the same Inspector, whose cache keeps their names once read
        with lock:
            if engine not in checked:
                return original_inspect(engine)
            if engine not in inspectors:
                inspectors[engine] = original_inspect(engine)
            return inspectors[engine]

    def create_all(bind, **options):
        with lock:
            if bind not in checked:
                type(metadata).create_all(metadata, bind=bind, **options)
                checked.add(bind)

    nbgrader.api.create_engine, nbgrader.api.inspect, metadata.create_all = create_engine, inspect, create_all
    try:
        yield
    finally:
        nbgrader.api.create_engine, nbgrader.api.inspect = original_engine, original_inspect
        del metadata.create_all
        for engine in engines.values():
            engine.dispose()


@dataclass
class Shard:
    """Students one coordinator grades, with what it needs to grade them: data only (it may be another process)."""

    root: Path
    assignment: str
    students: list[str]
    notebooks: list[str]
    digests: dict[str, str]  # the hash of each staged submission's bytes (what resume compares)
    staging: str  # the grader's copies of the submissions (stage_submission)
    config: dict  # the course's nbgrader config
    mnist_file: str | None
    workers: int
    reverify: bool
    task: object  # what a worker does with a Job (GradingCluster.task)


@contextmanager
def progress_shown(console: Console, assignment: str, total: int):
    """A progress bar under the students' lines; yields the function that advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"Grading {assignment}", total=total)
        yield lambda: progress.advance(task)


@contextmanager
def ctrl_c_sets(stop: threading.Event, console: Console):
    """Ctrl-C while grading sets ``stop`` (and says so once) instead of raising KeyboardInterrupt wherever the
    main thread happens to be: a result half reported, or half read from a coordinator process, would be lost."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum, frame):
        if stop.is_set():  # a second Ctrl-C: stop waiting for an orderly end
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        console.print("[yellow]Interrupted[/]: stopping the submissions in progress; finished grades are kept. "
                      "Ctrl-C again to stop at once.")
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def grade_shard(cluster, shard: Shard, report, stop: threading.Event) -> None:
    """Grade ``shard`` on the open ``cluster``, several students at once, calling ``report`` with each result as
    it comes; ``stop`` set stops the submissions in progress (they are reported not graded yet)."""
    cluster.digests = shard.digests
    overrides = {"ExecuteOnWorker": {"executor": cluster}, "CourseDirectory": {"submitted_directory": shard.staging}}
    threading.Thread(target=lambda: (stop.wait(), cluster.stop()), daemon=True, name="stop-watch").start()
    if shard.reverify:
        from traitlets.config import Config

        from .grading.reverify import Reverification

        cluster.reverification = Reverification(shard.root, shard.assignment, Config(shard.config), shard.mnist_file or None,
                                                cluster.workers, shard.digests, cluster.stopping)
        cluster.reverification.start(shard.students, shard.notebooks)
    try:
        with environment_kept_for_the_run(), one_engine_per_gradebook(), \
                ThreadPoolExecutor(max_workers=cluster.slots + 1, thread_name_prefix="grade") as threads:
            futures = [threads.submit(grade_student, cluster, shard.root, shard.assignment, name, overrides, shard.digests[name])
                       for name in shard.students]
            for future in as_completed(futures):
                report(future.result())
    finally:
        if cluster.reverification is not None:
            cluster.reverification.close()


def coordinate(shard: Shard, scheduler: str, results, stop) -> None:
    """One coordinator process of `course grade --coordinators K`: grade ``shard`` on the run's Dask scheduler,
    putting each StudentResult on ``results`` (then None); ``stop`` set is Ctrl-C (the parent stops it, in order)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    reported: set[str] = set()

    def report(result: StudentResult) -> None:
        results.put(result)
        reported.add(result.student)

    cluster = GradingCluster(shard.workers, scheduler, shard.root, tasks=len(shard.students), task=shard.task)
    try:
        cluster.start()
        cluster.open(shard.config, shard.mnist_file, tasks=len(shard.students))
        grade_shard(cluster, shard, report, stop)
    except Exception as error:  # a fault of the grader's: its students are reported not graded, with it
        for name in shard.students:
            if name not in reported:
                report(StudentResult(name, False, grader_error=f"its coordinator process failed: {type(error).__name__}: {error}"))
    finally:
        cluster.close()
        results.put(None)


def grade_in_coordinators(cluster, shard: Shard, coordinators: int, report, stop: threading.Event) -> None:
    """``shard``'s students split over ``coordinators`` processes, each running nbgrader's steps for its students
    on the run's workers, so that the serial part of grading a class is divided among them (docs/benchmarks.md).
    ``stop`` set stops them all, in order."""
    import multiprocessing
    import queue as queues
    from dataclasses import replace

    context = multiprocessing.get_context("spawn")
    results, stopping = context.Queue(), context.Event()
    threading.Thread(target=lambda: (stop.wait(), stopping.set()), daemon=True, name="stop-relay").start()
    parts = [part for part in (shard.students[index::coordinators] for index in range(coordinators)) if part]
    processes = [context.Process(target=coordinate, name=f"coordinator-{index}", args=(
                     replace(shard, students=part, workers=max(1, shard.workers // coordinators)), cluster.address(), results, stopping))
                 for index, part in enumerate(parts)]
    for process in processes:
        process.start()
    reported, finished = set(), 0
    while finished < len(processes):
        try:
            result = results.get(timeout=1)
        except queues.Empty:
            if not any(process.is_alive() for process in processes) and results.empty():
                break  # a coordinator died without its end mark: its students are reported below
            continue
        if result is None:
            finished += 1
        else:
            reported.add(result.student)
            report(result)
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():  # past its end mark, it has nothing left to report
            process.kill()
    for process, part in zip(processes, parts):
        for name in part:
            if name not in reported:
                report(StudentResult(name, False, interrupted=stop.is_set(), grader_error=(
                    f"its coordinator process stopped (exit status {process.exitcode}) before grading it")))


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
