"""The command line's errors name the problem and what to do; no traceback."""

from conftest import ASSIGNMENT, make_course, run_course


def test_outside_a_course_directory(tmp_path):
    result = run_course(tmp_path, "grade", ASSIGNMENT, check=False)
    assert result.returncode == 2
    assert "has no nbgrader_config.py" in result.stdout and "Traceback" not in result.stderr


def test_no_submissions(tmp_path):
    course = make_course(tmp_path / "course")
    result = run_course(course, "grade", ASSIGNMENT, check=False)
    assert result.returncode == 2
    assert f"put them in {course / 'submitted'}/<student>/{ASSIGNMENT}/" in result.stdout.replace("\n", "")


def test_unknown_student(tmp_path):
    course = make_course(tmp_path / "course")
    result = run_course(course, "grade", ASSIGNMENT, "--student", "nobody", check=False)
    assert result.returncode == 2 and "No submission for student 'nobody'" in result.stdout


def test_unknown_assignment(tmp_path):
    course = make_course(tmp_path / "course")
    result = run_course(course, "grade", "ps99", check=False)
    assert result.returncode == 2 and "No assignment 'ps99'" in result.stdout


def test_feedback_before_grading(tmp_path):
    course = make_course(tmp_path / "course")
    result = run_course(course, "feedback", ASSIGNMENT, check=False)
    assert result.returncode == 2 and f"run `course grade {ASSIGNMENT}` first" in result.stdout


def test_export_before_grading(tmp_path):
    course = make_course(tmp_path / "course")
    result = run_course(course, "export", check=False)
    assert result.returncode == 2 and "no graded submissions yet" in result.stdout
