"""`course publish` writes a student tree with nothing to cheat from, and working Binder links."""

import ast
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
import yaml

from conftest import ROOT
from course import publish

GRADING_MARKERS = ("course.grading", "course.assignments", "hidden_checks", "MIN_TEST_ACCURACY", "thresholds", "BEGIN SOLUTION", "BEGIN HIDDEN TESTS")


def secret_lines() -> list[str]:
    """Every solution and hidden-test line of source/ that students may not see (the search `course publish` runs)."""
    return publish.secret_lines(ROOT)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("published") / "student"
    result = subprocess.run(
        [sys.executable, "-m", "course", "publish", str(outdir), "--org", "acme", "--repo", "cnn-student", "--ref", "v1"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return outdir


def tree_text(tree) -> dict:
    return {path: path.read_text(errors="ignore") for path in tree.rglob("*") if path.is_file()}


def find_leaks(tree) -> dict:
    files = {str(path.relative_to(tree)): path.read_bytes() for path in tree.rglob("*") if path.is_file()}
    return publish.leaks(files, secret_lines())


def test_no_solution_or_hidden_test_line_is_published(tree):
    assert len(secret_lines()) >= 25  # the search has something to find
    assert find_leaks(tree) == {}


def test_no_grading_code_is_published(tree):
    assert sorted(path.name for path in (tree / "course").iterdir()) == ["__init__.py", publish.STUDENT_PACKAGE]
    shipped = sorted(path.name for path in (tree / "course" / publish.STUDENT_PACKAGE).iterdir())
    assert shipped == sorted(path.name for path in (ROOT / "course" / "student").glob("*.py"))
    for path, text in tree_text(tree).items():
        for marker in GRADING_MARKERS:
            assert marker not in text, f"{marker} in {path}"


def test_the_search_finds_a_planted_hidden_check(tree, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    hidden = (ROOT / "course" / "assignments" / "keras_checks.py").read_text()
    line = next(line.strip() for line in hidden.splitlines() if "ADAM_DEFAULTS = " in line)
    released = copy / "mnist_cnn" / "mnist_cnn.ipynb"
    notebook = nbformat.read(released, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(line))
    nbformat.write(notebook, released)
    assert find_leaks(copy) == {"mnist_cnn/mnist_cnn.ipynb": f"the source line '{line}'"}


def test_the_search_finds_a_planted_leak(tree, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    secret = secret_lines()[0]
    (copy / "course" / "student" / "plots.py").write_text((copy / "course" / "student" / "plots.py").read_text() + f"\n# {secret}\n")
    assert find_leaks(copy) == {"course/student/plots.py": f"the source line '{secret}'"}


def test_release_notebooks_and_binder_links(tree):
    assert (tree / "mnist_cnn" / "mnist_cnn.ipynb").read_bytes() == (ROOT / "release" / "mnist_cnn" / "mnist_cnn.ipynb").read_bytes()
    readme = (tree / "README.md").read_text()
    for notebook in ("cnn_tutorial/cnn_tutorial.ipynb", "mnist_cnn/mnist_cnn.ipynb"):
        assert f"https://mybinder.org/v2/gh/acme/cnn-student/v1?labpath={notebook}" in readme


def test_repo2docker_files(tree):
    environment = yaml.safe_load((tree / "environment.yml").read_text())
    pins = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert "tensorflow-cpu==2.21.0" in pins and not any(pin.startswith("nbgrader") for pin in pins)
    assert (tree / "postBuild").stat().st_mode & 0o111
    assert "pip install --no-deps -e ." in (tree / "postBuild").read_text()


def test_publishing_again_replaces_the_tree_but_refuses_foreign_folders(tree, tmp_path):
    (tree / "stale.txt").write_text("old")
    publish.main(tree, "acme", "cnn-student", "v1", root=ROOT)
    assert not (tree / "stale.txt").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(publish.CourseError, match="not empty and was not made by `course publish`"):
        publish.main(foreign, "acme", "cnn-student", "v1", root=ROOT)
    assert (foreign / "thesis.tex").read_text() == "precious"


# --- what `course publish` refuses -----------------------------------------------------------------------------------


@pytest.fixture
def course(tmp_path):
    """A copy of what `course publish` reads, to spoil."""
    course = tmp_path / "course"
    course.mkdir()
    for name in ("nbgrader_config.py", "pyproject.toml", "environment.yml"):
        shutil.copy(ROOT / name, course / name)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder, course / folder)
    (course / "course").mkdir()
    shutil.copy(ROOT / "course" / "__init__.py", course / "course" / "__init__.py")
    shutil.copytree(ROOT / "course" / "student", course / "course" / "student", ignore=shutil.ignore_patterns("__pycache__"))
    return course


def publish_refused(course, outdir, match):
    with pytest.raises(publish.CourseError, match=match):
        publish.main(outdir, "acme", "cnn-student", "v1", root=course)


def test_a_symlink_to_a_source_notebook_is_refused(course, tmp_path):
    released = course / "release" / "mnist_cnn" / "mnist_cnn.ipynb"
    released.unlink()
    released.symlink_to(course / "source" / "mnist_cnn" / "mnist_cnn.ipynb")
    outdir = tmp_path / "student"
    publish_refused(course, outdir, r"release/mnist_cnn/mnist_cnn\.ipynb is a symbolic link")
    assert not outdir.exists()


def test_a_symlinked_assignment_folder_is_refused(course, tmp_path):
    shutil.rmtree(course / "release" / "mnist_cnn")
    (course / "release" / "mnist_cnn").symlink_to(course / "source" / "mnist_cnn")
    publish_refused(course, tmp_path / "student", r"release/mnist_cnn is a symbolic link")


def test_a_source_notebook_copied_over_the_release_is_refused_and_nothing_changes(course, tmp_path):
    outdir = tmp_path / "student"
    publish.main(outdir, "acme", "cnn-student", "v1", root=course)
    before = {path: path.read_bytes() for path in outdir.rglob("*") if path.is_file()}
    shutil.copy(course / "source" / "mnist_cnn" / "mnist_cnn.ipynb", course / "release" / "mnist_cnn" / "mnist_cnn.ipynb")
    publish_refused(course, outdir, r"Nothing was published: mnist_cnn/mnist_cnn\.ipynb holds the nbgrader delimiter 'BEGIN SOLUTION'")
    assert {path: path.read_bytes() for path in outdir.rglob("*") if path.is_file()} == before


def test_a_solution_line_without_delimiters_is_refused(course, tmp_path):

    path = course / "release" / "mnist_cnn" / "mnist_cnn.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "get_model")
    secret = next(line for line in secret_lines() if '"' in line)  # quoted: escaped in the notebook's JSON
    cell.source += f"\n    {secret}\n"
    nbformat.write(notebook, path)
    publish_refused(course, tmp_path / "student", re.escape(f"mnist_cnn/mnist_cnn.ipynb holds the source line '{secret}'"))
    assert not (tmp_path / "student").exists()


def test_a_solution_line_in_a_student_module_is_refused(course, tmp_path):
    secret = secret_lines()[0]
    with open(course / "course" / "student" / "plots.py", "a") as handle:
        handle.write(f"\n# {secret}\n")
    publish_refused(course, tmp_path / "student", re.escape(f"course/student/plots.py holds the source line '{secret}'"))


def test_the_published_student_package_imports_alone(tree):
    """course.student, as published, imports nothing of course that was not published with it."""
    probe = (
        "import sys, course, course.student, course.student.checks, course.student.data, course.student.plots, "
        "course.student.selfcheck\n"
        "assert course.__file__.startswith(sys.argv[1]), course.__file__\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'course'))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(tree)], cwd=tree, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert all(name == "course" or name.startswith("course.student") for name in loaded), loaded
