"""The released tutorial runs end to end on the real MNIST in a real kernel."""

import re

import pytest

from conftest import ROOT
from course.execute import execute_notebook

ACCURACY_FLOOR = 0.97  # three seeded epochs reach ~0.98 on the full test set


@pytest.mark.slow
def test_tutorial_trains_an_accurate_cnn_and_draws_its_figures(tmp_path):
    result = execute_notebook(
        ROOT / "release" / "cnn_tutorial" / "cnn_tutorial.ipynb",
        output=tmp_path / "executed.ipynb",
        figures_dir=tmp_path / "figures",
    )
    assert result.errors() == []
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", result.stdout()).group(1))
    assert accuracy >= ACCURACY_FLOOR
    assert "Training images: (60000, 28, 28)" in result.stdout()
    # digit grid, confusion matrix, learning curves
    assert len(result.figures) == 3
    assert all(figure.stat().st_size > 10_000 for figure in result.figures)
