"""Runs the student's five functions on the grader's inputs, in a sandboxed process of its own, and saves what
they return. Nothing here is trusted: course.grading.verify checks the saved outputs, and no grader check runs
in this process, so student code that monkeypatches or hooks anything here can only spoil its own outputs. What
it records of train_model (epochs, batch size, data) is cross-checked by the verifier against the optimizer's step
count of the model the notebook itself trained, so a forged record gains nothing.

The student's namespace is built as the notebook's: the setup cells, then every code cell the student could edit
(the solution cells and any cell they added), in notebook order. A helper defined in an extra cell works here as
it did in the notebook, and a function an extra cell redefines is the one checked.

    python -I -m course.sandboxed.harness NOTEBOOK OUTDIR

The inputs are small slices of MNIST (checks of a function's behaviour do not need the whole data set) and the
seeded probe model of course.student.checks, which the verifier rebuilds identically to evaluate it itself.
Functions run in the order scale, model, compile, evaluate, train; each call's result is saved before the next
call, so a call that kills the process costs only the outputs after it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

from course.sandboxed.notebook_code import code_cells, solution_code

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TRAIN_SLICE, TEST_SLICE = 2000, 1000  # train_model gets the whole training set: slicing it is a fault to catch
CALL_TIMEOUT_S = 30  # every call is on small inputs and trains nothing: a second or two when right
OTHER_INPUT_SHAPE = (32, 32, 1)


class CallTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CallTimeout(f"did not return within {CALL_TIMEOUT_S} s")


def full_training_set():
    """All training images, scaled as the spec says, and their labels: what train_model must pass on whole."""
    from course.student.data import load_mnist

    (x_train, y_train), _ = load_mnist()
    return _scaled(x_train), y_train


def _scaled(images):
    # in float32 throughout: the same values as dividing in float64, without a 376 MB float64 copy (1.2 s here)
    return (images.astype("float32") / np.float32(255))[..., None]


@functools.lru_cache(maxsize=1)
def harness_inputs():
    """The same slices, scaled as the spec says, for the harness and the verifier."""
    from course.student.data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    raw = (x_train[:TRAIN_SLICE], x_test[:TEST_SLICE])
    scaled = (_scaled(raw[0]), _scaled(raw[1]))
    return raw, scaled, (y_train[:TRAIN_SLICE], y_test[:TEST_SLICE])


def student_namespace(notebook_path: Path) -> dict:
    """Run the cells of the answers notebook (the grader chose them: setup, then the student's own) in order."""
    namespace: dict = {"__name__": "__main__"}
    for cell in code_cells(notebook_path):
        try:
            signal.alarm(CALL_TIMEOUT_S)
            exec(compile(solution_code(cell["source"]), cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "cell"), "exec"), namespace)
        except BaseException:  # a broken cell leaves its function undefined; later ones may still work
            traceback.print_exc()
        finally:
            signal.alarm(0)
    return namespace


def run(notebook_path: Path, outdir: Path) -> None:
    from course.student import checks

    outdir.mkdir(parents=True, exist_ok=True)
    results: dict = {}

    def save():
        (outdir / "results.json").write_text(json.dumps(results))

    signal.signal(signal.SIGALRM, _alarm)
    raw, scaled, labels = harness_inputs()
    namespace = student_namespace(notebook_path)
    calls = {
        "scale_mnist_data": lambda f: f(*raw),
        "get_model": lambda f: f(OTHER_INPUT_SHAPE),
        "compile_model": lambda f: _compile(f, checks),
        "evaluate_model": lambda f: f(checks.probe_model(), scaled[1], labels[1]),
        "train_model": lambda f: _train(f, checks, *full_training_set()),
    }
    signal.signal(signal.SIGALRM, _alarm)
    for name, call in calls.items():
        function = namespace.get(name)
        if not callable(function):
            results[name] = {"error": f"{name} is not defined (its cell raised an error or was removed)"}
            save()
            continue
        try:
            signal.alarm(CALL_TIMEOUT_S)
            value = call(function)
            signal.alarm(0)
            results[name] = _store(name, value, outdir)
        except BaseException as error:  # anything the student's code raises is a result, not a harness failure
            signal.alarm(0)
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        save()


def _compile(compile_model, checks):
    probe = checks.uncompiled_probe_model()
    compile_model(probe)
    return probe


def _train(train_model, checks, images, labels):
    recorder = _recorder(checks)
    returned = train_model(recorder, images, labels)
    return {"calls": summarize_fit_calls(recorder, images, labels),
            "returned": f"{type(returned).__module__}.{type(returned).__name__}"}


def _recorder(checks):
    """The visible checks' FitRecorder, also noting what decides the number of training steps."""

    class StepRecorder(checks.FitRecorder):
        def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
                validation_split=0.0, validation_data=None, **kwargs):
            history = super().fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, **kwargs)
            self.calls[-1].update(batch_size=batch_size, validation_split=validation_split,
                                  steps_per_epoch=kwargs.get("steps_per_epoch"))
            return history

    return StepRecorder()


def summarize_fit_calls(recorder, train_images, train_labels) -> list[dict]:
    """What each fit call got, as plain data for the verifier."""
    from course.student.checks import VALUE_SAMPLE_SIZE

    sample = slice(0, VALUE_SAMPLE_SIZE)
    summaries = []
    for call in recorder.calls:
        x, y = call["x"], call["y"]
        shaped = getattr(x, "shape", None) is not None
        summaries.append({
            "images": int(len(x)) if shaped else None,
            "images_equal": bool(x is train_images or (shaped and np.array_equal(np.asarray(x[sample]), np.asarray(train_images[sample])))),
            "labels_equal": bool(getattr(y, "shape", None) is not None and np.array_equal(np.asarray(y), np.asarray(train_labels))),
            "epochs": _int(call["epochs"]) - _int(call.get("initial_epoch") or 0),
            "batch_size": _int(call.get("batch_size")) if call.get("batch_size") is not None else None,
            "validation_split": _float(call.get("validation_split")),
            "steps_per_epoch": _int(call.get("steps_per_epoch")) if call.get("steps_per_epoch") is not None else None,
            "test_images_seen": _test_images_in(x) if shaped else 0,
        })
    return summaries


def _test_images_in(x) -> int:
    """How many MNIST test images are among the images ``x`` that fit was given (compared as 0-255 pixels)."""
    from course.student.data import load_mnist

    try:
        rows = np.asarray(x)
        if rows.ndim < 2 or rows.size // len(rows) != 28 * 28 or len(rows) > 500_000:
            return 0
        scale = 255.0 if float(np.max(rows[:100])) <= 1.0 else 1.0
        pixels = np.rint(rows.reshape(len(rows), -1) * scale).clip(0, 255).astype(np.uint8)
        _, (x_test, _) = load_mnist()
        test = {bytes(image) for image in x_test.reshape(len(x_test), -1)}
        return sum(bytes(row) in test for row in pixels)
    except Exception:  # noqa: BLE001 - not a count the verifier can use
        return 0


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _float(value) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return -1.0


def _store(name: str, value, outdir: Path) -> dict:
    import keras

    if name == "scale_mnist_data":
        if isinstance(value, (tuple, list)) and len(value) == 2 and all(hasattr(v, "shape") for v in value):
            np.savez(outdir / "scaled.npz", first=np.asarray(value[0]), second=np.asarray(value[1]))
            return {"kind": type(value).__name__, "saved": "scaled.npz"}
        return {"kind": type(value).__name__, "length": len(value) if hasattr(value, "__len__") else None}
    if name in ("get_model", "compile_model"):
        if isinstance(value, keras.Model):
            value.save(outdir / f"{name}.keras")
            return {"saved": f"{name}.keras"}
        return {"kind": type(value).__name__}
    if name == "evaluate_model":
        kind = type(value).__name__
        try:
            numbers = [float(item) for item in value] if isinstance(value, (tuple, list)) else None
        except (TypeError, ValueError):
            numbers = None
        return {"kind": kind, "length": len(value) if hasattr(value, "__len__") else None, "numbers": numbers}
    return value  # train_model: the recorded calls


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        run(Path(argv[0]), Path(argv[1]))


if __name__ == "__main__":
    main()
