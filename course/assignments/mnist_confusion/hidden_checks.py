"""The checks behind the hidden test cells of the confusion-matrix assignment. Instructor-only: never published.

Like course.student.confusion_checks, each raises ``CheckFailed`` with a sentence the student can act on, and none
trains a network. The verifier calls them as the spec says (``check(value, *args)``, on what the harness kept);
the source notebook's hidden test cells and grader_tests/mnist_confusion call them in-process through ``run_test``,
which calls the student's function on the spec's own inputs and keeps what the spec keeps.

What counts, decided as for mnist_cnn (course/assignments/mnist_cnn/hidden_checks.py, whose layer helpers these
reuse): a setting is judged by what it computes, not by how it is spelled.
- one_hot_labels: any dtype whose values are the one-hot rows (integer or boolean one-hot trains the same: the loss
  casts the labels); a tensor or a DataFrame is read as the array it holds.
- build_cnn: padding 'valid' (the default) on both Conv2D layers; MaxPooling2D padding='same' only where it gives the
  'valid' output (the first pool sees 26x26 and gives 13x13 either way; the second sees 11x11, where 'same' gives 6x6).
- compile_cnn: the labels are one-hot, so the loss is categorical cross-entropy ('categorical_crossentropy',
  CategoricalCrossentropy(), keras.losses.categorical_crossentropy) on probabilities (not from_logits), without
  label_smoothing; 'accuracy' is judged by what it computes on one-hot labels (compile picks CategoricalAccuracy).
- train_cnn: the epochs add up over every fit call; each call gets validation_split=0.1 and all of the arguments.
- confusion_per_class: rows are true digits, columns predicted digits; each row of a digit that occurs sums to 1;
  the row of a digit that never occurs is all zeros (not NaN).
"""

from __future__ import annotations

import math

import numpy as np

from course.assignments.keras_checks import (
    config_name,
    display_name,
    effective_activation,
    keras_custom_objects,
    metrics_are_accuracy,
    optimizer_is_default_adam,
    same_computation,
)
from course.student.checks import CheckFailed, FitRecord, _is_model, _layer_type, quietly, require
from course.student.confusion_checks import (
    CONV_SPEC,
    EPOCHS,
    NUM_CLASSES,
    POOL_SIZE,
    ROWS_TOLERANCE,
    VALIDATION_SPLIT,
    _numeric_array,
    cnn_output,
    compile_config,
    confusion_shape,
)

__all__ = ["keras_custom_objects"]  # the spec passes it on to the verifier

CCE_NAMES = {"categorical_crossentropy", "categoricalcrossentropy"}
KERAS_DEFAULT_BATCH_SIZE = 32


# --- one_hot_labels ---------------------------------------------------------------------------


def one_hot_values(result, labels):
    """Row i holds 1 at column labels[i] and 0 everywhere else (judged on the columns it has)."""
    labels = np.asarray(labels)
    array = _numeric_array(result, "one_hot_labels", "a NumPy array with one row per label: keras.utils.to_categorical(labels, 10)")
    require(
        array.ndim == 2 and len(array) == len(labels),
        f"one_hot_labels returned shape {array.shape} for {len(labels)} labels; return one row per label.",
    )
    values = array.astype("float64")
    require(
        labels.max() < values.shape[1],
        f"one_hot_labels has {values.shape[1]} columns, so label {labels.max()} has none; use keras.utils.to_categorical(labels, 10).",
    )
    rows = np.arange(len(labels))
    hot = values[rows, labels]
    others = np.abs(values).sum(axis=1) - np.abs(hot)
    wrong = np.flatnonzero((hot != 1) | (others != 0))
    if len(wrong):
        first = wrong[0]
        found = np.argmax(values[first])
        if found != labels[first] and values[first, found] == 1:
            raise CheckFailed(
                f"Row {first} has its 1 in column {found}, but its label is {labels[first]}: put each label's 1 in the "
                "column of that label, in the order of the labels given."
            )
        raise CheckFailed(
            f"Row {first} (label {labels[first]}) is {np.round(values[first], 3).tolist()}; a one-hot row is 1.0 in the "
            "label's column and 0.0 everywhere else (no smoothing, no scaling): keras.utils.to_categorical(labels, 10)."
        )


# --- build_cnn --------------------------------------------------------------------------------


def input_shape_is(model, input_shape):
    """The model build_cnn built when called with ``input_shape`` takes inputs of that shape."""
    input_shape = tuple(input_shape)
    cnn_output(model)
    built = tuple(model.input_shape)
    require(
        built == (None, *input_shape),
        f"build_cnn({input_shape}) built a model with input {built}; take the input shape from the input_shape argument "
        "instead of a fixed (28, 28, 1).",
    )


def _layers_of(model, kind):
    return [layer for layer in model.layers if _layer_type(layer) == kind]


def conv_layers_config(model):
    """Two Conv2D layers: 10 then 5 filters, 3x3 kernels, 'valid' padding, stride 1, ReLU, nothing else changed."""
    cnn_output(model)
    convs = _layers_of(model, "Conv2D")
    require(
        len(convs) == len(CONV_SPEC),
        f"The model has {len(convs)} Conv2D layer(s); the spec asks for two: Conv2D(10, 3x3) then Conv2D(5, 3x3), each with ReLU.",
    )
    for position, (conv, (filters, kernel)) in enumerate(zip(convs, CONV_SPEC), start=1):
        name = f"Conv2D layer {position}"
        require(conv.filters == filters, f"{name} has {conv.filters} filters; the spec asks for {filters}.")
        require(tuple(conv.kernel_size) == kernel, f"{name} has a {conv.kernel_size} kernel; the spec asks for 3x3.")
        require(
            conv.padding == "valid",
            f"{name} uses padding='{conv.padding}'; the spec asks for the default 'valid' padding (leave padding out).",
        )
        require(tuple(conv.strides) == (1, 1), f"{name} has strides {conv.strides}; keep the default stride 1.")
        same_computation(conv, name)
        activation = effective_activation(model, conv)
        require(activation == "relu", f"{name} uses a {activation} activation; the spec asks for ReLU.")


def _spatial_shapes(model):
    """The (height, width) each layer receives, from the model's input shape."""
    shape = tuple(model.input_shape)
    received = {}
    for layer in model.layers:
        received[id(layer)] = shape[1:3]
        shape = tuple(layer.compute_output_shape(shape))
    return received


def pool_layers_config(model):
    """Two MaxPooling2D layers, 2x2 with the default strides; 'same' padding only where it computes what 'valid' does."""
    cnn_output(model)
    pools = _layers_of(model, "MaxPooling2D")
    require(len(pools) == 2, f"The model has {len(pools)} MaxPooling2D layer(s); the spec asks for two, MaxPooling2D((2, 2)) after each Conv2D.")
    received = _spatial_shapes(model)
    for position, pool in enumerate(pools, start=1):
        name = f"MaxPooling2D layer {position}"
        require(tuple(pool.pool_size) == POOL_SIZE, f"{name} has pool size {pool.pool_size}; the spec asks for 2x2.")
        require(tuple(pool.strides) == POOL_SIZE, f"{name} has strides {pool.strides}; keep the default strides (equal to the pool size).")
        same_computation(pool, name)
        if pool.padding != "valid":
            height, width = received[id(pool)]
            valid = ((height - 2) // 2 + 1, (width - 2) // 2 + 1)
            same = (math.ceil(height / 2), math.ceil(width / 2))
            require(
                same == valid,
                f"{name} uses padding='{pool.padding}', which turns its {height}x{width} input into {same[0]}x{same[1]} "
                f"instead of {valid[0]}x{valid[1]}; keep the default padding='valid'.",
            )


def dense_layer_config(model):
    """One Dense layer: 10 units, softmax, with a bias."""
    cnn_output(model)
    denses = _layers_of(model, "Dense")
    require(len(denses) == 1, f"The model has {len(denses)} Dense layers; the spec asks for one, the output: Dense(10, activation='softmax').")
    dense = denses[0]
    require(dense.units == NUM_CLASSES, f"The Dense layer has {dense.units} units; the spec asks for {NUM_CLASSES}.")
    same_computation(dense, "The Dense layer")
    found = effective_activation(model, dense)
    require(found == "softmax", f"The Dense layer uses a {found} activation; the spec asks for softmax, so the outputs are probabilities.")


# --- compile_cnn ------------------------------------------------------------------------------


def optimizer_is_adam(model):
    """Adam with all its default settings."""
    compile_config(model)  # this assignment's message when compile_cnn compiled nothing
    optimizer_is_default_adam(model)


def loss_is_cce(model):
    """Categorical cross-entropy on probabilities (the labels are one-hot), without label smoothing."""
    loss = compile_config(model).get("loss")
    require(loss is not None, "No loss was given; pass loss='categorical_crossentropy' to compile.")
    name = config_name(loss)
    if name.startswith("sparse"):
        raise CheckFailed(
            f"The loss is {display_name(loss)}, which expects integer labels, but train_cnn gets one-hot labels; "
            "use loss='categorical_crossentropy'."
        )
    require(name in CCE_NAMES, f"The loss is {display_name(loss)}; the labels are one-hot classes, so use loss='categorical_crossentropy'.")
    inner = loss.get("config") if isinstance(loss, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    require(
        not inner.get("from_logits"),
        "The loss has from_logits=True, but the model ends in softmax and outputs probabilities; drop from_logits.",
    )
    require(
        not inner.get("label_smoothing"),
        f"The loss has label_smoothing={inner.get('label_smoothing')}, which trains towards other targets than the labels; drop label_smoothing.",
    )
    require(inner.get("axis", -1) in (-1, 1), f"The loss has axis={inner.get('axis')}; keep the default axis=-1 (the classes).")


METRIC_REASONS = {
    "accuracy": "keras.metrics.Accuracy compares predicted values to labels exactly; for class probabilities use metrics=['accuracy'].",
    "sparsecategoricalaccuracy": "SparseCategoricalAccuracy expects integer labels, but train_cnn gets one-hot labels; use metrics=['accuracy'].",
    "binaryaccuracy": "keras.metrics.BinaryAccuracy scores each of the ten columns separately; use metrics=['accuracy'] for one class out of ten.",
}


def metrics_is_accuracy(model):
    """Accuracy is the one metric: judged by what it computes on one-hot labels, not by its name."""
    metrics_are_accuracy(compile_config(model), one_hot=True, reasons=METRIC_REASONS)


# --- train_cnn --------------------------------------------------------------------------------

NEVER_FITTED = "train_cnn never called model.fit on the model it was given; train that model, not a global one."


def epochs_in_record(record: FitRecord):
    """EPOCHS epochs in all, over every fit call."""
    require(record.calls, NEVER_FITTED)
    epochs = sum(call["epochs"] for call in record.calls)
    require(epochs == EPOCHS, f"train_cnn trains for {epochs} epoch(s); the spec asks for epochs={EPOCHS}.")


def validation_split_in_record(record: FitRecord):
    """Every fit call holds back 10% of the images for validation, as the tutorial does."""
    require(record.calls, NEVER_FITTED)
    for call in record.calls:
        split = call.get("validation_split")
        require(
            split is not None and math.isclose(split, VALIDATION_SPLIT, abs_tol=1e-9),
            f"model.fit got validation_split={split:g}; pass validation_split={VALIDATION_SPLIT} so that 10% of the "
            "training images are held back to validate on, as in the tutorial."
            if isinstance(split, (int, float)) and split >= 0
            else f"model.fit got no usable validation_split; pass validation_split={VALIDATION_SPLIT}.",
        )


def all_data_in_record(record: FitRecord, total_images: int):
    """Every fit call gets all the training images and one-hot labels it was given, every epoch."""
    require(record.calls, NEVER_FITTED)
    for call in record.calls:
        images = call["images"]
        require(
            images == total_images,
            f"model.fit got {images if images is not None else 'no'} training images of the {total_images} given; "
            "pass all of scaled_train_images (validation_split holds back the 10% itself).",
        )
        require(call["images_equal"], "model.fit got other images than scaled_train_images; pass the argument unchanged.")
        require(
            call["labels_equal"],
            "model.fit did not get the one_hot_train_labels argument; pass it unchanged (the integer train_labels do not fit "
            "the categorical cross-entropy loss).",
        )
        steps = call.get("steps_per_epoch")
        if steps is not None:
            split = call.get("validation_split") or 0.0
            trained_on = int(total_images * (1.0 - split)) if 0 <= split < 1 else total_images
            per_epoch = steps * (call.get("batch_size") or KERAS_DEFAULT_BATCH_SIZE)
            require(
                per_epoch >= trained_on,
                f"model.fit(steps_per_epoch={steps}) trains on {per_epoch} of the {trained_on} training images an epoch; "
                "drop steps_per_epoch so that every epoch uses all of them.",
            )


# --- confusion_per_class ----------------------------------------------------------------------


def reference_confusion(true_labels, predicted_labels) -> np.ndarray:
    """The grader's own matrix: row t, column p is the share of true digit t's images predicted as p."""
    counts = np.zeros((NUM_CLASSES, NUM_CLASSES))
    np.add.at(counts, (np.asarray(true_labels), np.asarray(predicted_labels)), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _present(true_labels) -> np.ndarray:
    return np.unique(np.asarray(true_labels))


def _matrix(result) -> np.ndarray:
    """The returned matrix as 10x10 floats; one smaller than 10x10 (counted over the digits seen, without
    num_classes=10) is padded with zeros, so these checks judge the rows it has and test_confusion_shape and
    test_confusion_absent_class judge its size."""
    array = _numeric_array(result, "confusion_per_class", f"a {NUM_CLASSES}x{NUM_CLASSES} NumPy array")
    require(
        array.ndim == 2 and array.shape[0] <= NUM_CLASSES and array.shape[1] <= NUM_CLASSES,
        f"confusion_per_class returned shape {array.shape}; return a {NUM_CLASSES}x{NUM_CLASSES} matrix, one row per true digit "
        "and one column per predicted digit.",
    )
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES))
    matrix[: array.shape[0], : array.shape[1]] = array
    return matrix


def confusion_rows(result, true_labels, predicted_labels):
    """Each row of a digit that occurs sums to 1: normalised per true class."""
    matrix = _matrix(result)
    present = _present(true_labels)
    sums = matrix[present].sum(axis=1)
    if np.allclose(sums, 1.0, atol=ROWS_TOLERANCE):
        return
    counts = np.bincount(np.asarray(true_labels), minlength=NUM_CLASSES)[present]
    if np.allclose(sums, counts):
        reason = "the rows hold counts: divide each row by its sum (the number of images of that true digit)"
    elif np.allclose(sums, 100.0):
        reason = "the rows sum to 100: give shares between 0 and 1, not percentages"
    elif math.isclose(matrix.sum(), 1.0, abs_tol=ROWS_TOLERANCE):
        reason = "the whole matrix sums to 1: divide each row by its own sum, not by the number of images"
    elif np.allclose(matrix[:, np.unique(np.asarray(predicted_labels))].sum(axis=0), 1.0, atol=ROWS_TOLERANCE):
        reason = "each column sums to 1, which normalises per predicted digit: divide each row by its sum instead (per true digit)"
    else:
        digit = present[np.argmax(np.abs(sums - 1.0))]
        reason = f"row {digit} sums to {matrix[digit].sum():.4g}: divide each row by its sum"
    raise CheckFailed(f"The matrix is not normalised per true class (each row of a digit that occurs must sum to 1); {reason}.")


def confusion_values(result, true_labels, predicted_labels):
    """Row t, column p holds how often true digit t was predicted as p, relative to the rest of row t."""
    matrix = _matrix(result)
    present = _present(true_labels)
    sums = matrix[present].sum(axis=1, keepdims=True)
    # compared per row, relative to the row's own sum, so a normalisation mistake costs test_confusion_rows only
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = matrix[present] / sums
    if np.allclose(shares, reference_confusion(true_labels, predicted_labels)[present], atol=ROWS_TOLERANCE):
        return
    expected = reference_confusion(true_labels, predicted_labels)
    swapped = reference_confusion(predicted_labels, true_labels)  # what the arguments in the other order give
    if np.allclose(matrix, swapped, atol=ROWS_TOLERANCE) or np.allclose(matrix, expected.T, atol=ROWS_TOLERANCE):
        raise CheckFailed(
            "The rows follow the predicted digits: put the true digits on the rows and the predicted ones on the columns, "
            "matrix[true, predicted] (check the order of the arguments)."
        )
    if np.allclose(matrix, swapped.T, atol=ROWS_TOLERANCE):
        raise CheckFailed(
            "Each entry is divided by its column's total (the images predicted as that digit); divide it by its row's "
            "total instead, the images whose true digit it is."
        )
    digit = present[np.argmax(np.nan_to_num(np.abs(shares - expected[present]), nan=np.inf).max(axis=1))]
    raise CheckFailed(
        f"Row {digit} is {np.round(matrix[digit], 3).tolist()}, but of the images whose true digit is {digit}, the shares "
        f"predicted as each digit are {np.round(expected[digit], 3).tolist()}; count matrix[true, predicted] from the "
        "two arguments, then divide each row by its sum."
    )


def confusion_absent_class(result, true_labels, predicted_labels):
    """A digit that never occurs among the true labels gets a row of zeros: no NaN from dividing 0 by 0."""
    confusion_shape(result, true_labels, predicted_labels)
    matrix = np.asarray(result, dtype="float64")
    absent = sorted(set(range(NUM_CLASSES)) - set(_present(true_labels).tolist()))
    require(np.isfinite(matrix).all() or absent, "The matrix holds NaN or infinite values; every entry must be a share between 0 and 1.")
    for digit in absent:
        row = matrix[digit]
        require(
            np.isfinite(row).all(),
            f"Row {digit} is {row.tolist()}: no true label is {digit}, so its row divides 0 by 0; leave the row of a digit "
            "that never occurs all zeros (divide only rows whose sum is above 0).",
        )
        require(
            not row.any(),
            f"Row {digit} is {np.round(row, 3).tolist()}, but no true label is {digit}; leave the row of a digit that never "
            "occurs all zeros.",
        )


# --- the trained model ------------------------------------------------------------------------


def accuracy_at_least(model, images, labels, threshold: float):
    """The trained model reaches the required accuracy on the whole test set."""
    require(_is_model(model), f"Expected the trained Keras model, got {type(model).__name__}.")
    with quietly():
        probabilities = model.predict(images, batch_size=1024, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))
    require(
        accuracy >= threshold,
        f"The trained model classifies {accuracy:.2%} of the test images correctly; it needs {threshold:.0%}. "
        f"Train for {EPOCHS} epochs with validation_split={VALIDATION_SPLIT} and the default batch size, on all the "
        "training images and their one-hot labels.",
    )


# --- in-process: the notebook's hidden cells and the grader tests -------------------------------

LARGE_INPUT_BYTES = 50 * 2**20  # the training images: passed as built (fit's record compares them by identity first)


def _fresh(argument):
    """A copy of a small array, so that a function that changes its input in place cannot change what it is judged on."""
    if isinstance(argument, np.ndarray) and argument.nbytes < LARGE_INPUT_BYTES:
        return argument.copy()
    return argument


def kept_value(call, function, call_inputs: list):
    """What the harness keeps of ``function`` called on ``call_inputs``, as the verifier then sees it."""
    from course.sandboxed.fit_record import summarize_fit_calls
    from course.spec import FIT_RECORD, MUTATED_ARGUMENT

    arguments = [_fresh(argument) for argument in call_inputs]
    with quietly():
        returned = function(*arguments)
    if call.keep == MUTATED_ARGUMENT:
        return arguments[0]
    if call.keep == FIT_RECORD:
        recorder, images, labels = arguments
        return FitRecord(summarize_fit_calls(recorder, images, labels), f"{type(returned).__module__}.{type(returned).__name__}")
    return returned


def run_test(grade_id: str, target):
    """Run the spec's test ``grade_id`` here: ``target`` is the student's function (called on the spec's inputs, its
    result kept as the spec says), or the notebook's model for a test on an artifact."""
    from course.assignments.mnist_confusion import SPEC
    from course.sandboxed import inputs

    test = next(test for test in SPEC.tests if test.grade_id == grade_id)
    if SPEC.artifact(test.on) is not None:
        value, call_inputs = target, []
    else:
        call = SPEC.call(test.on)
        call_inputs = inputs.build_all(call.inputs)
        value = kept_value(call, target, call_inputs)
    arguments = inputs.build_all(test.args, lambda: call_inputs)
    test.check(value, *arguments)
