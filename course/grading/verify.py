"""The trusted verifier: measure what a student's notebook produced, outside the student's kernel.

    python -I -m course.grading.verify INPUTS   ->   JSON {"verdicts": {test cell: {"passed", "message"}}}

Every test cell is scored here, from data: what the student's functions returned when course.sandboxed.harness
called them (arrays, models saved in Keras format and loaded in safe mode, recorded fit calls, numbers), and the
trained model the notebook left, evaluated here on the real MNIST test set scaled as the spec says. The checks
are the ones the hidden tests use. This process runs no student code, and reads only INPUTS: copies the grader
made of what the harness and the notebook saved (INPUTS/harness, INPUTS/trained).

Nothing a student wrote is believed on its own word. The harness's record of train_model's fit calls is
cross-checked against the optimizer's step count of the model the notebook trained; the trained model must have
the spec's architecture, and must not classify the test images markedly better than the training images (the mark
of a model fitted on the test set). A check that cannot run fails that check alone, with its reason.

The grader starts it beside the student's kernel, and tells it, one line on stdin each (or their end), when the
harness has ended and when the notebook has saved its trained model: it warms up and checks while the notebook runs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FUNCTION_CELLS = {
    "scale_mnist_data": ("test_scale_pair", "test_scale_range", "test_scale_dtype", "test_scale_order"),
    "get_model": ("test_model_output", "test_model_layers", "test_model_input_shape", "test_model_conv", "test_model_pool", "test_model_dense"),
    "compile_model": ("test_compile_done", "test_compile_optimizer", "test_compile_loss", "test_compile_metrics"),
    "train_model": ("test_train_history", "test_train_epochs", "test_train_all_data"),
    "evaluate_model": ("test_evaluate_pair", "test_evaluate_matches"),
}
TRAINED_MODEL_CELLS = ("test_evaluate_accuracy",)
STEP_CHECKED_CELLS = ("test_train_epochs", "test_train_all_data")  # cross-checked against the trained model
DEFAULT_BATCH_SIZE = 32
TRAIN_SAMPLE = 10_000  # training images the trained model is also scored on
# An honest model scores about as well on the images it trained on as on the test set (measured: 0.4-0.9 points
# better on training images, docs/thresholds.md); one fitted on the test set scores the test set better.
MAX_TEST_OVER_TRAIN = 0.01
TEST_IMAGES_SEEN = 100  # test images among what fit got, before the model counts as fitted on the test set
MAX_RESULTS_BYTES = 10_000_000  # the harness's results.json: a few KB when honest
MAX_MESSAGE_CHARS = 1000  # a verdict's message quotes what the student's code returned: bounded, so the answer is


def _custom_objects() -> dict:
    from course.grading import hidden_checks

    spellings = getattr(hidden_checks, "keras_custom_objects", None)
    return spellings() if spellings else {}


def _load(path: Path):
    """The Keras model at ``path``, in safe mode; None if there is none; CheckFailed when it cannot be loaded."""
    import keras

    from course.student.checks import CheckFailed

    if not path.is_file():
        return None
    try:
        return keras.saving.load_model(path, safe_mode=True, custom_objects=_custom_objects())
    except Exception:
        pass
    try:
        # compile settings Keras cannot rebuild (e.g. metrics passed as loss_weights) still leave an architecture
        return keras.saving.load_model(path, safe_mode=True, compile=False, custom_objects=_custom_objects())
    except Exception as error:
        raise CheckFailed(
            f"the model could not be loaded outside your notebook ({type(error).__name__}: {str(error)[:300]}); "
            "build it only from Keras layers, activations and settings, without custom Python code."
        ) from None


@functools.lru_cache(maxsize=1)
def _test_data():
    from course.student.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    return (x_test.astype("float32") / 255.0)[..., None], y_test


def _stand_in(kind: str):
    """An object of a class named like what the student returned, so the checks word their message the same."""
    return type(kind or "None", (), {})()


def _function_checks(name: str, result: dict, outdir: Path, checks, hidden_checks):
    """For each test cell of ``name``: a zero-argument callable that raises CheckFailed when the property fails."""
    from course.sandboxed.harness import OTHER_INPUT_SHAPE, harness_inputs

    def model_from(saved_as):
        loaded = {}

        def get():
            if "model" not in loaded:
                loaded["model"] = _load(outdir / saved_as) if saved_as else _stand_in(result.get("kind"))
            return loaded["model"]

        return get

    if name == "scale_mnist_data":
        raw, _, _ = harness_inputs()

        def value():
            if result.get("saved"):
                with np.load(outdir / result["saved"], allow_pickle=False) as arrays:
                    return (arrays["first"], arrays["second"])
            return _stand_in(result.get("kind"))

        return [lambda check=check: check(value(), *raw) for check in (checks.scaled_pair, hidden_checks.scaled_range, hidden_checks.scaled_dtype, hidden_checks.scaled_order)]
    if name == "get_model":
        model = model_from(result.get("saved"))

        def input_from_argument():
            built = model()
            hidden_checks.model_input_from_argument(lambda shape: built)

        return [
            lambda: checks.model_built(model()), lambda: checks.model_layers(model()), input_from_argument,
            lambda: hidden_checks.conv_layer_config(model()), lambda: hidden_checks.pool_layer_config(model()),
            lambda: hidden_checks.dense_layers_config(model()),
        ]
    if name == "compile_model":
        probe = model_from(result.get("saved"))
        return [lambda check=check: check(probe()) for check in (checks.model_compiled, hidden_checks.optimizer_is_default_adam, hidden_checks.loss_is_sparse_cce, hidden_checks.metrics_is_accuracy)]
    if name == "train_model":
        from course.student.data import EXPECTED_ARRAYS

        return [
            lambda: checks.history_type(result["returned"]),
            lambda: hidden_checks.fit_epochs(result["calls"]),
            lambda: hidden_checks.fit_data(result["calls"], EXPECTED_ARRAYS["x_train"][0][0]),
        ]
    if name == "evaluate_model":
        _, scaled, labels = harness_inputs()
        numbers = result.get("numbers")
        value = tuple(numbers) if numbers is not None and result.get("kind") in ("tuple", "list") else _stand_in(result.get("kind"))
        if isinstance(value, tuple) and len(value) != result.get("length", len(value)):
            value = _stand_in(result.get("kind"))
        return [
            lambda: checks.evaluation_pair(value),
            lambda: hidden_checks.evaluation_matches(lambda *args: value, checks.probe_model(), scaled[1], labels[1]),
        ]
    raise ValueError(name)


def _verdict(check, checks) -> dict:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check()
    except checks.CheckFailed as failure:
        return {"passed": False, "message": f"Checked outside your notebook: {str(failure)[:MAX_MESSAGE_CHARS]}"}
    except Exception as error:
        return {"passed": False, "message": "Checked outside your notebook: the check failed "
                f"({type(error).__name__}: {str(error)[:MAX_MESSAGE_CHARS]})"}
    return {"passed": True, "message": ""}


def verify_functions(harness_dir: Path) -> tuple[dict[str, dict], dict]:
    """Verdicts on the five functions, from what course.sandboxed.harness saved (copied into ``harness_dir``);
    and the harness's results, for the cross-checks."""
    from course.student import checks
    from course.grading import hidden_checks

    try:
        results_file = harness_dir / "results.json"
        too_big = results_file.is_file() and results_file.stat().st_size > MAX_RESULTS_BYTES
        harness_results = json.loads(results_file.read_text()) if results_file.is_file() and not too_big else {}
        if not isinstance(harness_results, dict):
            harness_results = {}
    except (OSError, ValueError):
        harness_results = {}
    verdicts = {}
    for name, cells in FUNCTION_CELLS.items():
        result = harness_results.get(name)
        if not isinstance(result, dict) or "error" in result:
            reason = str(result["error"])[:500] if isinstance(result, dict) else "the process running it stopped before it (see the notebook)"
            for cell in cells:
                verdicts[cell] = {"passed": False, "message": f"Checked outside your notebook: calling {name} failed: {reason}"}
            continue
        try:
            cell_checks = _function_checks(name, result, harness_dir, checks, hidden_checks)
        except Exception as error:  # a malformed record: every check of this function fails, saying so
            cell_checks = [lambda error=error: (_ for _ in ()).throw(checks.CheckFailed(f"what {name} returned could not be read ({type(error).__name__})"))] * len(cells)
        for cell, check in zip(cells, cell_checks):
            verdicts[cell] = _verdict(check, checks)
    for name, cells in FUNCTION_CELLS.items():
        for cell in cells:
            verdicts[cell]["function"] = name  # a function's cells stand or fall with its visible test in the kernel
    return verdicts, harness_results


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


def step_disagreement(model, calls) -> str | None:
    """Why the recorded fit calls cannot be what trained the notebook's model, or None when they agree."""
    expected, steps = expected_steps(calls or []), trained_steps(model)
    if expected is None or steps is None or steps == expected:
        return None
    return (
        f"the model your notebook trained took {steps} training steps, but train_model, called by the grader with the "
        f"same arguments, asks for {expected}. Your notebook must train its model with train_model, exactly as it "
        "trains any model it is given."
    )


def verify_trained_model(trained_dir: Path, harness_results: dict, errors_before: bool = False) -> dict[str, dict]:
    """Verdicts on the model the notebook trained (its export cell saved it; the grader copied it to trained_dir),
    and the cross-checks of the harness's record of train_model against it.

    ``errors_before``: a cell of the notebook raised before the model was saved. A model that then took no training
    step was stopped by that error (a compile mistake, say), not by train_model: its record is not contradicted,
    and the untrained model fails the accuracy check on its own."""
    from course.student import checks
    from course.grading import hidden_checks
    from course.grading.thresholds import MIN_TEST_ACCURACY

    try:
        trained_values = json.loads((trained_dir / "values.json").read_text()) if (trained_dir / "values.json").is_file() else {}
        problems = [str(problem)[:300] for problem in list(trained_values.get("problems", []))[:5]] if isinstance(trained_values, dict) else []
    except (OSError, ValueError):
        problems = []
    try:
        model = _load(trained_dir / "model.keras")
    except checks.CheckFailed as failure:
        model, problems = None, [*problems, str(failure)]
    verdicts = {}
    if model is None:
        reasons = problems or ["the cells before it did not run"]
        for cell in TRAINED_MODEL_CELLS:
            verdicts[cell] = {
                "passed": False,
                "message": "Checked outside your notebook: no trained model was left after the evaluation cell "
                f"({'; '.join(reasons)}). Fix the first error in the notebook.",
            }
        return verdicts
    calls = (harness_results.get("train_model") or {}).get("calls") if isinstance(harness_results.get("train_model"), dict) else None
    untrained_after_an_error = errors_before and trained_steps(model) in (0, None)
    disagreement = step_disagreement(model, calls) if calls and not untrained_after_an_error else None
    if disagreement:
        for cell in STEP_CHECKED_CELLS:
            verdicts[cell] = {"passed": False, "message": f"Checked outside your notebook: {disagreement}", "flag": disagreement}

    built = _built_model(trained_dir.parent / "harness", harness_results)

    def trained_model_checks():
        checks.require(
            disagreement is None,
            f"The model your notebook trained cannot be credited: {disagreement}" if disagreement else "",
        )
        seen = max((call.get("test_images_seen") or 0 for call in calls or [] if isinstance(call, dict)), default=0)
        checks.require(
            seen < TEST_IMAGES_SEEN,
            f"train_model fits {seen} of the test images: the model has been fitted on the test images, so its test accuracy "
            "means nothing. Train only on the training images.",
        )
        if built is not None:
            difference = architecture_difference(model, built)
            checks.require(
                difference is None,
                f"The model your notebook trained is not the model get_model builds: {difference}. Train the model "
                "get_model returns, with train_model.",
            )
        x_test, y_test = _test_data()
        hidden_checks.accuracy_at_least(model, x_test, y_test, MIN_TEST_ACCURACY)
        test_accuracy = _accuracy(model, x_test, y_test)
        train_accuracy = _accuracy(model, *_train_sample())
        checks.require(
            test_accuracy <= train_accuracy + MAX_TEST_OVER_TRAIN,
            f"The model your notebook trained classifies {test_accuracy:.2%} of the test images correctly but only "
            f"{train_accuracy:.2%} of the training images: it has been fitted on the test images. Train only on the "
            "training images, with train_model.",
        )

    for cell in TRAINED_MODEL_CELLS:
        verdicts[cell] = _verdict(trained_model_checks, checks)
    return verdicts


def _built_model(harness_dir: Path, harness_results: dict):
    """The model get_model built when the harness called it, or None when it did not."""
    result = harness_results.get("get_model")
    if not isinstance(result, dict) or not result.get("saved"):
        return None
    try:
        return _load(harness_dir / result["saved"])
    except Exception:  # noqa: BLE001 - its own checks report it
        return None


# What a layer's configuration says about its input size, or its identity, not what it computes.
NOT_ARCHITECTURE = {"name", "trainable", "dtype", "batch_input_shape", "input_shape", "batch_shape", "build_config"}


def _layer_signature(layer) -> tuple[str, dict]:
    try:
        config = {key: value for key, value in layer.get_config().items() if key not in NOT_ARCHITECTURE}
    except Exception:  # noqa: BLE001
        config = {}
    return type(layer).__name__, json.loads(json.dumps(config, default=str))


def architecture_difference(trained, built) -> str | None:
    """Where ``trained`` differs from ``built`` layer by layer (sizes of the input aside), or None."""
    ours, theirs = [_layer_signature(layer) for layer in trained.layers], [_layer_signature(layer) for layer in built.layers]
    if len(ours) != len(theirs):
        return f"it has {len(ours)} layers, get_model builds {len(theirs)}"
    for position, ((kind, config), (built_kind, built_config)) in enumerate(zip(ours, theirs), start=1):
        if kind != built_kind:
            return f"layer {position} is {kind}, get_model builds {built_kind} there"
        if config != built_config:
            changed = sorted(key for key in set(config) | set(built_config) if config.get(key) != built_config.get(key))
            return f"layer {position} ({kind}) differs in {', '.join(changed)}"
    return None


def _accuracy(model, images, labels) -> float:
    probabilities = model.predict(images, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))


@functools.lru_cache(maxsize=1)
def _train_sample():
    from course.student.data import load_mnist

    (x_train, y_train), _ = load_mnist()
    return (x_train[:TRAIN_SAMPLE].astype("float32") / 255.0)[..., None], y_train[:TRAIN_SAMPLE]


def main(argv: list[str] | None = None) -> None:
    """Verdicts as JSON on stdout. Whatever goes wrong, the output says so as data: the grader then marks the
    student "could not verify" instead of failing the batch."""
    argv = sys.argv[1:] if argv is None else argv
    inputs = Path(argv[0])
    record: dict = {"verdicts": {}}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            sys.stdin.readline()  # the harness has ended: what it saved is final, and the kernel has started
            verdicts, harness_results = verify_functions(inputs / "harness")
            record["verdicts"].update(verdicts)
            _test_data()  # loaded now, to check the trained model as soon as it is there
            told = sys.stdin.readline()  # the notebook has saved its trained model (or has ended)
            try:
                errors_before = bool(json.loads(told).get("errors before"))
            except (ValueError, AttributeError):
                errors_before = False
            record["verdicts"].update(verify_trained_model(inputs / "trained", harness_results, errors_before))
    except BaseException as error:  # noqa: BLE001 - reported as data, never a crash of the batch
        record["error"] = f"{type(error).__name__}: {str(error)[:500]}"
    sys.stdout.write(json.dumps(record))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
