"""Check one of your functions at any time, without training: ``check(scale_mnist_data)``.

It runs the same checks as the visible test cells, with the same messages. More properties are checked when
the notebook is graded; this does not reveal them.
"""

from __future__ import annotations

import functools
import time

from . import checks


@functools.lru_cache(maxsize=1)
def _data():
    import numpy as np

    from .data import load_mnist

    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    scaled_test = (test_images[:500] / 255.0).astype("float32")[..., np.newaxis]
    scaled_train = (train_images[:500] / 255.0).astype("float32")[..., np.newaxis]
    return train_images, test_images, scaled_train, train_labels[:500], scaled_test, test_labels[:500]


def _check_scale(function):
    train_images, test_images, *_ = _data()
    checks.scaled_pair(function(train_images, test_images), train_images, test_images)


def _check_model(function):
    model = checks.build(function, (28, 28, 1))
    checks.model_built(model)
    checks.model_layers(model)


def _check_compile(function):
    probe = checks.uncompiled_probe_model()
    function(probe)
    checks.model_compiled(probe)


def _check_train(function):
    _, _, scaled_train, train_labels, _, _ = _data()
    with checks.quietly():
        history = function(checks.FitRecorder(), scaled_train, train_labels)
    checks.history_returned(history)


def _check_evaluate(function):
    *_, scaled_test, test_labels = _data()
    with checks.quietly():
        result = function(checks.probe_model(), scaled_test, test_labels)
    checks.evaluation_pair(result)


CHECKS = {
    "scale_mnist_data": _check_scale,
    "get_model": _check_model,
    "compile_model": _check_compile,
    "train_model": _check_train,
    "evaluate_model": _check_evaluate,
}


def check(function) -> None:
    """Print whether ``function`` passes the visible checks (nothing is returned, so a notebook shows only that)."""
    name = getattr(function, "__name__", None)
    if name not in CHECKS:
        print(f"check() takes one of your functions: {', '.join(CHECKS)}; got {name or type(function).__name__}.")
        return
    started = time.perf_counter()
    try:
        CHECKS[name](function)
    except checks.CheckFailed as failure:
        print(f"✗ {name}: {failure}")
        return
    except NotImplementedError:
        print(f"✗ {name}: not written yet (replace `raise NotImplementedError()` with your code).")
        return
    except Exception as error:
        print(f"✗ {name} raised {type(error).__name__}: {error}")
        return
    print(f"✓ {name} passes the visible checks ({time.perf_counter() - started:.1f} s). More are checked when your notebook is graded.")
