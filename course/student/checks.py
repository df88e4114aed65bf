"""The checks behind the visible test cells of the MNIST CNN assignment, and what they share with the hidden ones.

Each check takes what the student's function returned (or the function itself) and raises ``CheckFailed``
with a sentence the student can act on. The visible test cells, the self-check (course.student.selfcheck) and the
grader call these same functions, so a message means the same thing everywhere. None of them trains a network.
The hidden checks live with the instructor's grading code, which never reaches students.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from dataclasses import dataclass

# The specification, in one place.
EPOCHS = 5
NUM_CLASSES = 10
CONV_FILTERS = 8
CONV_KERNEL = (3, 3)
POOL_SIZE = (2, 2)
HIDDEN_UNITS = 64
LAYER_TYPES = ("Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense", "Dense")
# Layers that only apply an activation: the spec puts each activation inside its Conv2D or Dense layer instead.
ACTIVATION_LAYER_TYPES = ("Activation", "ReLU", "Softmax", "LeakyReLU", "ELU")
DENSE_SPEC = ((HIDDEN_UNITS, "relu"), (HIDDEN_UNITS, "relu"), (NUM_CLASSES, "softmax"))
RELATIVE_TOLERANCE = 1e-4
VALUE_SAMPLE_SIZE = 2000


class CheckFailed(AssertionError):
    """A property of the student's answer does not hold; the message says what to change."""


def require(condition, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@contextlib.contextmanager
def quietly():
    """Silence warnings and prints from student code: nbgrader scores a test cell 0 when it writes to stderr."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _shape(value):
    return getattr(value, "shape", None)


# --- scale_mnist_data -------------------------------------------------------------------------


def scaled_pair(result, train_images, test_images):
    """Returns ``(train, test)``: a tuple of two arrays with the shapes of the inputs."""
    require(
        isinstance(result, (tuple, list)) and len(result) == 2,
        f"scale_mnist_data returned {type(result).__name__}; return a tuple (scaled_train_images, scaled_test_images).",
    )
    for name, scaled, original in (("first", result[0], train_images), ("second", result[1], test_images)):
        require(_shape(scaled) is not None, f"The {name} returned value is {type(scaled).__name__}, not an array.")
    require(
        {_shape(result[0]), _shape(result[1])} == {train_images.shape, test_images.shape},
        f"The returned arrays have shapes {_shape(result[0])} and {_shape(result[1])}; "
        f"scaling must keep the shapes {train_images.shape} and {test_images.shape}.",
    )


# --- get_model --------------------------------------------------------------------------------


def build(get_model, input_shape):
    """Call the student's get_model without letting its warnings reach stderr."""
    with quietly():
        return get_model(input_shape)


def uncompiled_probe_model(input_shape=(28, 28, 1)):
    """A small softmax classifier, deliberately not the assignment's architecture, to exercise students' code."""
    import keras

    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Reshape((-1,)), keras.layers.Dense(NUM_CLASSES, activation="softmax")])


def probe_model(input_shape=(28, 28, 1), seed: int = 0):
    """The probe, seeded (so two processes build the same weights) and compiled, for fit and evaluate code."""
    import keras

    keras.utils.set_random_seed(seed)
    probe = uncompiled_probe_model(input_shape)
    # eager: each probe is evaluated once, on a thousand images, where tracing a graph costs ten times the run
    probe.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    return probe


def _layer_type(layer) -> str:
    return type(layer).__name__.replace("MaxPool2D", "MaxPooling2D")


def _is_model(model) -> bool:
    import keras

    return isinstance(model, keras.Model)


def model_built(model):
    """get_model returns a Keras model whose output has shape (None, 10)."""
    require(_is_model(model), f"get_model returned {type(model).__name__}; return the keras Sequential model.")
    try:
        output_shape = tuple(model.output_shape)
    except (AttributeError, ValueError) as error:
        raise CheckFailed(
            f"The model has no defined output shape ({error}); give the first layer the input shape from the argument."
        ) from None
    require(
        output_shape == (None, NUM_CLASSES),
        f"The model's output shape is {output_shape}; the last layer must be Dense({NUM_CLASSES}) giving (None, {NUM_CLASSES}).",
    )


def model_layers(model):
    """Exactly six layers, of the spec's types, in order."""
    model_built(model)
    types = tuple(_layer_type(layer) for layer in model.layers)
    separate = [found for found in types if found in ACTIVATION_LAYER_TYPES]
    hint = (
        f" {separate[0]} is a separate activation layer: give the activation to the layer itself instead, "
        "as in Conv2D(..., activation='relu') and Dense(64, activation='relu')."
        if separate else ""
    )
    require(
        len(types) == len(LAYER_TYPES),
        f"The model has {len(types)} layers ({', '.join(types)}); the spec asks for {len(LAYER_TYPES)}: {', '.join(LAYER_TYPES)}.{hint}",
    )
    for position, (found, expected) in enumerate(zip(types, LAYER_TYPES), start=1):
        require(found == expected, f"Layer {position} is {found}; the spec asks for {expected} there ({', '.join(LAYER_TYPES)}).{hint}")


# --- compile_model ----------------------------------------------------------------------------


def _compile_config(model) -> dict:
    require(_is_model(model), f"Expected the Keras model, got {type(model).__name__}.")
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    require(config, "The model is not compiled; call model.compile(optimizer=..., loss=..., metrics=[...]) inside compile_model.")
    return config


def model_compiled(model):
    """compile_model compiled the model it was given."""
    _compile_config(model)


# --- train_model ------------------------------------------------------------------------------


class FitRecorder:
    """Stands in for a compiled model: records every ``fit`` call and trains nothing.

    Like a Keras model, it has a ``history`` attribute once ``fit`` has run: the History that ``fit`` returned
    (Keras' History callback sets ``model.history``), so ``model.fit(...); return model.history`` works here too.
    """

    def __init__(self):
        self.calls = []

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0, validation_data=None, **kwargs):
        import keras

        self.calls.append({
            "x": x, "y": y, "epochs": epochs, "initial_epoch": kwargs.get("initial_epoch", 0),
            "batch_size": batch_size, "steps_per_epoch": kwargs.get("steps_per_epoch"),
        })
        history = keras.callbacks.History()
        history.epoch = list(range(epochs))
        history.history = {"loss": [1.0 / (e + 1) for e in range(epochs)], "accuracy": [1 - 1.0 / (e + 2) for e in range(epochs)]}
        history.params = {"epochs": epochs, "verbose": verbose}
        self.history = history
        return history

    def __getattr__(self, name):
        raise CheckFailed(f"train_model used model.{name}; it only needs model.fit(...), returning its History.")


def history_returned(history):
    """train_model returns the History that fit returned."""
    history_type(f"{type(history).__module__}.{type(history).__name__}")


@dataclass(frozen=True)
class FitRecord:
    """What a training function did with a FitRecorder, as data: the grader's record of its fit calls (as
    course.sandboxed.fit_record summarises them) and the qualified name of the type it returned."""

    calls: list
    returned: str


def history_in_record(record: FitRecord):
    """The same check on the grader's record of a training function's call."""
    history_type(record.returned)


def history_type(qualified_name: str):
    """The same check on the name of the returned type, for results checked outside the student's process."""
    require(
        qualified_name.startswith("keras.") and qualified_name.endswith(".History"),
        f"train_model returned {qualified_name.rsplit('.', 1)[-1]}; return the History object that model.fit(...) returns.",
    )


def record_training(train_model, train_images, train_labels) -> FitRecorder:
    recorder = FitRecorder()
    with quietly():
        train_model(recorder, train_images, train_labels)
    return recorder


# --- evaluate_model ---------------------------------------------------------------------------


def evaluation_pair(result):
    """evaluate_model returns ``(test_loss, test_accuracy)``: two numbers."""
    require(
        isinstance(result, (tuple, list)) and len(result) == 2,
        f"evaluate_model returned {type(result).__name__}"
        + (f" of length {len(result)}" if isinstance(result, (tuple, list, dict)) else "")
        + "; return the tuple (test_loss, test_accuracy).",
    )
    for name, value in zip(("test_loss", "test_accuracy"), result):
        try:
            float(value)
        except (TypeError, ValueError):
            raise CheckFailed(f"{name} is {type(value).__name__}, not a number; unpack model.evaluate(...) into two floats.") from None


# --- the self-check ---------------------------------------------------------------------------


SCALE_CHECK_IMAGES = (2000, 1000)  # training, test


@functools.lru_cache(maxsize=1)
def _data():
    import numpy as np

    from .data import load_mnist

    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    scaled_test = (test_images[:500] / 255.0).astype("float32")[..., np.newaxis]
    scaled_train = (train_images[:500] / 255.0).astype("float32")[..., np.newaxis]
    # the grader calls scale_mnist_data on slices this size too: the whole set would cost a second of fresh memory
    # per check, in every student's kernel, for the same verdict
    return (train_images[:SCALE_CHECK_IMAGES[0]], test_images[:SCALE_CHECK_IMAGES[1]], scaled_train, train_labels[:500],
            scaled_test, test_labels[:500])


def _check_scale(function):
    train_images, test_images, *_ = _data()
    scaled_pair(function(train_images, test_images), train_images, test_images)


def _check_model(function):
    model = build(function, (28, 28, 1))
    model_built(model)
    model_layers(model)


def _check_compile(function):
    probe = uncompiled_probe_model()
    function(probe)
    model_compiled(probe)


def _check_train(function):
    _, _, scaled_train, train_labels, _, _ = _data()
    with quietly():
        history = function(FitRecorder(), scaled_train, train_labels)
    history_returned(history)


def _check_evaluate(function):
    *_, scaled_test, test_labels = _data()
    with quietly():
        result = function(probe_model(), scaled_test, test_labels)
    evaluation_pair(result)


SELF_CHECKS = {  # course.student.selfcheck.check(<function>) runs these
    "scale_mnist_data": _check_scale,
    "get_model": _check_model,
    "compile_model": _check_compile,
    "train_model": _check_train,
    "evaluate_model": _check_evaluate,
}
