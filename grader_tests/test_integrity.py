"""Every student gets exactly their own grade: task keys, resume, failed regrades, names, deadlines, one run at a time.

Each test runs the real `course grade` (and a real `dask scheduler` where one is named) in throwaway course folders.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from nbgrader.api import Gradebook, MissingEntry

from conftest import ASSIGNMENT, EXPECTED, SUBMISSIONS, assert_golden, cell_scores, make_course, run_course, submit
from test_parallel import dask_cluster, wait_for

COURSE = [sys.executable, "-m", "course"]
QUICK = "c.Execute.timeout = 20\n"


def start_grade(course: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*COURSE, "grade", ASSIGNMENT, *args], cwd=course, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def kernel_running(process: subprocess.Popen) -> bool:
    try:
        # course.sandboxed.kernel_launcher, which forks the kernel (ipykernel_launcher where there is no harness)
        return any("kernel_launcher" in " ".join(child.cmdline())
                   for child in psutil.Process(process.pid).children(recursive=True))
    except psutil.Error:
        return False


def has_submission(course: Path, student: str) -> bool:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mnist-cnn") as gradebook:
        try:
            gradebook.find_submission(ASSIGNMENT, student)
            return True
        except MissingEntry:
            return False


def export_rows(course: Path) -> dict[str, dict]:
    run_course(course, "export", ASSIGNMENT, "-o", "grades.csv")
    with open(course / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_two_courses_on_one_scheduler_each_get_their_own_students_grade(tmp_path, mnist_path):
    """Both courses have a student s1001; task keys once named only assignment and student, and the scheduler gave
    one course's result to the other."""
    first = make_course(tmp_path / "first", QUICK)
    second = make_course(tmp_path / "second", QUICK)
    submit(first, "untouched_release", "s1001")
    submit(second, "kernel_dies_in_train_model", "s1001")
    with dask_cluster(tmp_path / "dask", workers=2) as (address, _):
        runs = [start_grade(course, "--scheduler", address) for course in (first, second)]
        outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert_golden(first, "s1001", "untouched_release")
    assert_golden(second, "s1001", "kernel_dies_in_train_model")


@pytest.mark.slow
def test_a_submission_replaced_while_it_is_graded_is_graded_again(tmp_path, mnist_path):
    course = make_course(tmp_path / "course", QUICK)
    submit(course, "hangs_in_get_model", "s1")
    run = start_grade(course)
    wait_for(lambda: kernel_running(run), 120, "the kernel to start")
    submit(course, "untouched_release", "s1")  # the student's new upload lands mid-grade
    run.communicate(timeout=600)
    assert_golden(course, "s1", "hangs_in_get_model")  # what was graded: the bytes taken in
    again = run_course(course, "grade", ASSIGNMENT)
    assert "unchanged" not in again.stdout
    assert_golden(course, "s1", "untouched_release")


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True], ids=["voided", "kept_and_flagged"])
def test_a_failed_regrade_never_leaves_an_old_score_silently(tmp_path, mnist_path, keep):
    course = make_course(tmp_path / "course", QUICK + f"c.GradePolicy.keep_old_score_on_failure = {keep}\n")
    submit(course, "kernel_dies_in_train_model", "s1")
    run_course(course, "grade", ASSIGNMENT)
    old_total = EXPECTED["kernel_dies_in_train_model"]["total"]
    assert sum(cell_scores(course, "s1").values()) == old_total
    notebook = course / "submitted" / "s1" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.write_bytes(notebook.read_bytes()[:300])  # a truncated re-upload
    result = run_course(course, "grade", ASSIGNMENT, check=False)
    assert result.returncode == 1 and "s1: not graded" in result.stdout
    row = export_rows(course)["s1"]
    if keep:
        assert float(row["total"]) == old_total and "old score kept: the last regrade failed" in row["flags"]
    else:
        assert not has_submission(course, "s1")
        assert row["total"] == "" and row["status"].startswith("not graded")


@pytest.mark.slow
def test_unsafe_names_are_refused_visibly_and_their_neighbours_graded(tmp_path, mnist_path):
    """`a[b]` is a glob that matches `ab`: nbgrader graded one for the other, and the export lost students."""
    course = make_course(tmp_path / "course", QUICK)
    submit(course, "untouched_release", "ab")
    submit(course, "kernel_dies_in_train_model", "a[b]")
    result = run_course(course, "grade", ASSIGNMENT, check=False)
    assert result.returncode == 1
    assert "a[b]: not graded" in result.stdout and "ab: 0/21" in result.stdout
    assert_golden(course, "ab", "untouched_release")
    rows = export_rows(course)
    assert set(rows) == {"ab", "a[b]"} and rows["a[b]"]["status"].startswith("refused")


@pytest.mark.slow
def test_a_notebook_has_one_deadline_and_one_output_budget(tmp_path, mnist_path):
    """Cells each just under the per-cell cap once held a worker N times it, and made N times the output."""
    course = make_course(tmp_path / "course", QUICK + "c.ResilientExecute.notebook_timeout = 45\n"
                         "c.ResilientExecute.max_notebook_output_bytes = 1_000_000\n")
    notebook = nbformat.read(SUBMISSIONS / "untouched_release.ipynb", as_version=4)
    floods = [nbformat.v4.new_code_cell("print('x' * 400_000)") for _ in range(5)]
    sleeps = [nbformat.v4.new_code_cell("import time\ntime.sleep(15)") for _ in range(8)]
    notebook.cells = notebook.cells[:2] + floods + sleeps + notebook.cells[2:]
    target = course / "submitted" / "s1" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(notebook, target)
    result = run_course(course, "grade", ASSIGNMENT)
    assert "limit for the whole notebook" in result.stdout
    graded = course / "autograded" / "s1" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    text = graded.read_text()
    assert graded.stat().st_size < 1_500_000 and "1,000,000 bytes in the notebook was dropped" in text
    ran = [cell for cell in nbformat.reads(text, as_version=4).cells if cell.source.startswith("import time")
           and not any("did not run" in output.get("evalue", "") for output in cell.outputs)]
    assert len(ran) <= 4  # 45 s of the notebook's time hold 3 sleeps of 15 s, and the 4th is cut: never all 8


@pytest.mark.slow
def test_two_runs_on_one_course_never_grade_the_same_student(tmp_path, mnist_path):
    course = make_course(tmp_path / "course", QUICK)
    submit(course, "hangs_in_get_model", "s1")
    first = start_grade(course)
    wait_for(lambda: kernel_running(first), 120, "the first run's kernel")
    submit(course, "untouched_release", "s2")
    second = run_course(course, "grade", ASSIGNMENT, check=False)  # s1 is taken; s2 is free
    first.communicate(timeout=600)
    assert second.returncode == 1 and "another `course grade` on this course is grading this student now" in second.stdout
    assert "s2: 0/21" in second.stdout
    assert first.returncode == 0
    assert_golden(course, "s1", "hangs_in_get_model")
    assert_golden(course, "s2", "untouched_release")


@pytest.mark.slow
def test_feedback_for_a_huge_notebook_is_capped_and_the_others_still_get_theirs(tmp_path, mnist_path, monkeypatch):
    """One extra cell of 1,000,000 lines once took `course feedback` to 6.9 GB, and nobody after it got feedback."""
    from course import feedback
    from course.coursedir import CourseError

    course = make_course(tmp_path / "course", QUICK)
    for student in ("huge", "plain"):
        submit(course, "untouched_release", student)
    run_course(course, "grade", ASSIGNMENT)
    graded = course / "autograded" / "huge" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = nbformat.read(graded, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("\n".join(f"x{index} = {index}" for index in range(1_000_000))))
    nbformat.write(notebook, graded)
    monkeypatch.setattr(feedback, "MEMORY_BYTES", 3 * 2**29)
    monkeypatch.setattr(feedback, "TIMEOUT_S", 45)
    with pytest.raises(CourseError, match="1 student"):
        feedback.main(ASSIGNMENT, root=course)
    assert (course / "feedback" / "plain" / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()
    assert not (course / "feedback" / "huge" / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()


@pytest.mark.slow
def test_grading_without_the_sandbox_is_said_and_recorded(tmp_path, mnist_path):
    """Only by the instructor's explicit choice, and never silently."""
    course = make_course(tmp_path / "course", QUICK + "c.Sandbox.enabled = False\n")
    submit(course, "untouched_release", "s1")
    result = run_course(course, "grade", ASSIGNMENT)
    assert "WITHOUT a sandbox" in result.stdout
    assert_golden(course, "s1", "untouched_release")
    assert "graded WITHOUT a sandbox" in export_rows(course)["s1"]["flags"]
