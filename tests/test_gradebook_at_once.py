"""The coordinator's faster nbgrader steps save exactly what nbgrader's own steps save.

OverwriteCellsAtOnce and SaveAutoGradesAtOnce fetch a notebook's cells, grades and comments in one query each, and
`grade.one_engine_per_gradebook` opens the gradebook's tables once per run. Each is run here beside nbgrader's own
step on the same tampered submission, in two copies of one real gradebook, and what they leave must be the same.
"""

import copy
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output
from nbgrader.api import Gradebook
from nbgrader.preprocessors import OverwriteCells, SaveAutoGrades

from course.coursedir import nbgrader_api
from course.grade import ensure_in_gradebook, one_engine_per_gradebook
from course.grading.preprocessors import OverwriteCellsAtOnce, SaveAutoGradesAtOnce

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT, STUDENT = "mnist_cnn", "alice"
SUBMISSION = ROOT / "grader_tests" / "submissions" / "passes_all.ipynb"


@pytest.fixture(scope="module")
def gradebook_file(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "source", course / "source")
    api = nbgrader_api(course)
    ensure_in_gradebook(api, ASSIGNMENT)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.update_or_create_student(STUDENT)
        gradebook.update_or_create_submission(ASSIGNMENT, STUDENT)
    return course / "gradebook.db"


def tampered_submission() -> nbformat.NotebookNode:
    """A failed test, a test claiming 99 points, a test turned into markdown, and an answer left as released."""
    notebook = nbformat.read(SUBMISSION, as_version=4)
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}
    cells["test_scale_pair"].outputs = [new_output("error", ename="CheckFailed", evalue="wrong shape", traceback=[])]
    cells["test_model_layers"].metadata["nbgrader"]["points"] = 99
    cells["test_compile_done"].cell_type = "markdown"
    del cells["test_compile_done"]["outputs"], cells["test_compile_done"]["execution_count"]
    released = nbformat.read(ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    cells["get_model"].source = next(cell.source for cell in released.cells
                                     if cell.metadata.get("nbgrader", {}).get("grade_id") == "get_model")
    return notebook


def grade_with(steps, gradebook_file: Path, tmp_path: Path, name: str):
    database = tmp_path / f"{name}.db"
    shutil.copy(gradebook_file, database)
    resources = {"nbgrader": {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "student": STUDENT,
                              "db_url": f"sqlite:///{database}"}}
    notebook = tampered_submission()
    for step in steps:
        notebook, resources = step().preprocess(notebook, resources)
    with Gradebook(resources["nbgrader"]["db_url"]) as gradebook:
        submitted = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT)
        grades = {grade.name: (grade.auto_score, grade.max_score, grade.needs_manual_grade) for grade in submitted.grades}
        comments = {comment.name: comment.auto_comment for comment in submitted.comments}
    return nbformat.writes(notebook), grades, comments


def test_the_same_notebook_grades_and_comments_as_nbgraders_own_steps(gradebook_file, tmp_path):
    theirs = grade_with([OverwriteCells, SaveAutoGrades], gradebook_file, tmp_path, "theirs")
    with one_engine_per_gradebook():
        ours = grade_with([OverwriteCellsAtOnce, SaveAutoGradesAtOnce], gradebook_file, tmp_path, "ours")
    assert ours == theirs
    notebook, grades, comments = ours
    # the tampering was seen and undone, so the comparison above compared something
    assert grades["test_scale_pair"][0] == 0 and grades["test_scale_range"][0] == grades["test_scale_range"][1]
    assert grades["test_model_layers"][1] != 99
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nbformat.reads(notebook, as_version=4).cells}
    assert cells["test_compile_done"].cell_type == "code"
    assert comments["get_model"] == "No response." and comments["scale_mnist_data"] is None


def test_a_notebook_whose_grades_cannot_all_be_saved_saves_none(gradebook_file, tmp_path):
    class FailsAtTheLastCell(SaveAutoGradesAtOnce):
        def _add_comment(self, cell, resources):
            if cell.metadata["nbgrader"]["grade_id"] == "evaluate_model":
                raise RuntimeError("disk full")
            return super()._add_comment(cell, resources)

    with pytest.raises(RuntimeError):
        grade_with([OverwriteCellsAtOnce, FailsAtTheLastCell], gradebook_file, tmp_path, "failed")
    with Gradebook(f"sqlite:///{tmp_path / 'failed.db'}") as gradebook:
        submitted = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert {grade.auto_score for grade in submitted.grades} == {None}


def test_one_engine_per_gradebook_still_creates_a_new_gradebooks_tables_and_restores_nbgrader(tmp_path, monkeypatch):
    import nbgrader.api

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # nbgrader's alembic

    before = (nbgrader.api.create_engine, nbgrader.api.inspect)
    with one_engine_per_gradebook():
        for name in ("first", "second"):  # the second URL must not be taken for the first's checked tables
            with Gradebook(f"sqlite:///{tmp_path / name}.db") as gradebook:
                gradebook.add_student("bob")
            with Gradebook(f"sqlite:///{tmp_path / name}.db") as gradebook:
                assert [student.id for student in gradebook.students] == ["bob"]
    assert (nbgrader.api.create_engine, nbgrader.api.inspect) == before
    assert "create_all" not in vars(nbgrader.api.Base.metadata)


def test_a_cell_the_gradebook_does_not_know_loses_its_grade_id_as_with_nbgrader(gradebook_file, tmp_path):
    unknown = copy.deepcopy(next(cell for cell in tampered_submission().cells
                                 if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_scale_pair"))
    unknown.metadata["nbgrader"]["grade_id"] = "not_in_the_gradebook"
    resources = {"nbgrader": {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "db_url": f"sqlite:///{gradebook_file}"}}
    results = [step().preprocess(nbformat.v4.new_notebook(cells=[copy.deepcopy(unknown)]), resources)[0]
               for step in (OverwriteCells, OverwriteCellsAtOnce)]
    assert results[0] == results[1]
    assert "grade_id" not in results[1].cells[0].metadata["nbgrader"]
