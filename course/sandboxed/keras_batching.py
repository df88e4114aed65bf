"""Runs in each student's kernel as it starts (ResilientExecute passes it to IPython as an exec line): Keras models
compiled there run several training batches per compiled call, unless the student's own compile chooses.

For this assignment's small network on a CPU, Keras' per-batch Python round trip costs more than the batch's
arithmetic: one epoch of the reference model takes 7.3 s with one batch per call and 4.9 s with 32 to 256
(docs/benchmarks.md). The batches, their order and the weights they produce are the same; only batch-level
callbacks and progress-bar updates come once per call instead of once per batch (Keras' compile docstring).
"""

from __future__ import annotations

import functools
import inspect

from course.sandboxed.keras_import import import_keras

MARK = "_course_default_steps_per_execution"


def install(steps_per_execution: int) -> None:
    """Make ``steps_per_execution`` the default of ``keras.Model.compile`` in this process."""
    keras = import_keras()
    if keras is None:  # a notebook without Keras has nothing to speed up
        return
    original = keras.Model.compile
    if getattr(original, MARK, None) is not None:
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def compile(self, *args, **kwargs):
        try:
            chosen = "steps_per_execution" in signature.bind_partial(self, *args, **kwargs).arguments
        except TypeError:  # a wrong call: Keras' own compile says what is wrong with it
            chosen = True
        if not chosen:
            kwargs["steps_per_execution"] = steps_per_execution
        return original(self, *args, **kwargs)

    setattr(compile, MARK, steps_per_execution)
    keras.Model.compile = compile
