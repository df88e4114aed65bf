"""The arguments the grader passes to students' functions, built from a spec's ``Input`` (course.spec): the same
way in the harness, which calls the functions beside student code, and in the verifier, which rebuilds them to
check what the functions returned. An assignment may name these, or any function of course.student.

Every builder returns the same object for the same options (cached), so a function handed the training images
can be checked to have passed that very array on to fit.
"""

from __future__ import annotations

import functools
import importlib

import numpy as np

from course.sandboxed.mnist_once import mnist_once
from course.student.data import EXPECTED_ARRAYS

FACTORY_MODULES = ("course.sandboxed.inputs.", "course.student.")
CALL_INPUTS = "course.sandboxed.inputs.call_inputs"


class InputError(ValueError):
    """A spec names an input the grader cannot build."""


def build(item, call_inputs=None) -> list:
    """The argument(s) ``item`` stands for: an Input as data ({"factory", "options"}), an object with ``as_data``
    (course.spec.Input) or ``as_input`` (a Threshold). CALL_INPUTS stands for all of ``call_inputs()``."""
    if hasattr(item, "as_input"):
        item = item.as_input()
    if hasattr(item, "as_data"):
        item = item.as_data()
    factory, options = item["factory"], item.get("options") or {}
    if factory == CALL_INPUTS:
        return list(call_inputs() if call_inputs else [])
    return [resolve(factory)(**options)]


def resolve(factory: str):
    """The builder a dotted name names, refused outside the modules the harness may import."""
    if not factory.startswith(FACTORY_MODULES):
        raise InputError(f"input factory {factory!r} must live in course.sandboxed.inputs or course.student")
    module, _, name = factory.rpartition(".")
    builder = getattr(importlib.import_module(module), name, None)
    if not callable(builder):
        raise InputError(f"input factory {factory!r} names nothing callable")
    return builder


def build_all(items, call_inputs=None) -> list:
    return [argument for item in items for argument in build(item, call_inputs)]


def literal(value):
    """A number, a string or a shape (JSON gives a shape back as a list; functions get it as a tuple)."""
    return tuple(value) if isinstance(value, list) else value


def call_inputs():  # a marker (CALL_INPUTS), never called: Test.args splices in the tested call's own inputs
    raise InputError("call_inputs stands for a call's inputs in a test's args; it is not an input itself")


def _split(split: str, count: int | None):
    if split not in ("train", "test"):
        raise InputError(f"MNIST has no {split!r} split: use 'train' or 'test'")
    (x_train, y_train), (x_test, y_test) = mnist_once()
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    return images[:count], labels[:count]


def mnist_images(split: str, count: int | None = None, scaled: bool = False):
    """MNIST images as loaded (uint8, 28x28), or scaled as the assignments ask: float32 in [0, 1], 28x28x1."""
    return _mnist_images(split, count, bool(scaled))


@functools.lru_cache(maxsize=None)  # positional only: the same options, however spelled, give the same array
def _mnist_images(split, count, scaled):
    images, _ = _split(split, count)
    # in float32 throughout: the same values as dividing in float64, without a 376 MB float64 copy
    return (images.astype("float32") / np.float32(255))[..., None] if scaled else images


def mnist_labels(split: str, count: int | None = None, one_hot: bool = False):
    """MNIST labels, as integers 0-9 or one-hot float32 rows (what keras.utils.to_categorical gives)."""
    return _mnist_labels(split, count, bool(one_hot))


@functools.lru_cache(maxsize=None)
def _mnist_labels(split, count, one_hot):
    _, labels = _split(split, count)
    return np.eye(10, dtype="float32")[labels] if one_hot else labels


def mnist_count(split: str) -> int:
    """How many images the split has (without loading it)."""
    return EXPECTED_ARRAYS[f"x_{split}"][0][0]


def random_labels(count: int, seed: int, classes: int = 10):
    """Integer labels drawn with a fixed seed: inputs students cannot know before the grader calls."""
    return _random_labels(count, seed, classes)


@functools.lru_cache(maxsize=None)
def _random_labels(count, seed, classes):
    return np.random.default_rng(seed).integers(0, classes, count).astype("int64")


def fit_recorder():
    """A stand-in for a compiled model that records what fit gets and trains nothing (a new one each call)."""
    from course.sandboxed.fit_record import StepRecorder

    return StepRecorder()
