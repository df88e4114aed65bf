"""The committed release/ is exactly what nbgrader generates from source/."""

import shutil

import nbformat
import pytest
from rich.console import Console

from conftest import ROOT
from course import release


def comparable(path):
    notebook = nbformat.read(path, as_version=4)
    return [(cell.cell_type, cell.source, cell.metadata) for cell in notebook.cells]


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "source", course / "source")
    release.main(root=course, console=Console(quiet=True))
    return course / "release"


def test_release_is_up_to_date(fresh_release):
    generated = sorted(path.relative_to(fresh_release) for path in fresh_release.rglob("*.ipynb"))
    committed = sorted(path.relative_to(ROOT / "release") for path in (ROOT / "release").rglob("*.ipynb"))
    assert committed == generated, "release/ has other notebooks than source/: run `course release` and commit"
    for relative in generated:
        assert comparable(ROOT / "release" / relative) == comparable(fresh_release / relative), (
            f"release/{relative} is stale against source/: run `course release` and commit release/"
        )


def test_every_source_assignment_is_released():
    assert set(release.source_assignments(ROOT)) == {path.name for path in (ROOT / "release").iterdir()}
