"""Runs the student's functions on the grader's inputs, in a sandboxed process of its own, and saves what they
return. Nothing here is trusted: course.grading.verify checks the saved outputs, and no grader check runs in this
process, so student code that monkeypatches or hooks anything here can only spoil its own outputs. What it records
of a training function (epochs, batch size, data) is cross-checked by the verifier against the optimizer's step
count of the model the notebook itself trained, so a forged record gains nothing.

The student's namespace is built as the notebook's: the setup cells, then every code cell the student could edit
(the solution cells and any cell they added), in notebook order. A helper defined in an extra cell works here as
it did in the notebook, and a function an extra cell redefines is the one checked.

    python -I -m course.sandboxed.harness NOTEBOOK PLAN OUTDIR

PLAN is the assignment's calls as JSON (course.spec.Assignment.harness_plan): which function, on which inputs
(course.sandboxed.inputs), and what to keep. This process never sees the spec itself, its checks or thresholds.
Calls run in the plan's order; each call's result is saved before the next call, so a call that kills the process
costs only the outputs after it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

from course.sandboxed import inputs
from course.sandboxed.fit_record import summarize_fit_calls
from course.sandboxed.keras_import import import_keras
from course.sandboxed.notebook_code import code_cells, solution_code

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CALL_TIMEOUT_S = 30  # every call is on small inputs or a recorder, and trains nothing: a second or two when right
# The setup cells import TensorFlow and load MNIST: seconds alone, but tens of seconds on a loaded machine, and a
# setup cell cut short would cost the student every function that needs its imports.
SETUP_CELL_TIMEOUT_S = 120
RESULTS_FILE = "results.json"
# What the harness keeps of a call: course.spec's RETURNED, MUTATED_ARGUMENT, FIT_RECORD
RETURNED, MUTATED_ARGUMENT, FIT_RECORD = "returned", "argument 0", "fit record"


class CallTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CallTimeout(f"did not return within {CALL_TIMEOUT_S} s")


def student_namespace(notebook_path: Path, setup_cells=()) -> dict:
    """Run the cells of the answers notebook (the grader chose them: setup, then the student's own) in order."""
    namespace: dict = {"__name__": "__main__"}
    for cell in code_cells(notebook_path):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "cell")
        try:
            signal.alarm(SETUP_CELL_TIMEOUT_S if grade_id in setup_cells else CALL_TIMEOUT_S)
            exec(compile(solution_code(cell["source"]), grade_id, "exec"), namespace)
        except BaseException:  # a broken cell leaves its function undefined; later ones may still work
            traceback.print_exc()
        finally:
            signal.alarm(0)
    return namespace


def run(notebook_path: Path, plan: dict, outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    results: dict = {}

    def save():
        (outdir / RESULTS_FILE).write_text(json.dumps(results))

    import_keras()  # before the setup cells import it: the same modules, made at less cost
    signal.signal(signal.SIGALRM, _alarm)
    namespace = student_namespace(notebook_path, plan.get("setup_cells", ()))
    signal.signal(signal.SIGALRM, _alarm)
    for call in plan["calls"]:
        name = call["function"]
        function = namespace.get(name)
        if not callable(function):
            results[name] = {"error": f"{name} is not defined (its cell raised an error or was removed)"}
            save()
            continue
        try:
            arguments = inputs.build_all(call["inputs"])
            signal.alarm(CALL_TIMEOUT_S)
            returned = function(*arguments)
            signal.alarm(0)
            results[name] = keep(call["keep"], returned, arguments, outdir / name)
        except BaseException as error:  # anything the student's code raises is a result, not a harness failure
            signal.alarm(0)
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        save()


def keep(what: str, returned, arguments: list, stem: Path) -> dict:
    """What the verifier gets of one call, as data (and files named after ``stem``)."""
    if what == FIT_RECORD:
        recorder, images, labels = arguments[:3]
        return {"type": "fit record", "calls": summarize_fit_calls(recorder, images, labels),
                "returned": f"{type(returned).__module__}.{type(returned).__name__}"}
    return store(arguments[0] if what == MUTATED_ARGUMENT else returned, stem)


def store(value, stem: Path) -> dict:
    """A value as the verifier can rebuild it: a Keras model (saved), arrays (saved), numbers, or only its type."""
    import keras

    container = type(value).__name__ if isinstance(value, (tuple, list)) else None
    items = list(value) if container else [value]
    if isinstance(value, keras.Model):
        path = stem.with_suffix(".keras")
        value.save(path)
        return {"type": "model", "file": path.name}
    if items and all(_is_array(item) for item in items):
        path = stem.with_suffix(".npz")
        np.savez(path, *[np.asarray(item) for item in items])
        return {"type": "arrays", "file": path.name, "container": container, "count": len(items)}
    numbers = [_number(item) for item in items]
    if items and all(number is not None for number in numbers):
        return {"type": "numbers", "values": numbers, "container": container}
    return {"type": "other", "kind": type(value).__name__, "length": len(value) if hasattr(value, "__len__") else None}


def _is_array(value) -> bool:
    return getattr(value, "shape", None) is not None and len(getattr(value, "shape", ())) > 0


def _number(value):
    if isinstance(value, (bool, np.bool_)) or getattr(value, "shape", ()) not in ((), None):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        run(Path(argv[0]), json.loads(Path(argv[1]).read_text()), Path(argv[2]))


if __name__ == "__main__":
    main()
