"""Every spelling Keras accepts keeps its verdict when the model is saved and checked outside the kernel (issue 16).

The verifier checks models saved in Keras format and loaded in safe mode, with
``hidden_checks.keras_custom_objects()`` for the names TensorFlow's own activation functions are saved under
(tf.nn.softmax is saved as 'softmax_v2'). These tests save and reload a model for each spelling, check that it
computes the same, and that the get_model and compile_model answers of grader_tests/cases.py get the same
verdicts from the loaded models as in the kernel. Nothing trains.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from course.student import checks
from course.assignments.mnist_cnn import hidden_checks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "grader_tests"))

from cases import CASES  # noqa: E402  (plain data: the answers and the cells they lose)

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

PROBE = np.linspace(-3, 3, 20, dtype="float32").reshape(4, 5)
TF_ACTIVATIONS = ("relu", "softmax", "sigmoid", "tanh", "elu", "selu", "gelu", "leaky_relu", "log_softmax", "silu", "swish",
                  "softplus", "softsign", "relu6")
KERAS_SKIP = {"get", "serialize", "deserialize", "glu", "threshold"}  # glu halves the last axis; threshold needs arguments


def _spellings():
    spellings = {f"tf.nn.{name}": getattr(tf.nn, name) for name in TF_ACTIVATIONS if hasattr(tf.nn, name)}
    spellings.update({"tf.math.softmax": tf.math.softmax, "tf.math.log_softmax": tf.math.log_softmax, "tf.math.sigmoid": tf.math.sigmoid,
                      "tf.math.tanh": tf.math.tanh, "tf.sigmoid": tf.sigmoid, "tf.identity": tf.identity})
    for prefix, module in (("tf.keras.activations", tf.keras.activations), ("keras.activations", keras.activations)):
        for name in dir(module):
            if not name.startswith("_") and name not in KERAS_SKIP and callable(getattr(module, name)):
                spellings[f"{prefix}.{name}"] = getattr(module, name)
    spellings.update({repr(name): name for name in TF_ACTIVATIONS + ("linear", "exponential", "hard_sigmoid", "mish")})
    return spellings


SPELLINGS = _spellings()


def _save_and_load(model, tmp_path, name="model"):
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True, custom_objects=hidden_checks.keras_custom_objects())


def _dense(activation):
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(5, activation=activation), keras.layers.Activation(activation)])


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_activation_spelling_loads_in_safe_mode_and_computes_the_same(spelling, tmp_path):
    keras.utils.set_random_seed(0)
    model = _dense(SPELLINGS[spelling])
    loaded = _save_and_load(model, tmp_path)
    np.testing.assert_allclose(np.asarray(loaded(PROBE)), np.asarray(model(PROBE)), rtol=1e-5, atol=1e-6)


def test_the_mapping_is_needed_only_for_tensorflow_names_and_gives_only_keras_functions(tmp_path):
    unloadable = set()
    for spelling, activation in SPELLINGS.items():
        path = tmp_path / "m.keras"
        _dense(activation).save(path)
        try:
            keras.saving.load_model(path, safe_mode=True)
        except Exception:
            config = json.loads(__import__("zipfile").ZipFile(path).read("config.json"))
            unloadable.add(config["config"]["layers"][1]["config"]["activation"]["config"])
    assert unloadable == {"softmax_v2", "log_softmax_v2", "swish", "identity"}, unloadable
    mapping = hidden_checks.keras_custom_objects()
    assert unloadable <= set(mapping)
    for name, function in mapping.items():
        assert function.__module__.startswith("keras."), f"{name} maps to {function.__module__}.{function.__name__}"
        tf_function = getattr(tf.nn, {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax"}.get(name, name), None) or tf.identity
        np.testing.assert_allclose(np.asarray(function(PROBE)), np.asarray(tf_function(PROBE)), rtol=1e-5, atol=1e-6, err_msg=name)


RELU = {"'relu'": "relu", "tf.nn.relu": tf.nn.relu, "tf.keras.activations.relu": tf.keras.activations.relu,
        "keras.activations.relu": keras.activations.relu}
SOFTMAX = {"'softmax'": "softmax", "tf.nn.softmax": tf.nn.softmax, "tf.math.softmax": tf.math.softmax,
           "tf.keras.activations.softmax": tf.keras.activations.softmax, "keras.activations.softmax": keras.activations.softmax}


def _spec_model(relu, softmax, input_shape=(28, 28, 1)):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=input_shape), layers.Conv2D(8, (3, 3), padding="same", activation=relu), layers.MaxPool2D((2, 2)),
        layers.Flatten(), layers.Dense(64, activation=relu), layers.Dense(64, activation=relu), layers.Dense(10, activation=softmax),
    ])


MODEL_CHECKS = (checks.model_built, checks.model_layers, hidden_checks.conv_layer_config, hidden_checks.pool_layer_config,
                hidden_checks.dense_layers_config)


@pytest.mark.parametrize("relu, softmax", list(zip(RELU, list(SOFTMAX)[: len(RELU)])) + [("'relu'", "tf.math.softmax")])
def test_spec_model_in_every_spelling_passes_after_saving(relu, softmax, tmp_path):
    for model in (_spec_model(RELU[relu], SOFTMAX[softmax]), _save_and_load(_spec_model(RELU[relu], SOFTMAX[softmax]), tmp_path)):
        for check in MODEL_CHECKS:
            check(model)


@pytest.mark.parametrize("spelling, name", [("tf.nn.sigmoid", "sigmoid"), ("tf.nn.tanh", "tanh"), ("tf.nn.elu", "elu"), ("tf.nn.selu", "selu"),
                                            ("tf.nn.gelu", "gelu"), ("tf.nn.leaky_relu", "leaky_relu"), ("tf.nn.silu", "silu"),
                                            ("keras.activations.relu6", "relu6")])
def test_other_activations_still_fail_after_saving_naming_the_activation(spelling, name, tmp_path):
    model = _save_and_load(_spec_model(SPELLINGS[spelling], "softmax"), tmp_path)
    with pytest.raises(checks.CheckFailed, match=f"Conv2D uses a {name} activation; the spec asks for ReLU"):
        hidden_checks.conv_layer_config(model)
    with pytest.raises(checks.CheckFailed, match=f"Dense layer 1 uses a {name} activation; the spec asks for relu"):
        hidden_checks.dense_layers_config(model)


def test_log_softmax_output_fails_after_saving(tmp_path):
    model = _save_and_load(_spec_model("relu", tf.nn.log_softmax), tmp_path)
    with pytest.raises(checks.CheckFailed, match="Dense layer 3 uses a log_softmax activation; the spec asks for softmax"):
        hidden_checks.dense_layers_config(model)


# --- train_model: the History through model.history ----------------------------------------------


def test_keras_model_history_is_the_history_fit_returned():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    returned = model.fit(np.zeros((4, 5)), np.zeros(4), epochs=1, verbose=0)
    assert model.history is returned


def test_fit_recorder_has_history_after_fit_and_nothing_else():
    recorder = checks.FitRecorder()
    with pytest.raises(checks.CheckFailed, match="train_model used model.history"):
        recorder.history  # noqa: B018  (like a Keras model, no History before fit)
    returned = recorder.fit(np.zeros((3, 2)), np.zeros(3), epochs=5)
    assert recorder.history is returned
    checks.history_returned(recorder.history)
    with pytest.raises(checks.CheckFailed, match="train_model used model.evaluate"):
        recorder.evaluate  # noqa: B018


# --- the grader cases, checked the verifier's way: saved, loaded in safe mode ----------------------


def _notebook_namespace() -> dict:
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec("import numpy as np\nimport tensorflow as tf\nfrom tensorflow.keras.models import Sequential\n"
             "from tensorflow.keras.layers import Dense, Flatten, Conv2D, MaxPooling2D\n", namespace)
    return namespace


def _load_like_the_verifier(path):
    custom_objects = hidden_checks.keras_custom_objects()
    try:
        return keras.saving.load_model(path, safe_mode=True, custom_objects=custom_objects)
    except Exception:  # compile settings Keras cannot rebuild still leave an architecture
        return keras.saving.load_model(path, safe_mode=True, compile=False, custom_objects=custom_objects)


def _verdicts(cells_and_checks) -> dict[str, str]:
    lost = {}
    for cell, check in cells_and_checks:
        try:
            with checks.quietly():
                check()
        except Exception as error:
            lost[cell] = f"{type(error).__name__}: {error}"
    return lost


def _model_verdicts(case, tmp_path) -> dict[str, str]:
    namespace = _notebook_namespace()
    exec(case.code, namespace)
    try:
        with checks.quietly():
            models = {shape: namespace["get_model"](shape) for shape in ((28, 28, 1), (32, 32, 1))}
    except Exception as error:
        return {cell: f"calling get_model failed: {error}" for cell in case.loses}
    loaded = {shape: _load_like_the_verifier((model.save(tmp_path / f"{shape[0]}.keras"), tmp_path / f"{shape[0]}.keras")[1])
              for shape, model in models.items()}
    model = loaded[(28, 28, 1)]
    return _verdicts([
        ("test_model_output", lambda: checks.model_built(model)),
        ("test_model_layers", lambda: checks.model_layers(model)),
        ("test_model_input_shape", lambda: hidden_checks.model_input_from_argument(lambda shape: loaded[(32, 32, 1)])),
        ("test_model_conv", lambda: hidden_checks.conv_layer_config(model)),
        ("test_model_pool", lambda: hidden_checks.pool_layer_config(model)),
        ("test_model_dense", lambda: hidden_checks.dense_layers_config(model)),
    ])


def _compile_verdicts(case, tmp_path) -> dict[str, str]:
    namespace = _notebook_namespace()
    exec(case.code, namespace)
    probe = checks.uncompiled_probe_model()
    try:
        with checks.quietly():
            namespace["compile_model"](probe)
    except Exception as error:
        return {cell: f"calling compile_model failed: {error}" for cell in case.loses}
    probe.save(tmp_path / "compiled.keras")
    loaded = _load_like_the_verifier(tmp_path / "compiled.keras")
    return _verdicts([
        ("test_compile_done", lambda: checks.model_compiled(loaded)),
        ("test_compile_optimizer", lambda: hidden_checks.optimizer_is_default_adam(loaded)),
        ("test_compile_loss", lambda: hidden_checks.loss_is_sparse_cce(loaded)),
        ("test_compile_metrics", lambda: hidden_checks.metrics_is_accuracy(loaded)),
    ])


SAVED_CASES = [case for case in CASES if case.function in ("get_model", "compile_model")]


@pytest.mark.parametrize("case", SAVED_CASES, ids=lambda case: case.name)
def test_case_gets_the_same_verdict_from_its_saved_model(case, tmp_path):
    keras.utils.set_random_seed(0)
    verdicts = _model_verdicts if case.function == "get_model" else _compile_verdicts
    lost = verdicts(case, tmp_path)
    assert set(lost) == set(case.loses), f"{case.name}: lost {lost}, should lose {sorted(case.loses)}"
    for cell, fragment in case.loses.items():
        if "failed:" not in lost[cell]:
            assert fragment in lost[cell], f"{case.name}: {cell} said {lost[cell]!r}, which lacks {fragment!r}"


TRAIN_CASES = [case for case in CASES if case.function == "train_model"]


@pytest.fixture(scope="module")
def training_set(mnist_path):
    from course.student.data import load_mnist

    (x_train, y_train), _ = load_mnist(mnist_path)
    return (x_train.astype("float32") / 255.0)[..., None], y_train


@pytest.mark.parametrize("case", TRAIN_CASES, ids=lambda case: case.name)
def test_train_case_gets_the_same_verdict_from_its_recorded_calls(case, training_set):
    """Checked the verifier's way: from the recorded fit calls and the returned type's name, as JSON."""
    namespace = _notebook_namespace()
    exec(case.code, namespace)
    images, labels = training_set
    recorder = checks.FitRecorder()
    with checks.quietly():
        returned = namespace["train_model"](recorder, images, labels)
    record = json.loads(json.dumps({
        "calls": hidden_checks.summarize_fit_calls(recorder, images, labels),
        "returned": f"{type(returned).__module__}.{type(returned).__name__}",
    }, default=lambda value: value.item()))
    lost = _verdicts([
        ("test_train_history", lambda: checks.history_type(record["returned"])),
        ("test_train_epochs", lambda: hidden_checks.fit_epochs(record["calls"])),
        ("test_train_all_data", lambda: hidden_checks.fit_data(record["calls"], len(images))),
    ])
    assert set(lost) == set(case.loses), f"{case.name}: lost {lost}, should lose {sorted(case.loses)}"
    for cell, fragment in case.loses.items():
        assert fragment in lost[cell], f"{case.name}: {cell} said {lost[cell]!r}, which lacks {fragment!r}"
