"""`course publish` writes a student tree with nothing to cheat from, and working Binder links."""

import re
import subprocess
import sys

import nbformat
import pytest
import yaml

from conftest import ROOT
from course import publish

SECRET_REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
GRADING_MARKERS = ("course.grading", "hidden_checks", "MIN_TEST_ACCURACY", "thresholds", "BEGIN SOLUTION", "BEGIN HIDDEN TESTS")


def released_text() -> str:
    return "\n".join(
        cell.source for path in (ROOT / "release").rglob("*.ipynb") for cell in nbformat.read(path, as_version=4).cells
    )


def secret_lines() -> list[str]:
    """Every solution and hidden-test line of source/ that the release does not already show students."""
    public = released_text()
    secrets = []
    for path in (ROOT / "source").rglob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if any(begin in line for begin, _ in SECRET_REGIONS):
                    inside = True
                elif any(end in line for _, end in SECRET_REGIONS):
                    inside = False
                elif inside and re.search(r"\w", line) and line.strip() not in public:  # released: no secret
                    secrets.append(line.strip())
    return secrets


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
    secrets = secret_lines()
    return {line: str(path) for path, text in tree_text(tree).items() for line in secrets if line in text}


def test_no_solution_or_hidden_test_line_is_published(tree):
    assert len(secret_lines()) >= 30  # the search has something to find
    assert find_leaks(tree) == {}


def test_no_grading_code_is_published(tree):
    assert sorted(path.name for path in (tree / "course").iterdir()) == sorted(publish.STUDENT_MODULES)
    for path, text in tree_text(tree).items():
        for marker in GRADING_MARKERS:
            assert marker not in text, f"{marker} in {path}"


def test_the_search_finds_a_planted_leak(tree, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    secret = secret_lines()[0]
    (copy / "course" / "plots.py").write_text((copy / "course" / "plots.py").read_text() + f"\n# {secret}\n")
    assert find_leaks(copy) == {secret: str(copy / "course" / "plots.py")}


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
