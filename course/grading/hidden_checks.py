"""The checks behind the hidden test cells of the MNIST CNN assignment. Instructor-only: never published.

Like course.checks, each raises ``CheckFailed`` with a sentence the student can act on, and none trains a
network. The hidden test cells, the grader tests and the verifier outside the kernel call these same functions.
"""

from __future__ import annotations

import math

import numpy as np

from course.checks import (
    CONV_FILTERS,
    CONV_KERNEL,
    DENSE_SPEC,
    EPOCHS,
    POOL_SIZE,
    RELATIVE_TOLERANCE,
    VALUE_SAMPLE_SIZE,
    CheckFailed,
    FitRecorder,
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

ADAM_DEFAULTS = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
ACCURACY_METRIC_NAMES = {"accuracy", "acc", "sparse_categorical_accuracy", "sparsecategoricalaccuracy"}
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


def model_input_from_argument(get_model):
    """The input shape comes from the argument: building with (32, 32, 1) gives a 32x32 input."""
    other_shape = (32, 32, 1)
    with quietly():
        model = get_model(other_shape)
    require(_is_model(model), f"get_model{other_shape} returned {type(model).__name__}; return the keras model.")
    input_shape = tuple(model.input_shape)
    require(
        input_shape == (None, *other_shape),
        f"get_model({other_shape}) built a model with input {input_shape}; use the input_shape argument instead of a fixed (28, 28, 1).",
    )


def _layers_of(model, kind):
    return [layer for layer in model.layers if _layer_type(layer) == kind]


def _activation_name(activation) -> str:
    """Name an activation by what it computes, so 'relu', tf.nn.relu and keras.activations.relu agree."""
    import keras

    probe = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]], dtype="float32")
    with quietly():
        out = np.asarray(keras.ops.convert_to_numpy(activation(keras.ops.convert_to_tensor(probe))))
    if np.allclose(out, np.maximum(probe, 0)):
        return "relu"
    softmax = np.exp(probe) / np.exp(probe).sum(axis=-1, keepdims=True)
    if np.allclose(out, softmax, atol=1e-6):
        return "softmax"
    if np.allclose(out, probe):
        return "linear (none)"
    return getattr(activation, "__name__", type(activation).__name__)


def conv_layer_config(model):
    """Conv2D: 8 filters, 3x3 kernel, 'same' padding, stride 1, ReLU."""
    model_built(model)
    convs = _layers_of(model, "Conv2D")
    require(convs, "The model has no Conv2D layer; start with Conv2D(8, (3, 3), padding='same', activation='relu').")
    conv = convs[0]
    require(conv.filters == CONV_FILTERS, f"Conv2D has {conv.filters} filters; the spec asks for {CONV_FILTERS}.")
    require(tuple(conv.kernel_size) == CONV_KERNEL, f"Conv2D has a {conv.kernel_size} kernel; the spec asks for 3x3.")
    require(conv.padding == "same", f"Conv2D uses padding='{conv.padding}'; the spec asks for 'SAME' padding.")
    require(tuple(conv.strides) == (1, 1), f"Conv2D has strides {conv.strides}; keep the default stride 1.")
    activation = _activation_name(conv.activation)
    require(activation == "relu", f"Conv2D uses a {activation} activation; the spec asks for ReLU.")


def pool_layer_config(model):
    """MaxPooling2D: 2x2 pool with the default strides (2x2)."""
    model_built(model)
    pools = _layers_of(model, "MaxPooling2D")
    require(pools, "The model has no MaxPooling2D layer; add MaxPooling2D((2, 2)) after the Conv2D.")
    pool = pools[0]
    require(tuple(pool.pool_size) == POOL_SIZE, f"MaxPooling2D has pool size {pool.pool_size}; the spec asks for 2x2.")
    require(tuple(pool.strides) == POOL_SIZE, f"MaxPooling2D has strides {pool.strides}; keep the default strides (equal to the pool size).")


def dense_layers_config(model):
    """Dense layers: 64 ReLU, 64 ReLU, 10 softmax."""
    model_built(model)
    denses = _layers_of(model, "Dense")
    require(len(denses) == len(DENSE_SPEC), f"The model has {len(denses)} Dense layers; the spec asks for 3: Dense(64), Dense(64), Dense(10).")
    for position, (layer, (units, activation)) in enumerate(zip(denses, DENSE_SPEC), start=1):
        require(layer.units == units, f"Dense layer {position} has {layer.units} units; the spec asks for {units}.")
        found = _activation_name(layer.activation)
        require(found == activation, f"Dense layer {position} uses a {found} activation; the spec asks for {activation}.")


def _config_name(entry) -> str:
    """The name Keras knows a loss or metric by, from a string, an object or a function config."""
    if isinstance(entry, str):
        return entry.lower()
    if isinstance(entry, dict):
        inner = entry.get("config")
        if entry.get("class_name") == "function" and isinstance(inner, str):
            return inner.lower()
        return str(entry.get("class_name", "")).lower()
    return getattr(entry, "__name__", type(entry).__name__).lower()


def optimizer_is_default_adam(model):
    """Adam with its default settings (learning rate 0.001)."""
    _compile_config(model)
    optimizer = model.optimizer
    name = type(optimizer).__name__
    require(name == "Adam", f"The optimizer is {name}; the spec asks for Adam ('adam').")
    settings = optimizer.get_config()
    for key, default in ADAM_DEFAULTS.items():
        value = float(settings.get(key, default))
        require(
            math.isclose(value, default, rel_tol=RELATIVE_TOLERANCE),
            f"Adam's {key} is {value:g}; keep the default {default:g} (use optimizer='adam').",
        )


def loss_is_sparse_cce(model):
    """Sparse categorical cross-entropy on probabilities (not from_logits)."""
    config = _compile_config(model)
    loss = config.get("loss")
    require(loss is not None, "No loss was given; pass loss='sparse_categorical_crossentropy' to compile.")
    name = _config_name(loss)
    require(
        name in SPARSE_CCE_NAMES,
        f"The loss is {name}; the labels are integers 0-9, so use loss='sparse_categorical_crossentropy'.",
    )
    inner = loss.get("config") if isinstance(loss, dict) else None
    require(
        not (isinstance(inner, dict) and inner.get("from_logits")),
        "The loss has from_logits=True, but the model ends in softmax and outputs probabilities; drop from_logits.",
    )


def metrics_is_accuracy(model):
    """Accuracy is the one metric."""
    config = _compile_config(model)
    loss_weights = config.get("loss_weights")
    require(
        not (isinstance(loss_weights, (list, tuple)) and any(isinstance(w, str) for w in loss_weights)),
        "['accuracy'] ended up as loss_weights: compile's third positional argument is loss_weights. Pass metrics=['accuracy'] by keyword.",
    )
    metrics = config.get("metrics")
    require(metrics, "No metrics were given; pass metrics=['accuracy'] to compile.")
    metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    names = [_config_name(metric) for metric in metrics]
    require(len(names) == 1, f"The metrics are {names}; the spec asks for accuracy as the only metric.")
    require(names[0] in ACCURACY_METRIC_NAMES, f"The metric is {names[0]}; use metrics=['accuracy'].")


def summarize_fit_calls(recorder: FitRecorder, train_images, train_labels) -> list[dict]:
    """What each fit call got, as plain data (so it can also be checked outside the process that made it)."""
    sample = slice(0, VALUE_SAMPLE_SIZE)
    summaries = []
    for call in recorder.calls:
        x, y = call["x"], call["y"]
        summaries.append({
            "images": len(x) if _shape(x) is not None else None,
            "images_equal": x is train_images or (_shape(x) is not None and np.array_equal(np.asarray(x[sample]), np.asarray(train_images[sample]))),
            "labels_equal": _shape(y) is not None and np.array_equal(np.asarray(y), np.asarray(train_labels)),
            "epochs": int(call["epochs"]) - int(call["initial_epoch"] or 0),
        })
    return summaries


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
        expected_loss, expected_accuracy = model.evaluate(images, labels, verbose=0)[:2]
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
