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
    ACTIVATION_LAYER_TYPES,
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
from course.sandboxed.fit_record import summarize_fit_calls

ADAM_DEFAULTS = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
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


ACTIVATION_PROBE = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0, 8.0]], dtype="float32")  # 8 > 6 tells relu from relu6


def _name_activation_output(out) -> str | None:
    """'relu', 'softmax' or 'linear (none)' when ``out`` is what that activation makes of ACTIVATION_PROBE."""
    probe = ACTIVATION_PROBE
    out = np.asarray(out)
    if out.shape != probe.shape:
        return None
    if np.allclose(out, np.maximum(probe, 0)):
        return "relu"
    softmax = np.exp(probe) / np.exp(probe).sum(axis=-1, keepdims=True)
    if np.allclose(out, softmax, atol=1e-6):
        return "softmax"
    if np.allclose(out, probe):
        return "linear (none)"
    return None


def _activation_name(activation, then=()) -> str:
    """Name an activation by what it computes, so 'relu', tf.nn.relu and keras.activations.relu agree.

    ``then``: activation layers that follow (Dense(64) then ReLU()); they are applied after it, as in the model.
    """
    import keras

    with quietly():
        out = activation(keras.ops.convert_to_tensor(ACTIVATION_PROBE))
        for layer in then:
            out = layer(out)
        out = keras.ops.convert_to_numpy(out)
    name = _name_activation_output(out)
    if name is not None:
        return name
    name = getattr(activation, "__name__", type(activation).__name__)
    return " then ".join([name, *(type(layer).__name__ for layer in then)])


def _effective_activation(model, layer) -> str:
    """The activation ``layer`` ends in, counting activation layers right after it (which compute the same)."""
    layers = list(model.layers)
    following = []
    for later in layers[layers.index(layer) + 1:]:
        if _layer_type(later) not in ACTIVATION_LAYER_TYPES:
            break
        following.append(later)
    return _activation_name(layer.activation, following)


def _same_computation(layer, kind: str):
    """Options that change what the layer computes, or stop fit training it, must stay at their defaults."""
    config = layer.get_config()
    data_format = config.get("data_format") or "channels_last"
    require(
        data_format == "channels_last",
        f"{kind} has data_format='{data_format}', which reads the first image axis as the channels; "
        "keep the default 'channels_last' (the images are 28x28x1, channel last).",
    )
    if "dilation_rate" in config:
        dilation = tuple(np.broadcast_to(config["dilation_rate"], (2,)).tolist())
        require(dilation == (1, 1), f"{kind} has dilation_rate {dilation}, which spreads its kernel over a wider window; keep the default 1.")
    if "groups" in config:
        require(config["groups"] == 1, f"{kind} has groups={config['groups']}; keep the default groups=1.")
    if "use_bias" in config:
        require(config["use_bias"], f"{kind} has use_bias=False; keep the default use_bias=True: the spec's layer adds a bias to each output.")
    if getattr(layer, "weights", None):  # a pooling layer has nothing to train
        require(getattr(layer, "trainable", True), f"{kind} has trainable=False, so fit never changes its weights; leave it trainable.")
    require(
        not getattr(layer, "lora_enabled", False),
        f"{kind} has LoRA enabled (lora_rank={getattr(layer, 'lora_rank', None)}), which freezes its kernel; leave lora_rank unset.",
    )


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
    _same_computation(conv, "Conv2D")
    activation = _effective_activation(model, conv)
    require(activation == "relu", f"Conv2D uses a {activation} activation; the spec asks for ReLU.")


def pool_layer_config(model):
    """MaxPooling2D: 2x2 pool with the default strides (2x2), channels last."""
    model_built(model)
    pools = _layers_of(model, "MaxPooling2D")
    require(pools, "The model has no MaxPooling2D layer; add MaxPooling2D((2, 2)) after the Conv2D.")
    pool = pools[0]
    require(tuple(pool.pool_size) == POOL_SIZE, f"MaxPooling2D has pool size {pool.pool_size}; the spec asks for 2x2.")
    require(tuple(pool.strides) == POOL_SIZE, f"MaxPooling2D has strides {pool.strides}; keep the default strides (equal to the pool size).")
    _same_computation(pool, "MaxPooling2D")


def dense_layers_config(model):
    """Dense layers: 64 ReLU, 64 ReLU, 10 softmax, with biases."""
    model_built(model)
    denses = _layers_of(model, "Dense")
    require(len(denses) == len(DENSE_SPEC), f"The model has {len(denses)} Dense layers; the spec asks for 3: Dense(64), Dense(64), Dense(10).")
    for position, (layer, (units, activation)) in enumerate(zip(denses, DENSE_SPEC), start=1):
        require(layer.units == units, f"Dense layer {position} has {layer.units} units; the spec asks for {units}.")
        _same_computation(layer, f"Dense layer {position}")
        found = _effective_activation(model, layer)
        require(found == activation, f"Dense layer {position} uses a {found} activation; the spec asks for {activation}.")


def keras_custom_objects() -> dict:
    """Names TensorFlow activation functions are saved under, mapped to the Keras activations computing the same.

    A model built with ``activation=tf.nn.softmax`` saves its activation as the function name 'softmax_v2', which
    Keras cannot load, even in safe mode, unless told what it is. Pass this to
    ``keras.saving.load_model(path, safe_mode=True, custom_objects=keras_custom_objects())``. Only Keras' own
    functions are returned, so loading stays safe. The names were found by saving and reloading a model with each of
    tf.nn.*, tf.math.*, tf.keras.activations.*, keras.activations.* and the activation strings
    (tests/test_check_spellings.py does so again): only softmax_v2, log_softmax_v2 and swish failed; the rest are
    here so that a Keras that stops resolving them still loads them.
    """
    import keras

    act = keras.activations
    return {
        "softmax_v2": act.softmax,  # tf.nn.softmax, tf.math.softmax
        "log_softmax_v2": act.log_softmax,  # tf.nn.log_softmax, tf.math.log_softmax
        "swish": act.silu,  # tf.nn.silu, tf.nn.swish
        "identity": act.linear,  # tf.identity
        "relu": act.relu,
        "relu6": act.relu6,
        "sigmoid": act.sigmoid,
        "tanh": act.tanh,
        "elu": act.elu,
        "selu": act.selu,
        "gelu": act.gelu,
        "leaky_relu": act.leaky_relu,
        "softplus": act.softplus,
        "softsign": act.softsign,
    }


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


def _display_name(entry) -> str:
    """How the student wrote a loss or metric, for messages: the string, the function's or the class's name."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        inner = entry.get("config")
        return inner if entry.get("class_name") == "function" and isinstance(inner, str) else str(entry.get("class_name", "?"))
    return getattr(entry, "__name__", type(entry).__name__)


def _close(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return value == default
    if isinstance(default, (int, float)) and isinstance(value, (int, float)):
        return math.isclose(float(value), float(default), rel_tol=RELATIVE_TOLERANCE)
    return value == default


def optimizer_is_default_adam(model):
    """Adam with all its default settings (learning rate 0.001; no clipping, weight decay, AMSGrad or EMA)."""
    import keras

    _compile_config(model)
    optimizer = model.optimizer
    name = type(optimizer).__name__
    require(name == "Adam", f"The optimizer is {name}; the spec asks for Adam ('adam').")
    settings = optimizer.get_config()
    defaults = {**keras.optimizers.Adam().get_config(), **ADAM_DEFAULTS}
    ignored = {"name"} | ({"ema_momentum", "ema_overwrite_frequency"} if not settings.get("use_ema") else set())
    for key, default in defaults.items():
        if key in ignored:
            continue
        value = settings.get(key, default)
        if key == "weight_decay" and value == 0:
            value = None
        if isinstance(value, dict):  # a learning-rate schedule
            raise CheckFailed(
                f"Adam's {key} is a schedule ({value.get('class_name', '?')}); keep the constant default {default:g} (use optimizer='adam')."
            )
        if key in ADAM_DEFAULTS:
            require(
                _close(value, default),
                f"Adam's {key} is {float(value):g}; keep the default {default:g} (use optimizer='adam').",
            )
        else:
            require(_close(value, default), f"Adam's {key} is {value!r}; keep the default {default!r} (use optimizer='adam').")


def loss_is_sparse_cce(model):
    """Sparse categorical cross-entropy on probabilities (not from_logits), over every class."""
    config = _compile_config(model)
    loss = config.get("loss")
    require(loss is not None, "No loss was given; pass loss='sparse_categorical_crossentropy' to compile.")
    name = _config_name(loss)
    require(
        name in SPARSE_CCE_NAMES,
        f"The loss is {_display_name(loss)}; the labels are integers 0-9, so use loss='sparse_categorical_crossentropy'.",
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


# Integer labels and class probabilities, as fit gives them to a metric. Classification accuracy is 5/8 on the
# first and 2/8 on the second; no probability is exactly 0 or 1, so exact-match Accuracy cannot score them. The
# labels come as a column first: metrics that do not compute accuracy then give a wrong number instead of a
# TensorFlow shape error (which logs to the kernel's stderr), then as the flat vector fit passes.
def _metric_probes():
    rng = np.random.default_rng(7)
    probes = []
    for labels, correct in (([3, 1, 4, 1, 5, 9, 2, 6], 5), ([0, 7, 7, 2, 8, 3, 1, 9], 2)):
        labels = np.array(labels, dtype="uint8")
        predicted = np.where(np.arange(len(labels)) < correct, labels, (labels + 1 + rng.integers(0, 8, len(labels))) % 10)
        logits = rng.normal(0.0, 0.3, (len(labels), 10)) + 4.0 * np.eye(10)[predicted]
        probabilities = (np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)).astype("float32")
        probes.append((labels, probabilities, correct / len(labels)))
    return [(labels[:, None], p, e) for labels, p, e in probes] + probes


METRIC_REASONS = {
    "accuracy": "keras.metrics.Accuracy compares predicted values to labels exactly; "
    "for class probabilities use metrics=['accuracy'] or SparseCategoricalAccuracy.",
    "categoricalaccuracy": "keras.metrics.CategoricalAccuracy expects one-hot labels, but the labels are integers 0-9; "
    "use metrics=['accuracy'] or SparseCategoricalAccuracy.",
    "binaryaccuracy": "keras.metrics.BinaryAccuracy is for two classes; use metrics=['accuracy'] for ten.",
}


def _resolve_metric(entry):
    """The metric object compile makes of ``entry`` for integer labels and a 10-way softmax output."""
    import keras

    if isinstance(entry, str) and entry in ("accuracy", "acc"):
        # compile picks the accuracy by the labels' and output's shapes: integer labels give the sparse one
        return keras.metrics.SparseCategoricalAccuracy()
    if isinstance(entry, dict) and entry.get("class_name") == "function" and isinstance(entry.get("config"), str):
        entry = entry["config"]  # a Keras metric function, saved by its name (keras.metrics.accuracy is exact-match)
    metric = keras.metrics.get(entry)
    if not isinstance(metric, keras.metrics.Metric):
        metric = keras.metrics.MeanMetricWrapper(metric, name=getattr(metric, "__name__", "metric"))
    return metric


def _computes_accuracy(entry) -> tuple[bool, str]:
    """Whether ``entry`` computes classification accuracy on this assignment's labels, and what it is called."""
    try:
        with quietly():
            metric = _resolve_metric(entry)
    except Exception:
        return False, _config_name(entry)
    kind = type(metric).__name__ if type(metric).__name__ != "MeanMetricWrapper" else _config_name(entry)
    for labels, probabilities, expected in _metric_probes():
        try:
            with quietly():
                metric.reset_state()
                metric.update_state(labels, probabilities)
                value = float(np.asarray(metric.result()))
        except Exception:
            return False, kind
        if not math.isclose(value, expected, abs_tol=1e-6):
            return False, kind
    return True, kind


def metrics_is_accuracy(model):
    """Accuracy is the one metric: judged by what it computes on integer labels, not by its name."""
    config = _compile_config(model)
    loss_weights = config.get("loss_weights")
    require(
        not (isinstance(loss_weights, (list, tuple)) and any(isinstance(w, str) for w in loss_weights)),
        "['accuracy'] ended up as loss_weights: compile's third positional argument is loss_weights. Pass metrics=['accuracy'] by keyword.",
    )
    metrics = config.get("metrics")
    require(metrics, "No metrics were given; pass metrics=['accuracy'] to compile.")
    if isinstance(metrics, dict) and "class_name" not in metrics:  # metrics={output name: ...}
        metrics = [m for value in metrics.values() for m in (value if isinstance(value, (list, tuple)) else [value])]
    metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    names = [_display_name(metric) for metric in metrics]
    require(len(names) == 1, f"The metrics are {names}; the spec asks for accuracy as the only metric.")
    ok, kind = _computes_accuracy(metrics[0])
    reason = METRIC_REASONS.get(kind.lower())
    require(ok, reason or f"The metric is {names[0]}; use metrics=['accuracy'].")


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
