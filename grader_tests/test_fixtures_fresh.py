"""The committed fixture submissions are what build_submissions.py makes from the current release."""

import nbformat
import pytest

import build_submissions
from conftest import EXPECTED, SUBMISSIONS


@pytest.mark.parametrize("name", sorted(build_submissions.FIXTURES))
def test_fixture_matches_the_current_release(name):
    built = build_submissions.build(build_submissions.FIXTURES[name])
    committed = nbformat.read(SUBMISSIONS / f"{name}.ipynb", as_version=4)
    assert [(cell.source, cell.metadata) for cell in committed.cells] == [(cell.source, cell.metadata) for cell in built.cells], (
        f"grader_tests/submissions/{name}.ipynb is stale: run `python grader_tests/build_submissions.py`"
    )


def test_every_fixture_has_golden_scores():
    assert set(build_submissions.FIXTURES) == {name for name in EXPECTED if not name.startswith("_")}
