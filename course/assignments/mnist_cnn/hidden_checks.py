"""The checks behind the hidden test cells of the MNIST CNN assignment. Instructor-only: never published.

Like course.student.checks, each raises ``CheckFailed`` with a sentence the student can act on, and none trains a
network. The verifier calls them as the spec says (``check(value, *args)``, on what the harness kept); the hidden
test cells of the source notebook and the grader tests call them in-process, through the same functions.

Every spelling Keras accepts for what the spec asks keeps full marks, so the checks judge what a layer, activation
or metric computes rather than how it was written: 'relu', tf.nn.relu and keras.activations.relu are one activation;
'accuracy', 'acc', SparseCategoricalAccuracy() under any name are one metric, and Accuracy() named "accuracy" is not.

Which layer options count (grader_tests/cases.py has cases for them):
- they change what the layer computes, so they lose the layer's point, with a message: Conv2D filters, kernel_size,
  strides, padding, data_format, dilation_rate, groups, use_bias=False and activation; MaxPooling2D pool_size,
  strides and data_format; Dense units, use_bias=False and activation; and trainable=False or LoRA on the Conv2D
  or a Dense layer (fit would then not train the spec's weights).
- they do not, so they keep full marks: name, dtype, kernel/bias initializers, regularizers and constraints (they
  steer training, whose result the accuracy test judges), MaxPooling2D padding='same' (the same 14x14 output on the
  even-sized inputs of this assignment), and Flatten's data_format (a fixed reordering before a fully connected layer).
- an activation given as a separate layer (Dense(64) then ReLU(), or Activation('relu')) computes the same, so the
  Conv2D and Dense checks look through it; only the six-layer check fails, saying to move the activation into the layer.
"""

from __future__ import annotations

import math

import numpy as np

from course.student.checks import (
    CONV_FILTERS,
    CONV_KERNEL,
    DENSE_SPEC,
    EPOCHS,
    POOL_SIZE,
    RELATIVE_TOLERANCE,
    VALUE_SAMPLE_SIZE,
    CheckFailed,
    FitRecord,
    _compile_config,
    _is_model,
    _layer_type,
    _shape,
    evaluation_pair,
    model_built,
    quietly,
    record_training,
    require,
    scaled_pair,
)
from course.assignments.keras_checks import (  # noqa: F401  (keras_custom_objects: the spec passes it on)
    config_name,
    display_name,
    effective_activation,
    keras_custom_objects,
    metrics_are_accuracy,
    optimizer_is_default_adam,
    same_computation,
)
from course.sandboxed.fit_record import summarize_fit_calls

SPARSE_CCE_NAMES = {"sparse_categorical_crossentropy", "sparsecategoricalcrossentropy"}


def scaled_order(result, train_images, test_images):
    """The training images come first."""
    scaled_pair(result, train_images, test_images)
    require(
        _shape(result[0]) == train_images.shape and _shape(result[1]) == test_images.shape,
        "The outputs are swapped: return (scaled_train_images, scaled_test_images), training images first.",
    )


def scaled_dtype(result, train_images, test_images):
    """Both outputs are floating point."""
    scaled_pair(result, train_images, test_images)
    for name, scaled in (("training", result[0]), ("test", result[1])):
        dtype = np.asarray(scaled).dtype
        require(
            np.issubdtype(dtype, np.floating),
            f"The scaled {name} images have dtype {dtype}; divide with / (not //) so they become floats.",
        )


def scaled_range(result, train_images, test_images):
    """Pixels are divided by 255: the range is exactly [0, 1], with 1.0 for full ink."""
    scaled_pair(result, train_images, test_images)
    scaled = dict(zip(("training", "test"), result))
    if _shape(result[0]) != train_images.shape:  # swapped outputs are judged by scaled_order
        scaled = {"training": result[1], "test": result[0]}
    for name, original in (("training", train_images), ("test", test_images)):
        values = np.asarray(scaled[name])
        low, high = float(values.min()), float(values.max())
        require(low >= 0.0, f"The scaled {name} images go down to {low:.3g}; scale to [0, 1] by dividing by 255, without subtracting a mean.")
        require(
            math.isclose(high, 1.0, rel_tol=RELATIVE_TOLERANCE),
            f"The scaled {name} images reach {high:.4g}; divide by 255 (the largest pixel value) so full ink becomes 1.0.",
        )
        sample = slice(0, VALUE_SAMPLE_SIZE)  # the full arrays would need gigabytes of temporaries
        require(
            np.allclose(values[sample].astype(np.float64), original[sample] / 255.0, atol=1e-6),
            f"The scaled {name} images are not the pixels divided by 255; scale each pixel as pixel / 255.",
        )


def model_input_from_argument(get_model, other_shape=(32, 32, 1)):
    """The input shape comes from the argument: building with (32, 32, 1) gives a 32x32 input."""
    with quietly():
        model = get_model(other_shape)
    input_shape_is(model, other_shape)


def input_shape_is(model, input_shape):
    """The model get_model built when called with ``input_shape`` takes inputs of that shape."""
    input_shape = tuple(input_shape)
    require(_is_model(model), f"get_model{input_shape} returned {type(model).__name__}; return the keras model.")
    built = tuple(model.input_shape)
    require(
        built == (None, *input_shape),
        f"get_model({input_shape}) built a model with input {built}; use the input_shape argument instead of a fixed (28, 28, 1).",
    )


def _layers_of(model, kind):
    return [layer for layer in model.layers if _layer_type(layer) == kind]


def conv_layer_config(model):
    """Conv2D: 8 filters, 3x3 kernel, 'same' padding, stride 1, ReLU, and nothing else that changes what it computes."""
    model_built(model)
    convs = _layers_of(model, "Conv2D")
    require(convs, "The model has no Conv2D layer; start with Conv2D(8, (3, 3), padding='same', activation='relu').")
    conv = convs[0]
    require(conv.filters == CONV_FILTERS, f"Conv2D has {conv.filters} filters; the spec asks for {CONV_FILTERS}.")
    require(tuple(conv.kernel_size) == CONV_KERNEL, f"Conv2D has a {conv.kernel_size} kernel; the spec asks for 3x3.")
    require(conv.padding == "same", f"Conv2D uses padding='{conv.padding}'; the spec asks for 'SAME' padding.")
    require(tuple(conv.strides) == (1, 1), f"Conv2D has strides {conv.strides}; keep the default stride 1.")
    same_computation(conv, "Conv2D")
    activation = effective_activation(model, conv)
    require(activation == "relu", f"Conv2D uses a {activation} activation; the spec asks for ReLU.")


def pool_layer_config(model):
    """MaxPooling2D: 2x2 pool with the default strides (2x2), channels last."""
    model_built(model)
    pools = _layers_of(model, "MaxPooling2D")
    require(pools, "The model has no MaxPooling2D layer; add MaxPooling2D((2, 2)) after the Conv2D.")
    pool = pools[0]
    require(tuple(pool.pool_size) == POOL_SIZE, f"MaxPooling2D has pool size {pool.pool_size}; the spec asks for 2x2.")
    require(tuple(pool.strides) == POOL_SIZE, f"MaxPooling2D has strides {pool.strides}; keep the default strides (equal to the pool size).")
    same_computation(pool, "MaxPooling2D")


def dense_layers_config(model):
    """Dense layers: 64 ReLU, 64 ReLU, 10 softmax, with biases."""
    model_built(model)
    denses = _layers_of(model, "Dense")
    require(len(denses) == len(DENSE_SPEC), f"The model has {len(denses)} Dense layers; the spec asks for 3: Dense(64), Dense(64), Dense(10).")
    for position, (layer, (units, activation)) in enumerate(zip(denses, DENSE_SPEC), start=1):
        require(layer.units == units, f"Dense layer {position} has {layer.units} units; the spec asks for {units}.")
        same_computation(layer, f"Dense layer {position}")
        found = effective_activation(model, layer)
        require(found == activation, f"Dense layer {position} uses a {found} activation; the spec asks for {activation}.")


def loss_is_sparse_cce(model):
    """Sparse categorical cross-entropy on probabilities (not from_logits), over every class."""
    config = _compile_config(model)
    loss = config.get("loss")
    require(loss is not None, "No loss was given; pass loss='sparse_categorical_crossentropy' to compile.")
    name = config_name(loss)
    require(
        name in SPARSE_CCE_NAMES,
        f"The loss is {display_name(loss)}; the labels are integers 0-9, so use loss='sparse_categorical_crossentropy'.",
    )
    inner = loss.get("config") if isinstance(loss, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    require(
        not inner.get("from_logits"),
        "The loss has from_logits=True, but the model ends in softmax and outputs probabilities; drop from_logits.",
    )
    require(
        inner.get("ignore_class") is None,
        f"The loss has ignore_class={inner.get('ignore_class')}, so it skips every image of that digit; drop ignore_class.",
    )


METRIC_REASONS = {
    "accuracy": "keras.metrics.Accuracy compares predicted values to labels exactly; "
    "for class probabilities use metrics=['accuracy'] or SparseCategoricalAccuracy.",
    "categoricalaccuracy": "keras.metrics.CategoricalAccuracy expects one-hot labels, but the labels are integers 0-9; "
    "use metrics=['accuracy'] or SparseCategoricalAccuracy.",
    "binaryaccuracy": "keras.metrics.BinaryAccuracy is for two classes; use metrics=['accuracy'] for ten.",
}


def metrics_is_accuracy(model):
    """Accuracy is the one metric: judged by what it computes on integer labels, not by its name."""
    metrics_are_accuracy(_compile_config(model), one_hot=False, reasons=METRIC_REASONS)


def fit_epochs(calls: list[dict]):
    """Five epochs in all."""
    require(calls, "train_model never called model.fit on the model it was given; train that model, not a global one.")
    epochs = sum(call["epochs"] for call in calls)
    require(epochs == EPOCHS, f"train_model trains for {epochs} epoch(s); the spec asks for epochs={EPOCHS}.")


def fit_data(calls: list[dict], total_images: int):
    """Every fit call gets all the training images and labels it was given."""
    require(calls, "train_model never called model.fit on the model it was given; train that model, not a global one.")
    for call in calls:
        require(
            call["images"] == total_images,
            f"model.fit got {call['images'] if call['images'] is not None else 'no'} training images of the {total_images} given; "
            "pass all of scaled_train_images.",
        )
        require(call["labels_equal"], "model.fit did not get the train_labels argument; pass train_labels unchanged.")
        require(call["images_equal"], "model.fit got other images than scaled_train_images; pass the argument unchanged.")
        steps = call.get("steps_per_epoch")
        if steps is not None:
            per_epoch = steps * (call.get("batch_size") or 32)  # Keras' default batch size
            require(
                per_epoch >= total_images,
                f"model.fit(steps_per_epoch={steps}) trains on {per_epoch} of the {total_images} images an epoch; "
                "drop steps_per_epoch so that every epoch uses all of them.",
            )


def epochs_in_record(record: FitRecord):
    """Five epochs, from the record the grader kept of train_model's fit calls."""
    fit_epochs(record.calls)


def all_data_in_record(record: FitRecord, total_images: int):
    """Every fit call got all the training images and labels, from the record of train_model's fit calls."""
    fit_data(record.calls, total_images)


def trains_for_epochs(train_model, train_images, train_labels):
    """Five epochs."""
    fit_epochs(summarize_fit_calls(record_training(train_model, train_images, train_labels), train_images, train_labels))


def trains_on_all_data(train_model, train_images, train_labels):
    """fit gets every training image and label it was given."""
    recorder = record_training(train_model, train_images, train_labels)
    fit_data(summarize_fit_calls(recorder, train_images, train_labels), len(train_images))


def evaluation_matches(evaluate_model, model, images, labels):
    """evaluate_model evaluates the given model on the given data, returning (loss, accuracy) in that order."""
    with quietly():
        result = evaluate_model(model, images, labels)
    evaluation_agrees(result, model, images, labels)


def evaluation_agrees(result, model, images, labels):
    """``result``, what evaluate_model returned for (model, images, labels), is what model.evaluate gives."""
    with quietly():
        # one batch: the same mean loss and accuracy as Keras' default batches of 32, in a sixteenth of the steps
        expected_loss, expected_accuracy = model.evaluate(images, labels, batch_size=len(images), verbose=0)[:2]
    evaluation_pair(result)
    loss, accuracy = (float(value) for value in result)
    if math.isclose(loss, expected_accuracy, rel_tol=1e-3) and math.isclose(accuracy, expected_loss, rel_tol=1e-3):
        raise CheckFailed("The values are swapped: return (test_loss, test_accuracy), loss first.")
    require(
        math.isclose(loss, expected_loss, rel_tol=1e-3, abs_tol=1e-5) and math.isclose(accuracy, expected_accuracy, abs_tol=1e-4),
        f"evaluate_model gave loss {loss:.4f}, accuracy {accuracy:.4f}, but the model scores loss {expected_loss:.4f}, "
        f"accuracy {expected_accuracy:.4f} on the images and labels passed in; evaluate on the arguments.",
    )


def accuracy_at_least(model, images, labels, threshold: float):
    """The trained model reaches the required accuracy on the whole test set."""
    require(_is_model(model), f"Expected the trained Keras model, got {type(model).__name__}.")
    with quietly():
        probabilities = model.predict(images, batch_size=1024, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))
    require(
        accuracy >= threshold,
        f"The trained model classifies {accuracy:.2%} of the test images correctly; it needs {threshold:.0%}. "
        f"Train for {EPOCHS} epochs on all the training images.",
    )
