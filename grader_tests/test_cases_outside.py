"""Every case of cases.py through the path that decides the score: the harness calls the answer's functions, the
verifier judges what they returned. A valid answer must keep every point there, and a wrong one lose exactly its
cells, as in the notebook's own cells (test_cases.py). Nothing trains; the harness and the verifier run in this
process, on the same code the sandboxed processes run.
"""

from __future__ import annotations

import nbformat
import pytest

import build_submissions
from cases import CASES
from conftest import ROOT
from course.grading import verify
from course.grading.cluster import GradingCluster
from course.grading.preprocessors import answer_cells
from course.sandboxed import harness
from course.spec import load

SPEC = load("mnist_cnn")
TRAINED_ONLY = {test.grade_id for artifact in SPEC.artifacts for test in SPEC.tests_on(artifact.name)}
SETUP_CELLS = SPEC.setup_cells
TEACHING = GradingCluster(1, None, ROOT, tasks=1).ungraded_sources("mnist_cnn", "mnist_cnn.ipynb")


def answers_of(case) -> nbformat.NotebookNode:
    """What the grader hands the harness (course.grading.preprocessors.answer_cells, with the course's config)."""
    return answer_cells(build_submissions.build({case.function: case.code}), SETUP_CELLS, TEACHING)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_verdict_outside_the_kernel_is_the_cases(case, tmp_path, mnist_path):
    answers = tmp_path / "answers.ipynb"
    nbformat.write(answers_of(case), answers)
    harness.run(answers, SPEC.harness_plan(), tmp_path / "in" / "harness")
    verdicts = verify.Verifier(SPEC, tmp_path / "in").function_verdicts()
    failed = {cell for cell, verdict in verdicts.items() if not verdict["passed"]}
    assert failed == set(case.loses) - TRAINED_ONLY, {cell: verdicts[cell]["message"] for cell in failed ^ set(case.loses)}
