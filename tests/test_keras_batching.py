"""Grading kernels run several Keras training batches per compiled call: real sandboxed kernels, real training."""

import json

from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from course.student.data import resolve_mnist_file
from course.grading.kernel_run import ResilientExecute
from course.grading.sandbox import Sandbox, SandboxSettings

PROBE = """
import json
import numpy as np
import keras

def trained(**compile_options):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], **compile_options)
    rng = np.random.default_rng(0)
    images, labels = rng.random((1000, 28, 28, 1), dtype="float32"), rng.integers(0, 10, 1000)  # 32 batches, the last short
    history = model.fit(images, labels, epochs=2, verbose=0)
    return model, history.history

default, default_history = trained()
one, one_history = trained(steps_per_execution=1)
import gc
print(json.dumps({
    "collector_on": gc.isenabled(),
    "frozen_objects": gc.get_freeze_count(),
    "default_steps": int(default.steps_per_execution),
    "chosen_steps": int(trained(steps_per_execution=3)[0].steps_per_execution),
    "same_history": default_history == one_history,
    "same_weights": all(np.array_equal(a, b) for a, b in zip(default.get_weights(), one.get_weights())),
}))
"""


def run_in_grading_kernel(tmp_path, **options) -> tuple[list[str], dict]:
    config = Config()
    workdir = tmp_path / "work"
    workdir.mkdir()
    for name, value in options.items():
        setattr(config.ResilientExecute, name, value)
    settings = SandboxSettings.from_config(Sandbox(config=config), str(resolve_mnist_file()))
    nb = new_notebook(cells=[new_code_cell("print(__import__('json').dumps(dir()))"), new_code_cell(PROBE)])
    nb, _ = ResilientExecute(settings, {}, config=config).preprocess(nb, {"metadata": {"path": str(workdir)}})
    outputs = [output for cell in nb.cells for output in cell.outputs]
    assert all(output.output_type == "stream" for output in outputs), outputs
    stdout = [[output.text for output in cell.outputs if output.name == "stdout"] for cell in nb.cells]  # TensorFlow logs on stderr
    return json.loads("".join(stdout[0])), json.loads("".join(stdout[1]))


def test_kernels_default_to_several_batches_per_call_with_the_same_training(tmp_path):
    names, probe = run_in_grading_kernel(tmp_path)
    assert probe["default_steps"] == ResilientExecute.keras_steps_per_execution.default_value > 1
    assert probe["chosen_steps"] == 3  # a student's own choice stands
    assert probe["same_history"] and probe["same_weights"]
    assert "keras" not in names and "install" not in names  # the student's namespace is left as it was


def test_one_step_per_execution_leaves_keras_alone(tmp_path):
    _, probe = run_in_grading_kernel(tmp_path, keras_steps_per_execution=1)
    assert probe["default_steps"] == 1
    assert probe["chosen_steps"] == 3


def test_kernels_import_keras_with_the_collector_paused_then_on_again(tmp_path):
    _, probe = run_in_grading_kernel(tmp_path, keras_steps_per_execution=1)
    assert probe["frozen_objects"] > 50_000  # Keras and TensorFlow's objects, made before the first cell ran
    assert probe["collector_on"]
