"""The checks behind the visible test cells of the confusion-matrix assignment (mnist_confusion), and its self-check.

Each check takes what the student's function returned (or the grader's record of it) and raises
``checks.CheckFailed`` with a sentence the student can act on. The visible test cells, ``check(function)`` and the
grader call these same functions, so a message means the same thing everywhere. None of them trains a network.
The hidden checks live with the instructor's grading code, which never reaches students.
"""

from __future__ import annotations


import numpy as np

from .checks import CheckFailed, FitRecorder, _is_model, _layer_type, quietly, require, uncompiled_probe_model

# The specification, in one place.
NUM_CLASSES = 10
EPOCHS = 3
VALIDATION_SPLIT = 0.1
CNN_LAYER_TYPES = ("Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense")
CONV_SPEC = ((10, (3, 3)), (5, (3, 3)))  # (filters, kernel size) of the two Conv2D layers, in order
POOL_SIZE = (2, 2)
ROWS_TOLERANCE = 1e-6  # float32 rounding of a row of shares that sums to 1
FUNCTIONS = ("one_hot_labels", "build_cnn", "compile_cnn", "train_cnn", "confusion_per_class")


def sample_labels(count: int = 500, seed: int = 0, classes: int = NUM_CLASSES):
    """Integer labels drawn with a fixed seed from ``range(classes)``: with ``classes=9`` no label is a 9."""
    return np.random.default_rng(seed).integers(0, classes, count).astype("int64")


def _numeric_array(value, function: str, wanted: str) -> np.ndarray:
    """``value`` as a NumPy array of numbers (a tensor or a DataFrame converts), else a message naming ``wanted``."""
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - whatever cannot become an array is not the answer
        array = None
    if array is None or array.ndim == 0 or array.dtype.kind not in "biuf":
        raise CheckFailed(f"{function} returned {type(value).__name__}; return {wanted}.")
    return array


# --- one_hot_labels ---------------------------------------------------------------------------


def one_hot_shape(result, labels):
    """One row per label and one column per class (10), even when the labels miss a digit."""
    array = _numeric_array(result, "one_hot_labels", "a NumPy array with one row per label: keras.utils.to_categorical(labels, 10)")
    labels = np.asarray(labels)
    require(
        array.ndim == 2 and len(array) == len(labels),
        f"one_hot_labels returned shape {array.shape} for {len(labels)} labels; return one row per label and one column "
        f"per class, shape ({len(labels)}, {NUM_CLASSES}): keras.utils.to_categorical(labels, {NUM_CLASSES}).",
    )
    missing = sorted(set(range(NUM_CLASSES)) - set(labels.tolist()))
    require(
        array.shape[1] == NUM_CLASSES,
        f"one_hot_labels returned {array.shape[1]} columns"
        + (f" for labels without any {', '.join(map(str, missing))}" if missing else "")
        + f"; give every label set all {NUM_CLASSES} classes: keras.utils.to_categorical(labels, num_classes={NUM_CLASSES}).",
    )


# --- build_cnn --------------------------------------------------------------------------------


def build(build_cnn, input_shape):
    """Call the student's build_cnn without letting its warnings reach stderr."""
    with quietly():
        return build_cnn(input_shape)


def cnn_output(model):
    """A Keras model with a 10-way output."""
    require(_is_model(model), f"build_cnn returned {type(model).__name__}; return the keras Sequential model.")
    try:
        output_shape = tuple(model.output_shape)
    except (AttributeError, ValueError) as error:
        raise CheckFailed(
            f"The model has no defined output shape ({error}); start it with keras.Input(shape=input_shape)."
        ) from None
    require(
        output_shape == (None, NUM_CLASSES),
        f"The model's output shape is {output_shape}; end with Dense({NUM_CLASSES}, activation='softmax') giving (None, {NUM_CLASSES}).",
    )


def cnn_layers(model):
    """A Keras model with a 10-way output and the spec's six layers, in order."""
    cnn_output(model)
    types = tuple(_layer_type(layer) for layer in model.layers)
    spec = ", ".join(CNN_LAYER_TYPES)
    require(len(types) == len(CNN_LAYER_TYPES), f"The model has {len(types)} layers ({', '.join(types)}); the spec asks for {len(CNN_LAYER_TYPES)}: {spec}.")
    for position, (found, expected) in enumerate(zip(types, CNN_LAYER_TYPES), start=1):
        require(found == expected, f"Layer {position} is {found}; the spec asks for {expected} there ({spec}).")


# --- compile_cnn ------------------------------------------------------------------------------


def compile_config(model) -> dict:
    require(_is_model(model), f"Expected the Keras model, got {type(model).__name__}.")
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    require(config, "The model is not compiled; call model.compile(optimizer=..., loss=..., metrics=[...]) inside compile_cnn.")
    return config


def cnn_compiled(model):
    """compile_cnn compiled the model it was given, in place."""
    compile_config(model)


# --- train_cnn --------------------------------------------------------------------------------


def history_type(qualified_name: str):
    require(
        qualified_name.startswith("keras.") and qualified_name.endswith(".History"),
        f"train_cnn returned {qualified_name.rsplit('.', 1)[-1]}; return the History object that model.fit(...) returns.",
    )


def history_returned(history):
    """train_cnn returns the History that fit returned (in the notebook: called with a FitRecorder)."""
    history_type(f"{type(history).__module__}.{type(history).__name__}")


def history_in_record(record):
    """The same check on the grader's record of train_cnn's call (a checks.FitRecord)."""
    history_type(record.returned)


# --- confusion_per_class ----------------------------------------------------------------------


def confusion_shape(result, true_labels, predicted_labels):
    """A 10x10 matrix of numbers, even when some digits never occur."""
    array = _numeric_array(result, "confusion_per_class", f"a {NUM_CLASSES}x{NUM_CLASSES} NumPy array")
    seen = set(np.asarray(true_labels).tolist()) | set(np.asarray(predicted_labels).tolist())
    missing = sorted(set(range(NUM_CLASSES)) - seen)
    require(
        array.shape == (NUM_CLASSES, NUM_CLASSES),
        f"confusion_per_class returned shape {array.shape}"
        + (f" for labels without any {', '.join(map(str, missing))}" if missing else "")
        + f"; always return {NUM_CLASSES}x{NUM_CLASSES}, one row per true digit and one column per predicted digit "
        f"(count over range({NUM_CLASSES}), e.g. num_classes={NUM_CLASSES} or minlength={NUM_CLASSES}).",
    )


# --- self-check -------------------------------------------------------------------------------


def _check_one_hot(function):
    labels = sample_labels(classes=NUM_CLASSES - 1)
    with quietly():
        one_hot_shape(function(labels), labels)


def _check_build(function):
    cnn_layers(build(function, (28, 28, 1)))


def _check_compile(function):
    probe = uncompiled_probe_model()
    with quietly():
        function(probe)
    cnn_compiled(probe)


def _check_train(function):
    images = np.zeros((64, 28, 28, 1), dtype="float32")
    labels = np.eye(NUM_CLASSES, dtype="float32")[sample_labels(count=len(images))]
    with quietly():
        history = function(FitRecorder(), images, labels)
    history_returned(history)


def _check_confusion(function):
    true_labels, predicted_labels = sample_labels(seed=1, classes=NUM_CLASSES - 1), sample_labels(seed=2, classes=NUM_CLASSES - 1)
    with quietly():
        confusion_shape(function(true_labels, predicted_labels), true_labels, predicted_labels)


SELF_CHECKS = dict(zip(FUNCTIONS, (_check_one_hot, _check_build, _check_compile, _check_train, _check_confusion)))  # check(<function>)
