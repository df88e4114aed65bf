"""The trusted verifier: measure what a student's notebook produced, outside the student's kernel.

    python -m course.grading.verify WORKDIR HARNESS_DIR   ->   JSON {test cell: {"passed": bool, "message": str}}

Every test cell is scored here, from data: what the student's functions returned when course.grading.harness
called them (arrays, models saved in Keras format and loaded in safe mode, recorded fit calls, numbers), and the
trained model the notebook left, evaluated here on the real MNIST test set scaled as the spec says. The checks
are the ones the hidden tests use. This process runs no student code.

The grader starts it beside the student's kernel, and tells it, one line on stdin each (or their end), when the
harness has ended and when the notebook has saved its trained model: it warms up and checks while the notebook runs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from course.grading.artifacts import ARTIFACTS_DIR

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FUNCTION_CELLS = {
    "scale_mnist_data": ("test_scale_pair", "test_scale_range", "test_scale_dtype", "test_scale_order"),
    "get_model": ("test_model_output", "test_model_layers", "test_model_input_shape", "test_model_conv", "test_model_pool", "test_model_dense"),
    "compile_model": ("test_compile_done", "test_compile_optimizer", "test_compile_loss", "test_compile_metrics"),
    "train_model": ("test_train_history", "test_train_epochs", "test_train_all_data"),
    "evaluate_model": ("test_evaluate_pair", "test_evaluate_matches"),
}
TRAINED_MODEL_CELLS = ("test_evaluate_accuracy",)


def _load(path: Path):
    import keras

    if not path.is_file():
        return None
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception:
        # compile settings Keras cannot rebuild (e.g. metrics passed as loss_weights) still leave an architecture
        return keras.saving.load_model(path, safe_mode=True, compile=False)


@functools.lru_cache(maxsize=1)
def _test_data():
    from course.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    return (x_test.astype("float32") / 255.0)[..., None], y_test


def _stand_in(kind: str):
    """An object of a class named like what the student returned, so the checks word their message the same."""
    return type(kind or "None", (), {})()


def _function_checks(name: str, result: dict, outdir: Path, checks, hidden_checks):
    """For each test cell of ``name``: a zero-argument callable that raises CheckFailed when the property fails."""
    from course.grading.harness import harness_inputs

    if name == "scale_mnist_data":
        raw, _, _ = harness_inputs()
        if result.get("saved"):
            with np.load(outdir / result["saved"]) as arrays:
                value = (arrays["first"], arrays["second"])
        else:
            value = _stand_in(result.get("kind"))
        return [lambda check=check: check(value, *raw) for check in (checks.scaled_pair, hidden_checks.scaled_range, hidden_checks.scaled_dtype, hidden_checks.scaled_order)]
    if name == "get_model":
        model = _load(outdir / result["saved"]) if result.get("saved") else _stand_in(result.get("kind"))
        other = [checks.model_built, checks.model_layers, None, hidden_checks.conv_layer_config, hidden_checks.pool_layer_config, hidden_checks.dense_layers_config]
        return [
            (lambda: hidden_checks.model_input_from_argument(lambda shape: model)) if check is None else (lambda check=check: check(model))
            for check in other
        ]
    if name == "compile_model":
        probe = _load(outdir / result["saved"]) if result.get("saved") else _stand_in(result.get("kind"))
        return [lambda check=check: check(probe) for check in (checks.model_compiled, hidden_checks.optimizer_is_default_adam, hidden_checks.loss_is_sparse_cce, hidden_checks.metrics_is_accuracy)]
    if name == "train_model":
        from course.data import EXPECTED_ARRAYS

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
        return {"passed": False, "message": f"Checked outside your notebook: {failure}"}
    except Exception as error:
        return {"passed": False, "message": f"Checked outside your notebook: the check failed ({type(error).__name__}: {error})"}
    return {"passed": True, "message": ""}


def verify_functions(harness_dir: Path) -> dict[str, dict]:
    """Verdicts on the five functions, from what course.grading.harness saved in ``harness_dir``."""
    from course import checks
    from course.grading import hidden_checks

    results_file = harness_dir / "results.json"
    harness_results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    verdicts = {}
    for name, cells in FUNCTION_CELLS.items():
        result = harness_results.get(name)
        if result is None or "error" in result:
            reason = result["error"] if result else "the process running it stopped before it (see the notebook)"
            for cell in cells:
                verdicts[cell] = {"passed": False, "message": f"Checked outside your notebook: calling {name} failed: {reason}"}
            continue
        for cell, check in zip(cells, _function_checks(name, result, harness_dir, checks, hidden_checks)):
            verdicts[cell] = _verdict(check, checks)
    return verdicts


def verify_trained_model(workdir: Path) -> dict[str, dict]:
    """Verdicts on the model the notebook trained (saved by its export cell in workdir/.artifacts/trained)."""
    from course import checks
    from course.grading import hidden_checks
    from course.grading.thresholds import MIN_TEST_ACCURACY

    trained_dir = workdir / ARTIFACTS_DIR / "trained"
    trained_values = json.loads((trained_dir / "values.json").read_text()) if (trained_dir / "values.json").is_file() else {}
    try:
        model = _load(trained_dir / "model.keras")
    except Exception as error:
        model = None
        trained_values.setdefault("problems", []).append(f"the saved model does not load safely ({type(error).__name__})")
    verdicts = {}
    for cell in TRAINED_MODEL_CELLS:
        if model is None:
            reasons = trained_values.get("problems") or ["the cells before it did not run"]
            verdicts[cell] = {
                "passed": False,
                "message": "Checked outside your notebook: no trained model was left after the evaluation cell "
                f"({'; '.join(reasons)}). Fix the first error in the notebook.",
            }
            continue
        verdicts[cell] = _verdict(lambda: hidden_checks.accuracy_at_least(model, *_test_data(), MIN_TEST_ACCURACY), checks)
    return verdicts


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    workdir, harness_dir = Path(argv[0]), Path(argv[1])
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        sys.stdin.readline()  # the harness has ended: what it saved is final, and the kernel has started
        verdicts = verify_functions(harness_dir)
        _test_data()  # loaded now, to check the trained model as soon as it is there
        sys.stdin.readline()  # the notebook has saved its trained model (or has ended)
        verdicts.update(verify_trained_model(workdir))
    sys.stdout.write(json.dumps(verdicts))


if __name__ == "__main__":
    main()
