"""Build the fixture submissions: the released notebook with each function answered as a student would.

The answers live here, the reference ones come from source/ (the one place they live), and the expected
scores sit beside the notebooks in submissions/expected_scores.json. `tests` fail when the committed
notebooks differ from what this script builds. Run it after `course release`:

    python grader_tests/build_submissions.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from course.sandboxed.notebook_code import solution_code

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "mnist_cnn"
RELEASED = ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SUBMISSIONS = ROOT / "grader_tests" / "submissions"
FUNCTIONS = ("scale_mnist_data", "get_model", "compile_model", "train_model", "evaluate_model")

SCALE_RIGHT = '''def scale_mnist_data(train_images, test_images):
    return train_images / 255.0, test_images / 255.0
'''

# 16 filters where the spec asks for 8, and an input shape that ignores the argument
MODEL_16_FILTERS_FIXED_SHAPE = '''def get_model(input_shape):
    return Sequential([
        Conv2D(16, (3, 3), padding="same", activation="relu", input_shape=(28, 28, 1)),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])'''

# Each fixture: the answers that differ from the reference, by function (None: left as released).
# A fixture of None is the untouched release.
FIXTURES: dict[str, dict[str, str | None] | None] = {
    "passes_all": {},
    "untouched_release": None,
    # Conv2D with 16 filters and a 5x5 kernel, top-k accuracy instead of accuracy, 3 epochs instead of 5,
    # and (accuracy, loss) swapped. Scaling is right and 3 epochs still clear the accuracy bar.
    "fails_conv_metrics_epochs_evaluate": {
        "get_model": '''def get_model(input_shape):
    model = Sequential([
        Conv2D(16, (5, 5), padding="same", activation="relu", input_shape=input_shape),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    return model''',
        "compile_model": '''def compile_model(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_top_k_categorical_accuracy"])''',
        "train_model": '''def train_model(model, scaled_train_images, train_labels):
    return model.fit(scaled_train_images, train_labels, epochs=3)''',
        "evaluate_model": '''def evaluate_model(model, scaled_test_images, test_labels):
    loss, accuracy = model.evaluate(scaled_test_images, test_labels)
    return accuracy, loss''',
    },
    # The spec's own input_shape= makes Keras warn on stderr; that must not cost a point. Only two functions done.
    "passes_scale_and_model_with_input_shape_warning": {
        "get_model": '''def get_model(input_shape):
    model = Sequential()
    model.add(Conv2D(8, (3, 3), padding="SAME", activation="relu", input_shape=input_shape))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model''',
        "compile_model": None,
        "train_model": None,
        "evaluate_model": None,
    },
    # The kernel exits while training: everything before keeps its credit, everything after says why it got none.
    "kernel_dies_in_train_model": {
        "train_model": '''def train_model(model, scaled_train_images, train_labels):
    import os
    os._exit(1)''',
    },
    # get_model ignores interrupts and loops forever: graded with a short timeout by the grader tests.
    "hangs_in_get_model": {
        "get_model": '''def get_model(input_shape):
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass''',
    },
    # --- tampering: each tries to escape the sandbox from the first solution cell; scale_mnist_data is right ---
    "tamper_reads_solutions": {
        "scale_mnist_data": '''import json, pathlib
# Run the instructor's solutions instead of writing any.
for _cell in json.loads(pathlib.Path("../../../source/mnist_cnn/mnist_cnn.ipynb").read_text())["cells"]:
    if "BEGIN SOLUTION" in "".join(_cell["source"]):
        exec("".join(_cell["source"]))''',
    } | dict.fromkeys(FUNCTIONS[1:]),
    "tamper_writes_gradebook_and_others": {
        "scale_mnist_data": SCALE_RIGHT + '''
import sqlite3
for _attempt in ("../../../gradebook.db", "../../../submitted/passes_all/mnist_cnn/mnist_cnn.ipynb", "../../passes_all/mnist_cnn/mnist_cnn.ipynb"):
    try:
        if _attempt.endswith(".db"):
            _db = sqlite3.connect(_attempt)
            _db.execute("UPDATE grade SET manual_score = 100")
            _db.commit()
        else:
            open(_attempt, "w").write("{}")
        print("TAMPERED", _attempt)
    except Exception as _error:
        print("blocked:", _attempt, type(_error).__name__)''',
    } | dict.fromkeys(FUNCTIONS[1:]),
    "tamper_opens_socket": {
        "scale_mnist_data": SCALE_RIGHT + '''
import os, socket
for _host in ("127.0.0.1", "pypi.org"):
    try:
        with socket.create_connection((_host, int(os.environ.get("TAMPER_PORT", "443"))), timeout=5) as _s:
            _s.sendall(b"answers please")
        print("TAMPERED", _host)
    except OSError as _error:
        print("blocked:", _host, type(_error).__name__)''',
    } | dict.fromkeys(FUNCTIONS[1:]),
    "tamper_hogs_memory": {
        "scale_mnist_data": SCALE_RIGHT + '''
import numpy
try:
    _hog = numpy.ones(6 * 2**30 // 8)
    print("TAMPERED: allocated 6 GiB")
except MemoryError:
    print("blocked: memory capped")''',
    } | dict.fromkeys(FUNCTIONS[1:]),
    "tamper_forks_processes": {
        "scale_mnist_data": SCALE_RIGHT + '''
import subprocess
_children = []
try:
    for _ in range(2000):
        _children.append(subprocess.Popen(["sleep", "60"]))
except OSError as _error:
    print("blocked after", len(_children), "processes:", type(_error).__name__)
for _child in _children:
    _child.kill()
    _child.wait()''',
    } | dict.fromkeys(FUNCTIONS[1:]),
    "tamper_floods_output": {
        "scale_mnist_data": SCALE_RIGHT + '''
for _ in range(20_000):
    print("x" * 1_000)''',
    } | dict.fromkeys(FUNCTIONS[1:]),
    # Blanks every test cell from inside the kernel and fakes its evaluation; the model has 16 filters and
    # trains for one epoch on 600 images. Only verification outside the kernel can see through it.
    "tamper_blanks_tests_and_fakes_evaluate": {
        "scale_mnist_data": SCALE_RIGHT + '''
def _blank_tests(lines):
    return ["pass\\n"] if any("checks." in line for line in lines) else lines

get_ipython().input_transformers_post.append(_blank_tests)''',
        "get_model": '''def get_model(input_shape):
    return Sequential([
        Conv2D(16, (3, 3), padding="same", activation="relu", input_shape=input_shape),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])''',
        "train_model": '''def train_model(model, scaled_train_images, train_labels):
    return model.fit(scaled_train_images[:600], train_labels[:600], epochs=1, verbose=0)''',
        "evaluate_model": '''def evaluate_model(model, scaled_test_images, test_labels):
    return 0.01, 0.99''',
    },
    # Wrong answers everywhere, with the checks, NumPy and Keras patched to agree, and hand-made results.
    "tamper_monkeypatches_checks": {
        "scale_mnist_data": '''import numpy as np
import tensorflow as tf
from course import checks

checks.require = lambda *args, **kwargs: None
np.allclose = lambda *args, **kwargs: True
tf.keras.Model.evaluate = lambda self, *args, **kwargs: [0.0, 1.0]
tf.keras.Model.predict = lambda self, x, *args, **kwargs: np.eye(10)[np.zeros(len(x), dtype=int)]

def scale_mnist_data(train_images, test_images):
    return train_images / 256, test_images / 256''',
        "get_model": MODEL_16_FILTERS_FIXED_SHAPE,
        "compile_model": '''def compile_model(model):
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])''',
        "train_model": '''def train_model(model, scaled_train_images, train_labels):
    history = tf.keras.callbacks.History()
    history.history = {"loss": [0.5, 0.2, 0.1, 0.05, 0.01], "accuracy": [0.9, 0.95, 0.97, 0.98, 0.99]}
    history.epoch = list(range(5))
    return history''',
        "evaluate_model": '''def evaluate_model(model, scaled_test_images, test_labels):
    return 0.01, 0.99''',
    },
    # A wrong get_model (16 filters, a fixed input shape), and a kernel that waits for the grader's harness to save
    # what get_model returned, then swaps in a model built to the spec: the harness's folder must be out of its reach.
    "tamper_forges_harness_outputs": {
        "scale_mnist_data": SCALE_RIGHT + '''
import glob, json, os, time

def _forge_harness_outputs(seconds=30):
    right = keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(8, (3, 3), padding="same", activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    deadline = time.time() + seconds
    while time.time() < deadline:
        for results in glob.glob(".artifacts/harness/results.json") + glob.glob("/tmp/course-harness-*/results.json"):
            try:
                with open(results) as file:
                    ended = "train_model" in json.load(file)
            except ValueError:
                continue
            if ended:
                right.save(os.path.join(os.path.dirname(results), "get_model.keras"))
                print("forged:", results)
                return
        time.sleep(0.2)
    print("nothing to forge")

import keras
from IPython import get_ipython

if get_ipython() is not None:  # in the notebook's kernel, not in the grader's harness
    _forge_harness_outputs()''',
        "get_model": MODEL_16_FILTERS_FIXED_SHAPE,
    } | dict.fromkeys(FUNCTIONS[2:]),
    "tamper_fills_disk": {
        "scale_mnist_data": SCALE_RIGHT + '''
with open("filler.bin", "wb") as _filler:
    for _ in range(4096):
        _filler.write(b"0" * 2**20)''',
    } | dict.fromkeys(FUNCTIONS[1:]),
}


def reference_answers() -> dict[str, str]:
    notebook = nbformat.read(SOURCE, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell.source)
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def build(answers: dict[str, str] | None) -> nbformat.NotebookNode:
    notebook = nbformat.read(RELEASED, as_version=4)
    if answers is None:
        return notebook
    reference = reference_answers()
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in FUNCTIONS:
            answer = answers.get(grade_id, reference[grade_id])
            if answer is not None:
                cell.source = answer
    return notebook


def main():
    SUBMISSIONS.mkdir(parents=True, exist_ok=True)
    for name, answers in FIXTURES.items():
        nbformat.write(build(copy.deepcopy(answers)), SUBMISSIONS / f"{name}.ipynb")
        print(f"wrote {(SUBMISSIONS / f'{name}.ipynb').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
