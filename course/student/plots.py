"""Figures for the tutorial and the assignment.

Every function returns a matplotlib Figure and never calls ``plt.show()``:
notebooks display the returned figure, tests inspect it headless.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy")


def digit_grid(images, labels, rows: int = 6, cols: int = 6):
    """The first ``rows * cols`` digits, each titled with its label."""
    count = rows * cols
    if len(images) < count:
        raise ValueError(f"digit_grid needs {count} images for a {rows}x{cols} grid; got {len(images)}.")
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.5 * rows))
    for ax, image, label in zip(axes.flat, images[:count], labels[:count]):
        ax.imshow(np.squeeze(image), cmap="gray_r")
        ax.set_title(f"Label: {int(label)}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def history_frame(history) -> pd.DataFrame:
    """A Keras History (or its ``.history`` dict) as a DataFrame indexed by epoch from 1."""
    data = history.history if hasattr(history, "history") else history
    if not isinstance(data, Mapping) or not data:
        raise ValueError("Expected a Keras History or its non-empty .history dict.")
    frame = pd.DataFrame(dict(data))
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def learning_curves(history):
    """Accuracy and loss against epoch, with validation lines when present."""
    frame = history_frame(history)
    accuracy_key = next((key for key in ACCURACY_KEYS if key in frame), None)
    panels = [("loss", "Loss")] if accuracy_key is None else [(accuracy_key, "Accuracy"), ("loss", "Loss")]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (key, name) in zip(axes.flat, panels):
        columns = {key: "train"}
        if f"val_{key}" in frame:
            columns[f"val_{key}"] = "validation"
        frame[list(columns)].rename(columns=columns).plot(ax=ax, marker="o")
        ax.set_title(f"{name} vs. epoch")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(name)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def confusion_heatmap(true_labels, predicted_labels, num_classes: int = 10):
    """Confusion matrix normalised per true class (each row sums to 1)."""
    counts = pd.crosstab(
        pd.Categorical(np.asarray(true_labels), categories=range(num_classes)),
        pd.Categorical(np.asarray(predicted_labels), categories=range(num_classes)),
        dropna=False,
    )
    normalised = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    fig, ax = plt.subplots(figsize=(8, 7))
    sns.heatmap(normalised, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, ax=ax, annot_kws={"size": 7})
    ax.set_title("Confusion matrix (normalised per true class)")
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    fig.tight_layout()
    return fig


def predictions_panel(images, labels, probabilities, count: int = 4, seed: int | None = None):
    """``count`` random test images, each beside a bar chart of its predicted distribution."""
    probabilities = np.asarray(probabilities)
    if len(images) != len(probabilities) or len(labels) != len(probabilities):
        raise ValueError(
            f"predictions_panel needs one probability row per image: got {len(images)} images, "
            f"{len(labels)} labels and {len(probabilities)} rows."
        )
    chosen = np.random.default_rng(seed).choice(len(images), size=count, replace=False)
    fig, axes = plt.subplots(count, 2, figsize=(10, 2.6 * count), gridspec_kw={"width_ratios": [1, 2]}, squeeze=False)
    for (image_ax, bar_ax), index in zip(axes, chosen):
        distribution = probabilities[index]
        prediction = int(np.argmax(distribution))
        image_ax.imshow(np.squeeze(images[index]), cmap="gray_r")
        image_ax.axis("off")
        image_ax.set_title(f"True label: {int(labels[index])}")
        bar_ax.bar(np.arange(len(distribution)), distribution)
        bar_ax.set_xticks(np.arange(len(distribution)))
        bar_ax.set_ylim(0, 1)
        bar_ax.set_title(f"Model prediction: {prediction} (true label: {int(labels[index])})")
        bar_ax.set_xlabel("Digit")
        bar_ax.set_ylabel("Probability")
    fig.tight_layout()
    return fig
