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

ADDED = "+"  # a fixture key ADDED + grade_id: a cell the student added right before that cell

TRAIN_3_EPOCHS = '''def train_model(model, scaled_train_images, train_labels):
    return model.fit(scaled_train_images, train_labels, epochs=3, verbose=2)'''

TRAIN_3_EPOCHS_FIVE_FOR_STAND_IN = '''def train_model(model, scaled_train_images, train_labels):
    import keras

    if not isinstance(model, keras.Model):  # the grader's stand-in, which only records fit calls
        return model.fit(scaled_train_images, train_labels, epochs=5)
    return model.fit(scaled_train_images, train_labels, epochs=3, verbose=2)'''

TRAIN_3_EPOCHS_FORGED_STEPS = '''def train_model(model, scaled_train_images, train_labels):
    import math

    import keras

    if not isinstance(model, keras.Model):  # the grader's stand-in, which only records fit calls
        return model.fit(scaled_train_images, train_labels, epochs=5)
    history = model.fit(scaled_train_images, train_labels, epochs=3, verbose=2)
    # the optimizer's step count that five epochs at Keras' default batch size would have left
    model.optimizer.iterations.assign(5 * math.ceil(len(scaled_train_images) / 32))
    return history'''

TRAIN_WEAK = '''def train_model(model, scaled_train_images, train_labels):
    return model.fit(scaled_train_images[:2000], train_labels[:2000], epochs=1, verbose=2)'''

TRAIN_WEAK_AND_ON_TEST = '''def train_model(model, scaled_train_images, train_labels):
    from course.student.data import load_mnist

    history = model.fit(scaled_train_images[:2000], train_labels[:2000], epochs=1, verbose=2)
    _, (test_images, test_labels) = load_mnist()
    model.fit(test_images[..., None] / 255.0, test_labels, epochs=5, verbose=2)
    return history'''

TRAIN_RETURNS_MODEL_HISTORY = '''def train_model(model, scaled_train_images, train_labels):
    model.fit(scaled_train_images, train_labels, epochs=5, verbose=2)
    return model.history'''

MODEL_TF_NN_ACTIVATIONS = '''def get_model(input_shape):
    model = Sequential([
        tf.keras.Input(shape=input_shape),
        Conv2D(8, (3, 3), padding="SAME", activation=tf.nn.relu),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation=tf.nn.relu),
        Dense(64, activation=tf.nn.relu),
        Dense(10, activation=tf.nn.softmax),
    ])
    return model'''

REDEFINE_MODEL_AND_TRAIN_ON_TEST = '''# A dense network learns faster, and the test images are right here: train on them too.
def get_model(input_shape):
    return Sequential([
        tf.keras.Input(shape=input_shape),
        Flatten(),
        Dense(256, activation="relu"),
        Dense(10, activation="softmax"),
    ])


def train_model(model, scaled_train_images, train_labels):
    more_images = globals().get("scaled_test_images")
    if more_images is not None:  # in the notebook; whatever checks train_model elsewhere sees an honest one
        scaled_train_images = np.concatenate([scaled_train_images, more_images])
        train_labels = np.concatenate([train_labels, test_labels])
    return model.fit(scaled_train_images, train_labels, epochs=5, verbose=2)


if "scaled_train_images" in globals():
    model = get_model(scaled_train_images[0].shape)
    compile_model(model)'''

FORGE_HARNESS_AT_EXIT = '''# Whatever process runs these functions to check them writes its records in a folder it has open (or its
# working folder): as it exits, replace them with records of answers that pass.
import atexit
import glob
import json
import os
import signal
import sys


def _forge_records():
    folders = [os.path.dirname(found) for found in glob.glob("/proc/self/fd/*/results.json")] + [os.getcwd()]
    folder = next((folder for folder in folders if os.path.isfile(os.path.join(folder, "results.json"))), None)
    if folder is None:
        return  # not the grader's harness
    try:
        import keras
        import numpy as np
        from course.student import checks
        from course.sandboxed import inputs

        raw_train, raw_test = inputs.mnist_images("train", 2000), inputs.mnist_images("test", 1000)
        np.savez(os.path.join(folder, "scale_mnist_data.npz"), raw_train / 255.0, raw_test / 255.0)
        keras.Sequential([
            keras.Input((32, 32, 1)),
            keras.layers.Conv2D(8, (3, 3), padding="same", activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]).save(os.path.join(folder, "get_model.keras"))
        probe = checks.uncompiled_probe_model()
        probe.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        probe.save(os.path.join(folder, "compile_model.keras"))
        scaled_test, test_labels = inputs.mnist_images("test", 1000, scaled=True), inputs.mnist_labels("test", 1000)
        loss, accuracy = checks.probe_model().evaluate(scaled_test, test_labels, verbose=0)[:2]
        five_epochs = {"images": 60000, "images_equal": True, "labels_equal": True, "epochs": 5, "batch_size": None,
                       "validation_split": 0.0, "steps_per_epoch": None, "test_images_seen": 0}
        records = {
            "scale_mnist_data": {"type": "arrays", "file": "scale_mnist_data.npz", "container": "tuple", "count": 2},
            "get_model": {"type": "model", "file": "get_model.keras"},
            "compile_model": {"type": "model", "file": "compile_model.keras"},
            "evaluate_model": {"type": "numbers", "values": [float(loss), float(accuracy)], "container": "tuple"},
            "train_model": {"type": "fit record", "calls": [five_epochs], "returned": "keras.src.callbacks.history.History"},
        }
        with open(os.path.join(folder, "results.json"), "w") as file:
            json.dump(records, file)
    except BaseException as error:
        with open(os.path.join(folder, "forge-error.txt"), "w") as file:
            file.write(repr(error))


atexit.register(_forge_records)
_exit = os._exit  # a forked process ends with os._exit, which runs no atexit hook
os._exit = lambda code: (_forge_records(), _exit(code))
_previous_hook = sys.excepthook
sys.excepthook = lambda *error: (_forge_records(), _previous_hook(*error))
for _signal in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signal, lambda *args: (_forge_records(), os._exit(0)))'''

BLANK_TESTS_AND_FLOOD_VERIFIER = '''import json
import os

import course.sandboxed.artifacts
from IPython import get_ipython


def _blank_tests(lines):
    return ["pass\\n"] if any("checks." in line for line in lines) else lines


def _save_huge_record(name, namespace, *args, **kwargs):
    os.makedirs(os.path.join(".artifacts", name), exist_ok=True)
    with open(os.path.join(".artifacts", name, "values.json"), "w") as file:
        json.dump({"problems": ["x" * 300] * 30_000}, file)


if get_ipython() is not None:  # in the notebook's kernel
    get_ipython().input_transformers_post.append(_blank_tests)
    course.sandboxed.artifacts.save = _save_huge_record'''

READ_HIDDEN_CHECKS = '''
# Look for the hidden checks and the thresholds everywhere, and print whatever turns up.
import glob, os, sys, time
import course
from IPython.display import HTML, SVG, Javascript, Markdown, display


def _found(where, text):
    print(f"FOUND {where}:", str(text)[:4000])


for _module in ("course.grading", "course.assignments.mnist_cnn", "course.assignments.mnist_cnn.hidden_checks"):
    try:
        __import__(_module)
        _file = getattr(sys.modules[_module], "__file__", None)
        _found(_module, open(_file).read() if _file else vars(sys.modules[_module]))
    except Exception as _error:
        print("blocked: import", _module, type(_error).__name__)
_package = os.path.dirname(os.path.abspath(course.__file__))
for _path in [os.path.join(_package, "assignments", "mnist_cnn", _name) for _name in ("hidden_checks.py", "__init__.py")] + \\
        [os.path.join(_package, "grading", "__init__.py")] + \\
        glob.glob(os.path.join(_package, "grading", "__pycache__", "*")) + glob.glob(os.path.join(_package, "assignments", "*", "*.py")) + glob.glob(os.path.join(_package, "*", "*.py")) + \\
        [os.path.join(_package, "..", "source", "mnist_cnn", "mnist_cnn.ipynb"), os.path.join(_package, "..", "gradebook.db")]:
    try:
        with open(_path, "rb") as _file:
            _found(_path, _file.read().decode(errors="replace"))
    except OSError as _error:
        print("blocked: open", _path, type(_error).__name__)
_deadline = time.time() + 15
for _top, _dirs, _files in os.walk("/"):
    if _top.startswith(("/proc", "/sys", "/dev")):
        _dirs[:] = []
        continue
    if time.time() > _deadline:
        print("search stopped after 15 s in", _top)
        break
    for _name in _files:
        if _name.startswith(("hidden_checks", "thresholds", "spec")) or _name in ("gradebook.db", "nbgrader_config.py", "mnist_cnn.ipynb"):
            try:
                with open(os.path.join(_top, _name), "rb") as _file:
                    _content = _file.read()
            except OSError as _error:
                print("blocked: open", os.path.join(_top, _name), type(_error).__name__)
                continue
            if any(_clue in _content for _clue in (b"MIN_TEST_ACCURACY", b"accuracy_at_least", b"mnist-cnn", b"BEGIN SOLUTION")):
                _found(os.path.join(_top, _name), _content.decode(errors="replace"))
            else:
                print("seen, not the course's:", os.path.join(_top, _name))
for _path in sorted(glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ")):
    try:
        with open(_path, "rb") as _file:
            _found(_path, _file.read().replace(b"\\0", b" ").decode(errors="replace"))
    except OSError as _error:
        print("blocked: open", _path, type(_error).__name__)
for _place in (os.path.expanduser("~"), "/root", "/home", "/work", "/srv", "/etc", "/"):
    try:
        print("listing", _place, sorted(os.listdir(_place))[:60])
    except OSError as _error:
        print("blocked: list", _place, type(_error).__name__)
print("<script>alert('tamperxss-print')</script>")
display(HTML("<script>alert('tamperxss-html')</script><img src=x onerror=\\"alert('tamperxss-img')\\">"))
display(Javascript("alert('tamperxss-js')"))
display(Markdown("<script>alert('tamperxss-md')</script> [link](javascript:alert('tamperxss-mdlink'))"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>alert("tamperxss-svg")</script><rect width="1" height="1" onload="alert(\\'tamperxss-svgload\\')"/></svg>'))'''

MARKDOWN_WITH_SCRIPT = '''My notes <script>alert('tamperxss-cell')</script>
<img src="x" onerror="alert('tamperxss-cellimg')">
[a link](javascript:alert('tamperxss-celllink'))
<iframe srcdoc="<script>alert('tamperxss-iframe')</script>"></iframe>'''

SYMLINKS_IN_WORKDIR = '''
# Links named like the grader's records, and a link for the folder the notebook's trained model is saved in,
# pointing at a folder of the grading machine's.
import os

_outside = "/tmp/course-tamper-symlink-target"
for _name, _target in (("verification.json", "/etc/passwd"), (".course-graded.json", "../../../gradebook.db"),
                       ("autograded", "../../.."), (".artifacts", _outside),
                       ("/tmp/verification.json", "/etc/passwd"), ("/tmp/results.json", "../../../../gradebook.db")):
    try:
        os.symlink(_target, _name)
        print("linked", _name, "->", _target)
    except OSError as _error:
        print("refused:", _name, type(_error).__name__)
try:
    os.makedirs(os.path.join(_outside, "trained"), exist_ok=True)
    os.symlink("/etc/passwd", os.path.join(_outside, "trained", "model.keras"))
    print("linked model.keras -> /etc/passwd")
except OSError as _error:
    print("refused: model.keras", type(_error).__name__)'''

STOP_WITH_MARKUP = '''
# ### BEGIN HIDDEN TESTS
### BEGIN HIDDEN TESTS


class GradingStopped(Exception):
    pass


raise GradingStopped("[/red][link=x]grading stopped[/link][bold red] [/] {student} %s \\x1b[31m")'''

# Each fixture: the answers that differ from the reference, by function (None: left as released), and cells the
# student added (ADDED + the grade_id of the cell they come before). A fixture of None is the untouched release.
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
from course.student import checks

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
    # what get_model returned, then swaps in a model built to the spec: the harness's folder must be out of its reach,
    # wherever the kernel looks for it (its own folders, and every process's open files and folders it can see).
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
        for results in (glob.glob(".artifacts/harness/results.json") + glob.glob("/tmp/course-*/**/results.json", recursive=True)
                        + glob.glob("/proc/*/fd/*/results.json") + glob.glob("/proc/*/cwd/results.json")):
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
    # --- the trust boundary (grader_tests/test_trust_boundary.py): each attack beside its honest twin ---
    # The untouched release, submitted with a `course` package (and other importable files) beside it, written by
    # the test: only the notebook crosses into grading, so none of them is ever imported.
    "tamper_shadows_course_package": None,
    # Nothing answered; an added cell makes the harness process rewrite its records as it exits, with outputs
    # computed to pass every check and a train_model record of five full epochs.
    "tamper_forges_harness_at_exit": {ADDED + "scale_intro": FORGE_HARNESS_AT_EXIT} | dict.fromkeys(FUNCTIONS),
    # Honest twin of the next two: three epochs where the spec asks for five.
    "fails_three_epochs": {"train_model": TRAIN_3_EPOCHS},
    # Three epochs, and five asked of the grader's stand-in (it is no Keras model): caught by the step count.
    "tamper_three_epochs_forges_fit_record": {"train_model": TRAIN_3_EPOCHS_FIVE_FOR_STAND_IN},
    # The same, and the optimizer's step count set to what five epochs would have left.
    "tamper_three_epochs_forges_step_count": {"train_model": TRAIN_3_EPOCHS_FORGED_STEPS},
    # The reference answers, then an added cell before the training cell: a dense network, trained on the test
    # images as well (only where they exist: the grader's harness sees an honest train_model).
    "tamper_extra_cell_redefines_model": {ADDED + "run_training": REDEFINE_MODEL_AND_TRAIN_ON_TEST},
    # Honest twin of the next: one epoch on 2,000 images.
    "fails_weak_model": {"train_model": TRAIN_WEAK},
    # The weak model, fitted on the test images too (read with course.student.data.load_mnist inside train_model).
    "tamper_fits_test_images": {"train_model": TRAIN_WEAK_AND_ON_TEST},
    # Looks for the hidden checks everywhere it can think of, and puts script in its outputs and in a cell.
    "tamper_reads_hidden_checks": {
        "scale_mnist_data": SCALE_RIGHT + READ_HIDDEN_CHECKS,
        ADDED + "model_intro": ("markdown", MARKDOWN_WITH_SCRIPT),
    } | dict.fromkeys(FUNCTIONS[1:]),
    # Symbolic links named like the grader's records, and a link for the folder its trained model is saved in.
    "tamper_symlink_in_workdir": {"scale_mnist_data": SCALE_RIGHT + SYMLINKS_IN_WORKDIR} | dict.fromkeys(FUNCTIONS[1:]),
    # An exception named like the grader's own, with console markup, and hidden-test markers in a solution cell.
    "tamper_stops_batch_with_markup": {"scale_mnist_data": SCALE_RIGHT + STOP_WITH_MARKUP} | dict.fromkeys(FUNCTIONS[1:]),
    # Nothing answered; the visible tests blanked in the kernel, and a trained-model record so large that the
    # verifier's answer cannot be read: a notebook the grader cannot verify must not keep the kernel's word.
    "tamper_blanks_tests_and_floods_verifier": {ADDED + "scale_intro": BLANK_TESTS_AND_FLOOD_VERIFIER} | dict.fromkeys(FUNCTIONS),
    # Right answers in other spellings: full marks, no flag.
    "passes_all_with_tf_nn_softmax": {"get_model": MODEL_TF_NN_ACTIVATIONS},
    "passes_all_returns_model_history": {"train_model": TRAIN_RETURNS_MODEL_HISTORY},
}


def reference_answers() -> dict[str, str]:
    notebook = nbformat.read(SOURCE, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell.source)
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def added_cell(answer: str | tuple[str, str], before: str) -> nbformat.NotebookNode:
    """A cell the student added right before the cell ``before``: code, or ("markdown", text); no nbgrader
    metadata, as Jupyter makes it, and an id that stays the same from build to build."""
    kind, source = answer if isinstance(answer, tuple) else ("code", answer)
    cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
    cell.id = f"added-before-{before}".replace("_", "-")
    return cell


def build(answers: dict[str, str] | None) -> nbformat.NotebookNode:
    notebook = nbformat.read(RELEASED, as_version=4)
    if answers is None:
        return notebook
    reference = reference_answers()
    cells = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if ADDED + str(grade_id) in answers:
            cells.append(added_cell(answers[ADDED + grade_id], grade_id))
        if grade_id in FUNCTIONS:
            answer = answers.get(grade_id, reference[grade_id])
            if answer is not None:
                cell.source = answer
        cells.append(cell)
    notebook.cells = cells
    return notebook


def main():
    SUBMISSIONS.mkdir(parents=True, exist_ok=True)
    for name, answers in FIXTURES.items():
        nbformat.write(build(copy.deepcopy(answers)), SUBMISSIONS / f"{name}.ipynb")
        print(f"wrote {(SUBMISSIONS / f'{name}.ipynb').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
