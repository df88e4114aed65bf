"""Judgements of Keras settings that every assignment's hidden checks share: what an activation, a layer option,
an optimizer or a metric computes, whatever its spelling. Instructor-only, like the hidden checks.

Every spelling Keras accepts for what a spec asks keeps full marks, so these judge what a setting computes rather
than how it was written: 'relu', tf.nn.relu and keras.activations.relu are one activation; 'accuracy', 'acc' and
the accuracy metric object for the labels' encoding are one metric, and Accuracy() named "accuracy" is not.
"""

from __future__ import annotations

import math

import numpy as np

from course.student.checks import ACTIVATION_LAYER_TYPES, RELATIVE_TOLERANCE, CheckFailed, _compile_config, _layer_type, quietly, require

ADAM_DEFAULTS = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
NUM_CLASSES = 10


ACTIVATION_PROBE = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0, 8.0]], dtype="float32")  # 8 > 6 tells relu from relu6


def name_activation_output(out) -> str | None:
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


def activation_name(activation, then=()) -> str:
    """Name an activation by what it computes, so 'relu', tf.nn.relu and keras.activations.relu agree.

    ``then``: activation layers that follow (Dense(64) then ReLU()); they are applied after it, as in the model.
    """
    import keras

    with quietly():
        out = activation(keras.ops.convert_to_tensor(ACTIVATION_PROBE))
        for layer in then:
            out = layer(out)
        out = keras.ops.convert_to_numpy(out)
    name = name_activation_output(out)
    if name is not None:
        return name
    name = getattr(activation, "__name__", type(activation).__name__)
    return " then ".join([name, *(type(layer).__name__ for layer in then)])


def effective_activation(model, layer) -> str:
    """The activation ``layer`` ends in, counting activation layers right after it (which compute the same)."""
    layers = list(model.layers)
    following = []
    for later in layers[layers.index(layer) + 1:]:
        if _layer_type(later) not in ACTIVATION_LAYER_TYPES:
            break
        following.append(later)
    return activation_name(layer.activation, following)


def same_computation(layer, kind: str):
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


def config_name(entry) -> str:
    """The name Keras knows a loss or metric by, from a string, an object or a function config."""
    if isinstance(entry, str):
        return entry.lower()
    if isinstance(entry, dict):
        inner = entry.get("config")
        if entry.get("class_name") == "function" and isinstance(inner, str):
            return inner.lower()
        return str(entry.get("class_name", "")).lower()
    return getattr(entry, "__name__", type(entry).__name__).lower()


def display_name(entry) -> str:
    """How the student wrote a loss or metric, for messages: the string, the function's or the class's name."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        inner = entry.get("config")
        return inner if entry.get("class_name") == "function" and isinstance(inner, str) else str(entry.get("class_name", "?"))
    return getattr(entry, "__name__", type(entry).__name__)


def close_to(value, default) -> bool:
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
                close_to(value, default),
                f"Adam's {key} is {float(value):g}; keep the default {default:g} (use optimizer='adam').",
            )
        else:
            require(close_to(value, default), f"Adam's {key} is {value!r}; keep the default {default!r} (use optimizer='adam').")


# Labels and class probabilities, as fit gives them to a metric. Classification accuracy is 5/8 on the first and
# 2/8 on the second; no probability is exactly 0 or 1, so exact-match Accuracy cannot score them. Integer labels come
# as a column first: metrics that do not compute accuracy then give a wrong number instead of a TensorFlow shape
# error (which logs to the kernel's stderr), then as the flat vector fit passes. One-hot labels come as rows.
def metric_probes(one_hot: bool):
    rng = np.random.default_rng(7)
    probes = []
    for labels, correct in (([3, 1, 4, 1, 5, 9, 2, 6], 5), ([0, 7, 7, 2, 8, 3, 1, 9], 2)):
        labels = np.array(labels, dtype="uint8")
        predicted = np.where(np.arange(len(labels)) < correct, labels, (labels + 1 + rng.integers(0, 8, len(labels))) % NUM_CLASSES)
        logits = rng.normal(0.0, 0.3, (len(labels), NUM_CLASSES)) + 4.0 * np.eye(NUM_CLASSES)[predicted]
        probabilities = (np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)).astype("float32")
        probes.append((labels, probabilities, correct / len(labels)))
    if one_hot:
        return [(np.eye(NUM_CLASSES, dtype="float32")[labels], p, e) for labels, p, e in probes]
    return [(labels[:, None], p, e) for labels, p, e in probes] + probes


def resolve_metric(entry, one_hot: bool):
    """The metric object compile makes of ``entry`` for a 10-way softmax output and labels encoded so."""
    import keras

    if isinstance(entry, str) and entry in ("accuracy", "acc"):
        # compile picks the accuracy by the labels' and output's shapes
        return keras.metrics.CategoricalAccuracy() if one_hot else keras.metrics.SparseCategoricalAccuracy()
    if isinstance(entry, dict) and entry.get("class_name") == "function" and isinstance(entry.get("config"), str):
        entry = entry["config"]  # a Keras metric function, saved by its name (keras.metrics.accuracy is exact-match)
    metric = keras.metrics.get(entry)
    if not isinstance(metric, keras.metrics.Metric):
        metric = keras.metrics.MeanMetricWrapper(metric, name=getattr(metric, "__name__", "metric"))
    return metric


def computes_accuracy(entry, one_hot: bool) -> tuple[bool, str]:
    """Whether ``entry`` computes classification accuracy on labels encoded so, and what it is called."""
    try:
        with quietly():
            metric = resolve_metric(entry, one_hot)
    except Exception:  # noqa: BLE001 - an entry Keras cannot make a metric of computes no accuracy
        return False, config_name(entry)
    kind = type(metric).__name__ if type(metric).__name__ != "MeanMetricWrapper" else config_name(entry).replace("_", "")
    for labels, probabilities, expected in metric_probes(one_hot):
        try:
            with quietly():
                metric.reset_state()
                metric.update_state(labels, probabilities)
                value = float(np.asarray(metric.result()))
        except Exception:  # noqa: BLE001 - a metric that cannot take these labels
            return False, kind
        if not math.isclose(value, expected, abs_tol=1e-6):
            return False, kind
    return True, kind


def metrics_are_accuracy(config: dict, one_hot: bool, reasons: dict[str, str]):
    """Accuracy is the one metric of a compile ``config``: judged by what it computes, not by its name.
    ``reasons``: the kind of a wrong metric (lower case, no underscores) -> what to tell the student."""
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
    names = [display_name(metric) for metric in metrics]
    require(len(names) == 1, f"The metrics are {names}; the spec asks for accuracy as the only metric.")
    ok, kind = computes_accuracy(metrics[0], one_hot)
    require(ok, reasons.get(kind.lower().replace("_", "")) or f"The metric is {names[0]}; use metrics=['accuracy'].")
