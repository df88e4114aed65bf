"""The trusted verifier: measure what a student's notebook produced, outside the student's kernel.

    python -I -m course.grading.verify ASSIGNMENT INPUTS   ->   JSON {"verdicts": {test cell: {"passed", "message"}}}

Every test of the assignment's spec (course.spec) is judged here, from data: what the student's functions
returned when course.sandboxed.harness called them (arrays, models saved in Keras format and loaded in safe mode,
recorded fit calls, numbers), and the models the notebook left (its artifacts), evaluated here on the real MNIST
test set. This process runs no student code, and reads only INPUTS: copies the grader made of what the harness
and the notebook saved (INPUTS/harness, INPUTS/artifacts/<name>).

Nothing a student wrote is believed on its own word. The harness's record of the training function's fit calls is
cross-checked against the optimizer's step count of the model the notebook trained; that model must have the
architecture the student's own model-building function gave the harness, and must not classify the test images
markedly better than the training images (the mark of a model fitted on the test set). A check that cannot run
fails that check alone, with its reason.

The grader starts it beside the student's kernel, and tells it, one line on stdin each (or their end), when the
harness has ended and when the notebook has saved each artifact: it warms up and checks while the notebook runs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import json
import math
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .evidence import PREDICTIONS_DIR, PREDICTIONS_FIELD

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULT_BATCH_SIZE = 32
TRAIN_SAMPLE = 10_000  # training images a trained model is also scored on
# An honest model scores about as well on the images it trained on as on the test set (measured: 0.4-0.9 points
# better on training images, docs/thresholds.md); one fitted on the test set scores the test set better.
MAX_TEST_OVER_TRAIN = 0.01
TEST_IMAGES_SEEN = 100  # test images among what fit got, before the model counts as fitted on the test set
MAX_RESULTS_BYTES = 10_000_000  # the harness's results.json: a few KB when honest
MAX_MESSAGE_CHARS = 1000  # a verdict's message quotes what the student's code returned: bounded
PREFIX = "Checked outside your notebook: "


class Unreadable(Exception):
    """What the harness kept of a call cannot be turned back into a value."""


class Verifier:
    """The verdicts of one notebook, test by test, for one assignment's spec."""

    def __init__(self, spec, inputs_dir: Path, predictions: GraderPredictions | None = None):
        from course.sandboxed import inputs
        from course.student import checks

        self.spec, self.inputs_dir, self.checks, self.inputs = spec, inputs_dir, checks, inputs
        self.predictions = predictions or GraderPredictions()
        self.harness_dir = inputs_dir / "harness"
        self.results = self._harness_results()
        self._values: dict = {}

    def _harness_results(self) -> dict:
        results_file = self.harness_dir / "results.json"
        try:
            if not results_file.is_file() or results_file.stat().st_size > MAX_RESULTS_BYTES:
                return {}
            results = json.loads(results_file.read_text())
        except (OSError, ValueError):
            return {}
        return results if isinstance(results, dict) else {}

    # --- loading -------------------------------------------------------------------------------------------

    def load_model(self, path: Path):
        """The Keras model at ``path``, in safe mode; None if there is none; CheckFailed when it cannot be loaded."""
        import keras

        custom = self.spec.keras_custom_objects() if self.spec.keras_custom_objects else {}
        if not path.is_file():
            return None
        try:
            return keras.saving.load_model(path, safe_mode=True, custom_objects=custom)
        except Exception:
            pass
        try:
            # compile settings Keras cannot rebuild (e.g. metrics passed as loss_weights) still leave an architecture
            return keras.saving.load_model(path, safe_mode=True, compile=False, custom_objects=custom)
        except Exception as error:
            raise self.checks.CheckFailed(
                f"the model could not be loaded outside your notebook ({type(error).__name__}: {str(error)[:300]}); "
                "build it only from Keras layers, activations and settings, without custom Python code."
            ) from None

    def value(self, function: str):
        """What ``function`` returned (or what the spec keeps of its call), rebuilt from the harness's record."""
        if function not in self._values:
            self._values[function] = self._rebuild(self.results[function])
        return self._values[function]

    def _rebuild(self, kept: dict):
        kind = kept.get("type")
        if kind == "model":
            return self.load_model(self._file(kept))
        if kind == "arrays":
            with np.load(self._file(kept), allow_pickle=False) as saved:
                arrays = [saved[f"arr_{index}"] for index in range(int(kept["count"]))]
            return _container(kept.get("container"), arrays)
        if kind == "numbers":
            return _container(kept.get("container"), [float(value) for value in kept["values"]])
        if kind == "fit record":
            if not isinstance(kept.get("calls"), list) or not all(isinstance(call, dict) for call in kept["calls"]):
                raise Unreadable("the fit calls")
            return self.checks.FitRecord(kept["calls"], str(kept.get("returned", "")))
        if kind == "other":
            return _stand_in(str(kept.get("kind") or "None"), kept.get("length"))
        raise Unreadable(f"a result of type {kind!r}")

    def _file(self, kept: dict) -> Path:
        path = self.harness_dir / str(kept.get("file", ""))
        if path.parent != self.harness_dir or not path.is_file():
            raise Unreadable("a saved file")
        return path

    def arguments(self, test) -> list:
        call = self.spec.call(test.on) if test.on in self.spec.functions else None
        return self.inputs.build_all(test.args, call_inputs=lambda: self.inputs.build_all(call.inputs) if call else [])

    # --- verdicts ------------------------------------------------------------------------------------------

    def verdict(self, check) -> dict:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check()
        except self.checks.CheckFailed as failure:
            return {"passed": False, "message": f"{PREFIX}{str(failure)[:MAX_MESSAGE_CHARS]}"}
        except Unreadable as what:
            return {"passed": False, "message": f"{PREFIX}{what} your function returned could not be read back."}
        except Exception as error:
            return {"passed": False, "message": f"{PREFIX}the check failed ({type(error).__name__}: {str(error)[:MAX_MESSAGE_CHARS]})"}
        return {"passed": True, "message": ""}

    def function_verdicts(self) -> dict[str, dict]:
        """Verdicts on every test of a function students write, from what the harness kept of its call."""
        verdicts = {}
        for function in self.spec.functions:
            kept = self.results.get(function)
            for test in self.spec.tests_on(function):
                if not isinstance(kept, dict) or "error" in kept:
                    reason = str(kept["error"])[:500] if isinstance(kept, dict) else "the process running it stopped before it (see the notebook)"
                    verdict = {"passed": False, "message": f"{PREFIX}calling {function} failed: {reason}"}
                else:
                    verdict = self.verdict(lambda test=test: test.check(self.value(test.on), *self.arguments(test)))
                verdicts[test.grade_id] = {**verdict, "function": function}  # its cells stand or fall with its visible test
        return verdicts

    def artifact_verdicts(self, artifact, errors_before: bool = False) -> dict[str, dict]:
        """Verdicts on the model the notebook left as ``artifact``, and the cross-checks of the harness's record.

        ``errors_before``: a cell of the notebook raised before the artifact was saved. A model that then took no
        training step was stopped by that error (a compile mistake, say), not by the training function: its record
        is not contradicted, and the untrained model fails the accuracy test on its own."""
        folder = self.inputs_dir / "artifacts" / artifact.name
        try:
            saved = json.loads((folder / "values.json").read_text()) if (folder / "values.json").is_file() else {}
            problems = [str(problem)[:300] for problem in list(saved.get("problems", []))[:5]] if isinstance(saved, dict) else []
        except (OSError, ValueError):
            problems = []
        try:
            model = self.load_model(folder / "model.keras")
        except self.checks.CheckFailed as failure:
            model, problems = None, [*problems, str(failure)]
        tests = self.spec.tests_on(artifact.name)
        if model is not None:
            _predict_once_per_grader_array(model, self.predictions, folder / "model.keras")
        if model is None:
            reasons = "; ".join(problems or ["the cells before it did not run"])
            message = f"{PREFIX}no trained model was left after the cell {artifact.after_cell} ({reasons}). Fix the first error in the notebook."
            return {test.grade_id: {"passed": False, "message": message} for test in tests}

        record = self.results.get(artifact.trained_by) if artifact.trained_by else None
        calls = record.get("calls") if isinstance(record, dict) and isinstance(record.get("calls"), list) else None
        untrained_after_an_error = errors_before and trained_steps(model) in (0, None)
        disagreement = step_disagreement(model, calls, artifact.trained_by) if calls and not untrained_after_an_error else None
        verdicts = {}
        if disagreement:
            for grade_id in artifact.record_tests:
                verdicts[grade_id] = {"passed": False, "message": f"{PREFIX}{disagreement}", "flag": disagreement}
        built = self._built_model(artifact.built_by)
        require = self.checks.require

        def credible():
            require(disagreement is None, f"The model your notebook trained cannot be credited: {disagreement}" if disagreement else "")
            seen = max((call.get("test_images_seen") or 0 for call in calls or [] if isinstance(call, dict)), default=0)
            require(
                seen < TEST_IMAGES_SEEN,
                f"{artifact.trained_by} fits {seen} of the test images: the model has been fitted on the test images, so "
                "its test accuracy means nothing. Train only on the training images.",
            )
            if built is not None:
                difference = architecture_difference(model, built, artifact.built_by)
                require(
                    difference is None,
                    f"The model your notebook trained is not the model {artifact.built_by} builds: {difference}. Train "
                    f"the model {artifact.built_by} returns, with {artifact.trained_by}.",
                )

        def not_fitted_on_test_images():
            test_accuracy, train_accuracy = _accuracy(model, *_test_set()), _accuracy(model, *_train_sample())
            require(
                test_accuracy <= train_accuracy + MAX_TEST_OVER_TRAIN,
                f"The model your notebook trained classifies {test_accuracy:.2%} of the test images correctly but only "
                f"{train_accuracy:.2%} of the training images: it has been fitted on the test images. Train only on "
                f"the training images, with {artifact.trained_by}.",
            )

        for test in tests:
            verdicts[test.grade_id] = self.verdict(
                lambda test=test: (credible(), test.check(model, *self.arguments(test)), not_fitted_on_test_images()))
        return verdicts

    def _built_model(self, function: str | None):
        """The model ``function`` built when the harness called it, or None when it did not."""
        kept = self.results.get(function) if function else None
        if not isinstance(kept, dict) or kept.get("type") != "model":
            return None
        try:
            return self.value(function)
        except Exception:  # noqa: BLE001 - its own tests report it
            return None


def _container(kind: str | None, items: list):
    if kind == "tuple":
        return tuple(items)
    if kind == "list":
        return list(items)
    return items[0]


def _stand_in(kind: str, length=None):
    """An object of a class named like what the student returned, so the checks word their message the same."""
    namespace = {"__len__": lambda self: int(length)} if isinstance(length, int) else {}
    return type(kind, (), namespace)()


def expected_steps(calls: list[dict]) -> int | None:
    """Training steps the recorded fit calls take; None when a call's steps cannot be known."""
    total = 0
    for call in calls:
        images, epochs = call.get("images"), call.get("epochs")
        if not isinstance(images, int) or not isinstance(epochs, int) or epochs < 0:
            return None
        if call.get("steps_per_epoch"):
            total += epochs * int(call["steps_per_epoch"])
            continue
        batch = call.get("batch_size") or DEFAULT_BATCH_SIZE
        split = call.get("validation_split") or 0.0
        if not isinstance(batch, int) or batch <= 0 or not 0 <= split < 1:
            return None
        total += epochs * math.ceil(math.floor(images * (1.0 - split)) / batch)
    return total


def trained_steps(model) -> int | None:
    optimizer = getattr(model, "optimizer", None)
    try:
        return int(optimizer.iterations) if optimizer is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def step_disagreement(model, calls, trained_by: str) -> str | None:
    """Why the recorded fit calls cannot be what trained the notebook's model, or None when they agree."""
    expected, steps = expected_steps(calls or []), trained_steps(model)
    if expected is None or steps is None or steps == expected:
        return None
    return (
        f"the model your notebook trained took {steps} training steps, but {trained_by}, called by the grader with the "
        f"same arguments, asks for {expected}. Your notebook must train its model with {trained_by}, exactly as it "
        "trains any model it is given."
    )


# What a layer's configuration says about its input size, or its identity, not what it computes.
NOT_ARCHITECTURE = {"name", "trainable", "dtype", "batch_input_shape", "input_shape", "batch_shape", "build_config"}


def _layer_signature(layer) -> tuple[str, dict]:
    try:
        config = {key: value for key, value in layer.get_config().items() if key not in NOT_ARCHITECTURE}
    except Exception:  # noqa: BLE001
        config = {}
    return type(layer).__name__, json.loads(json.dumps(config, default=str))


def architecture_difference(trained, built, built_by: str = "the model function") -> str | None:
    """Where ``trained`` differs from ``built`` layer by layer (sizes of the input aside), or None."""
    ours, theirs = [_layer_signature(layer) for layer in trained.layers], [_layer_signature(layer) for layer in built.layers]
    if len(ours) != len(theirs):
        return f"it has {len(ours)} layers, {built_by} builds {len(theirs)}"
    for position, ((kind, config), (built_kind, built_config)) in enumerate(zip(ours, theirs), start=1):
        if kind != built_kind:
            return f"layer {position} is {kind}, {built_by} builds {built_kind} there"
        if config != built_config:
            changed = sorted(key for key in set(config) | set(built_config) if config.get(key) != built_config.get(key))
            return f"layer {position} ({kind}) differs in {', '.join(changed)}"
    return None


def _predict_once_per_grader_array(model, predictions: GraderPredictions, model_file: Path) -> None:
    """The trained model is scored on the grader's test images by its accuracy check and again by the test/train
    comparison: its predictions on the grader's own arrays (cached, never changed) are made once, batch by batch
    as ``predict`` makes them, without Keras' per-call machinery (a third of a stored run's re-verification,
    benchmarks/reverify_scale.py), or taken from ``predictions`` when made before from the same model file."""
    predict, made = model.predict, {}
    grader_arrays = {id(array): (name, array) for name, array in (("test", _test_set()[0]), ("train sample", _train_sample()[0]))}

    def predict_once(images, *args, **kwargs):
        name, array = grader_arrays.get(id(images), (None, None))
        if array is not images or args or set(kwargs) - {"batch_size", "verbose"}:
            return predict(images, *args, **kwargs)
        batch_size = kwargs.get("batch_size") or DEFAULT_BATCH_SIZE
        if batch_size not in made.setdefault(name, {}):
            made[name][batch_size] = predictions.get_or_make(
                model_file, name, batch_size, lambda: _predictions(model, images, batch_size, predict))
        return made[name][batch_size].copy()

    model.predict = predict_once


class GraderPredictions:
    """Trained models' predictions on the grader's arrays, by what they were made from: the model file's bytes,
    which array and its bytes, the batch size, TensorFlow's and Keras' versions. A grade keeps those it made with
    its stored run (``made``, packed by the worker); ``course grade --reverify`` gives them back (``stored``) and
    makes again only those whose key differs. Only the grader's verifier makes them, from the model alone."""

    def __init__(self, stored: dict | None = None):
        self.stored, self.made = dict(stored or {}), {}

    def get_or_make(self, model_file: Path, name: str, batch_size: int, make):
        key = _prediction_key(hashlib.sha256(model_file.read_bytes()).hexdigest(), name, _grader_array_digest(name), batch_size)
        if key in self.stored and isinstance(self.stored[key], np.ndarray):
            return self.stored[key]
        self.made[key] = make()
        return self.made[key]

    def packed(self) -> bytes:
        """``made`` as an .npz file's bytes (empty when nothing was made)."""
        if not self.made:
            return b""
        buffer = io.BytesIO()
        np.savez(buffer, **self.made)
        return buffer.getvalue()

    @classmethod
    def unpacked(cls, data: bytes) -> GraderPredictions:
        """Predictions packed by ``packed``; none when ``data`` cannot be read as such."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                return cls({key: saved[key] for key in saved.files})
        except (OSError, ValueError, KeyError, EOFError):
            return cls()


def _prediction_key(model_digest: str, name: str, array_digest: str, batch_size: int) -> str:
    import keras
    import tensorflow as tf

    return hashlib.sha256(json.dumps([model_digest, name, array_digest, batch_size, tf.__version__, keras.__version__]).encode()).hexdigest()


@functools.lru_cache(maxsize=2)
def _grader_array_digest(name: str) -> str:
    """The digest of the grader's array ``name`` (loaded once per process, never changed)."""
    array = {"test": _test_set, "train sample": _train_sample}[name]()[0]
    return hashlib.sha256(str((array.shape, str(array.dtype))).encode() + np.ascontiguousarray(array).tobytes()).hexdigest()


def _predictions(model, images, batch_size: int, predict):
    """What ``model.predict(images, batch_size=batch_size)`` returns, from the model's forward pass on each batch
    in one traced function; Keras' own ``predict`` for outputs that are not one array."""
    import tensorflow as tf

    forward = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    try:
        batches = [forward(images[start:start + batch_size]) for start in range(0, len(images), batch_size)]
        if all(isinstance(batch, tf.Tensor) for batch in batches):
            return np.concatenate([batch.numpy() for batch in batches])
    except Exception:  # noqa: BLE001 - Keras' predict reports it in its own words
        pass
    return predict(images, batch_size=batch_size, verbose=0)


def _accuracy(model, images, labels) -> float:
    probabilities = model.predict(images, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))


@functools.lru_cache(maxsize=1)
def _test_set():
    from course.sandboxed.inputs import mnist_images, mnist_labels

    return mnist_images("test", scaled=True), mnist_labels("test")


@functools.lru_cache(maxsize=1)
def _train_sample():
    from course.sandboxed.inputs import mnist_images, mnist_labels

    return mnist_images("train", TRAIN_SAMPLE, scaled=True), mnist_labels("train", TRAIN_SAMPLE)


def verify(spec, inputs_dir: Path, errors_before, predictions: GraderPredictions | None = None) -> dict[str, dict]:
    """Every verdict of one notebook, from its inputs; ``errors_before(name)``: whether a cell raised before the
    notebook saved artifact ``name`` (streamed, it waits until the notebook has saved it); ``predictions``: those
    made before (with --reverify), and where those made now are kept."""
    verifier = Verifier(spec, inputs_dir, predictions)
    verdicts = verifier.function_verdicts()
    if spec.artifacts:
        _test_set()  # loaded now, to check the trained model as soon as it is there
    for artifact in spec.artifacts:
        verdicts.update(verifier.artifact_verdicts(artifact, errors_before(artifact.name)))
    return verdicts


def _errors_before_in(told: str | None) -> bool:
    """Whether the line saying the notebook has saved an artifact (or has ended) says a cell raised before it."""
    try:
        return bool(json.loads(told or "").get("errors before"))
    except (ValueError, AttributeError):
        return False


def verify_told(assignment: str, inputs_dir: Path, read_line) -> dict:
    """The record of one notebook as it runs: ``read_line()`` gives the line saying the harness has ended (what it
    saved is final), then one per artifact as the notebook saves it. Whatever goes wrong, the record says so as
    data (the grader then marks the student "could not verify")."""
    from course import spec as specs

    record: dict = {"verdicts": {}}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            spec = specs.load(assignment)
            read_line()  # the harness has ended
            predictions = GraderPredictions()  # a first grade makes every prediction itself
            record["verdicts"].update(verify(spec, inputs_dir, lambda name: _errors_before_in(read_line()), predictions))
            packed = predictions.packed()
            if 0 < len(packed) <= MAX_PREDICTIONS_BYTES:  # kept with the stored run (course.grading.evidence)
                record[PREDICTIONS_FIELD] = base64.b64encode(packed).decode()
    except BaseException as error:  # noqa: BLE001 - reported as data
        record = {"verdicts": {}, "error": f"{type(error).__name__}: {str(error)[:500]}"}
    return record


MAX_PREDICTIONS_BYTES = 3_000_000  # an honest run's: 0.8 MB (20,000 images, 10 classes)


# --- kept warm on a grading worker (course.grading.warm_verifier) ---------------------------------------------

PR_SET_DUMPABLE = 4  # prctl(2)
JOB_NAME = re.compile(r"job-[0-9a-f]{1,32}")
ASSIGNMENT_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
MAX_TOLD_BYTES = 100_000  # a line the grader sends: a few dozen bytes


def serve(inbox: Path) -> None:
    """``--serve INBOX``: verify notebook after notebook, each in a fresh child process forked from this one.

    This process imports TensorFlow and Keras, loads the grader's MNIST arrays and digests them once, and then only
    forks: it never opens a student's file. Each child verifies one notebook exactly as ``ASSIGNMENT INPUTS`` does
    (its inputs in INBOX/<job>, the grader's lines on the shared stdin), writes its record as one line, and exits:
    nothing of one student outlives their child. Every job ends with ``{"ended": exit status}`` from this process,
    so a child that dies without a record still ends its job. The grader sends a job as ``{"job": name,
    "assignment": name}``.
    """
    import ctypes

    import keras  # noqa: F401 - TensorFlow and Keras, imported once for every notebook after
    from course.student import checks  # noqa: F401

    # A child cannot read or trace this process (nor, forked from it, each other): non-dumpable, same user
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # numpy and hashlib only (no TensorFlow op, whose threads a fork would not take along): made once, for every child
    _grader_array_digest("test"), _grader_array_digest("train sample")
    while (line := _read_line()) is not None:
        try:
            request = json.loads(line)
            job, assignment = str(request["job"]), str(request["assignment"])
            if not JOB_NAME.fullmatch(job) or not ASSIGNMENT_NAME.fullmatch(assignment):
                raise ValueError(line[:100])
        except (ValueError, TypeError, KeyError) as error:
            _write_line({"ended": f"not a job: {error}"})
            continue
        child = os.fork()
        if child == 0:
            _verify_in_child(assignment, inbox / job)
        _, status = os.waitpid(child, 0)
        _write_line({"ended": os.waitstatus_to_exitcode(status)})


def _verify_in_child(assignment: str, inputs_dir: Path) -> None:
    """One notebook's record, in a forked child of ``serve``, with a temporary folder of its own; never returns."""
    import shutil
    import tempfile

    code = 1
    try:
        tempfile.tempdir = own = tempfile.mkdtemp(prefix="verify-")
        os.environ["TMPDIR"] = own
        record = verify_told(assignment, inputs_dir, _read_line)
        shutil.rmtree(own, ignore_errors=True)
        _write_line(record)
        code = 0
    finally:
        os._exit(code)  # never the parent's exit handlers or buffers


def _read_line(fd: int = 0) -> str | None:
    """One line of ``fd`` (None at its end), read a byte at a time: nothing past the line is taken from the pipe,
    which the next reader (a child, then this process again) shares."""
    data = bytearray()
    while len(data) < MAX_TOLD_BYTES:
        byte = os.read(fd, 1)
        if not byte:
            return data.decode(errors="replace") if data else None
        if byte == b"\n":
            break
        data += byte
    return data.decode(errors="replace")


def _write_line(answer: dict) -> None:
    data = (json.dumps(answer) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def verify_batch(spec, inbox: Path, out) -> None:
    """The records of many notebooks' stored inputs (course.grade --reverify), one after the other in this process,
    each written to ``out`` as one JSON line ``{"job": ..., "record": ...}`` as soon as it is made: a batch that
    stops part-way keeps the records before it.

    INBOX/jobs.json names each job folder and when its artifacts were saved; INBOX/predictions/<job>.npz, the
    predictions its grade made (those of another model file are made again). Nothing of one job is kept for the
    next: a fresh Verifier, and Keras' session cleared; only the grader's own MNIST arrays stay loaded. A job gets
    JOB_SECONDS at most."""
    import signal

    def too_long(signum, frame):
        raise TimeoutError(f"its verification took longer than {JOB_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, too_long)
    try:
        _verify_jobs(spec, inbox, out)
    finally:
        signal.signal(signal.SIGALRM, previous)


def _verify_jobs(spec, inbox: Path, out) -> None:
    import signal

    import keras

    jobs = json.loads((inbox / JOBS_FILE).read_text())
    for job, told in jobs.items():
        record: dict = {"verdicts": {}}
        try:
            signal.alarm(JOB_SECONDS)
            errors_before = told.get("errors_before", {})
            stored = inbox / PREDICTIONS_DIR / f"{job}.npz"
            predictions = GraderPredictions.unpacked(stored.read_bytes()) if stored.is_file() else None
            record["verdicts"] = verify(spec, inbox / job, lambda name: bool(errors_before.get(name)), predictions)
        except Exception as error:  # noqa: BLE001 - this job's record says so; the others are still verified
            record = {"verdicts": {}, "error": f"{type(error).__name__}: {str(error)[:500]}"}
        finally:
            signal.alarm(0)
        out.write(json.dumps({"job": job, "record": record}) + "\n")
        out.flush()
        keras.backend.clear_session(free_memory=False)  # Keras' state reset; its full garbage collection is a tenth of a job


JOB_SECONDS = 120  # one stored run's verification: about a second when honest
JOBS_FILE = "jobs.json"


def main(argv: list[str] | None = None) -> None:
    """Verdicts as JSON on stdout. Whatever goes wrong, the output says so as data: the grader then marks the
    student "could not verify" instead of failing the batch.

    ``ASSIGNMENT INPUTS``: one notebook, told on stdin as it runs. ``--batch ASSIGNMENT INBOX``: stored runs,
    one JSON line each (verify_batch). ``--serve INBOX``: kept warm on a grading worker (serve)."""
    from course import spec as specs

    argv = sys.argv[1:] if argv is None else argv
    if argv[0] == "--serve":
        serve(Path(argv[1]))
        return
    if argv[0] != "--batch":
        record = verify_told(argv[0], Path(argv[1]), sys.stdin.readline)
    else:
        record = {"verdicts": {}}
        out = sys.stdout
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                verify_batch(specs.load(argv[1]), Path(argv[2]), out)
                return
        except BaseException as error:  # noqa: BLE001 - reported as data, never a crash of the batch
            record["error"] = f"{type(error).__name__}: {str(error)[:500]}"
    sys.stdout.write(json.dumps(record))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
