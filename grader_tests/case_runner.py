"""Run the notebook's own test cells (hidden ones included) against one student answer, in this process.

The namespace is what the released notebook builds before its test cells run, with the reference answers
from source/ for every function the case does not replace. Nothing trains: the one test cell that needs a
trained model (`NEEDS_TRAINED_MODEL`) is left to the full-notebook autogrades.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cases import Case
from course.sandboxed.notebook_code import solution_code

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "mnist_cnn" / "mnist_cnn.ipynb"
SETUP_CELLS = ("imports", "load_data", "apply_scaling", "build_model", "run_compile")
NEEDS_TRAINED_MODEL = {"test_evaluate_accuracy"}
TEST_PREFIX = {
    "scale_mnist_data": "test_scale_",
    "get_model": "test_model_",
    "compile_model": "test_compile_",
    "train_model": "test_train_",
    "evaluate_model": "test_evaluate_",
}


@dataclass(frozen=True)
class CellResult:
    cell: str
    points: float
    max_points: float
    message: str  # "" when the test passed


def _cells():
    return [(cell.metadata.get("nbgrader", {}), cell.source) for cell in nbformat.read(SOURCE, as_version=4).cells]


def base_namespace() -> dict:
    """The notebook's state after its setup cells, with the reference answers (slow: loads MNIST once)."""
    namespace: dict = {}
    cells = _cells()
    by_id = {meta.get("grade_id"): source for meta, source in cells}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        exec(by_id["imports"], namespace)
        for meta, source in cells:
            if meta.get("solution"):
                exec(solution_code(source), namespace)
        for grade_id in SETUP_CELLS[1:]:
            exec(by_id[grade_id], namespace)
    return namespace


def grading_cells_for(function: str) -> list[tuple[str, float, str]]:
    return [
        (meta["grade_id"], float(meta["points"]), source)
        for meta, source in _cells()
        if meta.get("grade") and meta["grade_id"].startswith(TEST_PREFIX[function]) and meta["grade_id"] not in NEEDS_TRAINED_MODEL
    ]


def run_case(case: Case, base: dict) -> list[CellResult]:
    namespace = dict(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(case.code, namespace)
    results = []
    for grade_id, points, source in grading_cells_for(case.function):
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # Keras progress bars from the student's calls
                exec(source, dict(namespace))
        except Exception as error:  # a failing test cell: nbgrader scores it 0 and shows this message
            results.append(CellResult(grade_id, 0.0, points, f"{type(error).__name__}: {error}"))
        else:
            results.append(CellResult(grade_id, points, points, ""))
    return results
