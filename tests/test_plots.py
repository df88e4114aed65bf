import matplotlib.pyplot as plt
import numpy as np
import pytest

from course.student import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=50)


def test_digit_grid_labels_each_digit(digits):
    images, labels = digits
    fig = plots.digit_grid(images, labels, rows=6, cols=6)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 36
    assert titles == [f"Label: {label}" for label in labels[:36]]
    assert all(len(ax.images) == 1 for ax in fig.axes)


def test_digit_grid_needs_enough_images(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="needs 64 images for a 8x8 grid; got 50"):
        plots.digit_grid(images, labels, rows=8, cols=8)


def test_learning_curves_with_validation():
    history = {"accuracy": [0.8, 0.9, 0.95], "loss": [0.5, 0.3, 0.2], "val_accuracy": [0.85, 0.9, 0.92], "val_loss": [0.4, 0.3, 0.25]}
    fig = plots.learning_curves(history)
    accuracy_ax, loss_ax = fig.axes
    assert accuracy_ax.get_title() == "Accuracy vs. epoch" and loss_ax.get_title() == "Loss vs. epoch"
    assert accuracy_ax.get_xlabel() == "Epoch" and accuracy_ax.get_ylabel() == "Accuracy"
    assert [line.get_label() for line in accuracy_ax.get_lines()] == ["train", "validation"]
    assert list(accuracy_ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert list(loss_ax.get_lines()[1].get_ydata()) == [0.4, 0.3, 0.25]


def test_learning_curves_from_a_keras_history_with_acc_spelling():
    class History:
        history = {"acc": [0.7, 0.8], "loss": [0.9, 0.6]}

    fig = plots.learning_curves(History())
    accuracy_ax, loss_ax = fig.axes
    assert [line.get_label() for line in accuracy_ax.get_lines()] == ["train"]
    assert list(accuracy_ax.get_lines()[0].get_ydata()) == [0.7, 0.8]


def test_learning_curves_rejects_empty_history():
    with pytest.raises(ValueError, match="non-empty"):
        plots.learning_curves({})


def test_confusion_heatmap_rows_sum_to_one():
    true = np.array([0, 0, 1, 1, 1, 2, 9, 9])
    predicted = np.array([0, 1, 1, 1, 2, 2, 9, 3])
    fig = plots.confusion_heatmap(true, predicted)
    ax = fig.axes[0]
    matrix = ax.collections[0].get_array().reshape(10, 10)
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert "normalised per true class" in ax.get_title()
    present = [0, 1, 2, 9]
    assert np.allclose(matrix[present].sum(axis=1), 1.0)
    assert matrix[1, 1] == pytest.approx(2 / 3) and matrix[9, 3] == pytest.approx(0.5)


def test_predictions_panel_shows_a_distribution_per_image(digits):
    images, labels = digits
    probabilities = np.random.default_rng(1).dirichlet(np.ones(10), size=50)
    fig = plots.predictions_panel(images, labels, probabilities, count=4, seed=3)
    bar_axes = fig.axes[1::2]
    assert len(fig.axes) == 8
    for ax in bar_axes:
        assert len(ax.patches) == 10
        assert ax.get_title().startswith("Model prediction: ")
    chosen = np.random.default_rng(3).choice(50, size=4, replace=False)
    expected = [f"Model prediction: {probabilities[i].argmax()} (true label: {labels[i]})" for i in chosen]
    assert [ax.get_title() for ax in bar_axes] == expected


def test_predictions_panel_needs_matching_lengths(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="one probability row per image"):
        plots.predictions_panel(images, labels, np.ones((3, 10)) / 10)


def test_plots_never_call_show(monkeypatch, digits):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plots must not call plt.show()"))
    images, labels = digits
    plots.digit_grid(images, labels)
    plots.learning_curves({"loss": [1.0]})
    plots.confusion_heatmap(labels, labels)
    plots.predictions_panel(images, labels, np.ones((50, 10)) / 10, seed=0)
