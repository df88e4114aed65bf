"""The trusted verifier: measure what a student's notebook produced, outside the student's kernel.

    python -m course.grading.verify ARTIFACTS_DIR   ->   JSON {test cell: {"passed": bool, "message": str}} on stdout

It loads the saved models with Keras' safe mode, runs the same property checks the hidden tests use, evaluates
the trained model itself on the real MNIST test set (scaled as the spec says), and compares the values the
notebook returned with its own evaluation. It runs in a process of its own, so student code never shares it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# test cell -> (stage whose model it needs, check name)
VERIFIED_CELLS = {
    "test_model_output": ("compiled", "model_built"),
    "test_model_layers": ("compiled", "model_layers"),
    "test_model_conv": ("compiled", "conv_layer_config"),
    "test_model_pool": ("compiled", "pool_layer_config"),
    "test_model_dense": ("compiled", "dense_layers_config"),
    "test_compile_done": ("compiled", "model_compiled"),
    "test_compile_optimizer": ("compiled", "optimizer_is_default_adam"),
    "test_compile_loss": ("compiled", "loss_is_sparse_cce"),
    "test_compile_metrics": ("compiled", "metrics_is_accuracy"),
    "test_evaluate_accuracy": ("trained", "accuracy"),
    "test_evaluate_matches": ("trained", "returned_values"),
}
STAGE_CELLS = {"compiled": "compile_model(model)", "trained": "evaluate_model(model, ...)"}
ACCURACY_TOLERANCE = 0.005
LOSS_RELATIVE_TOLERANCE = 0.02


def _load(folder: Path):
    import keras

    path = folder / "model.keras"
    if not path.is_file():
        return None
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception:
        # compile settings Keras cannot rebuild (e.g. metrics passed as loss_weights) still leave an architecture
        return keras.saving.load_model(path, safe_mode=True, compile=False)


def _test_data():
    from course.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    return (x_test.astype("float32") / 255.0)[..., None], y_test


def verify(artifacts: Path) -> dict[str, dict]:
    from course import checks
    from course.grading.thresholds import MIN_TEST_ACCURACY

    results = {}
    models, values, missing = {}, {}, {}
    for stage in ("compiled", "trained"):
        folder = artifacts / stage
        stage_values = json.loads((folder / "values.json").read_text()) if (folder / "values.json").is_file() else {}
        values[stage] = stage_values
        try:
            models[stage] = _load(folder)
        except Exception as error:
            models[stage] = None
            stage_values.setdefault("problems", []).append(f"the saved model does not load safely ({type(error).__name__})")
        if models[stage] is None:
            reasons = stage_values.get("problems") or ["the cells before it did not run"]
            missing[stage] = (
                f"Checked outside your notebook: no model was left after `{STAGE_CELLS[stage]}` ran "
                f"({'; '.join(reasons)}), so this test cannot pass. Fix the first error in the notebook."
            )
    test_data = None
    for cell, (stage, check) in VERIFIED_CELLS.items():
        model = models[stage]
        if model is None:
            results[cell] = {"passed": False, "message": missing[stage]}
            continue
        try:
            if check == "accuracy":
                test_data = test_data or _test_data()
                checks.accuracy_at_least(model, *test_data, MIN_TEST_ACCURACY)
            elif check == "returned_values":
                test_data = test_data or _test_data()
                _check_returned_values(model, values[stage], *test_data)
            else:
                getattr(checks, check)(model)
        except checks.CheckFailed as failure:
            results[cell] = {"passed": False, "message": f"Checked outside your notebook: {failure}"}
        except Exception as error:
            results[cell] = {"passed": False, "message": f"Checked outside your notebook: the check failed ({type(error).__name__}: {error})"}
        else:
            results[cell] = {"passed": True, "message": ""}
    return results


def _check_returned_values(model, values: dict, images, labels) -> None:
    from course.checks import CheckFailed

    loss, accuracy = values.get("test_loss"), values.get("test_accuracy")
    if loss is None or accuracy is None:
        raise CheckFailed("the notebook has no numeric test_loss and test_accuracy from evaluate_model(model, ...).")
    if not getattr(model, "compiled", False):
        raise CheckFailed("the model is not compiled, so its loss cannot be evaluated.")
    with contextlib.redirect_stdout(io.StringIO()):
        expected_loss, expected_accuracy = model.evaluate(images, labels, batch_size=1024, verbose=0)[:2]
    if not (
        abs(accuracy - expected_accuracy) <= ACCURACY_TOLERANCE
        and math.isclose(loss, expected_loss, rel_tol=LOSS_RELATIVE_TOLERANCE, abs_tol=ACCURACY_TOLERANCE)
    ):
        raise CheckFailed(
            f"the notebook reported loss {loss:.4f} and accuracy {accuracy:.4f}, but the trained model scores loss "
            f"{expected_loss:.4f} and accuracy {expected_accuracy:.4f} on the test set; return model.evaluate's values."
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        results = verify(Path(argv[0]))
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
